"""Resolve a stack spec against the catalog and the sizing plan.

After resolution every GPU pool has concrete ``instance_types``, ``min_nodes`` and ``max_nodes``:
- a pool that says ``nodes: sized`` (or omits its counts) is sized by :func:`sizing.plan_for` from
  the endpoints served on it: each endpoint is one workload whose floor is its ``min_replicas``
  and whose peak is its ``demand_tokens_per_s``, restricted to the pool's cloud, region,
  accelerator (and machine types, when given). The plan sets the pool's machine type and
  autoscaler bounds and the endpoint's GPUs per replica and ``max_replicas``;
- a pool without ``instance_types`` takes the cheapest catalog offering of its accelerator in its
  cloud's region with enough GPUs for its endpoints' replicas.

Each workload gets one machine type (``max_pools_per_workload=1``): a node pool's autoscaler
treats its machine types as interchangeable, so mixing sizes within one endpoint would mislead it.

An endpoint whose replica spans ``k = nodes_per_replica`` nodes (a LeaderWorkerSet group) is planned
in groups: each offering of the pool with exactly the endpoint's GPUs per pod becomes one *group
offering* of ``k`` such nodes (``k`` x price, spot price, vCPUs, memory and GPUs; quota ``max_nodes // k``),
solved as any offering, one replica per group, with the KV and pipeline arithmetic of ``k`` stages
(``Workload.tensor_parallel``). The plan's pools are mapped back to nodes (node counts ``x k``, the
underlying instance type, ``nodes_per_replica`` k). Such endpoints are solved apart from the one-node
ones (a one-node workload must not land on a group offering), after them, on the quota they leave.
Imports no Pulumi.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from aistack.errors import InputError
from aistack.spec import Share, StackSpec, validate
from aistack.spec.clusters import GpuPoolSpec


def region_of(spec: StackSpec, cloud: str) -> str:
    """The region (Azure: location) a cloud's share of the stack lives in."""
    placement = getattr(spec.clouds, cloud)
    return getattr(placement, "region", None) or placement.location


def sizing_model(model: str) -> str | None:
    """The sizing table's id for a served model (``meta-llama/Llama-3.1-8B-Instruct`` → ``llama-3.1-8b``)."""
    from sizing import capacity

    name = re.sub(r"-(instruct|chat|hf)$", "", model.rsplit("/", 1)[-1].lower())
    return name if name in capacity.MODELS else None


def _catalog(spec: StackSpec, file: str, base_dir: Path) -> tuple[Any, dict[tuple[str, str, str], set[str]]]:
    """The catalog (bundled plus the stack's own), narrowed by preflight findings when given, and the
    zones preflight found offering each type (zone names, as stacks name them)."""
    from sizing import bundled_paths, load_catalog

    paths = list(bundled_paths())
    if spec.sizing.catalog:
        path = Path(base_dir) / spec.sizing.catalog
        if not path.is_file():
            raise InputError(file, "aistack:sizing.catalog", f"no catalog file at {path}")
        paths.append(path)
    catalog = load_catalog(paths)
    if not spec.sizing.constraints:
        return catalog, {}
    return _constrained(catalog, Path(base_dir) / spec.sizing.constraints, file)


