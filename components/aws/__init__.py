"""The AWS component family: VPC, EKS, GPU node groups, S3, EKS Pod Identity."""

from __future__ import annotations

import pulumi_aws as aws

from aistack.spec.clouds import AwsCloudSpec
from components.aws.autoscaler import ClusterAutoscalerIdentity
from components.aws.cluster import Cluster
from components.aws.gpupool import GpuNodePool
from components.aws.identity import WorkloadIdentity
from components.aws.network import Network
from components.aws.stack import deploy
from components.aws.store import ObjectStore

__all__ = [
    "Cluster",
    "ClusterAutoscalerIdentity",
    "GpuNodePool",
    "Network",
    "ObjectStore",
    "WorkloadIdentity",
    "deploy",
    "provider",
]


def provider(spec: AwsCloudSpec, tags: dict[str, str]) -> aws.Provider:
    """The explicit AWS provider: the spec's region, account guard and default tags on everything."""
    return aws.Provider(
        "aws",
        region=spec.region,
        allowed_account_ids=[spec.account_id] if spec.account_id else None,
        default_tags={"tags": tags},
    )
