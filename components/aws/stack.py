"""Assemble the AWS share of a stack from its spec."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_command

from aistack.spec import StackSpec
from components import contract
from components.aws import cluster as cluster_mod
from components.aws import karpenter
from components.aws.apikeys import ApiKeys
from components.aws.audit import AuditLog
from components.aws.autoscaler import ClusterAutoscalerIdentity
from components.aws.gpupool import GpuNodePool
from components.aws.identity import WorkloadIdentity
from components.aws.karpenter import KarpenterIdentity
from components.aws.network import Network
from components.aws.store import ObjectStore


def deploy(
    spec: StackSpec,
    provider: pulumi.ProviderResource,
    prefix: str,
    shared_keys: Mapping[str, pulumi.Output[str]] | None = None,
) -> contract.CloudStack:
    """Declare the network, clusters, GPU pools, stores and identities placed on AWS.

    Each EKS cluster also gets the Cluster Autoscaler's identity (``<cluster>-autoscaler-identity``):
    EKS does not scale node groups itself, so the serving layer runs the autoscaler (it keeps scaling
    the system node group when every GPU pool is ``auto``). A cluster with ``provisioning: auto``
    pools gets Karpenter's AWS side (``<cluster>-karpenter-identity``) and, for the serving layer,
    its NodePools and EC2NodeClasses (``result.provisioning``) instead of node groups for those pools.

    ``aws-audit`` (see :class:`AuditLog`) comes first: its key encrypts the flow-log and
    control-plane log groups, and its trail records reads and writes of every AWS store.

    Args:
        spec: The validated stack spec.
        provider: The explicit AWS provider (see :func:`components.aws.provider`).
        prefix: Prefix for explicit physical names, ``<project>-<stack>``.
        shared_keys: The API key of each endpoint served from several clusters (see
            :class:`components.apikey.SharedKeys`): stored instead of a key of this cloud's own.
    """
    cloud = spec.clouds.aws
    # The command provider runs the scaling commands that change an autoscaled node group's bounds
    # (components.aws.nodegroup.scaling_command); every stack disables default providers.
    command = pulumi_command.Provider("aws-command", opts=pulumi.ResourceOptions(parent=provider))
    opts = pulumi.ResourceOptions(providers=[provider, command])
    result = contract.CloudStack(provider)
    mine = {name: c for name, c in spec.clusters.items() if c.cloud == "aws"}
    names = {name: cluster_mod.physical_name(prefix, name) for name in mine}
    audit = AuditLog(
        "aws-audit",
        physical_name=f"{prefix}-weights-access",
        region=cloud.region,
        retention_days=spec.audit_retention_days,
        key_administrators=cloud.key_administrators,
        key_users=cloud.key_users,
        protect=spec.protected,
        opts=opts,
    )
    network = Network("aws", cloud, list(names.values()), opts=opts, log_key_arn=audit.log_key_arn)
    result.network = network
    for name, cspec in mine.items():
        cluster = cluster_mod.Cluster(
            name,
            cspec,
            physical_name=names[name],
            region=cloud.region,
            node_subnet_ids=network.node_subnet_ids,
            deployer_role=cloud.deployer_role,
            admin_role_arns=list(cloud.admin_role_arns),
            protect=spec.protected,
            instance_tags=contract.stack_tags(spec),
            log_key_arn=audit.log_key_arn,
            key_administrators=cloud.key_administrators,
            opts=opts,
        )
        result.clusters[name] = cluster
        result.addon_identities[(name, "cluster-autoscaler")] = ClusterAutoscalerIdentity(
            f"{name}-autoscaler-identity", cluster=cluster, opts=opts
        )
        auto = {p: pool for p, pool in cspec.gpu_pools.items() if pool.provisioning == "auto"}
        if auto:
            identity = KarpenterIdentity(
                f"{name}-karpenter-identity", cluster=cluster, region=cloud.region, opts=opts
            )
            result.addon_identities[(name, "karpenter")] = identity
            result.provisioning[name] = karpenter.provisioning(
                name, cluster, auto, identity=identity, tags=contract.stack_tags(spec)
            )
        for pool_name, pool in cspec.gpu_pools.items():
            if pool.provisioning == "auto":
                continue
            result.pools[(name, pool_name)] = GpuNodePool(
                f"{name}-{pool_name}", pool, pool=pool_name, cluster=cluster, region=cloud.region, opts=opts
            )
        if served := spec.served_by(name):
            result.api_keys[name] = ApiKeys(
                f"{name}-api-keys",
                cluster=cluster,
                endpoints=served,
                shared=shared_keys,
                region=cloud.region,
                key_administrators=cloud.key_administrators,
                protect=spec.protected,
                opts=opts,
            )
    for name, sspec in spec.stores.items():
        if sspec.cloud != "aws":
            continue
        store = ObjectStore(
            name,
            sspec,
            protect=spec.protected,
            region=cloud.region,
            key_administrators=cloud.key_administrators,
            key_users=cloud.key_users,
            opts=opts,
        )
        result.stores[name] = store
        for reader, identity, common in contract.store_readers(spec, name, result):
            result.identities[(reader, name)] = WorkloadIdentity(
                identity,
                **common,
                opts=opts,
            )
    audit.record([store.bucket_arn for store in result.stores.values()])
    return result
