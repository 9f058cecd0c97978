"""The sizing MILP of DESIGN.md ("Sizing model"), solved exactly with HiGHS via ``scipy.optimize.milp``.

For each workload ``w`` and each offering ``o`` it may use (allowed cloud and region, accelerator
in ``w.throughput``, the model fits: ``g(w, o)`` exists) there is an integer variable
``nodes(w, o)``; with spot allowed and a spot price listed it is priced at the spot price. Then::

    minimise   sum nodes(w,o) x hourly(w,o) x 730                      [USD/month]
    subject to sum_o nodes(w,o) x node_throughput(w,o) x util(w) >= demand(w)
               sum_o nodes(w,o) x replicas_per_node(w,o)      >= min_replicas(w)
               sum_w nodes(w,o)                                <= max_nodes(o)   (shared quota)

Extensions (:class:`~sizing.workloads.SizingOptions`, each off by default):

* ``on_demand_floor f``: a spot workload also gets on-demand variables, and on-demand capacity
  alone must reach ``f x demand``.
* ``min_zones N``: binary ``placed(w,S,z)`` puts one node of the offerings listing zone set ``S``
  in zone ``z``, with ``sum_z placed(w,S,z) <= sum_{o lists S} nodes(w,o)``; binary
  ``covered(w,z) <= sum_S placed(w,S,z)`` must total at least ``N`` per workload.
* ``max_pools_per_workload K``: binary ``used(w,o)`` with ``nodes(w,o) <= U x used(w,o)`` and
  ``sum_o used(w,o) <= K``.
* ``churn_usd_per_node l`` with ``current``: adds ``l x |nodes - current nodes|`` per pool, an L1
  penalty (HiGHS has no MIQP): ``l`` joins the price of pools not deployed now, and a deployed
  pool gets ``d >= nodes - cur``, ``d >= cur - nodes`` with cost ``l x d``.
* ``autoscale``: after the base solve, a second solve per workload at ``peak_demand`` over the
  chosen pools (nodes >= base nodes, quota left by the other workloads) sets each pool's max.

Every variable has an upper bound ``U = max(nodes the variable needs alone to meet its workload
(with ``survive: zone``, alone with its fullest zone lost), min_zones, current nodes, lower bound)``,
capped by ``max_nodes``; no optimal solution needs more
nodes in one variable, so the bound keeps the optimum while tightening the relaxation. Dominated
choices are dropped before solving (see :func:`_prune`), which also keeps the optimum.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from sizing import capacity, risk
from sizing.catalog import Catalog, Offering, expected_gpus, load_catalog
from sizing.plan import HOURS_PER_MONTH, ClassRoute, PeriodPlan, Plan, Pool, Reason, RunnerUp, WorkloadReport
from sizing.workloads import SizingOptions, Workload, check_unique, periods

_TOL = 1e-6
ZoneKey = tuple[str, str, str]


@dataclass(frozen=True)
class Candidate:
    """One way to serve a workload: an offering, on spot or on-demand capacity.

    Attributes:
        w: Index of the workload.
        offering: The offering.
        spot: Priced and provisioned as spot.
        gpus_per_replica: ``g(w, o)``.
        replicas_per_node: ``gpus // g``.
        capacity: Usable throughput of one node, units/s: node throughput x target utilisation
            x availability (spot nodes count for their availability, :mod:`sizing.risk`).
        hourly: Price of one node, USD per hour.
        class_caps: Usable capacity of one node per request class of the workload, units/s
            (0 for a class that cannot run on the accelerator); ``(capacity,)`` without classes.
        availability: Fraction of the node's capacity counted (1 on-demand).
        estimated: The capacity is a roofline estimate (:mod:`sizing.throughput`), not a measurement.
    """

    w: int
    offering: Offering
    spot: bool
    gpus_per_replica: int
    replicas_per_node: int
    capacity: float
    hourly: float
    class_caps: tuple[float, ...] = ()
    availability: float = 1.0
    estimated: bool = False
    site: int = 0

    @property
    def monthly(self) -> float:
        """Price of one node for a month, USD."""
        return self.hourly * HOURS_PER_MONTH

    @property
    def unit_cost(self) -> float:
        """USD per hour per unit/s of usable capacity (how attractive the candidate is)."""
        return self.hourly / self.capacity

    def domains(self, kind: str | None) -> tuple[tuple[str, ...], ...]:
        """Failure domains the candidate's nodes can land in: zones, its region or its cloud."""
        o = self.offering
        if kind == "zone":
            return self.zone_keys
        if kind == "region":
            return ((o.cloud, o.region),)
        if kind == "cloud":
            return ((o.cloud,),)
        return ()

    @property
    def zone_keys(self) -> tuple[ZoneKey, ...]:
        """Zones the candidate's nodes can land in; unknown zones are one ``?`` zone per region."""
        o = self.offering
        return tuple((o.cloud, o.region, z) for z in o.zones) or ((o.cloud, o.region, "?"),)

    @property
    def label(self) -> str:
        """``cloud/region/instance_type``, the GPUs when the type does not fix them, `` spot``."""
        o = self.offering
        gpus = f" ({o.gpus} x {o.accelerator})" if expected_gpus(o.cloud, o.instance_type) is None else ""
        return f"{o.cloud}/{o.region}/{o.instance_type}{gpus}" + (" spot" if self.spot else "")


@dataclass
class _Eligibility:
    """Why a workload's offerings were or were not usable (for messages and ``bound_by``)."""

    allowed: list[Offering] = field(default_factory=list)
    with_accelerator: list[Offering] = field(default_factory=list)
    too_small: list[Offering] = field(default_factory=list)
    zero_quota: list[Candidate] = field(default_factory=list)


@dataclass(frozen=True)
class _Solution:
    """A solved MILP: nodes per candidate (period 0 and every period), routing, costs."""

    nodes: tuple[int, ...]
    objective: float
    seconds: float
    variables: int
    zone_nodes: dict[tuple[int, ZoneKey], int]
    proven: bool = True
    gap: float = 0.0
    by_period: tuple[tuple[int, ...], ...] = ()
    routes: dict[tuple[int, int, int], float] = field(default_factory=dict)
    period_costs: tuple[float, ...] = ()
    migration_usd: float = 0.0


class _NoSolution(Exception):
    """The time limit ran out before HiGHS found any plan."""


def _ceil_div(need: float, per: float) -> int:
    return 0 if need <= 0 else math.ceil(need / per - _TOL)


def candidates(
    workloads: Sequence[Workload], catalog: Catalog, options: SizingOptions
) -> tuple[list[Candidate], list[_Eligibility]]:
    """All (workload, offering, capacity type) choices, and per-workload eligibility facts."""
    found: list[Candidate] = []
    facts: list[_Eligibility] = []
    for w_idx, w in enumerate(workloads):
        fact = _Eligibility()
        for o in catalog:
            if (
                o.gpus == 0
                or (w.clouds and o.cloud not in w.clouds)
                or (w.regions and o.region not in w.regions)
                or w.site_of(o) is None
            ):
                continue
            site = w.site_of(o) or 0
            fact.allowed.append(o)
            classes = w.request_classes
            acc = o.accelerator or ""
            if not (any(acc in b.throughput for b in classes) or capacity.estimable(w, acc)):
                continue
            fact.with_accelerator.append(o)
            g = capacity.gpus_per_replica(w.model_mem_gib, o.gpu_mem_gib, o.gpus)
            if g is None:
                fact.too_small.append(o)
                continue
            credit = capacity.credited_throughput(w, o, g)
            per_gpu = credit.per_class
            if not per_gpu:  # the KV cache left at this layout holds no sequence of max_model_len
                fact.too_small.append(o)
                continue
            rpn = capacity.replicas_per_node(o.gpus, g)
            spot_priced = w.spot_at(site) and o.spot_price_hr is not None
            variants = [True] if spot_priced else [False]
            if spot_priced and options.on_demand_floor > 0:
                variants.append(False)
            for spot in variants:
                avail = risk.availability(o.cloud, o.region, o.instance_type, spot, options.spot_availability)
                caps = tuple(
                    capacity.node_throughput(o.gpus, g, per_gpu[b.name]) * w.target_utilization * avail
                    if b.name in per_gpu
                    else 0.0
                    for b in classes
                )
                mix = _mix_capacity(classes, caps)
                cand = Candidate(
                    w_idx, o, spot, g, rpn, mix, o.hourly(spot), caps, avail, credit.estimated, site
                )
                (fact.zero_quota if o.max_nodes == 0 else found).append(cand)
        facts.append(fact)
    return found, facts


def _mix_capacity(classes: Sequence[Any], caps: Sequence[float]) -> float:
    """Capacity of one node for the mix of the classes it can serve, per unit of their demand."""
    serving = [(b.share, cap) for b, cap in zip(classes, caps, strict=True) if cap > 0]
    return sum(share for share, _ in serving) / sum(share / cap for share, cap in serving)


def _current_nodes(
    workloads: Sequence[Workload], cands: Sequence[Candidate], options: SizingOptions
) -> tuple[list[int], float]:
    """Current nodes per candidate, and the constant penalty for current pools no candidate matches."""
    names = {w.name: i for i, w in enumerate(workloads)}
    current = [0] * len(cands)
    unmatched = 0
    squares = 0
    for pool in options.current:
        hit = False
        for i, c in enumerate(cands):
            o = c.offering
            if (
                names.get(pool.workload) == c.w
                and (pool.cloud, pool.region, pool.instance_type, pool.spot)
                == (o.cloud, o.region, o.instance_type, c.spot)
                and pool.accelerator in (None, o.accelerator)
                and pool.gpus_per_node in (None, o.gpus)
            ):
                current[i] += pool.nodes
                hit = True
                break
        if not hit:
            unmatched += pool.nodes
            squares += pool.nodes**2
    # Unmatched pools go to zero nodes in period 0: L1 churn and the migration term both apply.
    return current, options.churn_usd_per_node * unmatched + options.migration_usd_per_node_sq * squares


