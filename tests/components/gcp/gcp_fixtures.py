"""Helpers for the GCP family's tests: a small GCP-only stack config and its validated spec."""

from __future__ import annotations

import copy
from typing import Any

from aistack.spec import StackSpec, spec_from_config
from components import registry

PROJECT = "acme-ml-test"
PROJECT_NUMBER = "123456789012"
PREFIX = "aistack-test"


def base_config() -> dict[str, Any]:
    """A GCP-only stack: one cluster with a spot L4 pool (on-demand floor) and a T4 pool, one store."""
    return {
        "aistack:environment": "dev",
        "aistack:clouds": {
            "gcp": {
                "project": PROJECT,
                "project_number": PROJECT_NUMBER,
                "region": "us-central1",
                "zones": ["us-central1-a", "us-central1-b", "us-central1-c"],
                "cidr": "10.50.0.0/20",
                "pods_cidr": "10.52.0.0/14",
            }
        },
        "aistack:clusters": {
            "main": {
                "cloud": "gcp",
                "api": {"deployer": "dns-endpoint", "private": True},
                "service_cidr": "10.56.0.0/20",
                "log_retention_days": 30,
                "gpu_pools": {
                    "l4": {
                        "accelerator": "L4-24GB",
                        "instance_types": ["g2-standard-24"],
                        "capacity": "spot",
                        "on_demand_floor": 1,
                        "min_nodes": 2,
                        "max_nodes": 6,
                    },
                    "t4": {
                        "accelerator": "T4-16GB",
                        "instance_types": ["n1-standard-8"],
                        "min_nodes": 0,
                        "max_nodes": 2,
                        "zones": ["us-central1-b"],
                        "overrides": {"cloud": "gcp", "gpu_driver_version": "LATEST", "gpus_per_node": 2},
                    },
                },
            }
        },
        "aistack:stores": {"models": {"cloud": "gcp", "noncurrent_retention_days": 21}},
    }


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, recursively (a ``None`` value deletes the key)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def gcp_spec(changes: dict[str, Any] | None = None) -> StackSpec:
    """The validated spec of ``base_config()`` with ``changes``, GCP rules checked."""
    spec = spec_from_config(merged(base_config(), changes or {}), "test.yaml", from_file=False)
    registry.check_features(spec, "test.yaml")
    return spec
