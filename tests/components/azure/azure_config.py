"""A small valid Azure stack config for the Azure family tests, and ways to vary it."""

from __future__ import annotations

import copy
from typing import Any

from aistack.spec import StackSpec, spec_from_config

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000a1"
TENANT = "00000000-0000-0000-0000-0000000000b2"
ADMINS = "00000000-0000-0000-0000-0000000000c3"
RUNNER = "52.94.0.0/22"
TAGS = {"managed-by": "aistack", "team": "ml"}

BASE: dict[str, Any] = {
    "aistack:environment": "dev",
    "aistack:clouds": {
        "azure": {
            "subscription_id": SUBSCRIPTION,
            "tenant_id": TENANT,
            "location": "westeurope",
            "zones": ["1", "2", "3"],
            "cidr": "10.40.0.0/16",
            "admin_group_object_ids": [ADMINS],
        }
    },
    "aistack:clusters": {
        "main": {
            "cloud": "azure",
            "api": {"deployer": "allow-listed", "private": False, "public_cidrs": [RUNNER]},
            "gpu_pools": {
                "a100": {
                    "accelerator": "A100-80GB",
                    "instance_types": ["Standard_NC24ads_A100_v4"],
                    "min_nodes": 1,
                    "max_nodes": 4,
                    "zones": ["2", "3"],
                }
            },
        }
    },
    "aistack:stores": {"models": {"cloud": "azure"}},
}


def config(**changes: Any) -> dict[str, Any]:
    """The base config with top-level keys replaced and dotted paths set, e.g.
    ``config(**{"clusters.main.api": {...}})``."""
    result = copy.deepcopy(BASE)
    for path, value in changes.items():
        head, *rest = path.split(".")
        node = result.setdefault(f"aistack:{head}", {})
        if not rest:
            result[f"aistack:{head}"] = value
            continue
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        node[rest[-1]] = value
    return result


def spec(**changes: Any) -> StackSpec:
    return spec_from_config(config(**changes), "test.yaml", from_file=False)