def _constrained(catalog: Any, path: Path, file: str) -> tuple[Any, dict[tuple[str, str, str], set[str]]]:
    """The catalog narrowed by preflight findings (types not offered dropped, node caps from quotas),
    and the zones offering each checked type."""
    from aistack.preflight.checks import constraints
    from sizing import Catalog

    try:
        limits = constraints(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(
            file, "aistack:sizing.constraints", f"cannot read preflight findings from {path}: {err!s}"
        ) from None
    offers = []
    for offer in catalog.offerings:
        limit = limits.get((offer.cloud, offer.region, offer.instance_type))
        if limit is None:
            offers.append(offer)
        elif limit["zones"]:  # an empty list: not offered in the region at all
            caps = [n for n in (offer.max_nodes, limit["max_nodes"]) if n is not None]
            offers.append(dataclasses.replace(offer, max_nodes=min(caps) if caps else None))
    return Catalog(offers, catalog.files), {key: set(limit["zones"]) for key, limit in limits.items()}


def peak_sized(spec: StackSpec, name: str) -> bool:
    """Whether an endpoint is planned at its peak demand (see the module docs): it is served from several
    clusters, or survives the loss of a domain."""
    return spec.endpoints[name].serve_from is not None or spec.survive_of(name) != "none"


def _site(spec: StackSpec, share: Share, floor: int) -> Any:
    from sizing.workloads import Site

    cloud = spec.clusters[share.cluster].cloud
    pool = spec.clusters[share.cluster].gpu_pools[share.pool]
    return Site(
        cloud=cloud,
        region=region_of(spec, cloud),
        accelerator=pool.accelerator,
        instance_types=tuple(pool.instance_types) if pool.instance_types else None,
        spot=pool.capacity == "spot",
        min_replicas=floor,
    )


def _workload(spec: StackSpec, name: str, shares: list[Share], file: str, slo: str | None = None) -> Any:
    """One endpoint as one workload: its offerings are those its serving pools accept (one site each).

    ``slo`` stands in for an endpoint without one (capacity estimates only, never the plan)."""
    from sizing.workloads import Workload

    endpoint = spec.endpoints[name]
    pools = [spec.clusters[s.cluster].gpu_pools[s.pool] for s in shares]
    accelerators = sorted({pool.accelerator for pool in pools})
    multi = endpoint.serve_from is not None
    model = sizing_model(endpoint.model)
    where = f"aistack:endpoints.{name}"
    if model is None and endpoint.model_mem_gib is None:
        raise InputError(
            file, f"{where}.model_mem_gib", f"required to size {endpoint.model!r} (not in sizing/capacity.py)"
        )
    # Every serving cluster keeps a replica: a cluster in serve_from is an entry point of the endpoint.
    sites = [_site(spec, s, max(endpoint.min_replicas, 1) if multi else 0) for s in shares]
    peak = peak_sized(spec, name)
    fields: dict[str, Any] = {
        "name": name,
        # Planned at peak: the survival rows and the per-site choices hold at the demand they protect.
        "demand": endpoint.demand_tokens_per_s if peak else 0.0,
        "peak_demand": None if peak else endpoint.demand_tokens_per_s,
        "target_utilization": spec.sizing.target_utilization,
        "min_replicas": 0 if multi else endpoint.min_replicas,
        "clouds": tuple(dict.fromkeys(site.cloud for site in sites)),
        "regions": tuple(dict.fromkeys(site.region for site in sites)),
        "spot": any(site.spot for site in sites),
        "sites": tuple(sites),
        # The KV bound: one max_model_len sequence must fit, concurrency at the typical length.
        "max_model_len": endpoint.max_model_len,
        "typical_tokens": endpoint.typical_tokens,
    }
    if endpoint.multi_node:  # tensor parallel within a node, a pipeline stage per node
        fields["tensor_parallel"] = endpoint.gpus_per_pod
    if model is not None:
        fields["model"] = model
    if endpoint.model_mem_gib is not None:
        fields["model_mem_gib"] = endpoint.model_mem_gib
    if endpoint.throughput_per_gpu is not None:
        fields["throughput"] = dict.fromkeys(accelerators, endpoint.throughput_per_gpu)
    if endpoint.slo is not None:
        fields["slo"] = endpoint.slo if isinstance(endpoint.slo, str) else endpoint.slo.model_dump()
    elif slo is not None:
        fields["slo"] = slo
    if endpoint.request_classes:
        fields["classes"] = [
            {
                "name": c.name,
                "share": c.share,
                "throughput": dict.fromkeys(accelerators, c.throughput_per_gpu),
                "tokens": c.tokens,
            }
            for c in endpoint.request_classes
        ]
    try:
        workload = Workload(**fields)
    except ValueError as err:
        key = f"{where}.request_classes" if "classes" in str(err) else where
        raise InputError(file, key, f"cannot size it: {err}") from None
    from sizing import capacity

    for accelerator in accelerators:
        if accelerator not in workload.throughput and not (
            workload.classes or capacity.estimable(workload, accelerator)
        ):
            raise InputError(
                file,
                f"{where}.throughput_per_gpu",
                f"no sourced throughput figure for {endpoint.model} on {accelerator}; "
                "set throughput_per_gpu (output tokens/s per GPU) from your own benchmark",
            )
    return workload


def _cheapest(catalog: Any, cloud: str, region: str, pool: GpuPoolSpec, gpus: int) -> str | None:
    offers = [o for o in catalog.find(cloud, region, accelerator=pool.accelerator) if o.gpus >= gpus]
    return offers[0].instance_type if offers else None


def resolve(spec: StackSpec, file: str, base_dir: Path = Path(".")) -> tuple[StackSpec, Any]:
    """The spec with every pool concrete, and the sizing plan (``None`` when no pool is sized).

    Args:
        spec: A validated stack spec.
        file: The stack file, for error messages.
        base_dir: The project directory (``aistack:sizing.catalog`` is relative to it).

    Raises:
        InputError: a sized pool cannot be planned, or no catalog offering fits a pool.
    """
    pools = {
        (cname, pname): pool for cname, c in spec.clusters.items() for pname, pool in c.gpu_pools.items()
    }
    sized = {key for key, pool in pools.items() if pool.sized}
    if not sized and all(pool.instance_types for pool in pools.values()):
        return spec, None
    catalog, offered_zones = _catalog(spec, file, base_dir)
    clusters = {name: c.model_dump() for name, c in spec.clusters.items()}
    endpoints = {name: e.model_dump() for name, e in spec.endpoints.items()}
    plan = _plan(spec, sized, pools, catalog, offered_zones, file) if sized else None
    shares = spec.shares()
    for (cname, pname), pool in pools.items():
        updated = clusters[cname]["gpu_pools"][pname]
        served = [s for s in shares if (s.cluster, s.pool) == (cname, pname)]
        if (cname, pname) in sized:
            planned = {s.name: share_pools(spec, plan, s) for s in served}
            # Multi-node replicas take whole groups: the bounds stay multiples of the group size.
            step = math.lcm(*(s.endpoint.nodes_per_replica for s in served))
            low = _round_up(
                max(sum(p.min_nodes for ps in planned.values() for p in ps), pool.on_demand_floor), step
            )
            updated.update(
                nodes=None,
                min_nodes=low,
                max_nodes=max(sum(p.max_nodes for ps in planned.values() for p in ps), low, step),
                instance_types=pool.instance_types
                or sorted({p.instance_type for ps in planned.values() for p in ps}),
            )
            for share in served:
                (chosen,) = planned[share.name]
                values = {
                    "gpus_per_replica": chosen.gpus_per_replica,
                    "max_replicas": max(chosen.max_replicas, share.endpoint.min_replicas, 1),
                }
                if spec.endpoints[share.name].serve_from is None:
                    endpoints[share.name].update(values)
                else:
                    entries = endpoints[share.name]["serve_from"]
                    next(e for e in entries if e["cluster"] == share.cluster).update(values)
        elif not pool.instance_types:
            cloud = spec.clusters[cname].cloud
            gpus = max([s.endpoint.gpus_per_replica for s in served], default=1)
            chosen_type = _cheapest(catalog, cloud, region_of(spec, cloud), pool, gpus)
            if chosen_type is None:
                raise InputError(
                    file,
                    f"aistack:clusters.{cname}.gpu_pools.{pname}.instance_types",
                    f"no {cloud} offering of {pool.accelerator} with {gpus} GPU(s) in {region_of(spec, cloud)} "
                    "in the catalog; name instance_types, or add the offering with aistack:sizing.catalog",
                )
            updated["instance_types"] = [chosen_type]
    resolved = spec.model_dump()
    resolved.update(clusters=clusters, endpoints=endpoints)
    # Checked again with the plan's GPUs per replica (the model must fit them): a one-line error, not a traceback.
    return validate(resolved, file), plan


def share_pools(spec: StackSpec, plan: Any, share: Share) -> tuple[Any, ...]:
    """The plan's pools of one share: the endpoint's pools on the share's cloud (serve_from clusters
    are on distinct clouds; a single-cluster endpoint's pools are all its share's)."""
    cloud = spec.clusters[share.cluster].cloud
    return tuple(p for p in plan.pools_for(share.name) if p.cloud == cloud)


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


def _plan(spec: StackSpec, sized: set, pools: dict, catalog: Any, offered_zones: dict, file: str) -> Any:
    """Solve every sized pool's workloads: the one-node ones together (they may share offering quotas),
    then each kind of multi-node group on the quota left (see the module docs)."""
    from sizing import Catalog, SizingOptions, plan_for

    def pool_zones(key: tuple[str, str]) -> tuple[str, ...]:
        return tuple(pools[key].zones or getattr(spec.clouds, spec.clusters[key[0]].cloud).zones)

    def accepts(offer: Any, key: tuple[str, str]) -> bool:
        pool, cloud = pools[key], spec.clusters[key[0]].cloud
        zones = set(pool_zones(key))
        offered = offered_zones.get((offer.cloud, offer.region, offer.instance_type))
        return (
            (offer.cloud, offer.region, offer.accelerator)
            == (cloud, region_of(spec, cloud), pool.accelerator)
            and (pool.instance_types is None or offer.instance_type in pool.instance_types)
            # A node pool spans all its zones: with preflight findings, the type must be offered in each.
            and (offered is None or zones <= offered)
        )

    served: dict[str, list[Share]] = {}
    for share in spec.shares():
        if (share.cluster, share.pool) in sized:
            served.setdefault(share.name, []).append(share)
    # (nodes per replica, GPUs per node, survive) → endpoints; (1, 0, ·) holds the one-node endpoints.
    kinds: dict[tuple[int, int, str], list[str]] = {}
    for name in served:
        e = spec.endpoints[name]
        kind = (e.nodes_per_replica, e.gpus_per_pod) if e.multi_node else (1, 0)
        kinds.setdefault((*kind, spec.survive_of(name)), []).append(name)
    used: Counter = Counter()  # nodes of each offering earlier solves took (quotas are shared)
    plans = []
    for (k, per_node, survive), names in sorted(kinds.items()):
        options = SizingOptions(
            max_pools_per_workload=1,
            autoscale=True,
            time_limit_s=spec.sizing.time_limit_s,
            survive=None if survive == "none" else survive,
        )
        keys = {(s.cluster, s.pool) for n in names for s in served[n]}
        # An offering's zones are its pool's, as the stack names them: a node pool spreads over those, not
        # over every zone the catalog lists (AWS zone IDs), and survive: zone must lose one of them.
        # Of several pools taking it, the one with the fewest zones (each zone then holds more).
        offers = [
            dataclasses.replace(o, zones=min((pool_zones(key) for key in keys if accepts(o, key)), key=len))
            for o in catalog.offerings
            if any(accepts(o, key) for key in keys)
        ]
        if k > 1:
            offers = [_group(o, k, used[o.key]) for o in offers if o.gpus == per_node]
        elif used:
            offers = [_group(o, 1, used[o.key]) for o in offers]
        workloads = [_workload(spec, n, served[n], file) for n in names]
        plan = plan_for(workloads, Catalog(offers), options)
        if plan.status != "optimal":
            reason = plan.reason
            share = served[reason.workload][0] if reason and reason.workload in served else None
            cname, pname = (share.cluster, share.pool) if share else sorted(keys)[0]
            why = f"[{reason.code}] {reason.message}" if reason else plan.status
            raise InputError(
                file, f"aistack:clusters.{cname}.gpu_pools.{pname}", f"cannot size the pool: {why}"
            )
        plan = _peak_floors(spec, plan, workloads)
        if k > 1:
            plan = _ungroup(plan, k, file)
        for p in plan.pools:
            used[(p.cloud, p.region, p.instance_type, p.accelerator, p.gpus_per_node)] += p.nodes
        plans.append(plan)
    return _merge(plans)


def _peak_floors(spec: StackSpec, plan: Any, workloads: list[Any]) -> Any:
    """Autoscaler bounds of the endpoints planned at peak: the planned nodes are the maximum, the
    minimum holds the floor replicas (each site's, or the endpoint's ``min_replicas``)."""
    floors = {
        (w.name, site.cloud): site.min_replicas if w.sites and len(w.sites) > 1 else w.min_replicas
        for w in workloads
        if peak_sized(spec, w.name)
        for site in w.sites or ()
    }
    if not floors:
        return plan

    def bounded(pool: Any) -> Any:
        floor = floors.get((pool.workload, pool.cloud))
        if floor is None:
            return pool
        low = min(-(-floor // pool.replicas_per_node), pool.nodes)
        return dataclasses.replace(pool, min_nodes=low, max_nodes=pool.nodes)

    return dataclasses.replace(
        plan,
        pools=tuple(bounded(p) for p in plan.pools),
        periods=tuple(dataclasses.replace(t, pools=tuple(bounded(p) for p in t.pools)) for t in plan.periods),
    )


def _group(offer: Any, k: int, used: int) -> Any:
    """The offering of ``k`` nodes of ``offer`` taken together (one multi-node replica), on the quota left."""
    return dataclasses.replace(
        offer,
        gpus=offer.gpus * k,
        vcpus=offer.vcpus * k,
        mem_gib=offer.mem_gib * k,
        price_hr=offer.price_hr * k,
        spot_price_hr=None if offer.spot_price_hr is None else offer.spot_price_hr * k,
        max_nodes=None if offer.max_nodes is None else max(offer.max_nodes - used, 0) // k,
    )


def _ungroup(plan: Any, k: int, file: str) -> Any:
    """A plan over groups of ``k`` nodes as nodes: counts x k, GPUs per node / k, one replica per group."""

    def nodes(pool: Any) -> Any:
        return dataclasses.replace(
            pool,
            gpus_per_node=pool.gpus_per_node // k,
            replicas_per_node=1,
            nodes=pool.nodes * k,
            min_nodes=pool.min_nodes * k,
            max_nodes=pool.max_nodes * k,
            nodes_per_replica=k,
        )

    for pool in plan.pools:
        if pool.gpus_per_replica != pool.gpus_per_node:
            per_node = pool.gpus_per_node // k
            raise InputError(
                file,
                f"aistack:endpoints.{pool.workload}.nodes_per_replica",
                f"endpoint {pool.workload!r} needs only {pool.gpus_per_replica} GPUs per replica, "
                f"{max(pool.gpus_per_replica // per_node, 1)} node(s) of {pool.instance_type} "
                f"({per_node} GPUs each), not {k}: lower nodes_per_replica",
            )
    return dataclasses.replace(
        plan,
        pools=tuple(nodes(p) for p in plan.pools),
        periods=tuple(dataclasses.replace(t, pools=tuple(nodes(p) for p in t.pools)) for t in plan.periods),
    )


def _merge(plans: list[Any]) -> Any:
    """One plan of several solved apart (disjoint workloads, the same periods)."""
    first, *rest = plans
    if not rest:
        return first

    def total(field: str) -> float | None:
        values = [getattr(p, field) for p in plans if getattr(p, field) is not None]
        return sum(values) if values else None

    return dataclasses.replace(
        first,
        monthly_usd=total("monthly_usd"),
        pools=tuple(q for p in plans for q in p.pools),
        workloads=tuple(r for p in plans for r in p.workloads),
        objective_usd=total("objective_usd"),
        solve_seconds=total("solve_seconds"),
        variables=total("variables"),
        mip_gap=max(p.mip_gap for p in plans),
        periods=tuple(
            dataclasses.replace(
                parts[0],
                pools=tuple(q for t in parts for q in t.pools),
                cost_usd=sum(t.cost_usd for t in parts),
            )
            for parts in zip(*(p.periods for p in plans), strict=True)
        ),
        migration_usd=total("migration_usd"),
        survive_cost_usd=total("survive_cost_usd"),
        slo_cost_usd=total("slo_cost_usd"),
    )


@dataclasses.dataclass(frozen=True)
class ShareCapacity:
    """Planned capacity of one cluster's share of an endpoint.

    Attributes:
        nodes_min: Nodes the share's pool keeps for it (the autoscaler's floor).
        nodes_max: Nodes it may grow to (the plan's maximum, or the pool's bound).
        tokens_per_s_at_max: Output tokens/s those ``nodes_max`` nodes carry, as the plan counts them
            (at ``aistack:sizing.target_utilization``, spot nodes at their availability); None when the
            catalog has no offering of the machine type or the model's size is unknown.
        zones: Zones the share's nodes may run in.
        cloud: The share's cloud.
        region: Its region (Azure: location).
        instance_type: The machine type the figures are for.
    """

    nodes_min: int
    nodes_max: int
    tokens_per_s_at_max: float | None
    zones: tuple[str, ...]
    cloud: str = ""
    region: str = ""
    instance_type: str = ""
    estimated: bool = False
    """The figure is a roofline estimate (no measurement or own figure for the model on the accelerator)."""


def capacity_by_share(
    spec: StackSpec, plan: Any, file: str = "stack", base_dir: Path = Path(".")
) -> dict[tuple[str, str], ShareCapacity]:
    """Planned capacity per ``(endpoint, cluster)``, without solving again.

    A share on a sized pool takes the plan's pools on its cloud; a share on a pool with explicit node
    counts takes its own replica bounds (``min_replicas`` / ``max_replicas`` x ``nodes_per_replica``
    nodes per replica-group, within the pool's ``max_nodes``) on the pool's first machine type. Both
    are credited with the same per-node capacity the sizing model uses (``sizing.optimize.candidates``).

    Args:
        spec: The stack spec (resolved by :func:`resolve` or not).
        plan: The sizing plan :func:`resolve` returned (None when no pool is sized).
        file: The stack file, for messages.
        base_dir: The project directory (``aistack:sizing.catalog`` is relative to it).
    """
    catalog = _catalog(spec, file, base_dir)[0]
    found: dict[tuple[str, str], ShareCapacity] = {}
    for share in spec.shares():
        cloud = spec.clusters[share.cluster].cloud
        pool = spec.clusters[share.cluster].gpu_pools[share.pool]
        region = region_of(spec, cloud)
        zones = tuple(pool.zones or getattr(spec.clouds, cloud).zones)
        planned = share_pools(spec, plan, share) if plan is not None else ()
        if planned:
            nodes_min = sum(p.min_nodes for p in planned)
            nodes_max = sum(p.max_nodes for p in planned)
            instance_type = planned[0].instance_type
        else:
            endpoint = share.endpoint
            instance_type = (pool.instance_types or [""])[0]
            per_node = _gpus_per_node(cloud, instance_type) or endpoint.gpus_per_pod
            per_group = max(per_node // endpoint.gpus_per_pod, 1) if not endpoint.multi_node else 1
            groups = -(-endpoint.max_replicas // per_group)
            nodes_max = min(groups * endpoint.nodes_per_replica, pool.max_nodes or 0)
            nodes_min = min(-(-endpoint.min_replicas // per_group) * endpoint.nodes_per_replica, nodes_max)
        per_node_capacity, estimated = _node_capacity(
            spec, share, catalog, cloud, region, instance_type, file
        )
        found[(share.name, share.cluster)] = ShareCapacity(
            nodes_min=nodes_min,
            nodes_max=nodes_max,
            tokens_per_s_at_max=None if per_node_capacity is None else per_node_capacity * nodes_max,
            zones=zones,
            cloud=cloud,
            region=region,
            instance_type=instance_type,
            estimated=estimated,
        )
    return found


def _node_capacity(
    spec: StackSpec, share: Share, catalog: Any, cloud: str, region: str, instance_type: str, file: str
) -> tuple[float | None, bool]:
    """Usable tokens/s of one node of the share's machine type, as the sizing model credits it, and
    whether it is an estimate. Without a sourced figure, the roofline estimate at MLPerf's server
    bounds stands in (flagged)."""
    from sizing import Catalog, SizingOptions
    from sizing.optimize import candidates

    pool = spec.clusters[share.cluster].gpu_pools[share.pool]
    endpoint = share.endpoint
    offers = [o for o in catalog.find(cloud, region) if o.instance_type == instance_type][:1]
    k = endpoint.nodes_per_replica
    if endpoint.multi_node:
        offers = [_group(o, k, 0) for o in offers if o.gpus == endpoint.gpus_per_pod]
    if not offers:
        return None, False
    for slo in (None, "server"):
        try:
            workload = _workload(spec, share.name, [share], file, slo=slo)
        except InputError:
            continue
        options = SizingOptions(on_demand_floor=1.0 if pool.capacity == "spot" else 0.0)
        cands = [
            c
            for c in candidates([workload], Catalog(offers), options)[0]
            if c.spot == (pool.capacity == "spot")
        ]
        if cands:
            return cands[0].capacity / k, slo is not None or cands[0].estimated
    return None, False


def _gpus_per_node(cloud: str, instance_type: str) -> int | None:
    from sizing.catalog import expected_gpus

    return expected_gpus(cloud, instance_type) if instance_type else None
