"""GKE accelerator names and GPU counts per machine type, as data.

Sources (Compute Engine documentation, checked 2025): "GPU machine types"
(https://cloud.google.com/compute/docs/gpus) for the accelerator type names and which machine
series carries which GPU; "Accelerator-optimized machine family"
(https://cloud.google.com/compute/docs/accelerator-optimized-machines) for the GPU count of each
machine type. A2 and A3 machine types end in ``-<N>g`` (``a2-ultragpu-2g`` has two GPUs); G2
counts are listed below; N1 machines take 1, 2 or 4 T4s, chosen per pool.

The sizing module keeps the cross-cloud alias table; this module holds only what the GKE node
pools need.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from components.gpu import GKE_ACCELERATORS


class GkeAccelerator(NamedTuple):
    """How one canonical accelerator is requested on GKE."""

    type: str
    """The ``guest_accelerators[].type`` (also the ``cloud.google.com/gke-accelerator`` node label)."""
    machine_prefixes: tuple[str, ...]
    """Machine-type prefixes that carry it."""


_MACHINES = {
    "H100-80GB": ("a3-highgpu-",),
    "A100-80GB": ("a2-ultragpu-",),
    "A100-40GB": ("a2-highgpu-", "a2-megagpu-"),
    "L4-24GB": ("g2-standard-",),
    "T4-16GB": ("n1-standard-", "n1-highmem-", "n1-highcpu-"),
}
ACCELERATORS: dict[str, GkeAccelerator] = {
    name: GkeAccelerator(GKE_ACCELERATORS[name], prefixes) for name, prefixes in _MACHINES.items()
}
"""Canonical accelerator → GKE accelerator type. L40S, A10G and A10 have no GCE offering."""

G2_GPUS = {
    "g2-standard-4": 1,
    "g2-standard-8": 1,
    "g2-standard-12": 1,
    "g2-standard-16": 1,
    "g2-standard-24": 2,
    "g2-standard-32": 1,
    "g2-standard-48": 4,
    "g2-standard-96": 8,
}
"""L4 GPUs attached to each G2 machine type."""

_N_GPUS_SUFFIX = re.compile(r"^a[23]-[a-z]+gpu-(\d+)g$")


def guest_accelerator(
    accelerator: str, machine_type: str, gpus_per_node: int | None = None
) -> tuple[str, int]:
    """The GKE accelerator type and count for a pool's machine type.

    Args:
        accelerator: Canonical accelerator, e.g. ``L4-24GB``.
        machine_type: GCE machine type, e.g. ``g2-standard-8``.
        gpus_per_node: GPUs per N1 node (T4 pools); ``None`` means 1. Refused for machine types
            whose GPU count is fixed.

    Raises:
        ValueError: the accelerator has no GKE offering, the machine type does not carry it, or
            a GPU count is given where the machine type fixes it.
    """
    if accelerator not in ACCELERATORS:
        raise ValueError(f"{accelerator} is not offered on GCP; GKE accelerators: {', '.join(ACCELERATORS)}")
    gke = ACCELERATORS[accelerator]
    if not machine_type.startswith(gke.machine_prefixes):
        raise ValueError(
            f"machine type {machine_type!r} does not carry {accelerator}; "
            f"use a machine type starting with {' or '.join(gke.machine_prefixes)}"
        )
    if machine_type.startswith("n1-"):
        return gke.type, gpus_per_node or 1
    if gpus_per_node is not None:
        raise ValueError(
            f"gpus_per_node applies to N1 machine types only; {machine_type} has a fixed GPU count"
        )
    if machine_type in G2_GPUS:
        return gke.type, G2_GPUS[machine_type]
    if match := _N_GPUS_SUFFIX.match(machine_type):
        return gke.type, int(match.group(1))
    raise ValueError(f"unknown {accelerator} machine type {machine_type!r}")


_MEMORY_PER_VCPU = {"standard": 4, "highmem": 8, "highcpu": 1}
"""GiB per vCPU of Compute Engine's predefined shapes (N1 standard is 3.75, rounded up: limits are ceilings)."""


def machine_shape(machine_type: str) -> tuple[int, int]:
    """``(vCPUs, memory GiB)`` of a machine type: from the sizing catalog, else from its predefined name.

    Raises:
        ValueError: the type is neither in the catalog nor a ``<family>-standard|highmem|highcpu-<n>`` shape.
    """
    from sizing import bundled_paths, load_catalog

    for offer in load_catalog(list(bundled_paths())).find("gcp", instance_type=machine_type):
        return math.ceil(offer.vcpus), math.ceil(offer.mem_gib)
    match = re.match(r"^[a-z0-9]+-(standard|highmem|highcpu)-(\d+)$", machine_type)
    if not match:
        raise ValueError(f"no vCPU and memory figures for GCP machine type {machine_type!r}")
    vcpus = int(match.group(2))
    return vcpus, vcpus * _MEMORY_PER_VCPU[match.group(1)]


def autoprovisioning_limits(spec: Any, system_machine_type: str) -> list[dict[str, Any]]:
    """Node auto-provisioning resource limits for a cluster: CPU, memory and each GPU type.

    GKE counts every node of the cluster against them, manually created pools included (GKE docs,
    "Configure node auto-provisioning": resource limits), so each is the sum over the system pool
    and every GPU pool at its maximum: the plan's ceiling, no more.
    """
    cpu = memory = 0
    gpus: dict[str, int] = {}
    vcpus, mem = machine_shape(spec.system_pool.instance_type or system_machine_type)
    cpu, memory = vcpus * spec.system_pool.max_nodes, mem * spec.system_pool.max_nodes
    for pool in spec.gpu_pools.values():
        machine = pool.instance_types[0]
        vcpus, mem = machine_shape(machine)
        cpu += vcpus * pool.max_nodes
        memory += mem * pool.max_nodes
        overrides = pool.overrides
        kind, count = guest_accelerator(
            pool.accelerator, machine, overrides.gpus_per_node if overrides else None
        )
        gpus[kind] = gpus.get(kind, 0) + count * pool.max_nodes
    return [
        {"resource_type": "cpu", "minimum": 0, "maximum": cpu},
        {"resource_type": "memory", "minimum": 0, "maximum": memory},
        *({"resource_type": kind, "minimum": 0, "maximum": n} for kind, n in sorted(gpus.items())),
    ]
