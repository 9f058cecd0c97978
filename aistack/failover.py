"""``failover``: an offline drill of losing a cloud, a region or a zone.

For each endpoint it counts what the clusters left can still serve and compares that with the demand:

- **What counts.** Each serving cluster's share of the endpoint at its *autoscaler maximum*: the pool's
  maximum nodes from the resolved spec (a sized pool's share from the sizing plan), capped by the
  offering's quota in the catalog (``max_nodes``, preflight findings included) and by the endpoint's
  ``max_replicas``. ``min_replicas`` (even 0, scale from zero) does not lower it: the drill asks what
  the survivors can reach, not what runs at the moment of the loss.
- **Per node.** The sizing module's usable capacity (:func:`sizing.optimize.usable_capacity`): the
  credited tokens/s per GPU (the endpoint's ``throughput_per_gpu``, the sourced table or the roofline
  estimate, :func:`sizing.capacity.credited_throughput`) x target utilisation x availability, where a
  spot node counts for its availability (:func:`sizing.risk.availability`, 0.8 by default) and the
  on-demand floor of a spot pool for 1. An endpoint with no throughput figure is counted in replicas.
- **A lost domain.** A cloud or a region takes every share in it. A zone takes, of each pool spread over
  ``k`` zones, the nodes of the fullest zone, ``ceil(n / k)`` of ``n`` (:func:`sizing.risk.fullest_zone`,
  the split the plan's ``survive: zone`` bound uses; its on-demand floor counted lost first, the worst
  case); of a pool in that zone alone, all of them. A
  multi-node replica (``nodes_per_replica`` > 1) is lost whole when any of its nodes is: its groups keep
  to one zone where they can (the LeaderWorkerSet's zone affinity), and the rest are assumed to touch
  the lost zone.
- **Met.** With ``demand_tokens_per_s``: the survivors' tokens/s at target utilisation reach it (the
  plan's own test). Without it: at least ``max(min_replicas, 1)`` replicas remain reachable.

Without ``--lose`` the drill runs every loss the endpoint's ``survive`` covers (each of its zones,
regions or clouds); for ``survive: none`` it shows what losing each of its zones would do, for
information (no survival was asked for, so the exit code ignores it).

Exit codes: 0 every drilled loss is met; 1 one is not; 2 bad input (one line naming the argument).
Only :func:`aistack.plan.resolve` runs (no Pulumi engine).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aistack.errors import InputError
from aistack.spec import StackSpec

Domain = tuple[str, ...]
"""A failure domain: ``(cloud,)``, ``(cloud, region)`` or ``(cloud, region, zone)``."""

LEVELS = {1: "cloud", 2: "region", 3: "zone"}
"""Domain length → what it is."""


def label(domain: Domain) -> str:
    """``aws``, ``aws:us-east-1``, ``aws:us-east-1a`` (a zone as the stack names it, after its cloud)."""
    return domain[0] if len(domain) == 1 else f"{domain[0]}:{domain[-1]}"


@dataclass(frozen=True)
class Site:
    """One cluster's share of an endpoint, at its autoscaler maximum.

    Attributes:
        endpoint: Endpoint name.
        cluster: Serving cluster.
        pool: GPU pool of that cluster.
        cloud: The cluster's cloud.
        region: Its region (Azure: location).
        zones: Zones the pool's nodes spread over.
        instance_type: Machine type counted (a sized pool's planned type; of several listed, the one
            with the least capacity per node).
        nodes: Most nodes the share can reach: pool bounds (the plan's share of a sized pool), within quota.
        on_demand_nodes: Of those, on-demand nodes (all of an on-demand pool; a spot pool's floor).
        nodes_per_replica: Nodes one replica spans.
        replicas_per_group: Replicas one node (one group of ``nodes_per_replica`` nodes) holds.
        max_replicas: The endpoint's autoscaler maximum on this cluster.
        tokens_on_demand: Usable tokens/s of one replica on an on-demand node, ``None`` without a figure.
        tokens_spot: The same on a spot node (its availability counted).
        notes: What limited the count, or why tokens/s are unknown.
    """

    endpoint: str
    cluster: str
    pool: str
    cloud: str
    region: str
    zones: tuple[str, ...]
    instance_type: str
    nodes: int
    on_demand_nodes: int
    nodes_per_replica: int
    replicas_per_group: int
    max_replicas: int
    tokens_on_demand: float | None
    tokens_spot: float | None
    notes: tuple[str, ...] = ()

    def domains(self) -> list[Domain]:
        """The domains whose loss touches this share: its cloud, its region, each of its zones."""
        return [(self.cloud,), (self.cloud, self.region), *((self.cloud, self.region, z) for z in self.zones)]

    def left(self, lost: Domain | None) -> tuple[int, int]:
        """``(on-demand, spot)`` nodes left after losing ``lost`` (whole groups, for multi-node replicas)."""
        od, spot = self.on_demand_nodes, self.nodes - self.on_demand_nodes
        if lost is None or lost[0] != self.cloud or (len(lost) > 1 and lost[1] != self.region):
            return od, spot
        if len(lost) < 3 or len(self.zones) == 1:
            return (0, 0) if len(lost) < 3 or lost[2] in self.zones else (od, spot)
        if lost[2] not in self.zones:
            return od, spot
        from sizing.risk import fullest_zone

        k = len(self.zones)
        if self.nodes_per_replica == 1:
            # The pool's nodes follow its pods' even zone spread: the fullest zone goes, its on-demand
            # nodes first (the worst case: they count for more than spot ones).
            gone = fullest_zone(self.nodes, k)
            od_gone = min(fullest_zone(od, k), gone)
            return od - od_gone, spot - (gone - od_gone)
        groups = _groups_left(self.nodes, k, self.nodes_per_replica)
        n = self.nodes_per_replica
        od_groups = min(groups, od // n)
        return od_groups * n, (groups - od_groups) * n

    def serving(self, lost: Domain | None) -> tuple[int, float | None]:
        """Replicas and usable tokens/s the share reaches after losing ``lost`` (on-demand nodes first)."""
        od, spot = self.left(lost)
        per = self.replicas_per_group
        od_replicas = od // self.nodes_per_replica * per
        spot_replicas = spot // self.nodes_per_replica * per
        replicas = min(self.max_replicas, od_replicas + spot_replicas)
        if self.tokens_on_demand is None or self.tokens_spot is None:
            return replicas, None
        on_od = min(replicas, od_replicas)
        return replicas, on_od * self.tokens_on_demand + (replicas - on_od) * self.tokens_spot


def _groups_left(nodes: int, zones: int, n: int) -> int:
    """Whole groups of ``n`` nodes left when the fullest of ``zones`` zones is lost.

    Nodes spread evenly (the fullest zone holds ``ceil(nodes / zones)``, :func:`sizing.risk.fullest_zone`);
    groups form within a zone first; a group left to span zones is lost when the lost zone still
    has a node that no in-zone group took (worst case: each such node in another cross-zone group).
    """
    from sizing.risk import fullest_zone

    total = nodes // n
    lost_zone = fullest_zone(nodes, zones)
    rest = nodes - lost_zone
    others = [rest // (zones - 1) + (1 if i < rest % (zones - 1) else 0) for i in range(zones - 1)]
    in_zone = lost_zone // n + sum(c // n for c in others)
    cross = max(total - in_zone, 0)
    return total - lost_zone // n - min(lost_zone % n, cross)


@dataclass(frozen=True)
class Drill:
    """One loss applied to one endpoint.

    Attributes:
        lost: The domain lost (``None``: nothing lost, the endpoint's full reach).
        replicas: Replicas the survivors reach.
        tokens_per_s: Usable tokens/s they reach (``None`` without a throughput figure).
        clusters: Per serving cluster: ``(cluster, nodes, replicas, tokens/s)`` left.
        met: The demand (or the replica floor) is still met.
        required: The endpoint's ``survive`` covers this loss (only then does a miss fail the drill).
    """

    lost: Domain | None
    replicas: int
    tokens_per_s: float | None
    clusters: tuple[tuple[str, int, int, float | None], ...]
    met: bool
    required: bool


@dataclass(frozen=True)
class EndpointDrill:
    """The drill of one endpoint: its reach, the losses drilled, how long recovery takes.

    Attributes:
        endpoint: Endpoint name.
        survive: The endpoint's ``survive`` (``none`` when it asks for none).
        demand_tokens_per_s: Its peak demand, ``None`` when not stated.
        min_replicas: Its replica floor (the need when no demand is stated).
        sites: Its shares, one per serving cluster.
        full: Nothing lost.
        drills: The losses drilled.
        recovery_s: Seconds before the survivors serve at their maximum (see :func:`recovery_seconds`).
        notes: Caveats for people.
    """

    endpoint: str
    survive: str
    demand_tokens_per_s: float | None
    min_replicas: int
    sites: tuple[Site, ...]
    full: Drill
    drills: tuple[Drill, ...]
    recovery_s: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def met(self) -> bool:
        """Every required loss drilled is met."""
        return all(d.met for d in self.drills if d.required)


def _shares_of(spec: StackSpec, name: str) -> list[tuple[str, str, Any]]:
    """``(cluster, pool, endpoint as that cluster serves it)`` per serving cluster of an endpoint."""
    endpoint = spec.endpoints[name]
    return [(endpoint.cluster, endpoint.pool, endpoint)]


def survive_of(spec: StackSpec, name: str) -> str:
    """The failure domain an endpoint asks to survive: ``none``, ``zone``, ``region`` or ``cloud``."""
    return getattr(spec.endpoints[name], "survive", None) or spec.sizing.survive or "none"


def _per_replica(
    spec: StackSpec, name: str, endpoint: Any, pool: Any, offer: Any, file: str
) -> tuple[float | None, float | None, str | None]:
    """Usable tokens/s of one replica on an on-demand and on a spot node of ``offer``, or why unknown."""
    from aistack.plan import _group, _workload
    from sizing import capacity, risk
    from sizing.optimize import usable_capacity
    from sizing.workloads import SizingOptions

    try:
        workload = _workload(spec, name, endpoint, pool, file)
    except InputError as err:
        return None, None, f"tokens/s unknown: {err.message}"
    k = endpoint.nodes_per_replica
    if k > 1:
        offer = _group(offer, k, 0)
    g = endpoint.gpus_per_replica
    credit = capacity.credited_throughput(workload, offer, g)
    rpn = capacity.replicas_per_node(offer.gpus, g)
    if rpn < 1 or not credit.per_class:
        return 0.0, 0.0, f"{offer.instance_type} cannot hold a replica at max_model_len: credited 0 tokens/s"
    overrides = SizingOptions().spot_availability
    found = []
    for spot in (False, True):
        avail = risk.availability(offer.cloud, offer.region, offer.instance_type, spot, overrides)
        found.append(usable_capacity(workload, offer, g, credit.per_class, avail)[1] / rpn)
    return found[0], found[1], "ESTIMATED: roofline capacity, credited at half" if credit.estimated else None


def sites(spec: StackSpec, plan: Any, catalog: Any, file: str) -> dict[str, list[Site]]:
    """Every endpoint's shares at their autoscaler maximum (see the module docs)."""
    from aistack.plan import region_of
    from sizing import capacity

    found: dict[str, list[Site]] = {}
    for name in spec.endpoints:
        for cname, pname, endpoint in _shares_of(spec, name):
            cloud = spec.clusters[cname].cloud
            region = region_of(spec, cloud)
            pool = spec.clusters[cname].gpu_pools[pname]
            zones = tuple(pool.zones or getattr(spec.clouds, cloud).zones)
            planned = [p for p in plan.pools_for(name) if p.cloud == cloud] if plan is not None else []
            notes: list[str] = []
            if planned:
                types, nodes = [planned[0].instance_type], planned[0].max_nodes
            else:
                types, nodes = list(pool.instance_types or []), pool.max_nodes
            options = []
            for t in types:
                offer = next(iter(catalog.find(cloud, region, instance_type=t)), None)
                if offer is None:
                    options.append((None, None, f"{t} is not in the catalog for {cloud} {region}", t, None))
                    continue
                od, spot, note = _per_replica(spec, name, endpoint, pool, offer, file)
                rpn = capacity.replicas_per_node(offer.gpus, endpoint.gpus_per_pod)
                options.append((od, spot, note, t, (offer, rpn)))
            # Of several machine types the autoscaler may pick any: count the one serving least per node.
            od, spot, note, instance_type, chosen = min(
                options,
                key=lambda o: (o[0] is None, (o[0] or 0) * (o[4][1] if o[4] else 0)),
            )
            per_group = 1
            if chosen is not None:
                offer, rpn = chosen
                per_group = 1 if endpoint.multi_node else max(rpn, 1)
                if offer.max_nodes is not None and offer.max_nodes < nodes:
                    notes.append(f"quota: {offer.max_nodes} node(s) of {instance_type} (pool max {nodes})")
                    nodes = offer.max_nodes
            if note:
                notes.append(note)
            on_demand = nodes if pool.capacity == "on-demand" else min(pool.on_demand_floor, nodes)
            if len(types) > 1:
                notes.append(f"of {', '.join(types)}, counted as {instance_type} (least capacity per node)")
            found.setdefault(name, []).append(
                Site(
                    endpoint=name,
                    cluster=cname,
                    pool=pname,
                    cloud=cloud,
                    region=region,
                    zones=zones,
                    instance_type=instance_type,
                    nodes=nodes,
                    on_demand_nodes=on_demand,
                    nodes_per_replica=endpoint.nodes_per_replica,
                    replicas_per_group=per_group,
                    max_replicas=endpoint.max_replicas,
                    tokens_on_demand=od,
                    tokens_spot=spot,
                    notes=tuple(notes),
                )
            )
    return found


def stack_domains(spec: StackSpec) -> list[Domain]:
    """Every domain the stack's GPU pools live in: clouds, regions, zones (stack order, no repeats)."""
    from aistack.plan import region_of

    found: dict[Domain, None] = {}
    for cluster in spec.clusters.values():
        cloud = cluster.cloud
        region = region_of(spec, cloud)
        found[(cloud,)] = None
        found[(cloud, region)] = None
        for pool in cluster.gpu_pools.values():
            for zone in pool.zones or getattr(spec.clouds, cloud).zones:
                found[(cloud, region, zone)] = None
    return list(found)


def parse_domain(text: str, spec: StackSpec) -> Domain:
    """``--lose``'s value as a domain of the stack: ``cloud``, ``cloud:region``, ``cloud:zone`` or
    ``cloud:region:zone``.

    Raises:
        InputError: The value names no domain the stack's GPU pools use (the line lists those it does).
    """
    known = stack_domains(spec)
    parts = tuple(p.strip() for p in text.split(":"))
    matches = [d for d in known if parts == d or (len(parts) == 2 and len(d) == 3 and parts == (d[0], d[2]))]
    if not matches:
        allowed = ", ".join(label(d) for d in known)
        raise InputError(
            "arguments",
            "--lose",
            f"{text!r} is not a cloud, region or zone this stack uses; allowed: {allowed}",
        )
    return matches[0]


def recovery_seconds(spec: StackSpec, name: str) -> int:
    """Seconds before the survivors serve at their maximum, from the endpoint's own numbers.

    KEDA's scale-up window (the HPA acts on demand that lasted it) plus the rollout budget a new replica
    gets on a fresh node: GPU node provisioning and the image pull, then loading the weights (each about
    ``load_timeout_s``, ``components/k8s/serving.py``: :func:`scale_windows`, :func:`rollout_seconds`).
    The largest over the endpoint's shares.
    """
    from components.k8s.serving import POLLING_INTERVAL_S, rollout_seconds, scale_windows

    return max(
        POLLING_INTERVAL_S + scale_windows(e)[0] + rollout_seconds(e) for _, _, e in _shares_of(spec, name)
    )


def _drill(shares: list[Site], lost: Domain | None, need: tuple[float | None, int], required: bool) -> Drill:
    rows = []
    replicas, tokens = 0, 0.0
    unknown = False
    for site in shares:
        r, t = site.serving(lost)
        od, spot = site.left(lost)
        rows.append((site.cluster, od + spot, r, t))
        replicas += r
        unknown |= t is None
        tokens += t or 0.0
    demand, floor = need
    total = None if unknown else tokens
    met = (total >= demand - 1e-9) if demand is not None and total is not None else replicas >= floor
    return Drill(lost, replicas, total, tuple(rows), met, required)


def drill(
    spec: StackSpec, plan: Any, catalog: Any, file: str, lose: Domain | None = None
) -> list[EndpointDrill]:
    """Drill every endpoint: ``lose`` when given, else every loss its ``survive`` covers.

    Args:
        spec: The resolved spec (:func:`aistack.plan.resolve`).
        plan: Its sizing plan (``None`` when nothing is sized).
        catalog: The catalog the plan used (quotas).
        file: The stack file, for messages.
        lose: The domain to lose (:func:`parse_domain`); ``None`` for every covered loss.
    """
    levels = {"zone": 3, "region": 2, "cloud": 1}
    results = []
    for name, shares in sites(spec, plan, catalog, file).items():
        endpoint = spec.endpoints[name]
        survive = survive_of(spec, name)
        need = (endpoint.demand_tokens_per_s, max(endpoint.min_replicas, 1))
        if lose is not None:
            losses = [(lose, True)]
        else:
            size = levels.get(survive, 3)
            mine = dict.fromkeys(d for s in shares for d in s.domains() if len(d) == size)
            losses = [(d, survive != "none") for d in mine]
        notes = [f"{s.cluster}: {n}" for s in shares for n in s.notes]
        if endpoint.demand_tokens_per_s is None:
            notes.append(f"no demand_tokens_per_s: met while {need[1]} replica(s) remain")
        if not endpoint.weights_uploaded:
            notes.append("weights_uploaded is false: no replica starts until the weights are uploaded")
        results.append(
            EndpointDrill(
                endpoint=name,
                survive=survive,
                demand_tokens_per_s=endpoint.demand_tokens_per_s,
                min_replicas=endpoint.min_replicas,
                sites=tuple(shares),
                full=_drill(shares, None, need, False),
                drills=tuple(_drill(shares, d, need, req) for d, req in losses),
                recovery_s=recovery_seconds(spec, name),
                notes=tuple(notes),
            )
        )
    return results


def run(stack: str | None, stack_file: Path | None, lose: str | None) -> list[EndpointDrill]:
    """Load and resolve a stack (no Pulumi engine), then drill it.

    Raises:
        InputError: The stack is invalid, or ``lose`` names no domain of it.
    """
    from aistack.plan import _catalog, resolve
    from aistack.preview import REPO
    from aistack.spec import project_dir, read_stack_config, read_stack_environments, spec_from_config
    from aistack.spec import stack_file as locate

    path = Path(stack_file) if stack_file else locate(REPO, stack)
    spec = spec_from_config(read_stack_config(path), str(path), environments=read_stack_environments(path))
    domain = parse_domain(lose, spec) if lose is not None else None
    resolved, plan = resolve(spec, str(path), project_dir(path))
    catalog, _ = _catalog(resolved, str(path), project_dir(path))
    return drill(resolved, plan, catalog, str(path), domain)


def exit_code(results: Iterable[EndpointDrill]) -> int:
    """1 when a drilled loss the endpoint must survive (or the one ``--lose`` named) is not met, else 0."""
    return 0 if all(r.met for r in results) else 1


def _tokens(value: float | None) -> str:
    return "? tokens/s" if value is None else f"{value:,.0f} tokens/s"


def _what(d: Drill) -> str:
    return "nothing lost" if d.lost is None else f"lose {label(d.lost)}"


def _verdict(d: Drill) -> str:
    if d.met:
        return "MET"
    return "NOT MET" if d.required else "NOT MET (survive: none, not required)"


def as_json(results: list[EndpointDrill], lose: str | None = None) -> str:
    """The drill as JSON: per endpoint its shares, the full reach and each loss drilled."""

    def drill_json(d: Drill) -> dict[str, Any]:
        return {
            "lost": None if d.lost is None else label(d.lost),
            "level": None if d.lost is None else LEVELS[len(d.lost)],
            "replicas": d.replicas,
            "tokens_per_s": None if d.tokens_per_s is None else round(d.tokens_per_s, 1),
            "clusters": [
                {"cluster": c, "nodes": n, "replicas": r, "tokens_per_s": None if t is None else round(t, 1)}
                for c, n, r, t in d.clusters
            ],
            "met": d.met,
            "required": d.required,
        }

    return json.dumps(
        {
            "lose": lose,
            "met": exit_code(results) == 0,
            "endpoints": [
                {
                    "endpoint": r.endpoint,
                    "survive": r.survive,
                    "demand_tokens_per_s": r.demand_tokens_per_s,
                    "min_replicas": r.min_replicas,
                    "met": r.met,
                    "sites": [
                        {k: v for k, v in dataclasses.asdict(s).items() if k != "endpoint"} for s in r.sites
                    ],
                    "full": drill_json(r.full),
                    "drills": [drill_json(d) for d in r.drills],
                    "recovery_s": r.recovery_s,
                    "notes": list(r.notes),
                }
                for r in results
            ],
        },
        indent=2,
    )


def _clusters(d: Drill) -> str:
    return "; ".join(f"{c} {n} node(s), {r} replica(s), {_tokens(t)}" for c, n, r, t in d.clusters)


def as_text(results: list[EndpointDrill], lose: str | None = None) -> str:
    """The drill for people: per endpoint the demand, its reach, each loss and the verdict."""
    lines = [f"failover drill: {'lose ' + lose if lose else 'every loss each endpoint must survive'}"]
    for r in results:
        demand = (
            "no stated demand"
            if r.demand_tokens_per_s is None
            else f"demand {_tokens(r.demand_tokens_per_s)}"
        )
        lines += ["", f"endpoint {r.endpoint} (survive: {r.survive}), {demand}"]
        for s in r.sites:
            lines.append(
                f"  {s.cluster}/{s.pool}: {s.cloud} {s.region} zones {', '.join(s.zones)}, {s.instance_type}, "
                f"up to {s.nodes} node(s) ({s.on_demand_nodes} on-demand)"
            )
        for d in (r.full, *r.drills):
            untouched = d.lost is not None and d.clusters == r.full.clusters
            lines.append(
                f"  {_what(d)}: {'unaffected, ' if untouched else ''}{_tokens(d.tokens_per_s)}, {d.replicas} "
                f"replica(s) [{_clusters(d)}] -> {_verdict(d)}"
            )
        if r.survive == "none" and lose is None:
            lines.append("  survive: none: these losses are shown, not required")
        lines.append(
            f"  recovery: the survivors reach this after up to {r.recovery_s} s (scale-up window, node "
            "provisioning and image pull, weights load)"
        )
        lines += [f"  note: {n}" for n in r.notes]
    lines += ["", "verdict: " + ("met" if exit_code(results) == 0 else "NOT met")]
    return "\n".join(lines)


def as_markdown(results: list[EndpointDrill], lose: str | None = None) -> str:
    """The drill as a Markdown table for the pull-request comment: one row per endpoint and loss."""
    rows = [
        "#### Failover drill",
        "",
        "| endpoint | survive | demand | loss | left | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        demand = "—" if r.demand_tokens_per_s is None else _tokens(r.demand_tokens_per_s)
        for d in r.drills or (r.full,):
            mark = "✅ met" if d.met else ("❌ not met" if d.required else "⚠️ not met (not required)")
            rows.append(
                f"| `{r.endpoint}` | {r.survive} | {demand} | {_what(d)} | "
                f"{_tokens(d.tokens_per_s)}, {d.replicas} replica(s) | {mark} |"
            )
    return "\n".join(rows)


RENDERERS = {"text": as_text, "json": as_json, "markdown": as_markdown}
"""``--format`` → renderer."""
