"""The stack spec: the one typed model through which config enters the program.

It is read from the ``config:`` block of a stack file (keys namespaced ``aistack:``) and
validated completely, cross-field rules included, before any resource is declared. It carries
no secrets. Errors are :class:`aistack.errors.InputError` lines naming the file and key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from aistack.errors import InputError
from aistack.spec.base import TAG_KEY, TAG_VALUE, Model, Name, overlapping
from aistack.spec.clouds import Clouds, NetworkSpec, zone_index
from aistack.spec.clusters import ClusterSpec, GpuPoolSpec
from aistack.spec.dns import DnsSpec
from aistack.spec.endpoints import EndpointSpec, ServeFromSpec, accelerator_gib
from aistack.spec.interconnect import InterconnectSpec
from aistack.spec.sizing import SizingSpec
from aistack.spec.stores import StoreSpec
from policies.aistack_rules import versions

NAMESPACE = "aistack"
ALLOWED_NAMESPACES = ("aistack", "pulumi")

__all__ = [
    "ClusterSpec",
    "DnsSpec",
    "EndpointSpec",
    "GpuPoolSpec",
    "NetworkSpec",
    "ServeFromSpec",
    "Share",
    "StackSpec",
    "StoreSpec",
    "load_stack_file",
    "read_stack_environments",
    "spec_from_config",
    "stack_file",
    "zone_index",
]


@dataclass(frozen=True)
class Share:
    """One cluster's share of an endpoint: what that cluster deploys and reports for it.

    Attributes:
        name: The endpoint's name (the Deployment and Service name in every serving cluster).
        cluster: The serving cluster.
        pool: The GPU pool of that cluster the share's replicas run on.
        store: The store this cluster reads the weights from: the endpoint's ``store`` when on the
            same cloud, else the store on the cluster's cloud whose ``replica_of`` is it.
        endpoint: The endpoint as this cluster serves it: ``cluster``, ``pool`` and ``store`` concrete,
            no ``serve_from``, and the share's own ``min_replicas`` / ``max_replicas`` /
            ``gpus_per_replica`` (the plan's, after :func:`aistack.plan.resolve`).
    """

    name: str
    cluster: str
    pool: str
    store: str
    endpoint: EndpointSpec


AUDIT_RETENTION_DAYS = {"dev": 30, "staging": 90, "prod": 365}
"""Default days to keep access logs of the weight stores, per environment."""


class StackSpec(Model):
    """Everything one stack declares. Each field is a top-level ``aistack:<field>`` config key."""

    environment: Literal["dev", "staging", "prod"] = Field(
        description="Environment class; prod turns on deletion protection and on-demand floors."
    )
    protect_stateful: bool | None = Field(
        default=None,
        description="Protect buckets, storage accounts and keys from deletion (`protect`); "
        "omit to protect in prod only.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Tags/labels on every resource; keys and values lowercase (GCP label rules).",
    )
    clouds: Clouds = Field(description="The clouds the stack uses, each with region, zones and network.")
    clusters: dict[Name, ClusterSpec] = Field(
        default_factory=dict, description="Kubernetes clusters by name."
    )
    stores: dict[Name, StoreSpec] = Field(default_factory=dict, description="Object stores by name.")
    endpoints: dict[Name, EndpointSpec] = Field(
        default_factory=dict,
        description="Serving endpoints by name; the name is the endpoint's Deployment and Service name.",
    )
    sizing: SizingSpec = Field(
        default_factory=SizingSpec,
        description="Options of the sizing plan for pools that say `nodes: sized`.",
    )
    interconnect: InterconnectSpec = Field(
        default_factory=InterconnectSpec,
        description="Site-to-site VPNs between the clouds' networks (docs/multicloud.md, \"Private path between "
        'clouds"); none by default.',
    )
    dns: DnsSpec | None = Field(
        default=None,
        description="The zone holding the global names of `public-lb` endpoints, the DNS provider that "
        "fails over between their clusters, and the ACME account their certificates come from.",
    )
    audit_log_retention_days: int | None = Field(
        default=None,
        ge=30,
        le=730,
        description="Days to keep the weight stores' access logs (CloudTrail data events, GCS Data Access "
        "audit logs, Blob diagnostic logs); omit for the environment's default (dev 30, staging 90, "
        "prod 365). 30–730: the range every cloud's log destination accepts (Log Analytics' bounds).",
    )
    allow_replace: list[str] = Field(
        default_factory=list,
        description="Logical names of stateful resources (buckets, storage accounts, keys, clusters) that "
        "this change may delete or replace, or of a component (e.g. a store's name) to allow it for "
        "everything in it. Without it `preview --baseline` fails (exit 1) on such a change.",
    )

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            if not TAG_KEY.match(key):
                raise ValueError(f"tag key {key!r} must match {TAG_KEY.pattern}")
            if not TAG_VALUE.match(value):
                raise ValueError(f"tag {key}: value {value!r} must match {TAG_VALUE.pattern}")
        return tags

    @property
    def audit_retention_days(self) -> int:
        """Days the weight stores' access logs are kept (the spec's, or the environment's default)."""
        if self.audit_log_retention_days is not None:
            return self.audit_log_retention_days
        return AUDIT_RETENTION_DAYS[self.environment]

    @property
    def protected(self) -> bool:
        """Whether stateful resources are protected from deletion."""
        return self.environment == "prod" if self.protect_stateful is None else self.protect_stateful

    @model_validator(mode="after")
    def _cross_field(self) -> StackSpec:
        clouds = self.clouds.configured()
        if not clouds:
            raise _Located("clouds", f"configure at least one cloud ({', '.join(Clouds.model_fields)})")
        blocks = {
            f"clouds.{name}.{key}": block
            for name, net in clouds.items()
            for key, block in net.cidr_blocks().items()
        }
        blocks.update({f"clusters.{name}.service_cidr": c.service_cidr for name, c in self.clusters.items()})
        if pair := overlapping(blocks):
            raise _Located(pair[1], f"CIDR {blocks[pair[1]]} overlaps {pair[0]} ({blocks[pair[0]]})")
        for i, pair in enumerate(self.interconnect.vpn):
            missing = [c for c in pair.between if c not in clouds]
            if missing:
                raise _Located(
                    f"interconnect.vpn.{i}.between",
                    f"cloud {missing[0]!r} is not configured; configured: {', '.join(clouds)}",
                )
        for kind, items in (("clusters", self.clusters), ("stores", self.stores)):
            for name, item in items.items():
                if item.cloud not in clouds:
                    raise _Located(
                        f"{kind}.{name}.cloud",
                        f"cloud {item.cloud!r} is not configured; configured: {', '.join(clouds)}",
                    )
        for cname, cluster in self.clusters.items():
            zones = clouds[cluster.cloud].zones
            self._check_platform(cname, cluster, zones)
            for pname, pool in cluster.gpu_pools.items():
                where = f"clusters.{cname}.gpu_pools.{pname}"
                extra = sorted(set(pool.zones or []) - set(zones))
                if extra:
                    raise _Located(f"{where}.zones", f"zones {extra} are not in the cloud's zones {zones}")
                if pool.overrides is not None and pool.overrides.cloud != cluster.cloud:
                    raise _Located(
                        f"{where}.overrides.cloud",
                        f"overrides for {pool.overrides.cloud} on a cluster placed on {cluster.cloud}",
                    )
                if self.environment == "prod" and pool.capacity == "spot" and pool.on_demand_floor < 1:
                    raise _Located(
                        f"{where}.on_demand_floor",
                        "a spot pool in prod needs an on-demand floor of at least 1 node",
                    )
        for sname, store in self.stores.items():
            for reader in store.readers or []:
                if reader not in self.clusters:
                    raise _Located(f"stores.{sname}.readers", f"no cluster named {reader!r}")
                if self.clusters[reader].cloud != store.cloud:
                    raise _Located(
                        f"stores.{sname}.readers",
                        f"cluster {reader!r} is on {self.clusters[reader].cloud}, the store on {store.cloud}",
                    )
            self._check_replica(sname, store)
        for ename, endpoint in self.endpoints.items():
            self._check_endpoint(ename, endpoint)
            self._check_exposure(f"endpoints.{ename}", endpoint)
        for cname, cluster in self.clusters.items():
            for pname, pool in cluster.gpu_pools.items():
                if pool.sized:
                    self._check_sized(cname, pname)
        return self

    def _check_replica(self, name: str, store: StoreSpec) -> None:
        """A replica copies a primary on another cloud, with its purpose; one per cloud; no chains."""
        if store.replica_of is None:
            return
        where = f"stores.{name}.replica_of"
        primary = self.stores.get(store.replica_of)
        if primary is None or store.replica_of == name:
            raise _Located(where, f"no other store named {store.replica_of!r}; stores: {_names(self.stores)}")
        if primary.replica_of is not None:
            raise _Located(
                where,
                f"store {store.replica_of!r} is itself a replica of {primary.replica_of!r}; name the primary "
                f"({primary.replica_of!r}): replicas do not chain",
            )
        if primary.cloud == store.cloud:
            raise _Located(
                where,
                f"store {store.replica_of!r} is on {primary.cloud} too; a replica lives on another cloud "
                "(clusters on the primary's cloud read the primary)",
            )
        if store.purpose != primary.purpose:
            raise _Located(
                f"stores.{name}.purpose",
                f"a replica has its primary's purpose: {primary.purpose!r} (store {store.replica_of!r})",
            )
        twins = [
            n for n, s in self.stores.items() if s.replica_of == store.replica_of and s.cloud == store.cloud
        ]
        if twins[0] != name:
            raise _Located(
                where,
                f"store {twins[0]!r} is already the replica of {store.replica_of!r} on {store.cloud}; one per cloud",
            )

    def store_for(self, store: str, cluster: str) -> str | None:
        """The store a cluster reads an endpoint's weights from: ``store`` when on the cluster's cloud,
        else the replica of ``store`` on that cloud (None when there is none)."""
        cloud = self.clusters[cluster].cloud
        if self.stores[store].cloud == cloud:
            return store
        return next(
            (n for n, s in self.stores.items() if s.replica_of == store and s.cloud == cloud),
            None,
        )

    def survive_of(self, endpoint: str) -> str:
        """The failure domain an endpoint survives: its own ``survive``, else ``aistack:sizing.survive``."""
        return self.endpoints[endpoint].survive or self.sizing.survive or "none"

    def shares(self) -> list[Share]:
        """One :class:`Share` per (endpoint, serving cluster), endpoints in spec order, then ``serve_from`` order.

        Everything that deploys or reports per cluster iterates these, never ``endpoints``: a
        multi-cluster endpoint has no ``cluster`` or ``pool`` of its own.
        """
        return [share for name in self.endpoints for share in self.shares_of(name)]

    def shares_of(self, endpoint: str) -> list[Share]:
        """The shares of one endpoint (one for a single-cluster endpoint)."""
        spec = self.endpoints[endpoint]
        if spec.serve_from is None:
            store = self.store_for(spec.store, spec.cluster) or spec.store
            if store != spec.store:
                spec = spec.model_copy(update={"store": store})
            return [Share(endpoint, spec.cluster, spec.pool, store, spec)]
        shares = []
        for entry in spec.serve_from:
            store = self.store_for(spec.store, entry.cluster) or spec.store
            own = {
                key: getattr(entry, key)
                for key in ("min_replicas", "max_replicas", "gpus_per_replica")
                if getattr(entry, key) is not None
            }
            share = spec.model_copy(
                update={
                    "cluster": entry.cluster,
                    "pool": entry.pool,
                    "store": store,
                    "serve_from": None,
                    **own,
                }
            )
            shares.append(Share(endpoint, entry.cluster, entry.pool, store, share))
        return shares

    def _check_platform(self, name: str, cluster: ClusterSpec, zones: list[str]) -> None:
        """What the cloud refuses at create time: a minor past standard support, EKS in one zone."""
        problem = versions.support_problem(cluster.cloud, cluster.kubernetes_version, versions.today())
        if problem:
            raise _Located(
                f"clusters.{name}.kubernetes_version",
                f"{problem} (the date is ${versions.AS_OF_ENV} when set, else today)",
            )
        if cluster.cloud == "aws" and len(zones) < 2:
            # CreateCluster: "Subnets specified must be in at least two different AZs".
            raise _Located(
                "clouds.aws.zones",
                f"EKS cluster {name!r} needs subnets in at least two Availability Zones; got {zones} "
                "(GPU pools may still use one through their own `zones`)",
            )

    def _check_sized(self, cluster: str, pool: str) -> None:
        """A sized pool serves at least one endpoint, and each of them states its peak demand."""
        served = [share for share in self.shares() if (share.cluster, share.pool) == (cluster, pool)]
        if not served:
            raise _Located(
                f"clusters.{cluster}.gpu_pools.{pool}",
                "a sized pool (no min_nodes/max_nodes) needs an endpoint served on it to size it from; "
                "give min_nodes and max_nodes, or add an endpoint with demand_tokens_per_s",
            )
        for share in served:
            name, endpoint = share.name, self.endpoints[share.name]
            # A multi-node endpoint keeps its layout (GPUs per replica over nodes_per_replica nodes): the
            # plan picks the instance type with exactly that many GPUs per node, and the node counts.
            planned = {"max_replicas"} if endpoint.multi_node else {"max_replicas", "gpus_per_replica"}
            for key in sorted(planned & endpoint.model_fields_set):
                raise _Located(
                    f"endpoints.{name}.{key}",
                    f"set by the sizing plan: endpoint {name!r} runs on sized pool {cluster}.{pool}; remove it "
                    "(or give the pool min_nodes and max_nodes to size it yourself)",
                )
            for i, entry in enumerate(endpoint.serve_from or []):
                for key in sorted({"min_replicas", *planned} & entry.model_fields_set):
                    raise _Located(
                        f"endpoints.{name}.serve_from.{i}.{key}",
                        f"set by the sizing plan: endpoint {name!r} serves from sized pools; remove it "
                        "(the endpoint's min_replicas is the floor over all its clusters)",
                    )
            if endpoint.demand_tokens_per_s is None:
                raise _Located(
                    f"endpoints.{name}.demand_tokens_per_s",
                    f"required: endpoint {name!r} runs on sized pool {cluster}.{pool}, which is sized from it",
                )

    def _check_endpoint(self, name: str, spec: EndpointSpec) -> None:
        """Each serving cluster and pool exists, reads a store on its own cloud, and fits the endpoint."""
        where = f"endpoints.{name}"
        if spec.store not in self.stores:
            raise _Located(f"{where}.store", f"no store named {spec.store!r}; stores: {_names(self.stores)}")
        if self.stores[spec.store].replica_of is not None:
            raise _Located(
                f"{where}.store",
                f"store {spec.store!r} is a replica of {self.stores[spec.store].replica_of!r}; name the primary "
                "(each cluster then reads the copy on its own cloud)",
            )
        entries = (
            [(where, spec.cluster, spec.pool)]
            if spec.serve_from is None
            else [(f"{where}.serve_from.{i}", e.cluster, e.pool) for i, e in enumerate(spec.serve_from)]
        )
        for at, cname, pname in entries:
            cluster = self.clusters.get(cname)
            if cluster is None:
                raise _Located(
                    f"{at}.cluster", f"no cluster named {cname!r}; clusters: {_names(self.clusters)}"
                )
            if pname not in cluster.gpu_pools:
                raise _Located(
                    f"{at}.pool",
                    f"cluster {cname!r} has no GPU pool {pname!r}; its pools: {_names(cluster.gpu_pools)}",
                )
            if self.store_for(spec.store, cname) is None:
                primary = self.stores[spec.store]
                raise _Located(
                    f"{where}.store",
                    f"store {spec.store!r} is on {primary.cloud}, cluster {cname!r} on {cluster.cloud}; "
                    f"serve from a store on the cluster's cloud, or add one there with `replica_of: {spec.store}`",
                )
        if spec.serve_from is not None:
            clouds = [self.clusters[c].cloud for _, c, _ in entries]
            if len(set(clouds)) < len(clouds):
                raise _Located(
                    f"{where}.serve_from",
                    f"serve_from clusters are on distinct clouds (got {', '.join(clouds)}): each cloud serves "
                    "an endpoint from one cluster and one store",
                )
            sized = {self.clusters[c].gpu_pools[p].sized for _, c, p in entries}
            if len(sized) > 1:
                raise _Located(
                    f"{where}.serve_from",
                    "the pools of serve_from are either all sized (the plan places the replicas across them) "
                    "or all given min_nodes/max_nodes, not a mix",
                )
        if spec.survive in ("region", "cloud"):
            clouds = {self.clusters[c].cloud for _, c, _ in entries}
            if len(clouds) < 2:
                raise _Located(
                    f"{where}.survive",
                    f"surviving the loss of a {spec.survive} needs clusters on at least two clouds (a stack has "
                    f"one region per cloud); endpoint {name!r} is served from {', '.join(sorted(clouds))} only: "
                    "use serve_from, or survive: zone | none",
                )
        for share in self.shares_of(name):
            self._check_share(where, share)

    def _check_share(self, where: str, share: Share) -> None:
        """One cluster's share (``where``: the endpoint's key path): it may read its store, and the
        endpoint fits the share's pool."""
        endpoint, cluster = share.endpoint, self.clusters[share.cluster]
        pool = cluster.gpu_pools[share.pool]
        if share.cluster not in self.readers(share.store):
            raise _Located(
                f"{where}.store",
                f"cluster {share.cluster!r} may not read store {share.store!r} "
                f"(its readers: {', '.join(self.readers(share.store))}); add it to stores.{share.store}.readers",
            )
        gcp = self.clouds.configured().get("gcp") if cluster.cloud == "gcp" else None
        if endpoint.expose == "internal-lb" and gcp is not None and gcp.proxy_only_cidr is None:
            raise _Located(
                f"{where}.expose",
                "internal-lb on GKE is the inference Gateway, a regional internal Application Load Balancer, "
                "which needs a proxy-only subnetwork: set clouds.gcp.proxy_only_cidr (e.g. 10.129.0.0/23)",
            )
        if endpoint.node_cache_gib is not None and endpoint.node_cache_gib >= pool.disk_gib:
            raise _Located(
                f"{where}.node_cache_gib",
                f"the weight cache ({endpoint.node_cache_gib} GiB) does not fit on the {pool.disk_gib} GiB disk "
                f"of pool {endpoint.pool!r}, which also holds images",
            )
        self._check_nodes(where, endpoint, cluster.cloud, pool)
        if not pool.sized and endpoint.min_replicas > endpoint.max_replicas:
            raise _Located(
                where,
                f"min_replicas ({endpoint.min_replicas}) is above max_replicas ({endpoint.max_replicas})",
            )
        gpu_gib = endpoint.gpus_per_replica * accelerator_gib(pool.accelerator)
        # On a sized pool the plan picks the GPUs per replica from the model's memory.
        if not pool.sized and endpoint.model_mem_gib is not None and endpoint.model_mem_gib > gpu_gib:
            raise _Located(
                f"{where}.model_mem_gib",
                f"{endpoint.model_mem_gib} GiB does not fit in {endpoint.gpus_per_replica} x {pool.accelerator} "
                f"({gpu_gib} GiB); raise gpus_per_replica or pick a larger accelerator",
            )

        if not pool.sized:
            self._check_fits(where, endpoint, pool.accelerator)

    def _check_exposure(self, where: str, endpoint: EndpointSpec) -> None:
        """A public endpoint has a name in the stack's DNS zone, and the DNS provider can reach its clouds."""
        if endpoint.expose != "public-lb":
            # internal-lb: private names across the clouds' networks (their own key rules, not this one).
            if endpoint.hostname is not None and endpoint.expose == "cluster":
                raise _Located(
                    f"{where}.hostname",
                    "a name is published for load-balanced endpoints; set expose: public-lb for the global "
                    "name (or remove hostname)",
                )
            if endpoint.hostname is not None and self.interconnect.private_zone is None:
                raise _Located(
                    f"{where}.hostname",
                    "an internal-lb endpoint's name lives in the private zone: set "
                    "aistack:interconnect.private_zone (e.g. internal.example.com), or remove hostname",
                )
            if endpoint.hostname is not None:
                self._check_unique_hostname(where, endpoint)
            return
        if endpoint.hostname is None:
            raise _Located(
                f"{where}.hostname",
                "required with expose: public-lb: the endpoint's name in aistack:dns.zone (e.g. chat)",
            )
        if self.dns is None:
            raise _Located(
                f"{where}.expose",
                "public-lb needs aistack:dns (provider, zone, hosted_zone_id, acme_email, allowed_cidrs): "
                "the global name, its certificate and the load balancers' allow-list come from it",
            )
        if endpoint.ingress is not None:
            raise _Located(
                f"{where}.ingress",
                "a public-lb endpoint is reached at its global name through the load balancer; remove ingress",
            )
        if self.dns.provider == "route53" and "aws" not in self.clouds.configured():
            raise _Located(
                "dns.provider",
                "route53 records and the certificates' DNS-01 role are declared with the stack's AWS account: "
                "configure aistack:clouds.aws",
            )
        self._check_unique_hostname(where, endpoint)

    def _check_unique_hostname(self, where: str, endpoint: EndpointSpec) -> None:
        """One name per endpoint within its zone (the public one, or the private one)."""
        others = [
            name
            for name, e in self.endpoints.items()
            if e is not endpoint and e.expose == endpoint.expose and e.hostname == endpoint.hostname
        ]
        if others:
            raise _Located(
                f"{where}.hostname",
                f"{endpoint.hostname!r} is already the hostname of endpoint {others[0]!r}; one name per endpoint",
            )

    @staticmethod
    def _check_nodes(where: str, endpoint: EndpointSpec, cloud: str, pool: Any) -> None:
        """A replica fits one node of its pool, or spans whole nodes of it (a LeaderWorkerSet group).

        GPUs per node come from the pool's instance types (``sizing/catalog.py``). A multi-node replica
        needs them all alike (each pod takes one whole node): named, or on a sized pool picked by the
        plan among the offerings with exactly that many GPUs (``aistack/plan.py`` plans such a pool in
        groups of ``nodes_per_replica`` nodes; the resolved spec is checked again here).
        """
        from sizing.catalog import expected_gpus

        name = where.rsplit(".", 1)[-1]
        per_node = {t: expected_gpus(cloud, t) for t in pool.instance_types or ()}
        known = {t: g for t, g in per_node.items() if g is not None}
        if not endpoint.multi_node:
            if pool.sized:  # the plan picks instance types that hold its GPUs per replica
                return
            smaller = sorted(t for t, g in known.items() if g < endpoint.gpus_per_replica)
            if smaller:
                raise _Located(
                    f"{where}.gpus_per_replica",
                    f"endpoint {name!r} needs {endpoint.gpus_per_replica} GPUs per replica but {', '.join(smaller)} "
                    f"in pool {endpoint.pool!r} has only {known[smaller[0]]}; set nodes_per_replica to span "
                    "several nodes, or use larger instance types",
                )
            return
        if pool.sized and not pool.instance_types:
            return
        if (
            not pool.instance_types
            or len(known) < len(per_node)
            or set(known.values()) != {endpoint.gpus_per_pod}
        ):
            have = (
                ", ".join(f"{t}: {g if g is not None else 'unknown'}" for t, g in per_node.items())
                or "none named"
            )
            raise _Located(
                f"clusters.{endpoint.cluster}.gpu_pools.{endpoint.pool}.instance_types",
                f"endpoint {name!r} runs {endpoint.gpus_per_pod} GPUs on each of {endpoint.nodes_per_replica} "
                f"nodes, so every instance type of the pool must have exactly {endpoint.gpus_per_pod} GPUs "
                f"(GPUs per node: {have})",
            )
        if pool.sized:  # the plan sets the node counts, in whole groups
            return
        for key, replicas in (
            ("min_replicas", endpoint.min_replicas),
            ("max_replicas", endpoint.max_replicas),
        ):
            nodes = replicas * endpoint.nodes_per_replica
            if nodes > pool.max_nodes:
                raise _Located(
                    f"{where}.{key}",
                    f"endpoint {name!r}: {replicas} replicas x {endpoint.nodes_per_replica} nodes = {nodes} nodes, "
                    f"more than pool {endpoint.pool!r} may have (max_nodes {pool.max_nodes})",
                )

    @staticmethod
    def _check_fits(where: str, endpoint: EndpointSpec, accelerator: str) -> None:
        """The weights plus one ``max_model_len`` sequence of KV cache fit the replica's GPUs (vLLM starts).

        Models whose architecture ``sizing/memory.py`` does not know are checked by vLLM at start-up only.
        """
        from sizing import memory  # the sizing package loads SciPy: only when an endpoint is checked

        arch = memory.architecture(endpoint.model)
        if arch is None:
            return
        name = where.rsplit(".", 1)[-1]
        if endpoint.max_model_len > arch.max_position_embeddings:
            raise _Located(
                f"{where}.max_model_len",
                f"endpoint {name!r}: {endpoint.max_model_len} tokens is beyond {endpoint.model}'s context of "
                f"{arch.max_position_embeddings} (config.json max_position_embeddings), which vLLM refuses",
            )
        fit = memory.fit(
            arch,
            gpus=endpoint.gpus_per_replica,
            gpu_mem_gib=memory.visible_gib(accelerator_gib(accelerator)),
            max_model_len=endpoint.max_model_len,
            gpu_memory_utilization=endpoint.gpu_memory_utilization,
            precision=endpoint.precision,
            tensor_parallel=endpoint.gpus_per_pod,
        )
        if not fit.fits:
            longest = memory.max_model_len_that_fits(
                arch,
                gpus=endpoint.gpus_per_replica,
                gpu_mem_gib=fit.gpu_mem_gib,
                gpu_memory_utilization=endpoint.gpu_memory_utilization,
                precision=endpoint.precision,
                tensor_parallel=endpoint.gpus_per_pod,
            )
            hint = (
                f"lower max_model_len to at most {longest}"
                if longest >= 256
                else "the weights leave no room for a KV cache"
            )
            raise _Located(
                f"{where}.max_model_len",
                f"endpoint {name!r} does not fit {endpoint.gpus_per_replica} x {accelerator}: {fit.explain()}; "
                f"{hint}, or raise gpus_per_replica or gpu_memory_utilization",
            )

    def served_by(self, cluster: str) -> list[str]:
        """The endpoints a cluster serves, in spec order."""
        return list(dict.fromkeys(share.name for share in self.shares() if share.cluster == cluster))

    def readers(self, store: str) -> list[str]:
        """Clusters allowed to read a store (its readers, or every cluster on its cloud)."""
        spec = self.stores[store]
        if spec.readers is not None:
            return list(spec.readers)
        return [name for name, c in self.clusters.items() if c.cloud == spec.cloud]


def _names(items: Mapping[str, Any]) -> str:
    return ", ".join(items) or "(none)"


class _Located(ValueError):
    """A cross-field error that knows its key path (relative to the ``aistack:`` namespace)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


def _user_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """An error location as the user wrote it: without the tag pydantic adds after ``overrides``."""
    return tuple(part for i, part in enumerate(loc) if not (i and loc[i - 1] == "overrides"))


def _key_path(loc: tuple[Any, ...]) -> str:
    head, *rest = [str(part) for part in loc] or [""]
    return f"{NAMESPACE}:{head}" + "".join(f".{part}" for part in rest)


def _describe(err: dict[str, Any], model: type[Model]) -> str:
    """One readable sentence for a pydantic error, saying what is allowed."""
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, _user_loc(err["loc"])[:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see the config reference"
        return f"unknown key; allowed keys: {allowed}"
    if kind == "missing":
        return "required key is missing"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind not in ("value_error", "assertion_error"):
        message = f"{message} (got {err.get('input')!r})"
    return message


def _model_at(model: type[Model], loc: tuple[Any, ...]) -> type[Model] | None:
    """Walk a model's field annotations along an error location to the model that holds the key."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, Model) and str(part) in current.model_fields:
            current = current.model_fields[str(part)].annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif isinstance(current, type) and issubclass(current, Model):
            return None
        # Unwrap Optional[...] / Annotated[...] to the model inside.
        while typing.get_origin(current) is not None and typing.get_origin(current) is not dict:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[0] if args else None
    return current if isinstance(current, type) and issubclass(current, Model) else None


def spec_from_config(
    config: Mapping[str, Any], file: str, *, from_file: bool = True, environments: Sequence[str] = ()
) -> StackSpec:
    """Validate a stack's config mapping (``{"aistack:clusters": {...}, ...}``) into a spec.

    Args:
        config: The stack file's ``config:`` mapping, keys namespaced.
        file: The file the config came from, for error messages.
        from_file: The mapping is a whole stack file, which must disable default providers
            (under a real ``pulumi up`` the engine itself enforces that setting).
        environments: The ESC environments the stack file imports; offline they are not opened,
            so a required key they might set is named as such in the error.

    Raises:
        InputError: naming the file, the key path and what is allowed.
    """
    values: dict[str, Any] = {}
    for key, value in config.items():
        namespace, _, name = str(key).partition(":")
        if namespace not in ALLOWED_NAMESPACES or not name:
            raise InputError(
                file,
                str(key),
                "unknown config key; keys are namespaced `aistack:` (the stack spec) or `pulumi:`. "
                "Providers are built from aistack:clouds, so provider keys such as aws:region are not read",
            )
        if isinstance(value, Mapping) and "secure" in value:
            raise InputError(
                file, str(key), "the aistack config carries no secrets; keep them in the cloud's secret store"
            )
        if namespace == NAMESPACE:
            values[name] = value
    disabled = config.get("pulumi:disable-default-providers")
    if from_file and disabled != ["*"]:
        raise InputError(
            file,
            "pulumi:disable-default-providers",
            f'must be ["*"] so every resource uses the explicit provider aistack builds (got {disabled!r})',
        )
    return validate(values, file, environments)


def validate(values: Mapping[str, Any], file: str, environments: Sequence[str] = ()) -> StackSpec:
    """Validate the ``aistack:`` values (keys without the namespace) into a spec.

    ``environments`` are the ESC environments the stack imports (see :func:`spec_from_config`).

    Raises:
        InputError: naming the file, the key path and what is allowed.
    """
    try:
        return StackSpec.model_validate(values)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        ctx_error = first.get("ctx", {}).get("error")
        if isinstance(ctx_error, _Located):
            line = InputError(file, _key_path(tuple(ctx_error.path.split("."))), str(ctx_error))
        else:
            message = _describe(first, StackSpec)
            if first["type"] == "missing" and environments:
                message += (
                    f"; the offline preview does not open the ESC environments the stack imports "
                    f"({', '.join(environments)}): give this key in the stack file"
                )
            line = InputError(file, _key_path(_user_loc(first["loc"])), message)
        if len(errors) > 1:
            line = InputError(line.file, line.key, f"{line.message} (and {len(errors) - 1} more errors)")
        raise line from None


def _read_stack_document(path: Path) -> dict[str, Any]:
    """A stack file as a mapping of its top-level keys, with one-line errors."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise InputError(str(path), "", f"cannot read: {err.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(str(path), "", f"malformed YAML: {where}{problem}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InputError(str(path), "", "a stack file is a mapping with a `config:` key")
    unknown = set(document) - set(STACK_FILE_KEYS)
    if unknown:
        raise InputError(
            str(path),
            sorted(map(str, unknown))[0],
            f"unknown top-level key; allowed: {', '.join(STACK_FILE_KEYS)}",
        )
    return document


STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")
"""Top-level keys of a Pulumi stack file that aistack accepts (Pulumi's own stack settings)."""

ESC_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?(@[A-Za-z0-9_.-]+)?$")
"""An ESC environment reference: ``[project/]name`` with an optional ``@version`` or ``@tag``."""


def read_stack_config(path: Path) -> dict[str, Any]:
    """Read a stack file's ``config:`` mapping (any program's), with one-line errors."""
    config = _read_stack_document(path).get("config") or {}
    if not isinstance(config, dict):
        raise InputError(str(path), "config", "must be a mapping of namespaced keys")
    return config


def read_stack_environments(path: Path) -> list[str]:
    """The Pulumi ESC environments a stack file imports (its ``environment:`` list), in import order.

    Pulumi opens them at deploy time and merges them in order; their ``pulumiConfig`` becomes
    stack config and their ``environmentVariables`` reach the providers (short-lived cloud
    credentials). Offline nothing is opened: see :func:`aistack.preview.esc_section`.
    """
    environments = _read_stack_document(path).get("environment")
    if environments is None:
        return []
    if not isinstance(environments, list) or not environments:
        raise InputError(str(path), "environment", "must be a non-empty list of ESC environment names")
    for i, name in enumerate(environments):
        if not isinstance(name, str) or not ESC_NAME.match(name):
            raise InputError(
                str(path),
                f"environment[{i}]",
                f"{name!r} is not an ESC environment name; use `project/name` (optionally `@version`)",
            )
    if len(set(environments)) < len(environments):
        raise InputError(str(path), "environment", "an environment is imported twice")
    return environments


def load_stack_file(path: Path) -> tuple[dict[str, Any], StackSpec]:
    """Read and fully validate one of our stack files, its pools resolved by the sizing plan."""
    from aistack.plan import resolve

    config = read_stack_config(path)
    spec = spec_from_config(config, str(path), environments=read_stack_environments(path))
    return config, resolve(spec, str(path), project_dir(path))[0]


def project_dir(stack_path: Path) -> Path:
    """The project directory of a stack file: the nearest folder up holding ``Pulumi.yaml``."""
    here = Path(stack_path).resolve().parent
    return next((d for d in (here, *here.parents) if (d / "Pulumi.yaml").is_file()), here)


def stack_file(program_dir: Path, stack: str) -> Path:
    """The stack file for a stack name, from the project's ``stackConfigDir``."""
    program_dir = Path(program_dir)
    project = (
        yaml.safe_load((program_dir / "Pulumi.yaml").read_text())
        if (program_dir / "Pulumi.yaml").is_file()
        else {}
    )
    folder = program_dir / (project or {}).get("stackConfigDir", ".")
    path = folder / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))
        raise InputError(
            "arguments", "--stack", f"unknown stack {stack!r}; stacks in {folder}: {', '.join(known)}"
        )
    return path


def spec_from_pulumi_config() -> StackSpec:
    """The spec of the running stack, read through Pulumi's config (used by ``__main__.py``)."""
    import json

    import pulumi
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    config: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            config[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            config[key] = value
    return spec_from_config(config, f"stacks/Pulumi.{pulumi.get_stack()}.yaml", from_file=False)