class _Model:
    """Sparse MILP assembled variable by variable, then handed to HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.integral: list[int] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []

    def var(self, cost: float, lo: float, hi: float, integral: bool) -> int:
        self.cost.append(cost)
        self.integral.append(1 if integral else 0)
        self.lower.append(lo)
        self.upper.append(hi)
        return len(self.cost) - 1

    def row(self, terms: Iterable[tuple[int, float]], lo: float, hi: float) -> None:
        index = len(self.row_lo)
        for col, coef in terms:
            self.rows.append(index)
            self.cols.append(col)
            self.vals.append(coef)
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def solve(
        self, time_limit: float | None = None, gap: float = 0.0
    ) -> tuple[np.ndarray, bool, float] | None:
        """``(values, proven optimal, relative gap)``, or ``None`` when infeasible; ``gap`` > 0 stops
        at a plan proven within that relative gap (then reported as not proven, with that gap).

        Raises:
            _NoSolution: The time limit ran out before any feasible plan was found.
        """
        if not self.cost:
            # Nothing to decide: feasible only if every (empty) row accepts zero.
            ok = all(lo <= 0 <= hi for lo, hi in zip(self.row_lo, self.row_hi, strict=True))
            return (np.zeros(0), True, 0.0) if ok else None
        constraints = []
        if self.row_lo:
            matrix = csr_array((self.vals, (self.rows, self.cols)), shape=(len(self.row_lo), len(self.cost)))
            constraints.append(LinearConstraint(matrix, self.row_lo, self.row_hi))
        result = milp(
            np.array(self.cost),
            integrality=np.array(self.integral),
            bounds=Bounds(self.lower, self.upper),
            constraints=constraints,
            options={"mip_rel_gap": gap, **({"time_limit": time_limit} if time_limit else {})},
        )
        if result.status == 0:
            return result.x, gap == 0.0, gap
        if result.status == 2:
            return None
        if result.status == 1 and time_limit:
            if result.x is None:
                raise _NoSolution(result.message)
            return result.x, False, float(getattr(result, "mip_gap", math.nan))
        raise RuntimeError(f"HiGHS stopped without a proven answer: {result.message}")


@dataclass(frozen=True)
class _Switches:
    zones: bool = True
    floor: bool = True
    pools: bool = True
    churn: bool = True
    survive: bool = True
    new_migration: bool = True  # False: the migration term only on protected (deployed) pools


def _prune(
    cands: Sequence[Candidate],
    protected: Sequence[bool],
    uncapped: Sequence[bool],
    by_zones: bool,
    domain: str | None = None,
    dominators: int = 1,
    protected_dominate: bool = True,
    caps: Sequence[int | None] | None = None,
    reach: int | None = None,
) -> list[bool]:
    """Which candidates to keep: drop those another candidate dominates (exact).

    ``a`` dominates ``b`` when both serve the same workload on the same capacity type (and, when
    the plan survives the loss of a region or cloud, in the same one), ``a`` has no quota, costs
    no more per node, has at least ``b``'s capacity for every request class and at least its
    replicas per node, and (when zones matter) lists every zone ``b`` lists. Replacing every node
    of ``b`` by a node of ``a`` in the same zones then keeps every constraint (demand and routing,
    replicas, quota, floor, zones, survival, pool count) and does not raise the objective (churn
    included, because ``b`` is never a currently deployed pool), so an optimum without ``b``
    exists. Protected candidates (deployed now, or with a lower bound) are kept. One sweep per
    group in (cost, -capacity, -replicas) order finds every dominated candidate.

    With the quadratic migration term merging two pools' changes can cost more, so a candidate
    is dropped only when ``dominators`` kept candidates dominate it, and only kept candidates
    deployed nowhere (``protected`` False) count as dominators: see :func:`_solve` for the
    number that keeps the optimum. ``protected_dominate=False`` keeps protected candidates out of
    the dominators with one dominator too (the migration term on protected pools only).

    There the argument needs only that one dominator's offering is unused by every workload in
    every period (:func:`_solve_with_migration`), so with ``dominators > 1`` and ``caps`` (quota
    per candidate) a capped candidate also dominates when nothing is deployed or required on its
    offering and its quota is at least the most nodes ``b`` can hold: ``b``'s quota, or ``reach``
    (the most nodes any new pool holds in a plan that can be optimal).
    """
    keep = [True] * len(cands)
    exclude_protected = dominators > 1 or not protected_dominate
    limits: list[float] = [math.inf if u else -math.inf for u in uncapped]
    if dominators > 1 and caps is not None:
        fixed = {c.offering.key for c, p in zip(cands, protected, strict=True) if p}
        limits = [
            math.inf if cap is None else (-math.inf if c.offering.key in fixed else cap)
            for c, cap in zip(cands, caps, strict=True)
        ]
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        where = c.domains(domain) if domain in ("region", "cloud") else ()
        groups[(c.w, c.site, c.spot, where)].append(i)
    for members in groups.values():
        members.sort(key=lambda i: (cands[i].monthly, -cands[i].capacity, -cands[i].replicas_per_node, i))
        # (capacity vector, quota) so far per (zone set, replicas per node) among dominators.
        best: dict[tuple[frozenset[ZoneKey], int], list[tuple[tuple[float, ...], float]]] = {}
        for i in members:
            c = cands[i]
            zones = frozenset(c.zone_keys) if by_zones else frozenset()
            vector = c.class_caps or (c.capacity,)
            most = min(math.inf if caps is None or caps[i] is None else caps[i], reach or math.inf)
            found = 0
            for (have, rpn), vectors in best.items():
                if rpn >= c.replicas_per_node and have >= zones:
                    found += sum(
                        limit >= most and all(v >= x for v, x in zip(vec, vector, strict=True))
                        for vec, limit in vectors
                    )
                if found >= dominators:
                    break
            dominated = found >= dominators
            if dominated and not protected[i]:
                keep[i] = False
            elif (
                limits[i] > 0
                and not (exclude_protected and protected[i])
                and (dominators > 1 or not dominated)
            ):
                best.setdefault((zones, c.replicas_per_node), []).append((vector, limits[i]))
    return keep


def _periods_of(workloads: Sequence[Workload]) -> list[list[float]]:
    """Demand per period and workload (a single demand holds in every period)."""
    count = periods(workloads)
    return [[w.demands[t] if len(w.demands) > 1 else w.base for w in workloads] for t in range(count)]


def _solve(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches | None = None,
    *,
    demands: Sequence[Sequence[float]] | None = None,
    lower: Sequence[int] | None = None,
    quota: dict[tuple[str, str, str, str, int], int] | None = None,
    current: Sequence[int] | None = None,
    split: bool = True,
) -> _Solution | None:
    """Solve the MILP over ``cands`` after dropping dominated candidates; ``None`` when infeasible.

    ``demands`` is one list of per-workload demands per period (default: the workloads' own).
    Returns nodes for every candidate of ``cands`` (0 for dropped ones). With the migration term
    and several workloads the problem is solved by parts (:func:`_solve_by_parts`) unless ``split``
    is False.
    """
    switches = switches or _Switches()
    demands = _periods_of(workloads) if demands is None else demands
    lower = [0] * len(cands) if lower is None else list(lower)
    current = [0] * len(cands) if current is None else list(current)
    quota = quota or {}
    if (
        split
        and len(workloads) > 1
        and switches.churn
        and switches.new_migration
        and (options.migration_usd_per_node_sq > 0)
    ):
        return _solve_by_parts(workloads, cands, options, switches, demands, lower, quota, current)
    uncapped = [quota.get(c.offering.key, c.offering.max_nodes) is None for c in cands]
    protected = [lower[i] > 0 or current[i] > 0 for i in range(len(cands))]
    min_zones = options.min_zones if switches.zones else 1
    survive = options.survive if switches.survive else None
    by_zones = min_zones > 1 or survive == "zone"
    alpha = options.migration_usd_per_node_sq if switches.churn else 0.0

    max_pools = options.max_pools_per_workload if switches.pools else None
    pool_twins = alpha > 0 and not by_zones and max_pools is None

    quotas = [quota.get(c.offering.key, c.offering.max_nodes) for c in cands]

    floors = (
        _period_floors(workloads, cands, options, switches, demands, quota)
        if alpha > 0 and switches.new_migration and len(demands) > 1
        else None
    )

    def solve_pruned(
        dominators: int, squares: int | None = None, gap: float = 0.0
    ) -> tuple[list[int], _Solution | None]:
        reach = None if squares is None else math.isqrt(len(demands) * squares)
        keep = _prune(
            cands, protected, uncapped, by_zones, survive, dominators, switches.new_migration, quotas, reach
        )
        kept = [i for i in range(len(cands)) if keep[i]]
        caps = [quotas[i] for i in kept]
        sharing: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
        for i in kept:
            sharing[cands[i].offering.key] += 1
        if reach is not None:
            # No new pool holds more than `reach` nodes in a plan that can be optimal, and a twin
            # column's even split puts at most reach + 1 on one pool (its total is at most
            # isqrt(T K squares), see _solve_kept): a quota above that binds nothing, so such a
            # candidate twins with the uncapped ones.
            for pos, i in enumerate(kept):
                cap = caps[pos]
                if (
                    cap is not None
                    and cap > reach
                    and not protected[i]
                    and sharing[cands[i].offering.key] == 1
                ):
                    caps[pos] = None
        twins = (
            _twin_groups(
                [cands[i] for i in kept],
                [protected[i] or (not uncapped[i] and sharing[cands[i].offering.key] > 1) for i in kept],
                survive,
                caps,
            )
            if pool_twins
            else [[pos] for pos in range(len(kept))]
        )
        # K twins with quota q each (a quota no other kept candidate shares) are one column of quota K x q.
        merged: dict[tuple[str, str, str, str, int], int | None] = dict(quota)
        for same in twins:
            if len(same) > 1:
                cap = caps[same[0]]
                merged[cands[kept[same[0]]].offering.key] = None if cap is None else len(same) * cap
        found = _solve_kept(
            workloads,
            [cands[kept[same[0]]] for same in twins],
            options,
            switches,
            demands=demands,
            lower=[lower[kept[same[0]]] for same in twins],
            quota=merged,
            current=[current[kept[same[0]]] for same in twins],
            multiplicity=[len(same) for same in twins],
            squares=squares,
            period_floors=floors,
            gap=gap,
        )
        return kept, None if found is None else _unpool(found, twins, len(kept))

    if alpha <= 0 or not switches.new_migration:
        kept, solution = solve_pruned(1)
    else:
        kept, solution = _solve_with_migration(
            workloads,
            cands,
            options,
            switches,
            solve_pruned,
            demands=demands,
            lower=lower,
            quota=quota,
            current=current,
        )
    return None if solution is None else _lift(solution, kept, len(cands))


def _lift(solution: _Solution, positions: Sequence[int], count: int) -> _Solution:
    """A solution over a subset of the candidates (its ``pos``-th is candidate ``positions[pos]``) as one
    over all ``count`` candidates, zero elsewhere."""

    def spread(values: Sequence[int]) -> tuple[int, ...]:
        full = [0] * count
        for pos, i in enumerate(positions):
            full[i] = values[pos]
        return tuple(full)

    return replace(
        solution,
        nodes=spread(solution.nodes),
        by_period=tuple(spread(p) for p in solution.by_period),
        zone_nodes={(positions[pos], zone): n for (pos, zone), n in solution.zone_nodes.items()},
        routes={(t, b, positions[pos]): r for (t, b, pos), r in solution.routes.items()},
    )


def _solve_by_parts(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches,
    demands: Sequence[Sequence[float]],
    lower: Sequence[int],
    quota: dict[tuple[str, str, str, str, int], int],
    current: Sequence[int],
) -> _Solution | None:
    """Solve workload by workload, merging the workloads whose plans overrun a shared quota (exact).

    Only quotas link workloads: every other constraint (demand, routing, replicas, floor, zones,
    survival, pool count) and every cost term (price, churn, migration) involves the candidates of
    one workload. Give each group of workloads (at first, each workload alone) every quota whole:
    that relaxes the shared quotas, so the groups' problems are independent, and the union of
    their optima is an optimum of the relaxation, whose cost bounds every plan from below. If that
    union keeps every quota in every period, it is a plan of the full problem at that bound, hence
    optimal. Otherwise the groups with nodes on an overrun offering are merged (their shared quota
    is then a constraint of one problem) and solved again; at worst every workload ends in one
    group, the full problem. Several small problems are much faster than one large one: the
    dominance bound of :func:`_solve_with_migration` then counts one group's new pools, and the
    branch and bound explores one group's choices at a time.
    """
    groups: list[list[int]] = [[w] for w in range(len(workloads))]
    solved: dict[tuple[int, ...], _Solution | None] = {}
    while True:
        for group in groups:
            if tuple(group) not in solved:
                solved[tuple(group)] = _solve_group(
                    workloads, cands, options, switches, demands, lower, quota, current, group
                )
        parts = [(group, solved[tuple(group)]) for group in groups]
        if any(part is None for _, part in parts):
            return None  # the relaxation is infeasible, so is the full problem
        owner = {i: g for g, (group, _) in enumerate(parts) for i, c in enumerate(cands) if c.w in group}
        overrun: list[set[int]] = []
        for t in range(len(demands)):
            used: dict[tuple[str, str, str, str, int], list[int]] = defaultdict(list)
            for i, c in enumerate(cands):
                n = parts[owner[i]][1].by_period[t][i]  # type: ignore[union-attr]
                used[c.offering.key] += [i] * n
            for key, nodes in used.items():
                cap = quota.get(key, cands[nodes[0]].offering.max_nodes) if nodes else None
                if cap is not None and len(nodes) > cap:
                    overrun.append({owner[i] for i in nodes})
        if not overrun:
            return _join([part for _, part in parts], len(cands))  # type: ignore[misc]
        merged = [set(group) for group in groups]
        for together in overrun:
            first = min(together)
            for g in together - {first}:
                merged[first] |= merged[g]
                merged[g] = set()
        groups = sorted((sorted(group) for group in merged if group), key=lambda group: group[0])


def _solve_group(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches,
    demands: Sequence[Sequence[float]],
    lower: Sequence[int],
    quota: dict[tuple[str, str, str, str, int], int],
    current: Sequence[int],
    group: Sequence[int],
) -> _Solution | None:
    """The workloads ``group`` alone (each quota whole), as a solution over every candidate (0 elsewhere)."""
    index = {w: k for k, w in enumerate(group)}
    mine = [i for i, c in enumerate(cands) if c.w in index]
    found = _solve(
        [workloads[w] for w in group],
        [replace(cands[i], w=index[cands[i].w]) for i in mine],
        options,
        switches,
        demands=[[period[w] for w in group] for period in demands],
        lower=[lower[i] for i in mine],
        quota=quota,
        current=[current[i] for i in mine],
        split=False,
    )
    return None if found is None else _lift(found, mine, len(cands))


def _join(parts: Sequence[_Solution], count: int) -> _Solution:
    """One solution from solutions over disjoint candidates (zero outside their own)."""

    def total(vectors: Iterable[Sequence[int]]) -> tuple[int, ...]:
        out = [0] * count
        for vector in vectors:
            for i, n in enumerate(vector):
                out[i] += n
        return tuple(out)

    periods = len(parts[0].by_period)
    return _Solution(
        total(p.nodes for p in parts),
        sum(p.objective for p in parts),
        sum(p.seconds for p in parts),
        sum(p.variables for p in parts),
        {key: n for p in parts for key, n in p.zone_nodes.items()},
        all(p.proven for p in parts),
        max(p.gap for p in parts),
        by_period=tuple(total(p.by_period[t] for p in parts) for t in range(periods)),
        routes={key: r for p in parts for key, r in p.routes.items()},
        period_costs=tuple(sum(p.period_costs[t] for p in parts) for t in range(periods)),
        migration_usd=sum(p.migration_usd for p in parts),
    )


def _period_floors(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches,
    demands: Sequence[Sequence[float]],
    quota: dict[tuple[str, str, str, str, int], int],
) -> list[list[float]]:
    """Per period and workload, the least node cost of that workload alone in that period (USD).

    Any plan's nodes of workload ``w`` in period ``t`` meet ``w``'s constraints of that period
    with at most the whole quota of each offering, so they cost at least the optimum of that
    single-period problem (no churn, no migration): ``sum_o nodes(w,o,t) x price(o) >= floor(w,t)``
    is a valid row of the multi-period MILP (it cuts no plan). It tells the relaxation what
    rounding whole nodes costs in each period, which the tangent cuts of the migration term
    cannot: on the periods benchmark it cut the exact solve of its hardest workload by a third.
    A floor is used only when proven (else 0), and not for a workload whose sites carry a fixed
    cost (``Site.fixed_usd_month``): its single-period optimum trades node cost against that fee,
    so its node cost is no lower bound on a plan's.
    """
    floors = []
    single = replace(switches, churn=False)
    for period in demands:
        row = []
        for w_idx, w in enumerate(workloads):
            if any(site.fixed_usd_month > 0 for site in w.sites or ()):
                row.append(0.0)
                continue
            mine = [replace(c, w=0) for c in cands if c.w == w_idx]
            found = _solve([w], mine, options, single, demands=[[period[w_idx]]], quota=quota)
            row.append(found.objective * (1 - 1e-9) - 1e-6 if found is not None and found.proven else 0.0)
        floors.append(row)
    return floors


_TRIAL_DOMINATORS = 2
"""Dominators kept per dropped candidate in the first solve with the migration term."""

_TRIAL_GAP = 0.02
"""Relative gap the first solve stops at: its plan only has to be a plan (its cost is ``Z``)."""


def _solve_with_migration(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches,
    solve_pruned: Callable[..., tuple[list[int], _Solution | None]],
    *,
    demands: Sequence[Sequence[float]],
    lower: Sequence[int],
    quota: dict[tuple[str, str, str, str, int], int],
    current: Sequence[int],
) -> tuple[list[int], _Solution | None]:
    """Exact dominance pruning under the quadratic migration term, in two solves at most.

    Call a pool *new* when nothing is deployed on it (it starts from 0 nodes). A new pool in use
    pays ``alpha x d^2 >= alpha`` for the change that takes it off zero, so a plan costing at most
    ``Z`` uses at most ``N = (Z - L) / alpha`` new pools, ``L`` being the least cost of any plan
    when only deployed pools pay the migration term (every plan's cost minus its new pools'
    migration is at least ``L``). The same bound caps one new pool's squares at ``N``, which
    :func:`_solve_kept` turns into node bounds. Suppose ``b`` is dropped because ``N`` kept new uncapped candidates dominate it, and
    an optimum uses ``b``: it uses at most ``N - 1`` other new pools, so one dominator ``a`` is
    unused in every period; moving ``b``'s whole trajectory onto ``a`` keeps every constraint
    (as in :func:`_prune`), costs no more per node, and leaves the migration term unchanged
    (both start from 0 and ``a`` was empty throughout). Repeating this removes every dropped
    candidate from some optimum, so the pruned MILP has the same optimum.

    First solve: prune with :data:`_TRIAL_DOMINATORS`, stopping within :data:`_TRIAL_GAP` of its
    optimum; its plan is a plan of the full problem (dropping only dominated candidates), so its
    cost is a valid ``Z`` (a slightly dearer ``Z`` only loosens ``N``; the early stop saved most of
    that solve on the periods benchmark). ``L`` is solved with the deployed pools at their deployed
    nodes (they pay their squares from there). If ``N`` is at most the dominators kept, the first
    solve's pruning is already exact (re-solved to a zero gap unless it got there); otherwise solve
    again keeping ``N``.
    """
    kept, trial = solve_pruned(_TRIAL_DOMINATORS, gap=_TRIAL_GAP)
    if trial is None:
        # Capped dominators can leave too little quota to be feasible: then keep everything.
        return solve_pruned(len(cands) + 1)
    if not trial.proven and trial.gap > _TRIAL_GAP:
        return kept, trial  # out of time
    alpha = options.migration_usd_per_node_sq
    floor = _solve(
        workloads,
        cands,
        options,
        replace(switches, new_migration=False),
        demands=demands,
        lower=lower,
        quota=quota,
        current=current,
    )
    if floor is None or not floor.proven:
        return solve_pruned(len(cands) + 1)  # no bound: keep everything
    new_pools = math.floor((trial.objective - floor.objective) / alpha * (1 + 1e-9) + 1e-9)
    if new_pools <= _TRIAL_DOMINATORS:
        return (kept, trial) if trial.proven else solve_pruned(_TRIAL_DOMINATORS)
    return solve_pruned(new_pools, new_pools)


@dataclass
class _Build:
    """The MILP under construction and what the constraint families need to know."""

    model: _Model
    workloads: Sequence[Workload]
    cands: Sequence[Candidate]
    members: dict[int, list[int]]
    zone_cols: list[tuple[int, int, tuple[ZoneKey, ...], ZoneKey, int]] = field(default_factory=list)
    route_groups: list[tuple[tuple[int, int, int], tuple[int, ...], int]] = field(default_factory=list)
    splits: dict[tuple[int, int], dict[ZoneKey, int]] = field(default_factory=dict)  # survive: zone


def _solve_kept(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches,
    *,
    demands: Sequence[Sequence[float]],
    lower: Sequence[int],
    quota: dict[tuple[str, str, str, str, int], int],
    current: Sequence[int],
    multiplicity: Sequence[int] | None = None,
    squares: int | None = None,
    period_floors: Sequence[Sequence[float]] | None = None,
    gap: float = 0.0,
) -> _Solution | None:
    """Build and solve the MILP over exactly ``cands``; ``None`` when infeasible.

    ``multiplicity[i] = K > 1`` makes candidate ``i`` stand for ``K`` identical new pools
    (:func:`_twin_groups`): its variables are their total and its migration term is the least
    the ``K`` pools pay for that total's moves (:func:`_spread_squares`). ``squares`` bounds the
    sum of one new pool's migration squares in any plan that can be optimal.
    ``period_floors[t][w]`` is a least node cost of workload ``w`` in period ``t``
    (:func:`_period_floors`, a valid row); ``gap`` > 0 stops at a plan within that relative gap.

    One block of node variables per period, each with every constraint family; the churn
    penalty links period 0 to ``current``, the migration term links consecutive periods.
    """
    started = time.perf_counter()
    churn = options.churn_usd_per_node if switches.churn else 0.0
    alpha = options.migration_usd_per_node_sq if switches.churn else 0.0
    min_zones = options.min_zones if switches.zones else 1
    floor = options.on_demand_floor if switches.floor else 0.0
    max_pools = options.max_pools_per_workload if switches.pools else None
    survive = options.survive if switches.survive else None
    hours = options.period_hours

    def cap_of(o: Offering) -> int | None:
        return quota.get(o.key, o.max_nodes)

    members: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        members[c.w].append(i)
    build = _Build(_Model(), workloads, cands, members)
    x: list[list[int]] = []
    bounds = [
        _upper_bounds(workloads, cands, period, lower, current, min_zones, cap_of, survive)
        for period in demands
    ]
    if alpha > 0:
        # With the migration term a pool may keep nodes through a dip rather than pay to drop and
        # re-add them, so each period gets the bound of its busiest period M = max_t U_t (which
        # includes the current nodes). That is exact: clipping every period at M keeps each
        # period feasible (M nodes alone serve it) and cannot raise any |n[t] - n[t-1]|, since
        # min(., M) is 1-Lipschitz and the deployed count is at most M.
        bounds = [list(map(max, *bounds))] * len(bounds) if len(bounds) > 1 else bounds
    multiplicity = [1] * len(cands) if multiplicity is None else list(multiplicity)
    if squares is not None:
        # A new pool's (or K twins') migration squares sum to at most `squares` in any plan that
        # can beat the first one (:func:`_solve_with_migration`); its nodes in period t are the sum
        # of its first t moves, so n^2 <= t x sum d^2 <= T x squares (Cauchy-Schwarz), and
        # h_K(d) >= d^2 / K for K twins.
        bounds = [
            [
                u if lower[i] or current[i] else min(u, math.isqrt(len(demands) * multiplicity[i] * squares))
                for i, u in enumerate(b)
            ]
            for b in bounds
        ]
    for t, period in enumerate(demands):
        uppers = bounds[t]
        x_t = []
        for i, c in enumerate(cands):
            # With nothing deployed, |nodes - 0| = nodes: the churn penalty is part of the price.
            price = c.hourly * hours + (churn if t == 0 and current[i] == 0 else 0.0)
            x_t.append(build.model.var(price, lower[i], uppers[i], True))
        x.append(x_t)
        for w_idx, w in enumerate(workloads):
            _add_demand(build, t, w_idx, x_t, period[w_idx])
            _add_replicas(build, w_idx, x_t, w.min_replicas)
            for k, site in enumerate(w.sites or ()):
                _add_replicas(build, w_idx, x_t, site.min_replicas, site=k)
                if site.fixed_usd_month > 0:
                    _add_site_cost(build, w_idx, x_t, k, site.fixed_usd_month * hours / HOURS_PER_MONTH)
            if floor > 0 and w.spot:
                _add_on_demand_floor(build, w_idx, x_t, floor * period[w_idx])
            if max_pools is not None:
                _add_max_pools(build, w_idx, x_t, max_pools, period[w_idx], floor if w.spot else 0.0)
            if survive is not None and period[w_idx] > 0:
                _add_survival(build, t, w_idx, x_t, period[w_idx], survive)
            if min_zones > 1 and (period[w_idx] > 0 or w.min_replicas > 0):
                _add_zone_spread(build, t, w_idx, x_t, min_zones)
        _add_quota(build, x_t, cap_of)
        if period_floors is not None:
            for w_idx, floor_usd in enumerate(period_floors[t]):
                if floor_usd > 0:
                    build.model.row(
                        ((x_t[i], cands[i].hourly * hours) for i in members.get(w_idx, [])), floor_usd, np.inf
                    )
    if churn > 0:
        _add_churn(build, x[0], current, churn)
    if alpha > 0:
        _break_twin_symmetry(
            build, x, lower, current, cap_of, by_zones=min_zones > 1 or survive == "zone", survive=survive
        )
    priced = None if switches.new_migration else [lower[i] > 0 or current[i] > 0 for i in range(len(cands))]
    migration = _add_migration(build, x, current, alpha, priced, multiplicity) if alpha > 0 else []

    solved = _solve_with_cuts(build.model, migration, options.time_limit_s, gap)
    if solved is None:
        return None
    values, proven, gap = solved
    by_period = tuple(tuple(round(values[col]) for col in x_t) for x_t in x)
    routes = _split_routes(build, values, by_period)
    for t, nodes in enumerate(by_period):
        period_routes = {(b, i): r for (tt, b, i), r in routes.items() if tt == t}
        _verify(workloads, cands, nodes, demands[t], cap_of, period_routes)
    if survive == "zone":
        # The split the survival rows were proven with (it also places the min_zones spread).
        zone_nodes = {}
        for i, n in enumerate(by_period[0]):
            split = build.splits.get((0, i))
            for zone, col in (split or {cands[i].zone_keys[0]: None}).items():
                placed = n if col is None else round(values[col])
                if placed:
                    zone_nodes[(i, zone)] = placed
    elif min_zones > 1:
        zone_nodes = _place_in_zones(
            cands,
            by_period[0],
            [(w, zs, z) for t, w, zs, z, col in build.zone_cols if t == 0 and round(values[col])],
        )
    else:
        zone_nodes = {}
    period_costs = tuple(
        sum(c.hourly * hours * n for c, n in zip(cands, nodes, strict=True)) for nodes in by_period
    )
    penalty = churn * sum(abs(n - cur) for n, cur in zip(by_period[0], current, strict=True))
    moved = _migration_cost(by_period, current, alpha, priced, multiplicity)
    # Each site with a fixed cost pays it in every period it holds a node (Site.fixed_usd_month).
    site_costs = sum(
        site.fixed_usd_month * hours / HOURS_PER_MONTH
        for nodes in by_period
        for w_idx, w in enumerate(workloads)
        for k, site in enumerate(w.sites or ())
        if any(n > 0 and c.w == w_idx and c.site == k for c, n in zip(cands, nodes, strict=True))
    )
    seconds = time.perf_counter() - started
    return _Solution(
        by_period[0],
        sum(period_costs) + penalty + moved + site_costs,
        seconds,
        len(build.model.cost),
        zone_nodes,
        proven,
        gap,
        by_period=by_period,
        routes=routes,
        period_costs=period_costs,
        migration_usd=moved,
    )


def _split_routes(
    build: _Build, values: np.ndarray, by_period: Sequence[Sequence[int]]
) -> dict[tuple[int, int, int], float]:
    """Per-candidate routing ``(period, class, candidate) -> units/s``: each group's routed load split
    in proportion to its candidates' ``scale x nodes`` (see :func:`_route`)."""
    routes: dict[tuple[int, int, int], float] = {}
    for (t, b, _), same, col in build.route_groups:
        routed = float(values[col])
        weights = [max(build.cands[i].class_caps) * by_period[t][i] for i in same]
        total = sum(weights)
        if routed <= _TOL or total <= 0:
            continue
        for i, weight in zip(same, weights, strict=True):
            if weight > 0:
                routes[(t, b, i)] = routed * weight / total
    return routes


def _upper_bounds(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    demands: Sequence[float],
    lower: Sequence[int],
    current: Sequence[int],
    min_zones: int,
    cap_of: Callable[[Offering], int | None],
    survive: str | None = None,
) -> list[int]:
    """Per candidate, the most nodes an optimum can need in it (see the module docstring).

    With request classes, the nodes needed to carry every class the candidate can serve. With
    ``survive: zone`` a candidate in ``k >= 2`` zones needs ``m = need + ceil(need / (k - 1))``
    nodes to carry the demand alone with its fullest zone lost (``m - ceil(m / k) >= need``, and
    ``m`` is the least such); cutting it to ``m`` nodes spread evenly keeps every constraint, so
    no optimum needs more. (Bounding it by ``need`` alone made a plan that stacks one multi-zone
    offering infeasible or dearer.)
    """
    uppers = []
    for i, c in enumerate(cands):
        w = workloads[c.w]
        served = sum(
            demands[c.w] * b.share / cap
            for b, cap in zip(w.request_classes, c.class_caps, strict=True)
            if cap > 0
        )
        alone = 0 if served <= 0 else math.ceil(served - _TOL)
        if survive == "zone":
            alone = risk.nodes_to_survive_zone(alone, len(c.zone_keys))
        need = max(alone, _ceil_div(w.min_replicas, c.replicas_per_node))
        upper = max(need, min_zones if need else 0, current[i], lower[i])
        cap = cap_of(c.offering)
        if cap is not None:
            upper = min(upper, cap)
        uppers.append(max(upper, lower[i]))
    return uppers


def _add_demand(build: _Build, t: int, w_idx: int, x: Sequence[int], demand: float) -> None:
    """Demand: capacity covers demand; with classes, each class is routed onto the pools.

    Single class: ``sum_o nodes(o) x capacity(o) >= demand``. Classes: ``route(b, o) >= 0`` units/s
    of class ``b`` on candidate ``o``, ``sum_o route(b, o) >= demand x share(b)`` and
    ``sum_b route(b, o) / class_cap(b, o) <= nodes(o)`` (Melange's bin constraint at node
    granularity: the classes share the pool's nodes).
    """
    if demand <= 0:
        return
    members, cands, model = build.members.get(w_idx, []), build.cands, build.model
    classes = build.workloads[w_idx].request_classes
    if len(classes) == 1:
        model.row(((x[i], cands[i].capacity) for i in members), demand, np.inf)
        return
    _route(build, members, x, classes, demand, lambda i: [(x[i], -1.0)], key=lambda b, i: (t, b, i))


def _route(
    build: _Build,
    members: Sequence[int],
    x: Sequence[int],
    classes: Sequence[Any],
    demand: float,
    nodes_of: Callable[[int], list[tuple[int, float]]],
    key: Callable[[int, int], tuple[int, int, int]] | None = None,
) -> None:
    """Routing rows for classes over ``members``; ``nodes_of(i)`` gives the terms of the nodes
    available on candidate ``i`` (negated), so a survival scenario can remove the lost ones.

    Candidates whose class capacities are proportional (the same accelerator and figures, any
    node size) are routed as one group: load ``sum_b route(b, G) / unit(b, G) <= sum_{o in G}
    scale(o) x nodes(o)`` with ``class_cap(b, o) = scale(o) x unit(b, G)``. Any group routing
    splits onto the group's candidates in proportion to ``scale x nodes`` and any candidate
    routing sums to a group routing, so this is the per-candidate model exactly, with far fewer
    routing variables.
    """
    model, cands = build.model, build.cands
    groups: dict[tuple[float, ...], list[int]] = defaultdict(list)
    for i in members:
        caps = cands[i].class_caps
        scale = max(caps)
        groups[tuple(float(f"{cap / scale:.9g}") for cap in caps)].append(i)
    load: dict[tuple[float, ...], list[tuple[int, float]]] = defaultdict(list)
    for b, klass in enumerate(classes):
        cols = []
        for unit, same in groups.items():
            if unit[b] <= 0:
                continue
            col = model.var(0.0, 0, np.inf, False)
            if key is not None:
                build.route_groups.append((key(b, same[0]), tuple(same), col))
            cols.append(col)
            load[unit].append((col, 1.0 / unit[b]))
        model.row(((col, 1.0) for col in cols), demand * klass.share, np.inf)
    for unit, terms in load.items():
        nodes = [(col, coef * max(cands[i].class_caps)) for i in groups[unit] for col, coef in nodes_of(i)]
        model.row((*terms, *nodes), -np.inf, 0.0)


def _add_replicas(
    build: _Build, w_idx: int, x: Sequence[int], min_replicas: int, site: int | None = None
) -> None:
    """``sum_o nodes(o) x replicas_per_node(o) >= min_replicas`` (over one site's offerings when given)."""
    if min_replicas > 0:
        members = [i for i in build.members.get(w_idx, []) if site is None or build.cands[i].site == site]
        build.model.row(((x[i], build.cands[i].replicas_per_node) for i in members), min_replicas, np.inf)


def _add_site_cost(build: _Build, w_idx: int, x: Sequence[int], site: int, cost: float) -> None:
    """A fixed cost for using a site: binary ``used`` priced at ``cost`` with ``nodes(o) <= U x used``
    for the site's candidates (a site that must hold replicas is used anyway: ``used`` is then 1)."""
    model = build.model
    members = [i for i in build.members.get(w_idx, []) if build.cands[i].site == site]
    if not members:
        return
    floor = build.workloads[w_idx].sites[site].min_replicas
    used = model.var(cost, 1 if floor > 0 else 0, 1, True)
    for i in members:
        model.row(((x[i], 1.0), (used, -model.upper[x[i]])), -np.inf, 0.0)


def _add_on_demand_floor(build: _Build, w_idx: int, x: Sequence[int], floor_demand: float) -> None:
    """On-demand capacity alone serves ``floor x demand``."""
    if floor_demand > 0:
        members = build.members.get(w_idx, [])
        terms = ((x[i], build.cands[i].capacity) for i in members if not build.cands[i].spot)
        build.model.row(terms, floor_demand, np.inf)


def _add_max_pools(
    build: _Build, w_idx: int, x: Sequence[int], max_pools: int, demand: float, floor: float
) -> None:
    """Binary ``used(o)`` with ``nodes(o) <= U x used(o)`` and ``sum_o used(o) <= max_pools`` (per site
    of a workload with sites: each of its node pools has at most ``max_pools`` machine types)."""
    model, cands = build.model, build.cands
    members = build.members.get(w_idx, [])
    if not members:
        return
    used = [model.var(0.0, 0, 1, True) for _ in members]
    for i, u in zip(members, used, strict=True):
        model.row(((x[i], 1.0), (u, -model.upper[x[i]])), -np.inf, 0.0)
    for site in sorted({cands[i].site for i in members}):
        model.row(
            ((u, 1.0) for i, u in zip(members, used, strict=True) if cands[i].site == site),
            -np.inf,
            max_pools,
        )
    # Valid cuts: the pools in use must be able to cover demand (and the on-demand floor) at
    # their upper bounds. They tighten the relaxation without cutting any solution.
    if demand > 0:
        model.row(
            (
                (u, min(cands[i].capacity * model.upper[x[i]], demand))
                for i, u in zip(members, used, strict=True)
            ),
            demand,
            np.inf,
        )
        if floor > 0:
            model.row(
                (
                    (u, min(cands[i].capacity * model.upper[x[i]], floor * demand))
                    for i, u in zip(members, used, strict=True)
                    if not cands[i].spot
                ),
                floor * demand,
                np.inf,
            )


def _add_zone_spread(build: _Build, t: int, w_idx: int, x: Sequence[int], min_zones: int) -> None:
    """Nodes in at least ``min_zones`` distinct zones.

    Nodes of candidates listing the same zones are interchangeable for placement, so placement
    is decided per zone set S: placed(S, z) = 1 puts one node of S in zone z; S places at most
    as many zones as its candidates have nodes; a zone is covered when some zone set places a
    node there.
    """
    model, cands = build.model, build.cands
    members = build.members.get(w_idx, [])
    if not members:
        return
    by_zone_set: dict[tuple[ZoneKey, ...], list[int]] = defaultdict(list)
    for i in members:
        by_zone_set[cands[i].zone_keys].append(i)
    covers: dict[ZoneKey, list[int]] = defaultdict(list)
    for zone_set, same in by_zone_set.items():
        placed = []
        for zone in zone_set:
            col = model.var(0.0, 0, 1, True)
            build.zone_cols.append((t, w_idx, zone_set, zone, col))
            placed.append(col)
            covers[zone].append(col)
            in_zone = [build.splits[(t, i)][zone] for i in same if (t, i) in build.splits]
            if in_zone and len(in_zone) == len(same):
                # With survive: zone the node split is decided there; a zone counts only if it holds one.
                model.row(((col, 1.0), *((z, -1.0) for z in in_zone)), -np.inf, 0.0)
        model.row((*((x[i], 1.0) for i in same), *((col, -1.0) for col in placed)), 0.0, np.inf)
    flags = []
    for cols in covers.values():
        flag = model.var(0.0, 0, 1, True)
        flags.append(flag)
        model.row(((flag, 1.0), *((col, -1.0) for col in cols)), -np.inf, 0.0)
    model.row(((flag, 1.0) for flag in flags), min_zones, np.inf)


def _add_survival(build: _Build, t: int, w_idx: int, x: Sequence[int], demand: float, kind: str) -> None:
    """Demand is still met with any one failure domain (zone, region, cloud) lost.

    For ``zone``, integer ``in_zone(o, z)`` split each candidate's nodes over its zones
    (``sum_z in_zone(o, z) = nodes(o)``); for ``region`` and ``cloud`` a candidate lies in one
    domain. For every domain ``D`` the nodes outside ``D`` carry the demand: the single-class row
    ``sum_o capacity(o) x (nodes(o) - lost_D(o)) >= demand``, or, with classes, a routing of its
    own (the survivors re-route every class).
    """
    model, cands = build.model, build.cands
    members = build.members.get(w_idx, [])
    lost: dict[tuple[str, ...], dict[int, int]] = defaultdict(dict)
    for i in members:
        domains = cands[i].domains(kind)
        if len(domains) == 1:
            lost[domains[0]][i] = x[i]
            continue
        split = [model.var(0.0, 0, model.upper[x[i]], True) for _ in domains]
        model.row(((x[i], 1.0), *((col, -1.0) for col in split)), 0.0, 0.0)
        if kind == "zone":
            build.splits[(t, i)] = dict(zip(domains, split, strict=True))
        for domain, col in zip(domains, split, strict=True):
            lost[domain][i] = col
    classes = build.workloads[w_idx].request_classes
    for gone in lost.values():

        def survivors(i: int, gone: dict[int, int] = gone) -> list[tuple[int, float]]:
            return [(x[i], -1.0)] + ([(gone[i], 1.0)] if i in gone else [])

        if len(classes) == 1:
            terms: list[tuple[int, float]] = []
            for i in members:
                terms += [(col, -coef * cands[i].capacity) for col, coef in survivors(i)]
            model.row(terms, demand, np.inf)
        else:
            _route(build, members, x, classes, demand, survivors)


def _add_quota(build: _Build, x: Sequence[int], cap_of: Callable[[Offering], int | None]) -> None:
    """``sum_w nodes(w, o) <= max_nodes(o)`` (quotas are shared by every workload)."""
    per_offering: dict[tuple[str, str, str, str, int], list[int]] = defaultdict(list)
    for i, c in enumerate(build.cands):
        per_offering[c.offering.key].append(i)
    for members in per_offering.values():
        cap = cap_of(build.cands[members[0]].offering)
        if cap is not None and sum(build.model.upper[x[i]] for i in members) > cap:
            build.model.row(((x[i], 1.0) for i in members), -np.inf, cap)


def _add_churn(build: _Build, x: Sequence[int], current: Sequence[int], churn: float) -> None:
    """L1 churn against the deployed pools: ``d >= nodes - cur``, ``d >= cur - nodes``, cost ``churn x d``."""
    for i in (i for i in range(len(build.cands)) if current[i] > 0):
        dev = build.model.var(churn, 0, np.inf, False)
        build.model.row(((dev, 1.0), (x[i], -1.0)), -current[i], np.inf)
        build.model.row(((dev, 1.0), (x[i], 1.0)), current[i], np.inf)


def _break_twin_symmetry(
    build: _Build,
    x: Sequence[Sequence[int]],
    lower: Sequence[int],
    current: Sequence[int],
    cap_of: Callable[[Offering], int | None],
    *,
    by_zones: bool,
    survive: str | None,
) -> None:
    """Order interchangeable pools by their node-periods (exact symmetry breaking).

    Twins are candidates of one workload and capacity type with the same price, per-class
    capacity, replicas per node (and zones or failure domain when those matter), no quota, and
    nothing deployed or required: swapping two twins' whole trajectories maps every plan to a plan
    of the same cost (every constraint and the migration term treat them alike). So some optimum
    lists each group's twins in non-increasing order of ``sum_t nodes(o, t)``, and adding
    ``sum_t nodes(a, t) >= sum_t nodes(b, t)`` for consecutive twins keeps the optimum. With the
    migration term the optimum spreads over identical copies (``d^2`` is convex), and without
    these rows the solver explores every permutation of them.
    """
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for i, c in enumerate(build.cands):
        if lower[i] > 0 or current[i] > 0 or cap_of(c.offering) is not None:
            continue
        zones = c.zone_keys if by_zones else ()
        where = c.domains(survive) if survive in ("region", "cloud") else ()
        caps = c.class_caps or (c.capacity,)
        groups[(c.w, c.site, c.spot, c.hourly, caps, c.replicas_per_node, zones, where)].append(i)
    for same in groups.values():
        for a, b in itertools.pairwise(same):
            build.model.row((*((x_t[a], 1.0) for x_t in x), *((x_t[b], -1.0) for x_t in x)), 0.0, np.inf)


@dataclass(frozen=True)
class _Move:
    """One migration term ``alpha x d^2``, ``d = nodes(now) - nodes(before)``, bounded by ``s``."""

    s: int
    now: int
    before: int | None  # column of the previous period, None for period 0 (a constant)
    constant: int  # nodes deployed before period 0 (0 for later periods)
    limit: int  # largest |d| the bounds allow
    pools: int = 1  # identical new pools the move is spread over (s >= their least sum of squares)


def _add_migration(
    build: _Build,
    x: Sequence[Sequence[int]],
    current: Sequence[int],
    alpha: float,
    priced: Sequence[bool] | None = None,
    multiplicity: Sequence[int] | None = None,
) -> list[_Move]:
    """Variables ``s >= d^2`` for every pool and transition, cost ``alpha x s``.

    ``d`` is an integer, and on the integers ``d^2`` is the maximum of its tangent lines at
    integer points: ``(2k+1) |d| - k(k+1)`` for ``k = 0, 1, ...`` (tight at ``|d| = k`` and
    ``k+1``). So ``s >= (2k+1) d - k(k+1)`` and ``s >= -(2k+1) d - k(k+1)`` for every ``k`` below
    the largest ``|d|`` the bounds allow give ``s = d^2`` exactly at an optimum. The first few
    ``k`` are added here; :func:`_solve_with_cuts` adds the one an answer violates, if any.
    ``priced`` (default: every pool) says which pools pay the term.
    """
    model = build.model
    moves = []
    for t, x_t in enumerate(x):
        for i, col in enumerate(x_t):
            if priced is not None and not priced[i]:
                continue
            before = None if t == 0 else x[t - 1][i]
            constant = current[i] if t == 0 else 0
            high = model.upper[col]
            low_before = constant if before is None else model.lower[before]
            high_before = constant if before is None else model.upper[before]
            limit = int(max(high - low_before, high_before - model.lower[col]))
            if limit <= 0:
                continue
            pools = 1 if multiplicity is None else multiplicity[i]
            move = _Move(model.var(alpha, 0, np.inf, False), col, before, constant, limit, pools)
            for k in range(min(-(-limit // pools), _EAGER_TANGENTS)):
                _tangent(model, move, k)
            moves.append(move)
    return moves


_EAGER_TANGENTS = 3
"""Tangents per migration term added up front; the rest are added only when violated."""


def _tangent(model: _Model, move: _Move, k: int) -> None:
    """The two cuts of ``s >= h_K(d)`` through ``|d| = kK`` and ``(k + 1)K`` (``K = move.pools``).

    ``h_K`` (:func:`_spread_squares`) is linear between multiples of ``K`` with slope ``2k + 1``,
    so its lines are ``s >= (2k+1)|d| - K k(k+1)``; ``K = 1`` gives the tangents of ``d^2``.
    """
    for sign in (1.0, -1.0):
        slope = sign * (2 * k + 1)
        terms = [(move.s, 1.0), (move.now, -slope)]
        if move.before is not None:
            terms.append((move.before, slope))
        # s - slope x now + slope x before >= -K k(k+1) - slope x constant
        model.row(terms, -move.pools * k * (k + 1) - slope * move.constant, np.inf)


def _solve_with_cuts(
    model: _Model, moves: Sequence[_Move], time_limit: float | None, gap: float = 0.0
) -> tuple[np.ndarray, bool, float] | None:
    """Solve; while some ``s < d^2`` add the tangents at that ``|d|`` and solve again.

    Every cut is valid for ``s >= d^2``, so each solve bounds the true optimum from below; an
    answer with ``s = d^2`` everywhere is feasible for the true problem at that bound, hence optimal.
    """
    done: set[tuple[_Move, int]] = set()
    while True:
        solved = model.solve(time_limit, gap)
        if solved is None or not moves:
            return solved
        values = solved[0]
        added = False
        for move in moves:
            d = round(values[move.now]) - (
                move.constant if move.before is None else round(values[move.before])
            )
            k = (abs(d) - 1) // move.pools
            need = _spread_squares(abs(d), move.pools)
            if (
                values[move.s] < need - 1e-6 * max(1.0, need)
                and k >= _EAGER_TANGENTS
                and (move, k) not in done
            ):
                _tangent(model, move, k)
                done.add((move, k))
                added = True
        if not added:
            return solved


def _migration_cost(
    by_period: Sequence[Sequence[int]],
    current: Sequence[int],
    alpha: float,
    priced: Sequence[bool] | None = None,
    multiplicity: Sequence[int] | None = None,
) -> float:
    """``alpha x sum over pools (``priced`` ones, default all) and transitions of d^2`` for integer
    node counts (``h_K(d)`` for a column standing for ``K`` identical pools)."""
    if alpha <= 0:
        return 0.0
    total = 0
    previous = list(current)
    for nodes in by_period:
        total += sum(
            _spread_squares(abs(n - p), 1 if multiplicity is None else multiplicity[i])
            for i, (n, p) in enumerate(zip(nodes, previous, strict=True))
            if priced is None or priced[i]
        )
        previous = list(nodes)
    return alpha * total


def _spread_squares(d: int, pools: int) -> int:
    """``h_K(d)``: the least ``sum_k d_k^2`` over integers ``d_k`` with ``sum_k d_k = d`` (``K = pools``).

    An even spread: ``r`` pools move ``q + 1`` and ``K - r`` move ``q``, ``d = qK + r``.
    """
    q, r = divmod(d, pools)
    return pools * q * q + r * (2 * q + 1)


def _twin_groups(
    cands: Sequence[Candidate],
    fixed: Sequence[bool],
    survive: str | None,
    caps: Sequence[int | None] | None = None,
) -> list[list[int]]:
    """Candidates grouped into identical new pools (each other one alone), in first-seen order.

    Twins serve one workload on one capacity type at the same price, per-class capacity and
    replicas per node (in the same region or cloud when that is the failure domain), with the same
    quota ``caps[i]`` (none, or one no other candidate shares: ``fixed`` is True for a capped
    candidate whose offering another kept candidate also uses) and nothing deployed or required
    (``fixed`` False). Every constraint without zone placement or a pool count sees twins only
    through their total, and :func:`_unpool` shows that ``K`` twins whose total moves by ``d`` pay
    at least ``h_K(d)`` (:func:`_spread_squares`) and can pay exactly that in every transition at
    once, keeping the pools within one node of each other, so a total within ``K x q`` keeps every
    pool within its quota ``q``. So one column per group, priced ``h_K`` (quota ``K x q``), has
    the same optimum: the catalog's copies of one type across regions become one variable.
    """
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, c in enumerate(cands):
        if fixed[i]:
            groups[("fixed", i)] = [i]
            continue
        where = c.domains(survive) if survive in ("region", "cloud") else ()
        cap = None if caps is None else caps[i]
        key = (c.w, c.site, c.spot, c.hourly, c.class_caps or (c.capacity,), c.replicas_per_node, where, cap)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _balanced(totals: Sequence[int], pools: int) -> list[list[int]]:
    """Per-period nodes of ``pools`` identical new pools whose total follows ``totals``.

    Each move goes to the emptiest pools when the total grows and the fullest when it shrinks,
    ``q`` or ``q + 1`` nodes each, so the pools stay within one node of each other (never below
    zero) and every transition pays exactly ``h_K(d)``: the least any split can pay, since
    ``sum_k d_k^2`` over integers summing to ``d`` is smallest for an even spread.
    """
    nodes = [0] * pools
    out = []
    for total in totals:
        d = total - sum(nodes)
        q, r = divmod(abs(d), pools)
        step = 1 if d > 0 else -1
        order = sorted(range(pools), key=lambda k: (step * nodes[k], k))
        for rank, k in enumerate(order):
            nodes[k] += step * (q + (rank < r))
        out.append(list(nodes))
    return out


def _unpool(solution: _Solution, twins: Sequence[Sequence[int]], count: int) -> _Solution:
    """A solution over twin groups (:func:`_twin_groups`) as nodes and routes per candidate."""
    if all(len(same) == 1 for same in twins):
        return solution
    by_period = [[0] * count for _ in solution.by_period]
    for g, same in enumerate(twins):
        split = _balanced([nodes[g] for nodes in solution.by_period], len(same))
        for t, per_pool in enumerate(split):
            for pos, n in zip(same, per_pool, strict=True):
                by_period[t][pos] = n
    routes: dict[tuple[int, int, int], float] = {}
    for (t, b, g), r in solution.routes.items():
        total = solution.by_period[t][g]
        for pos in twins[g]:
            if by_period[t][pos]:
                routes[(t, b, pos)] = r * by_period[t][pos] / total
    zone_nodes = {(twins[g][0], zone): n for (g, zone), n in solution.zone_nodes.items()}
    return replace(
        solution,
        nodes=tuple(by_period[0]),
        by_period=tuple(tuple(p) for p in by_period),
        routes=routes,
        zone_nodes=zone_nodes,
    )


def _place_in_zones(
    cands: Sequence[Candidate],
    nodes: Sequence[int],
    placed: Sequence[tuple[int, tuple[ZoneKey, ...], ZoneKey]],
) -> dict[tuple[int, ZoneKey], int]:
    """Nodes per (candidate, zone).

    Each zone the solver placed for a (workload, zone set) gets one node of a candidate with that
    zone set; every other node goes round-robin over its candidate's zones.
    """
    todo: dict[tuple[int, tuple[ZoneKey, ...]], list[ZoneKey]] = defaultdict(list)
    for w_idx, zone_set, zone in placed:
        todo[(w_idx, zone_set)].append(zone)
    result: dict[tuple[int, ZoneKey], int] = defaultdict(int)
    for i, count in enumerate(nodes):
        c = cands[i]
        pending = todo[(c.w, c.zone_keys)]
        first, pending[:] = pending[:count], pending[count:]
        order = first + [z for z in c.zone_keys if z not in first]
        for k in range(count):
            result[(i, order[k % len(order)])] += 1
    return dict(result)


def _verify(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    nodes: Sequence[int],
    demands: Sequence[float],
    cap_of: Callable[[Offering], int | None],
    routes: dict[tuple[int, int], float] | None = None,
) -> None:
    """Check the rounded solution against the base constraints (guards against solver tolerance).

    ``routes`` maps ``(class, candidate)`` to routed units/s for workloads with classes.
    """
    routes = routes or {}
    for w_idx, w in enumerate(workloads):
        members = [i for i, c in enumerate(cands) if c.w == w_idx]
        if len(w.request_classes) > 1:
            _verify_routes(w, members, cands, nodes, demands[w_idx], routes)
        served = sum(cands[i].capacity * nodes[i] for i in members)
        if len(w.request_classes) == 1 and served < demands[w_idx] * (1 - _TOL) - _TOL:
            raise RuntimeError(
                f"solver returned {served} units/s for {w.name}, below demand {demands[w_idx]}"
            )
        replicas = sum(cands[i].replicas_per_node * nodes[i] for i in members)
        if replicas < w.min_replicas:
            raise RuntimeError(f"solver returned {replicas} replicas for {w.name}, below {w.min_replicas}")
    used: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
    for c, n in zip(cands, nodes, strict=True):
        used[c.offering.key] += n
    for c in cands:
        cap = cap_of(c.offering)
        if cap is not None and used[c.offering.key] > cap:
            raise RuntimeError(
                f"solver returned {used[c.offering.key]} nodes of {c.label}, above quota {cap}"
            )


def _verify_routes(
    w: Workload,
    members: Sequence[int],
    cands: Sequence[Candidate],
    nodes: Sequence[int],
    demand: float,
    routes: dict[tuple[int, int], float],
) -> None:
    """Every class is routed in full, and no pool carries more than its nodes serve."""
    for b, klass in enumerate(w.request_classes):
        routed = sum(routes.get((b, i), 0.0) for i in members)
        if routed < demand * klass.share * (1 - 1e-6) - 1e-6:
            raise RuntimeError(f"solver routed {routed} units/s of {w.name}/{klass.name}, below its demand")
    for i in members:
        load = sum(routes.get((b, i), 0.0) / cap for b, cap in enumerate(cands[i].class_caps) if cap > 0)
        if load > nodes[i] + 1e-6 * max(1, nodes[i]):
            raise RuntimeError(f"solver routed {load:.6f} nodes' worth of {w.name} onto {nodes[i]} node(s)")


def plan_for(
    workloads: Sequence[Workload],
    catalog: Catalog | None = None,
    options: SizingOptions | None = None,
    *,
    explain: bool = True,
) -> Plan:
    """Size node pools for workloads: the proven cheapest plan, or why none exists.

    Args:
        workloads: The workloads, sized together (they share offering quotas).
        catalog: Offerings to choose from; ``None`` loads the bundled catalog.
        options: Extensions; ``None`` = all off.
        explain: Also compute each workload's runner-up (one extra solve per workload).

    Returns:
        A :class:`~sizing.plan.Plan` with ``status`` ``"optimal"`` or ``"infeasible"``.

    Raises:
        ValueError: Two workloads share a name.
    """
    workloads = tuple(workloads)
    check_unique(workloads)
    catalog = load_catalog() if catalog is None else catalog
    options = options or SizingOptions()
    cands, facts = candidates(workloads, catalog, options)
    reason = _precheck(workloads, cands, facts, options)
    if reason is not None:
        return Plan("infeasible", 0.0, (), reason=reason, variables=0)
    current, unmatched_penalty = _current_nodes(workloads, cands, options)
    try:
        solution = _solve(workloads, cands, options, current=current)
    except _NoSolution:
        message = f"no plan found within the time limit of {options.time_limit_s:g} s"
        return Plan("time_limit", 0.0, (), reason=Reason("time_limit", None, message))
    if solution is None:
        return Plan("infeasible", 0.0, (), reason=_diagnose(workloads, cands, options))
    by_period = solution.by_period or (solution.nodes,)
    period_plans = []
    peak_covered: dict[int, bool] = {}
    for t, nodes in enumerate(by_period):
        at_t = [w.at_period(t) for w in workloads]
        max_nodes, covered = _autoscale(at_t, cands, options, nodes)
        if t == 0:
            peak_covered = covered
        cost = (
            solution.period_costs[t]
            if solution.period_costs
            else sum(c.hourly * options.period_hours * n for c, n in zip(cands, nodes, strict=True))
        )
        period_plans.append(PeriodPlan(t, _pools(workloads, cands, nodes, max_nodes), cost))
    pools = period_plans[0].pools
    context = _Context(workloads, cands, options, solution, current)
    reports = tuple(
        _report(w_idx, context, facts[w_idx], peak_covered, explain and solution.proven)
        for w_idx in range(len(workloads))
    )
    reason = None
    if not solution.proven:
        reason = Reason(
            "time_limit",
            None,
            f"no proven optimum within {options.time_limit_s:g} s; the plan shown is within "
            f"{solution.gap:.2%} of the optimum",
        )
    explained = explain and solution.proven
    return Plan(
        status="optimal" if solution.proven else "time_limit",
        reason=reason,
        mip_gap=solution.gap,
        monthly_usd=sum(p.monthly_usd for p in pools),
        pools=pools,
        workloads=reports,
        objective_usd=solution.objective + unmatched_penalty,
        solve_seconds=solution.seconds,
        variables=solution.variables,
        periods=tuple(period_plans),
        period_hours=options.period_hours,
        migration_usd=solution.migration_usd + _unmatched_migration(workloads, cands, options),
        survive_cost_usd=_survive_cost(workloads, cands, options, solution, current) if explained else None,
        slo_cost_usd=_slo_cost(workloads, catalog, options, solution.objective) if explained else None,
    )


def _unmatched_migration(
    workloads: Sequence[Workload], cands: Sequence[Candidate], options: SizingOptions
) -> float:
    """Migration cost of deployed pools no candidate matches (they go to zero nodes in period 0)."""
    no_churn = options.model_copy(update={"churn_usd_per_node": 0.0})
    return _current_nodes(workloads, cands, no_churn)[1]


def _survive_cost(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    solution: _Solution,
    current: Sequence[int],
) -> float | None:
    """Objective with survival minus the objective without it (one extra solve)."""
    if options.survive is None:
        return None
    without = _solve_quietly(workloads, cands, options, _Switches(survive=False), current=current)
    return None if without is None else solution.objective - without.objective


def _slo_cost(
    workloads: Sequence[Workload], catalog: Catalog, options: SizingOptions, objective: float
) -> float | None:
    """Objective at the workloads' latency targets minus the objective at offline capacity.

    Each workload with an SLO is re-sized with the offline figures of the measurement table (and
    offline roofline estimates) for the accelerators whose figure came from the table.
    """
    if not any(w.slo is not None and w.slo != "offline" and w.model in capacity.MODELS for w in workloads):
        return None
    relaxed = [_offline(w) for w in workloads]
    cands, _ = candidates(relaxed, catalog, options)
    current, _ = _current_nodes(relaxed, cands, options)
    offline = _solve_quietly(relaxed, cands, options, current=current)
    return None if offline is None else objective - offline.objective


def _offline(w: Workload) -> Workload:
    """The workload at offline capacity: table figures of its SLO replaced by the offline ones."""
    if w.slo is None or w.slo == "offline" or w.model not in capacity.MODELS:
        return w
    at_slo = capacity.slo_throughput(w.model, w.slo)
    offline = capacity.slo_throughput(w.model, "offline")
    table = {
        acc: offline.get(acc, value) if at_slo.get(acc) == value else value
        for acc, value in w.throughput.items()
    }
    return w.model_copy(update={"slo": "offline", "throughput": table})


def _precheck(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    facts: Sequence[_Eligibility],
    options: SizingOptions,
) -> Reason | None:
    """Reasons a single workload cannot be served at all, found without solving."""
    for w_idx, w in enumerate(workloads):
        fact = facts[w_idx]
        demand = max(w.demands)
        if demand <= 0 and w.min_replicas <= 0:
            continue
        where = f"clouds {', '.join(w.clouds) if w.clouds else 'any'}, regions {', '.join(w.regions) if w.regions else 'any'}"
        if not fact.allowed:
            return Reason("no_allowed_offering", w.name, f"no GPU offering in the catalog for {where}")
        if not fact.with_accelerator:
            offered = sorted({o.accelerator or "" for o in fact.allowed})
            return Reason(
                "no_accelerator",
                w.name,
                f"no offering in {where} has an accelerator in throughput ({', '.join(sorted(w.throughput))}); "
                f"offered there: {', '.join(offered)}",
            )
        own = [c for c in cands if c.w == w_idx]
        if not own and not fact.zero_quota:
            largest = max(fact.too_small, key=lambda o: o.gpus * o.gpu_mem_gib)
            return Reason(
                "memory",
                w.name,
                f"a replica needs {w.model_mem_gib:.1f} GiB of GPU memory; the largest node with a listed "
                f"accelerator, {largest.cloud}/{largest.region}/{largest.instance_type}, has "
                f"{largest.gpus} x {largest.gpu_mem_gib:g} GiB",
            )
        for b, klass in enumerate(w.classes or ()):
            if demand > 0 and not any(c.class_caps[b] > 0 for c in [*own, *fact.zero_quota]):
                return Reason(
                    "no_accelerator",
                    w.name,
                    f"class {klass.name}: no usable offering in {where} has an accelerator in its throughput "
                    f"({', '.join(sorted(klass.throughput))})",
                )
        most = _max_within_quota(own)
        if w.classes is None and most[0] < demand * (1 - _TOL) or most[1] < w.min_replicas:
            return Reason(
                "quota",
                w.name,
                f"max_nodes allows at most {most[0]:,.0f} units/s and {most[1]:,} replicas on the usable "
                f"offerings; needed {demand:,.0f} units/s and {w.min_replicas} replicas",
            )
        if options.min_zones > 1:
            zones = {z for c in own if c.offering.max_nodes != 0 for z in c.zone_keys}
            if len(zones) < options.min_zones:
                return Reason(
                    "zones",
                    w.name,
                    f"spreading over {options.min_zones} zones needs that many zones; the usable offerings "
                    f"are in {len(zones)} ({', '.join('/'.join(z) for z in sorted(zones))})",
                )
    return None


def _max_within_quota(cands: Sequence[Candidate]) -> tuple[float, float]:
    """Largest capacity (units/s) and replica count the candidates' quotas allow (inf when uncapped)."""
    best: dict[tuple[str, str, str, str, int], tuple[float, float, int | None]] = {}
    for c in cands:
        key = c.offering.key
        cap, rep, limit = best.get(key, (0.0, 0.0, c.offering.max_nodes))
        best[key] = (max(cap, c.capacity), max(rep, c.replicas_per_node), limit)
    capacity_total = 0.0
    replicas_total = 0.0
    for cap, rep, limit in best.values():
        if limit is None:
            return math.inf, math.inf
        capacity_total += cap * limit
        replicas_total += rep * limit
    return capacity_total, replicas_total


def _solve_or_unknown(
    workloads: Sequence[Workload], cands: Sequence[Candidate], options: SizingOptions, switches: _Switches
) -> _Solution | bool | None:
    """Like :func:`_solve`, but ``True`` (not known infeasible) when the time limit ran out."""
    try:
        return _solve(workloads, cands, options, switches)
    except _NoSolution:
        return True


def _diagnose(workloads: Sequence[Workload], cands: Sequence[Candidate], options: SizingOptions) -> Reason:
    """Name the constraint that makes the joint problem infeasible (each workload alone passed prechecks)."""
    names = ", ".join(w.name for w in workloads)
    steps = (
        (
            _Switches(zones=False, floor=False, pools=False, churn=False, survive=False),
            "quota",
            f"shared quotas: workloads {names} together need more nodes than max_nodes allows",
        ),
        (
            _Switches(zones=True, floor=False, pools=False, churn=False, survive=False),
            "zones",
            f"spreading every workload over {options.min_zones} zones does not fit within max_nodes",
        ),
        (
            _Switches(zones=True, floor=True, pools=True, churn=False, survive=False),
            "max_pools",
            f"at most {options.max_pools_per_workload} pool(s) per workload cannot meet demand within max_nodes "
            "together with the other constraints",
        ),
        (
            _Switches(zones=True, floor=True, pools=True, churn=False, survive=True),
            "survive",
            f"no plan meets demand with any one {options.survive} lost within max_nodes and the other "
            "constraints (a workload may have offerings in one such domain only)",
        ),
    )
    for switches, code, message in steps:
        if _solve_or_unknown(workloads, cands, options, switches) is None:
            return Reason(code, None, message)
    raise RuntimeError("the joint problem is infeasible but no single extension explains it")


def _solve_quietly(*args: Any, **kwargs: Any) -> _Solution | None:
    """:func:`_solve` for secondary solves: no plan within the time limit reads as no plan."""
    try:
        return _solve(*args, **kwargs)
    except _NoSolution:
        return None


def _autoscale(
    workloads: Sequence[Workload], cands: Sequence[Candidate], options: SizingOptions, nodes: Sequence[int]
) -> tuple[list[int], dict[int, bool]]:
    """Autoscaler max per candidate from a peak-demand solve; max = nodes when autoscale is off."""
    max_nodes = list(nodes)
    covered: dict[int, bool] = {}
    if not options.autoscale:
        return max_nodes, covered
    used: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
    for c, n in zip(cands, nodes, strict=True):
        used[c.offering.key] += n
    for w_idx, w in enumerate(workloads):
        chosen = [i for i, c in enumerate(cands) if c.w == w_idx and nodes[i] > 0]
        if not chosen or w.peak <= w.base:
            continue
        # Solve the workload alone (index 0) over its chosen pools at peak demand.
        subset = [replace(cands[i], w=0) for i in chosen]
        own_used: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
        for i in chosen:
            own_used[cands[i].offering.key] += nodes[i]
        quota = {
            c.offering.key: c.offering.max_nodes - (used[c.offering.key] - own_used[c.offering.key])
            for c in subset
            if c.offering.max_nodes is not None
        }
        peak = _solve_quietly(
            [w],
            subset,
            options,
            _Switches(zones=False, floor=False, pools=False, churn=False, survive=False),
            demands=[[w.peak]],
            lower=[nodes[i] for i in chosen],
            quota=quota,
        )
        covered[w_idx] = peak is not None
        for pos, i in enumerate(chosen):
            if peak is not None:
                max_nodes[i] = max(nodes[i], peak.nodes[pos])
            else:
                limit = quota.get(cands[i].offering.key)
                max_nodes[i] = nodes[i] if limit is None else max(nodes[i], limit)
    return max_nodes, covered


def _pools(
    workloads: Sequence[Workload], cands: Sequence[Candidate], nodes: Sequence[int], max_nodes: Sequence[int]
) -> tuple[Pool, ...]:
    pools = []
    for i, c in enumerate(cands):
        if nodes[i] <= 0:
            continue
        o = c.offering
        pools.append(
            Pool(
                workload=workloads[c.w].name,
                cloud=o.cloud,
                region=o.region,
                instance_type=o.instance_type,
                accelerator=o.accelerator or "",
                gpus_per_node=o.gpus,
                gpus_per_replica=c.gpus_per_replica,
                replicas_per_node=c.replicas_per_node,
                nodes=nodes[i],
                min_nodes=nodes[i],
                max_nodes=max_nodes[i],
                spot=c.spot,
                monthly_usd=nodes[i] * c.monthly,
            )
        )
    order = {w.name: k for k, w in enumerate(workloads)}
    return tuple(
        sorted(pools, key=lambda p: (order[p.workload], -p.monthly_usd, p.cloud, p.region, p.instance_type))
    )


class _Context:
    """The solved problem, with per-workload members and per-offering usage computed once."""

    def __init__(
        self,
        workloads: Sequence[Workload],
        cands: Sequence[Candidate],
        options: SizingOptions,
        solution: _Solution,
        current: Sequence[int],
    ) -> None:
        self.workloads = workloads
        self.cands = cands
        self.options = options
        self.solution = solution
        self.current = current
        self.members: dict[int, list[int]] = defaultdict(list)
        self.used: dict[tuple[str, str, str, str, int], int] = defaultdict(int)
        for i, c in enumerate(cands):
            self.members[c.w].append(i)
            self.used[c.offering.key] += solution.nodes[i]


def _report(
    w_idx: int, context: _Context, fact: _Eligibility, peak_covered: dict[int, bool], explain: bool
) -> WorkloadReport:
    workloads, cands, options = context.workloads, context.cands, context.options
    solution, current = context.solution, context.current
    w = workloads[w_idx]
    nodes = solution.nodes
    chosen = [i for i in context.members[w_idx] if nodes[i] > 0]
    capacity_total = sum(cands[i].capacity * nodes[i] for i in chosen)
    replicas = sum(cands[i].replicas_per_node * nodes[i] for i in chosen)
    monthly = sum(cands[i].monthly * nodes[i] for i in chosen)
    zones: dict[str, int] = defaultdict(int)
    for (i, zone), n in solution.zone_nodes.items():
        if cands[i].w == w_idx:
            zones["/".join(zone)] += n
    caveats = sorted(
        {f"{cands[i].offering.instance_type}: {text}" for i in chosen for text in cands[i].offering.caveats}
        | {
            f"{cands[i].offering.instance_type}: ESTIMATED: roofline capacity (+/-50%), credited at half"
            for i in chosen
            if cands[i].estimated
        }
    )
    return WorkloadReport(
        workload=w.name,
        demand=w.base,
        capacity=capacity_total,
        replicas=replicas,
        monthly_usd=monthly,
        bound_by=_bound_by(w_idx, context, fact, chosen, zones),
        runner_up=_runner_up(w_idx, workloads, cands, options, solution, current, chosen, monthly)
        if explain
        else None,
        zones=dict(zones),
        peak_covered=peak_covered.get(w_idx),
        caveats=tuple(caveats),
        classes=_class_routes(w, context.members[w_idx], cands, solution),
    )


def _class_routes(
    w: Workload, members: Sequence[int], cands: Sequence[Candidate], solution: _Solution
) -> tuple[ClassRoute, ...]:
    """Period 0 routing of each class, with the reason: the cheapest cost per unit of that class."""
    if len(w.request_classes) < 2:
        return ()
    found = []
    for b, klass in enumerate(w.request_classes):
        demand = w.base * klass.share
        routes: dict[str, float] = defaultdict(float)
        for i in members:
            routed = solution.routes.get((0, b, i), 0.0)
            if routed > 0 and demand > 0:
                routes[cands[i].label] += routed / demand
        able = [i for i in members if cands[i].class_caps[b] > 0]
        best = min(able, key=lambda i: cands[i].hourly / cands[i].class_caps[b], default=None)
        why = (
            f"cheapest per unit/s of this class alone: {cands[best].label} at "
            f"{cands[best].hourly / cands[best].class_caps[b] * 1000:.3f} USD/h per 1,000 units/s"
            if best is not None
            else ""
        )
        found.append(ClassRoute(klass.name, klass.share, demand, dict(routes), why))
    return tuple(found)


def _bound_by(
    w_idx: int, context: _Context, fact: _Eligibility, chosen: Sequence[int], zones: dict[str, int]
) -> tuple[str, ...]:
    """What determined the workload's result (see :class:`~sizing.plan.WorkloadReport`)."""
    cands, options, nodes, current = context.cands, context.options, context.solution.nodes, context.current
    w = context.workloads[w_idx]
    if not chosen:
        return ()
    tags: list[str] = []
    served = sum(cands[i].capacity * nodes[i] for i in chosen)
    replicas = sum(cands[i].replicas_per_node * nodes[i] for i in chosen)
    if w.base > 0 and any(served - cands[i].capacity < w.base * (1 - _TOL) for i in chosen):
        tags.append("demand")
    if w.min_replicas > 0 and any(replicas - cands[i].replicas_per_node < w.min_replicas for i in chosen):
        tags.append("min_replicas")
    worst = max(cands[i].unit_cost for i in chosen)
    best = min(cands[i].unit_cost for i in chosen)
    chosen_set = set(chosen)
    full = [
        k
        for k in context.members[w_idx]
        if cands[k].offering.max_nodes is not None
        and context.used[cands[k].offering.key] >= cands[k].offering.max_nodes
        and (k in chosen_set or cands[k].unit_cost < worst)
    ]
    if full or any(c.unit_cost < worst for c in fact.zero_quota):
        tags.append("quota")
    too_small_cheaper = any(
        o.hourly(w.spot) / (o.gpus * w.throughput[o.accelerator or ""] * w.target_utilization) < best
        for o in fact.too_small
    )
    if too_small_cheaper or any(cands[i].gpus_per_replica > 1 for i in chosen):
        tags.append("memory")
    if options.min_zones > 1 and len(zones) <= options.min_zones:
        tags.append("zones")
    if options.on_demand_floor > 0 and w.spot and w.base > 0:
        on_demand = [i for i in chosen if not cands[i].spot]
        od_served = sum(cands[i].capacity * nodes[i] for i in on_demand)
        limit = options.on_demand_floor * w.base
        if any(od_served - cands[i].capacity < limit * (1 - _TOL) for i in on_demand):
            tags.append("on_demand_floor")
    if options.max_pools_per_workload is not None and len(chosen) >= options.max_pools_per_workload:
        tags.append("max_pools")
    if options.churn_usd_per_node > 0 and any(current[i] > 0 for i in chosen):
        tags.append("churn")
    if options.survive is not None and w.base > 0:
        tags.append("survive")
    if len(w.request_classes) > 1 and w.base > 0:
        tags.append("classes")
    return tuple(tags)


def _runner_up(
    w_idx: int,
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    solution: _Solution,
    current: Sequence[int],
    chosen: Sequence[int],
    monthly: float,
) -> RunnerUp | None:
    """Best plan when the workload may not use any offering it uses now."""
    if not chosen:
        return None
    banned = {cands[i].offering.key for i in chosen}
    keep = [k for k, c in enumerate(cands) if not (c.w == w_idx and c.offering.key in banned)]
    subset = [cands[k] for k in keep]
    alternative = _solve_quietly(workloads, subset, options, current=[current[k] for k in keep])
    if alternative is None:
        return None
    own = [(subset[j], n) for j, n in enumerate(alternative.nodes) if subset[j].w == w_idx and n > 0]
    alt_monthly = sum(c.monthly * n for c, n in own)
    margin = alternative.objective - solution.objective
    return RunnerUp(
        pools=tuple(f"{c.label} x{n}" for c, n in sorted(own, key=lambda cn: -cn[0].monthly * cn[1])),
        monthly_usd=alt_monthly,
        margin_usd=margin,
        margin_pct=100.0 * margin / monthly if monthly > 0 else 0.0,
    )
