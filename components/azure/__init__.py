"""The Azure component family: VNet, AKS with GPU agent pools, Blob storage, workload identity."""

from __future__ import annotations

from aistack.errors import InputError
from aistack.spec import StackSpec
from aistack.spec.clouds import AzureCloudSpec
from components.azure.accelerators import VM_SIZES, carries
from components.azure.cluster import Cluster
from components.azure.gpupool import GpuNodePool
from components.azure.identity import WorkloadIdentity
from components.azure.network import Network
from components.azure.provider import Provider
from components.azure.stack import deploy
from components.azure.store import ObjectStore

__all__ = [
    "Cluster",
    "GpuNodePool",
    "Network",
    "ObjectStore",
    "Provider",
    "WorkloadIdentity",
    "check",
    "deploy",
    "provider",
]

LOG_RETENTION_DAYS = (30, 730)
"""Log Analytics workspace retention bounds (days) on the PerGB2018 plan."""

SOFT_DELETE_DAYS = (1, 365)
"""Blob and container soft-delete retention bounds (days)."""


def provider(spec: AzureCloudSpec, tags: dict[str, str]) -> Provider:
    """The explicit Azure provider: the spec's subscription, tenant and location; the stack's tags."""
    return Provider("azure", spec, tags)


def check(spec: StackSpec, file: str) -> None:
    """Refuse, before anything is declared, values of the shared spec that Azure cannot take."""
    for cname, cluster in spec.clusters.items():
        if cluster.cloud != "azure":
            continue
        low, high = LOG_RETENTION_DAYS
        if not low <= cluster.log_retention_days <= high:
            raise InputError(
                file,
                f"aistack:clusters.{cname}.log_retention_days",
                f"Azure Log Analytics keeps logs {low} to {high} days, got {cluster.log_retention_days}",
            )
        modes = {pool.provisioning for pool in cluster.gpu_pools.values()}
        if len(modes) > 1:
            pname = next(p for p, pool in cluster.gpu_pools.items() if pool.provisioning == "groups")
            raise InputError(
                file,
                f"aistack:clusters.{cname}.gpu_pools.{pname}.provisioning",
                "an AKS cluster with node auto-provisioning cannot also autoscale agent pools: make every "
                "GPU pool of the cluster provisioning: auto, or none",
            )
        for pname, pool in cluster.gpu_pools.items():
            # Accelerators Azure lacks are refused earlier, from registry.UNSUPPORTED.
            for vm_size in pool.instance_types:
                if pool.accelerator in VM_SIZES and not carries(pool.accelerator, vm_size):
                    raise InputError(
                        file,
                        f"aistack:clusters.{cname}.gpu_pools.{pname}.instance_types",
                        f"Azure VM size {vm_size!r} does not carry whole {pool.accelerator} GPUs; "
                        f"use a size matching {VM_SIZES[pool.accelerator].pattern}",
                    )
    for sname, store in spec.stores.items():
        low, high = SOFT_DELETE_DAYS
        if store.cloud == "azure" and not low <= store.noncurrent_retention_days <= high:
            raise InputError(
                file,
                f"aistack:stores.{sname}.noncurrent_retention_days",
                f"Azure blob soft delete keeps deleted blobs {low} to {high} days, "
                f"got {store.noncurrent_retention_days}",
            )
