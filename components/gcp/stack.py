"""Assemble the GCP share of a stack from its spec, and the rules only GCP knows."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

import pulumi

from aistack.errors import InputError
from aistack.spec import StackSpec
from components import contract, images, naming
from components.gcp import gpupool
from components.gcp.accelerators import guest_accelerator
from components.gcp.admission import ImageAdmission
from components.gcp.apikeys import ApiKeys
from components.gcp.audit import AuditLog
from components.gcp.cluster import Cluster
from components.gcp.gpupool import GpuNodePool
from components.gcp.identity import MetricsReaderIdentity, WorkloadIdentity
from components.gcp.network import Network
from components.gcp.store import ObjectStore
from components.k8s.provisioning import class_name

POD_BLOCK_PER_NODE = 256
"""Pod addresses GKE reserves per node at the default 110 pods per node (a /24 each)."""

MAX_LOG_RETENTION_DAYS = 3650
"""The longest retention a Cloud Logging bucket accepts."""


def check(spec: StackSpec, file: str) -> None:
    """Refuse, before anything is declared, what GKE would only refuse at deploy time.

    Raises:
        InputError: a machine type that does not carry its pool's accelerator, a GPU count on a
            machine type that fixes it, a log retention Cloud Logging cannot keep, or a pod range
            too small for the most nodes the pools may reach.
    """
    cloud = spec.clouds.gcp
    nodes = 0
    for cname, cluster in spec.clusters.items():
        if cluster.cloud != "gcp":
            continue
        key = f"aistack:clusters.{cname}"
        if cluster.log_retention_days > MAX_LOG_RETENTION_DAYS:
            raise InputError(
                file,
                f"{key}.log_retention_days",
                f"Cloud Logging keeps logs at most {MAX_LOG_RETENTION_DAYS} days",
            )
        nodes += cluster.system_pool.max_nodes
        for pname, pool in cluster.gpu_pools.items():
            nodes += pool.max_nodes
            gpus = pool.overrides.gpus_per_node if pool.overrides else None
            try:
                guest_accelerator(pool.accelerator, pool.instance_types[0], gpus)
            except ValueError as err:
                field = "overrides.gpus_per_node" if "gpus_per_node" in str(err) else "instance_types"
                raise InputError(file, f"{key}.gpu_pools.{pname}.{field}", str(err)) from None
    capacity = ipaddress.ip_network(cloud.pods_cidr).num_addresses // POD_BLOCK_PER_NODE
    if nodes > capacity:
        raise InputError(
            file,
            "aistack:clouds.gcp.pods_cidr",
            f"{cloud.pods_cidr} holds pod addresses for {capacity} nodes but the GKE pools may reach {nodes}; "
            "use a larger range (each node takes a /24)",
        )


def deploy(
    spec: StackSpec,
    provider: pulumi.ProviderResource,
    prefix: str,
    shared_keys: Mapping[str, pulumi.Output[str]] | None = None,
) -> contract.CloudStack:
    """Declare the network, cluster, GPU pools, stores and identities placed on GCP.

    ``gcp-audit`` (:class:`AuditLog`) keys the log buckets and records who read or wrote the
    stores; ``gcp-admission`` (:class:`ImageAdmission`) admits only the declared repositories.

    Args:
        spec: The validated stack spec (:func:`check` passed).
        provider: The explicit GCP provider (see :func:`components.gcp.provider`).
        prefix: Prefix for explicit physical names, ``<project>-<stack>``.
        shared_keys: The API key of each endpoint served from several clusters (see
            :class:`components.apikey.SharedKeys`): stored instead of a key of this cloud's own.
    """
    cloud = spec.clouds.gcp
    opts = pulumi.ResourceOptions(provider=provider)
    result = contract.CloudStack(provider)
    mine = {name: c for name, c in spec.clusters.items() if c.cloud == "gcp"}
    # One GKE cluster per GCP stack (registry: several_clusters); its Service range is a subnetwork range.
    services_cidr = next((c.service_cidr for c in mine.values()), None)
    serving_ports = sorted({s.endpoint.port for s in spec.shares() if s.cluster in mine})
    network = Network("gcp", cloud, services_cidr=services_cidr, health_check_ports=serving_ports, opts=opts)
    result.network = network
    audit = AuditLog(
        "gcp-audit",
        project=cloud.project,
        project_number=cloud.project_number,
        region=cloud.region,
        prefix=prefix,
        retention_days=spec.audit_retention_days,
        protect=spec.protected,
        opts=opts,
    )
    admission = (
        ImageAdmission(
            "gcp-admission",
            project=cloud.project,
            patterns=images.allow_patterns(spec),
            environment=spec.environment,
            opts=opts,
        )
        if mine
        else None
    )
    for name, cspec in mine.items():
        cluster = Cluster(
            name,
            cspec,
            cloud=cloud,
            prefix=prefix,
            network=network,
            protect=spec.protected,
            log_key_id=audit.key_id,
            log_key_grant=audit.key_grant,
            admission=admission.policy if admission else None,
            opts=opts,
        )
        result.clusters[name] = cluster
        # KEDA reads vLLM's gauges and the pickers' queue from Managed Service for Prometheus.
        result.addon_identities[(name, "keda-operator")] = MetricsReaderIdentity(
            f"{name}-metrics-reader",
            cluster=cluster,
            project=cloud.project,
            project_number=cloud.project_number,
            opts=opts,
        )
        auto = {p: pool for p, pool in cspec.gpu_pools.items() if pool.provisioning == "auto"}
        floors = {}
        for pool_name, pool in cspec.gpu_pools.items():
            if pool.provisioning == "auto" and not (pool.capacity == "spot" and pool.on_demand_floor):
                continue
            result.pools[(name, pool_name)] = GpuNodePool(
                f"{name}-{pool_name}",
                pool,
                pool=pool_name,
                cluster=cluster,
                region=cloud.region,
                compute_class=class_name(name, pool_name) if pool_name in auto else None,
                opts=opts,
            )
            if pool_name in auto:
                floors[pool_name] = result.pools[(name, pool_name)]
        if auto:
            result.provisioning[name] = gpupool.provisioning(name, auto, cluster=cluster, floors=floors)
        if served := spec.served_by(name):
            result.api_keys[name] = ApiKeys(
                f"{name}-api-keys",
                cluster=cluster,
                endpoints=served,
                shared=shared_keys,
                project=cloud.project,
                project_number=cloud.project_number,
                region=cloud.region,
                prefix=prefix,
                protect=spec.protected,
                opts=opts,
            )
    for name, sspec in spec.stores.items():
        if sspec.cloud != "gcp":
            continue
        store = ObjectStore(name, sspec, cloud=cloud, protect=spec.protected, opts=opts)
        result.stores[name] = store
        for reader, identity, common in contract.store_readers(spec, name, result):
            result.identities[(reader, name)] = WorkloadIdentity(
                identity,
                **common,
                account_id=naming.gcp_service_account(prefix, f"{reader}-{name}-read"),
                opts=opts,
            )
    audit.record([store.bucket_name for store in result.stores.values()])
    return result
