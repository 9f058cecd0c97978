"""Assemble the Azure share of a stack from its spec."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumiverse_time

from aistack.spec import StackSpec, interconnect
from components import contract, naming
from components.azure import gpupool
from components.azure.apikeys import ApiKeys
from components.azure.audit import AuditLog
from components.azure.cluster import Cluster
from components.azure.gpupool import GpuNodePool
from components.azure.identity import WorkloadIdentity
from components.azure.network import Network
from components.azure.provider import Provider
from components.azure.store import ObjectStore


def deploy(
    spec: StackSpec,
    provider: Provider,
    prefix: str,
    shared_keys: Mapping[str, pulumi.Output[str]] | None = None,
) -> contract.CloudStack:
    """Declare the network, clusters, GPU pools, stores and identities placed on Azure.

    Args:
        spec: The validated stack spec.
        provider: The explicit Azure provider (see :func:`components.azure.provider`); it carries
            the stack's tags, which every taggable resource receives.
        prefix: Prefix for explicit physical names, ``<project>-<stack>``.
        shared_keys: The API key of each endpoint served from several clusters (see
            :class:`components.apikey.SharedKeys`): stored instead of a key of this cloud's own.
    """
    cloud = spec.clouds.azure
    tags = provider.default_tags
    # The time provider runs the waits that let role assignments propagate (see rbac.propagated).
    time = pulumiverse_time.Provider("azure-time", opts=pulumi.ResourceOptions(parent=provider))
    opts = pulumi.ResourceOptions(providers=[provider, time])
    result = contract.CloudStack(provider)
    network = Network(
        "azure",
        cloud,
        resource_group=naming.azure_resource_group(prefix, "rg"),
        tags=tags,
        protect=spec.protected,
        # A VPN to another cloud needs the GatewaySubnet; the other clouds reach the serving ports only.
        gateway_subnet=bool(spec.interconnect.pairs_of("azure")),
        peer_ranges=interconnect.peer_ranges(spec, "azure"),
        serving_ports=sorted({e.port for e in spec.endpoints.values() if e.expose == "internal-lb"}),
        # public-lb endpoints served on AKS: their allow-list reaches the public load balancer on 443.
        public_sources=list(spec.dns.source_ranges())
        if spec.dns
        and any(
            s.endpoint.expose == "public-lb" and spec.clusters[s.cluster].cloud == "azure"
            for s in spec.shares()
        )
        else None,
        opts=opts,
    )
    result.network = network
    for name, cspec in spec.clusters.items():
        if cspec.cloud != "azure":
            continue
        cluster = Cluster(
            name,
            cspec,
            cloud=cloud,
            network=network,
            prefix=prefix,
            tags=tags,
            protect=spec.protected,
            opts=opts,
        )
        result.clusters[name] = cluster
        auto = {p: pool for p, pool in cspec.gpu_pools.items() if pool.provisioning == "auto"}
        if auto:
            result.provisioning[name] = gpupool.provisioning(name, auto, location=cloud.location, tags=tags)
        last = None
        for pool_name, pool in cspec.gpu_pools.items():
            if pool.provisioning == "auto":
                continue
            last = result.pools[(name, pool_name)] = GpuNodePool(
                f"{name}-{pool_name}",
                pool,
                pool=pool_name,
                cluster=cluster,
                encryption_at_host=cloud.encryption_at_host,
                tags=tags,
                after=last.last_agent_pool if last else None,
                opts=opts,
            )
        if served := spec.served_by(name):
            result.api_keys[name] = ApiKeys(
                f"{name}-api-keys",
                cluster=cluster,
                network=network,
                endpoints=served,
                shared=shared_keys,
                cloud=cloud,
                prefix=prefix,
                tags=tags,
                protect=spec.protected,
                opts=opts,
            )
    # Blob access logs of the stores (who read or replaced weights), only where there are stores.
    audit = (
        AuditLog(
            "azure-audit",
            resource_group_name=network.resource_group_name,
            location=cloud.location,
            retention_days=spec.audit_retention_days,
            tags=tags,
            opts=opts,
        )
        if any(s.cloud == "azure" for s in spec.stores.values())
        else None
    )
    for name, sspec in spec.stores.items():
        if sspec.cloud != "azure":
            continue
        store = ObjectStore(
            name,
            sspec,
            cloud=cloud,
            network=network,
            prefix=prefix,
            tags=tags,
            protect=spec.protected,
            opts=opts,
        )
        result.stores[name] = store
        if audit:
            audit.record(name, store.account_id)
        for reader, identity, common in contract.store_readers(spec, name, result):
            result.identities[(reader, name)] = WorkloadIdentity(
                identity,
                **common,
                subscription_id=cloud.subscription_id,
                location=cloud.location,
                tags=tags,
                opts=opts,
            )
    return result
