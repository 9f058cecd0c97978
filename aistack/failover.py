"""``failover``: an offline drill of losing a cloud, a region or a zone.

For each endpoint it counts what the clusters left can still serve and compares that with the demand:

- **What counts.** Each serving cluster's share (:meth:`StackSpec.shares`) at its *autoscaler maximum*,
  as :func:`aistack.plan.capacity_by_share` plans it (the same figures the DNS weights use): a sized
  pool's nodes and machine type from the sizing plan, an unsized pool's from its bounds and the share's
  ``max_replicas``; then capped by the offering's quota in the catalog (``max_nodes``, preflight findings
  included) and by ``max_replicas``. ``min_replicas`` (even 0, scale from zero) does not lower it: the
  drill asks what the survivors can reach, not what runs at the moment of the loss.
- **Per node.** The plan's usable capacity (``sizing.optimize.candidates``): the credited tokens/s per
  GPU (``throughput_per_gpu``, the sourced table, or the roofline estimate, flagged) x target
  utilisation x availability, a spot pool's nodes counted at their availability
  (:func:`sizing.risk.availability`, 0.8 by default) as the plan counts them.
- **A lost domain.** A cloud or a region takes every share in it. A zone takes, of each pool spread over
  ``k`` zones, the nodes of the fullest zone, ``ceil(n / k)`` of ``n`` (:func:`sizing.risk.fullest_zone`,
  the split the plan's ``survive: zone`` bound uses); of a pool in that zone alone, all of them. A
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
        instance_type: Machine type counted (the plan's; of an unsized pool, its first listed).
        nodes: Most nodes the share can reach (:func:`aistack.plan.capacity_by_share`), within quota.
        nodes_per_replica: Nodes one replica spans.
        replicas_per_group: Replicas one node (one group of ``nodes_per_replica`` nodes) holds.
        max_replicas: The endpoint's autoscaler maximum on this cluster.
        tokens_per_node: Usable tokens/s of one node as the plan counts it (target utilisation, spot at
            its availability); ``None`` without a throughput figure.
        notes: What limited the count, or why tokens/s are unknown or estimated.
    """

    endpoint: str
    cluster: str
    pool: str
    cloud: str
    region: str
    zones: tuple[str, ...]
    instance_type: str
    nodes: int
    nodes_per_replica: int
    replicas_per_group: int
    max_replicas: int
    tokens_per_node: float | None
    notes: tuple[str, ...] = ()

    def domains(self) -> list[Domain]:
        """The domains whose loss touches this share: its cloud, its region, each of its zones."""
        return [(self.cloud,), (self.cloud, self.region), *((self.cloud, self.region, z) for z in self.zones)]

    def left(self, lost: Domain | None) -> int:
        """Nodes left after losing ``lost`` (whole groups, for multi-node replicas)."""
        from sizing.risk import fullest_zone

        if lost is None or lost[0] != self.cloud or (len(lost) > 1 and lost[1] != self.region):
            return self.nodes
        if len(lost) < 3 or self.zones == (lost[2],):
            return 0
        if lost[2] not in self.zones:
            return self.nodes
        k, n = len(self.zones), self.nodes_per_replica
        if n == 1:
            # The pool's nodes follow its pods' even zone spread: the fullest zone goes.
            return self.nodes - fullest_zone(self.nodes, k)
        return _groups_left(self.nodes, k, n) * n

    def serving(self, lost: Domain | None) -> tuple[int, float | None]:
        """Replicas and usable tokens/s the share reaches after losing ``lost``."""
        replicas = min(self.max_replicas, self.left(lost) // self.nodes_per_replica * self.replicas_per_group)
        if self.tokens_per_node is None:
            return replicas, None
        return replicas, replicas * self.tokens_per_node * self.nodes_per_replica / self.replicas_per_group


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
        reroute_s: Seconds before the global name stops sending clients to a lost entry point (see
            :func:`reroute_seconds`); ``None`` when the endpoint has no global name.
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
    reroute_s: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def met(self) -> bool:
        """Every required loss drilled is met."""
        return all(d.met for d in self.drills if d.required)


def sites(spec: StackSpec, plan: Any, file: str, base_dir: Path) -> dict[str, list[Site]]:
    """Every endpoint's shares at their autoscaler maximum (see the module docs).

    The nodes, zones, machine type and per-node capacity are the plan's (:func:`aistack.plan.capacity_by_share`,
    shared with the DNS weights); the quota cap and the replicas per node come from the catalog offering.
    """
    from aistack.plan import _catalog, capacity_by_share
    from sizing import capacity

    catalog = _catalog(spec, file, base_dir)[0]
    planned = capacity_by_share(spec, plan, file, base_dir)
    found: dict[str, list[Site]] = {}
    for share in spec.shares():
        endpoint, reach = share.endpoint, planned[(share.name, share.cluster)]
        offer = next(iter(catalog.find(reach.cloud, reach.region, instance_type=reach.instance_type)), None)
        nodes, notes = reach.nodes_max, []
        if offer is not None and offer.max_nodes is not None and offer.max_nodes < nodes:
            notes.append(f"quota: {offer.max_nodes} node(s) of {reach.instance_type} (pool max {nodes})")
            nodes = offer.max_nodes
        per_group = 1
        if offer is not None and not endpoint.multi_node:
            per_group = max(capacity.replicas_per_node(offer.gpus, endpoint.gpus_per_pod), 1)
        if reach.tokens_per_s_at_max is None:
            notes.append(
                f"tokens/s unknown: no throughput figure for {reach.instance_type}, counted in replicas"
            )
        elif reach.estimated:
            notes.append(f"{reach.instance_type}: ESTIMATED: roofline capacity, credited at half")
        found.setdefault(share.name, []).append(
            Site(
                endpoint=share.name,
                cluster=share.cluster,
                pool=share.pool,
                cloud=reach.cloud,
                region=reach.region,
                zones=reach.zones,
                instance_type=reach.instance_type,
                nodes=nodes,
                nodes_per_replica=endpoint.nodes_per_replica,
                replicas_per_group=per_group,
                max_replicas=endpoint.max_replicas,
                tokens_per_node=None
                if reach.tokens_per_s_at_max is None or not reach.nodes_max
                else reach.tokens_per_s_at_max / reach.nodes_max,
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
        POLLING_INTERVAL_S + scale_windows(s.endpoint)[0] + rollout_seconds(s.endpoint)
        for s in spec.shares_of(name)
    )


def reroute_seconds(spec: StackSpec, name: str) -> int | None:
    """Seconds before clients of the endpoint's global name stop reaching a lost entry point.

    Route 53 stops answering with a record once its health check failed ``failure_threshold`` checks
    ``REQUEST_INTERVAL_S`` apart; resolvers may keep the last answer for the record's TTL. ``None`` when
    the endpoint has no global name (``expose: public-lb`` with ``hostname`` under ``aistack:dns``).
    """
    from aistack.spec.dns import REQUEST_INTERVAL_S

    endpoint = spec.endpoints[name]
    if spec.dns is None or endpoint.hostname is None or endpoint.expose != "public-lb":
        return None
    return spec.dns.failure_threshold * REQUEST_INTERVAL_S + spec.dns.ttl_s


def _drill(shares: list[Site], lost: Domain | None, need: tuple[float | None, int], required: bool) -> Drill:
    rows = []
    replicas, tokens = 0, 0.0
    unknown = False
    for site in shares:
        r, t = site.serving(lost)
        rows.append((site.cluster, site.left(lost), r, t))
        replicas += r
        unknown |= t is None
        tokens += t or 0.0
    demand, floor = need
    total = None if unknown else tokens
    met = (total >= demand - 1e-9) if demand is not None and total is not None else replicas >= floor
    return Drill(lost, replicas, total, tuple(rows), met, required)


def drill(
    spec: StackSpec, plan: Any, file: str, base_dir: Path, lose: Domain | None = None
) -> list[EndpointDrill]:
    """Drill every endpoint: ``lose`` when given, else every loss its ``survive`` covers.

    Args:
        spec: The resolved spec (:func:`aistack.plan.resolve`).
        plan: Its sizing plan (``None`` when nothing is sized).
        file: The stack file, for messages.
        base_dir: The project directory (``aistack:sizing.catalog`` is relative to it).
        lose: The domain to lose (:func:`parse_domain`); ``None`` for every covered loss.
    """
    levels = {"zone": 3, "region": 2, "cloud": 1}
    results = []
    for name, shares in sites(spec, plan, file, base_dir).items():
        endpoint = spec.endpoints[name]
        survive = spec.survive_of(name)
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
                reroute_s=reroute_seconds(spec, name),
                notes=tuple(notes),
            )
        )
    return results


def run(stack: str | None, stack_file: Path | None, lose: str | None) -> list[EndpointDrill]:
    """Load and resolve a stack (no Pulumi engine), then drill it.

    Raises:
        InputError: The stack is invalid, or ``lose`` names no domain of it.
    """
    from aistack.plan import resolve
    from aistack.preview import REPO
    from aistack.spec import project_dir, read_stack_config, read_stack_environments, spec_from_config
    from aistack.spec import stack_file as locate

    path = Path(stack_file) if stack_file else locate(REPO, stack)
    spec = spec_from_config(read_stack_config(path), str(path), environments=read_stack_environments(path))
    domain = parse_domain(lose, spec) if lose is not None else None
    resolved, plan = resolve(spec, str(path), project_dir(path))
    return drill(resolved, plan, str(path), project_dir(path), domain)


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
                    "reroute_s": r.reroute_s,
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
                f"up to {s.nodes} node(s), {s.max_replicas} replica(s)"
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
        if r.reroute_s is not None:
            lines.append(
                f"  reroute: the global name stops sending clients to a lost entry point after up to "
                f"{r.reroute_s} s (failed health checks, then the record's TTL)"
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
