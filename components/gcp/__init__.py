"""The GCP component family: VPC, GKE with GPU node pools, GCS, Workload Identity."""

from __future__ import annotations

import pulumi_gcp as gcp

from aistack.spec.clouds import GcpCloudSpec
from components.gcp.cluster import Cluster
from components.gcp.gpupool import GpuNodePool
from components.gcp.identity import WorkloadIdentity
from components.gcp.network import Network
from components.gcp.stack import check, deploy
from components.gcp.store import ObjectStore

__all__ = [
    "Cluster",
    "GpuNodePool",
    "Network",
    "ObjectStore",
    "WorkloadIdentity",
    "check",
    "deploy",
    "provider",
]


def provider(spec: GcpCloudSpec, tags: dict[str, str]) -> gcp.Provider:
    """The explicit GCP provider: the spec's project and region, the stack's tags as default labels."""
    return gcp.Provider("gcp", project=spec.project, region=spec.region, default_labels=tags)
