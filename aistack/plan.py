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
from aistack.spec import StackSpec, validate
from aistack.spec.clusters import GpuPoolSpec
from aistack.spec.endpoints import EndpointSpec


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


def _workload(spec: StackSpec, name: str, endpoint: EndpointSpec, pool: GpuPoolSpec, file: str) -> Any:
    from sizing.workloads import Workload

    cloud = spec.clusters[endpoint.cluster].cloud
    model = sizing_model(endpoint.model)
    where = f"aistack:endpoints.{name}"
    if model is None and endpoint.model_mem_gib is None:
        raise InputError(
            file, f"{where}.model_mem_gib", f"required to size {endpoint.model!r} (not in sizing/capacity.py)"
        )
    fields: dict[str, Any] = {
        "name": name,
        "demand": 0.0,
        "peak_demand": endpoint.demand_tokens_per_s,
        "target_utilization": spec.sizing.target_utilization,
        "min_replicas": endpoint.min_replicas,
        "clouds": (cloud,),
        "regions": (region_of(spec, cloud),),
        "spot": pool.capacity == "spot",
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
        fields["throughput"] = {pool.accelerator: endpoint.throughput_per_gpu}
    if endpoint.slo is not None:
        fields["slo"] = endpoint.slo if isinstance(endpoint.slo, str) else endpoint.slo.model_dump()
    if endpoint.request_classes:
        fields["classes"] = [
            {
                "name": c.name,
                "share": c.share,
                "throughput": {pool.accelerator: c.throughput_per_gpu},
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

    if pool.accelerator not in workload.throughput and not (
        workload.classes or capacity.estimable(workload, pool.accelerator)
    ):
        raise InputError(
            file,
            f"{where}.throughput_per_gpu",
            f"no sourced throughput figure for {endpoint.model} on {pool.accelerator}; "
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
    for (cname, pname), pool in pools.items():
        updated = clusters[cname]["gpu_pools"][pname]
        served = {n: e for n, e in spec.endpoints.items() if (e.cluster, e.pool) == (cname, pname)}
        if (cname, pname) in sized:
            planned = [p for name in served for p in plan.pools_for(name)]
            # Multi-node replicas take whole groups: the bounds stay multiples of the group size.
            step = math.lcm(*(e.nodes_per_replica for e in served.values()))
            low = _round_up(max(sum(p.min_nodes for p in planned), pool.on_demand_floor), step)
            updated.update(
                nodes=None,
                min_nodes=low,
                max_nodes=max(sum(p.max_nodes for p in planned), low, step),
                instance_types=pool.instance_types or sorted({p.instance_type for p in planned}),
            )
            for name in served:
                (chosen,) = plan.pools_for(name)
                endpoints[name].update(
                    gpus_per_replica=chosen.gpus_per_replica,
                    max_replicas=max(chosen.max_replicas, endpoints[name]["min_replicas"]),
                )
        elif not pool.instance_types:
            cloud = spec.clusters[cname].cloud
            gpus = max([e.gpus_per_replica for e in served.values()], default=1)
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


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


def _plan(spec: StackSpec, sized: set, pools: dict, catalog: Any, offered_zones: dict, file: str) -> Any:
    """Solve every sized pool's workloads: the one-node ones together (they may share offering quotas),
    then each kind of multi-node group on the quota left (see the module docs)."""
    from sizing import Catalog, SizingOptions, plan_for

    def accepts(offer: Any, key: tuple[str, str]) -> bool:
        pool, cloud = pools[key], spec.clusters[key[0]].cloud
        zones = set(pool.zones or getattr(spec.clouds, cloud).zones)
        offered = offered_zones.get((offer.cloud, offer.region, offer.instance_type))
        return (
            (offer.cloud, offer.region, offer.accelerator)
            == (cloud, region_of(spec, cloud), pool.accelerator)
            and (pool.instance_types is None or offer.instance_type in pool.instance_types)
            # A node pool spans all its zones: with preflight findings, the type must be offered in each.
            and (offered is None or zones <= offered)
        )

    served = {name: e for name, e in spec.endpoints.items() if (e.cluster, e.pool) in sized}
    # (nodes per replica, GPUs per node) → endpoints; (1, 0) holds every one-node endpoint.
    kinds: dict[tuple[int, int], list[str]] = {}
    for name, e in served.items():
        kinds.setdefault((e.nodes_per_replica, e.gpus_per_pod) if e.multi_node else (1, 0), []).append(name)
    options = SizingOptions(
        max_pools_per_workload=1,
        autoscale=True,
        time_limit_s=spec.sizing.time_limit_s,
        survive=spec.sizing.survive,
    )
    used: Counter = Counter()  # nodes of each offering earlier solves took (quotas are shared)
    plans = []
    for (k, per_node), names in sorted(kinds.items()):
        keys = {(served[n].cluster, served[n].pool) for n in names}
        offers = [o for o in catalog.offerings if any(accepts(o, key) for key in keys)]
        if k > 1:
            offers = [_group(o, k, used[o.key]) for o in offers if o.gpus == per_node]
        workloads = [
            _workload(spec, n, served[n], pools[(served[n].cluster, served[n].pool)], file) for n in names
        ]
        plan = plan_for(workloads, Catalog(offers), options)
        if plan.status != "optimal":
            reason = plan.reason
            endpoint = served.get(reason.workload) if reason and reason.workload else None
            cname, pname = (endpoint.cluster, endpoint.pool) if endpoint else sorted(keys)[0]
            why = f"[{reason.code}] {reason.message}" if reason else plan.status
            raise InputError(
                file, f"aistack:clusters.{cname}.gpu_pools.{pname}", f"cannot size the pool: {why}"
            )
        if k > 1:
            plan = _ungroup(plan, k, served, file)
        for p in plan.pools:
            used[(p.cloud, p.region, p.instance_type, p.accelerator, p.gpus_per_node)] += p.nodes
        plans.append(plan)
    return _merge(plans)


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


def _ungroup(plan: Any, k: int, served: dict[str, EndpointSpec], file: str) -> Any:
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
