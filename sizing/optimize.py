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

Every variable has an upper bound ``U = max(nodes the variable needs alone to meet its workload,
min_zones, current nodes, lower bound)``, capped by ``max_nodes``; no optimal solution needs more
nodes in one variable, so the bound keeps the optimum while tightening the relaxation. Dominated
choices are dropped before solving (see :func:`_prune`), which also keeps the optimum.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from sizing import capacity
from sizing.catalog import Catalog, Offering, expected_gpus, load_catalog
from sizing.plan import HOURS_PER_MONTH, Plan, Pool, Reason, RunnerUp, WorkloadReport
from sizing.workloads import SizingOptions, Workload, check_unique

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
        capacity: Usable throughput of one node, units/s: node throughput x target utilisation.
        hourly: Price of one node, USD per hour.
    """

    w: int
    offering: Offering
    spot: bool
    gpus_per_replica: int
    replicas_per_node: int
    capacity: float
    hourly: float

    @property
    def monthly(self) -> float:
        """Price of one node for a month, USD."""
        return self.hourly * HOURS_PER_MONTH

    @property
    def unit_cost(self) -> float:
        """USD per hour per unit/s of usable capacity (how attractive the candidate is)."""
        return self.hourly / self.capacity

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
    nodes: tuple[int, ...]
    objective: float
    seconds: float
    variables: int
    zone_nodes: dict[tuple[int, ZoneKey], int]
    proven: bool = True
    gap: float = 0.0


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
            ):
                continue
            fact.allowed.append(o)
            if o.accelerator not in w.throughput:
                continue
            fact.with_accelerator.append(o)
            g = capacity.gpus_per_replica(w.model_mem_gib, o.gpu_mem_gib, o.gpus)
            if g is None:
                fact.too_small.append(o)
                continue
            per_node = capacity.node_throughput(o.gpus, g, w.throughput[o.accelerator]) * w.target_utilization
            rpn = capacity.replicas_per_node(o.gpus, g)
            spot_priced = w.spot and o.spot_price_hr is not None
            variants = [True] if spot_priced else [False]
            if spot_priced and options.on_demand_floor > 0:
                variants.append(False)
            for spot in variants:
                cand = Candidate(w_idx, o, spot, g, rpn, per_node, o.hourly(spot))
                (fact.zero_quota if o.max_nodes == 0 else found).append(cand)
        facts.append(fact)
    return found, facts


def _current_nodes(
    workloads: Sequence[Workload], cands: Sequence[Candidate], options: SizingOptions
) -> tuple[list[int], float]:
    """Current nodes per candidate, and the constant penalty for current pools no candidate matches."""
    names = {w.name: i for i, w in enumerate(workloads)}
    current = [0] * len(cands)
    unmatched = 0
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
    return current, options.churn_usd_per_node * unmatched


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

    def solve(self, time_limit: float | None = None) -> tuple[np.ndarray, bool, float] | None:
        """``(values, proven optimal, relative gap)``, or ``None`` when infeasible.

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
            options={"mip_rel_gap": 0.0, **({"time_limit": time_limit} if time_limit else {})},
        )
        if result.status == 0:
            return result.x, True, 0.0
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


def _prune(
    cands: Sequence[Candidate],
    protected: Sequence[bool],
    uncapped: Sequence[bool],
    by_zones: bool,
) -> list[bool]:
    """Which candidates to keep: drop those another candidate dominates (exact).

    ``a`` dominates ``b`` when both serve the same workload on the same capacity type, ``a`` has
    no quota, costs no more per node, has at least ``b``'s capacity and replicas per node, and
    (when zones matter) lists every zone ``b`` lists. Replacing every node of ``b`` by a node of
    ``a`` in the same zones then keeps every constraint (demand, replicas, quota, floor, zones,
    pool count) and does not raise the objective (churn included, because ``b`` is never a
    currently deployed pool), so an optimum without ``b`` exists. Protected candidates (deployed
    now, or with a lower bound) are kept. One sweep per group in (cost, -capacity, -replicas)
    order finds every dominated candidate.
    """
    keep = [True] * len(cands)
    groups: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        groups[(c.w, c.spot)].append(i)
    for members in groups.values():
        members.sort(key=lambda i: (cands[i].monthly, -cands[i].capacity, -cands[i].replicas_per_node, i))
        # Best capacity so far per (zone set, replicas per node) among uncapped candidates.
        best: dict[tuple[frozenset[ZoneKey], int], float] = {}
        for i in members:
            c = cands[i]
            zones = frozenset(c.zone_keys) if by_zones else frozenset()
            dominated = any(
                cap >= c.capacity and rpn >= c.replicas_per_node and have >= zones
                for (have, rpn), cap in best.items()
            )
            if dominated and not protected[i]:
                keep[i] = False
            elif uncapped[i]:
                key = (zones, c.replicas_per_node)
                best[key] = max(best.get(key, -1.0), c.capacity)
    return keep


def _solve(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches | None = None,
    *,
    demands: Sequence[float] | None = None,
    lower: Sequence[int] | None = None,
    quota: dict[tuple[str, str, str, str, int], int] | None = None,
    current: Sequence[int] | None = None,
) -> _Solution | None:
    """Solve the MILP over ``cands`` after dropping dominated candidates; ``None`` when infeasible.

    Returns nodes for every candidate of ``cands`` (0 for dropped ones).
    """
    switches = switches or _Switches()
    lower = [0] * len(cands) if lower is None else list(lower)
    current = [0] * len(cands) if current is None else list(current)
    quota = quota or {}
    uncapped = [quota.get(c.offering.key, c.offering.max_nodes) is None for c in cands]
    protected = [lower[i] > 0 or current[i] > 0 for i in range(len(cands))]
    min_zones = options.min_zones if switches.zones else 1
    keep = _prune(cands, protected, uncapped, by_zones=min_zones > 1)
    kept = [i for i in range(len(cands)) if keep[i]]
    solution = _solve_kept(
        workloads,
        [cands[i] for i in kept],
        options,
        switches,
        demands=demands,
        lower=[lower[i] for i in kept],
        quota=quota,
        current=[current[i] for i in kept],
    )
    if solution is None:
        return None
    nodes = [0] * len(cands)
    for pos, i in enumerate(kept):
        nodes[i] = solution.nodes[pos]
    zone_nodes = {(kept[pos], zone): n for (pos, zone), n in solution.zone_nodes.items()}
    return replace(solution, nodes=tuple(nodes), zone_nodes=zone_nodes)


def _solve_kept(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    options: SizingOptions,
    switches: _Switches,
    *,
    demands: Sequence[float] | None,
    lower: Sequence[int],
    quota: dict[tuple[str, str, str, str, int], int],
    current: Sequence[int],
) -> _Solution | None:
    """Build and solve the MILP over exactly ``cands``; ``None`` when infeasible."""
    started = time.perf_counter()
    demands = [w.demand for w in workloads] if demands is None else demands
    churn = options.churn_usd_per_node if switches.churn else 0.0
    min_zones = options.min_zones if switches.zones else 1
    floor = options.on_demand_floor if switches.floor else 0.0
    max_pools = options.max_pools_per_workload if switches.pools else None

    def cap_of(o: Offering) -> int | None:
        return quota.get(o.key, o.max_nodes)

    model = _Model()
    x: list[int] = []
    zone_cols: list[tuple[int, tuple[ZoneKey, ...], ZoneKey, int]] = []
    for i, c in enumerate(cands):
        w = workloads[c.w]
        need = max(_ceil_div(demands[c.w], c.capacity), _ceil_div(w.min_replicas, c.replicas_per_node))
        upper = max(need, min_zones if need else 0, current[i], lower[i])
        cap = cap_of(c.offering)
        if cap is not None:
            upper = min(upper, cap)
        # With nothing deployed, |nodes - 0| = nodes: the churn penalty is part of the price.
        price = c.monthly + (churn if current[i] == 0 else 0.0)
        x.append(model.var(price, lower[i], max(upper, lower[i]), True))

    by_workload: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        by_workload[c.w].append(i)
    for w_idx, w in enumerate(workloads):
        members = by_workload.get(w_idx, [])
        if demands[w_idx] > 0:
            model.row(((x[i], cands[i].capacity) for i in members), demands[w_idx], np.inf)
        if w.min_replicas > 0:
            model.row(((x[i], cands[i].replicas_per_node) for i in members), w.min_replicas, np.inf)
        if floor > 0 and w.spot and demands[w_idx] > 0:
            model.row(
                ((x[i], cands[i].capacity) for i in members if not cands[i].spot),
                floor * demands[w_idx],
                np.inf,
            )
        if max_pools is not None and members:
            used = [model.var(0.0, 0, 1, True) for _ in members]
            for i, u in zip(members, used, strict=True):
                model.row(((x[i], 1.0), (u, -model.upper[x[i]])), -np.inf, 0.0)
            model.row(((u, 1.0) for u in used), -np.inf, max_pools)
            # Valid cuts: the pools in use must be able to cover demand (and the on-demand floor)
            # at their upper bounds. They tighten the relaxation without cutting any solution.
            demand = demands[w_idx]
            if demand > 0:
                model.row(
                    (
                        (u, min(cands[i].capacity * model.upper[x[i]], demand))
                        for i, u in zip(members, used, strict=True)
                    ),
                    demand,
                    np.inf,
                )
                if floor > 0 and w.spot:
                    model.row(
                        (
                            (u, min(cands[i].capacity * model.upper[x[i]], floor * demand))
                            for i, u in zip(members, used, strict=True)
                            if not cands[i].spot
                        ),
                        floor * demand,
                        np.inf,
                    )
        if min_zones > 1 and members and (demands[w_idx] > 0 or w.min_replicas > 0):
            # Nodes of candidates listing the same zones are interchangeable for placement, so
            # placement is decided per zone set S: placed(S, z) = 1 puts one node of S in zone z;
            # S places at most as many zones as its candidates have nodes; a zone is covered when
            # some zone set places a node there.
            by_zone_set: dict[tuple[ZoneKey, ...], list[int]] = defaultdict(list)
            for i in members:
                by_zone_set[cands[i].zone_keys].append(i)
            covers: dict[ZoneKey, list[int]] = defaultdict(list)
            for zone_set, same in by_zone_set.items():
                placed = []
                for zone in zone_set:
                    col = model.var(0.0, 0, 1, True)
                    zone_cols.append((w_idx, zone_set, zone, col))
                    placed.append(col)
                    covers[zone].append(col)
                model.row((*((x[i], 1.0) for i in same), *((col, -1.0) for col in placed)), 0.0, np.inf)
            flags = []
            for cols in covers.values():
                flag = model.var(0.0, 0, 1, True)
                flags.append(flag)
                model.row(((flag, 1.0), *((col, -1.0) for col in cols)), -np.inf, 0.0)
            model.row(((flag, 1.0) for flag in flags), min_zones, np.inf)

    per_offering: dict[tuple[str, str, str, str, int], list[int]] = defaultdict(list)
    for i, c in enumerate(cands):
        per_offering[c.offering.key].append(i)
    for members in per_offering.values():
        cap = cap_of(cands[members[0]].offering)
        if cap is not None and sum(model.upper[x[i]] for i in members) > cap:
            model.row(((x[i], 1.0) for i in members), -np.inf, cap)

    if churn > 0:
        for i in (i for i in range(len(cands)) if current[i] > 0):
            dev = model.var(churn, 0, np.inf, False)
            model.row(((dev, 1.0), (x[i], -1.0)), -current[i], np.inf)
            model.row(((dev, 1.0), (x[i], 1.0)), current[i], np.inf)

    solved = model.solve(options.time_limit_s)
    if solved is None:
        return None
    values, proven, gap = solved
    nodes = tuple(round(values[col]) for col in x)
    _verify(workloads, cands, nodes, demands, cap_of)
    zone_nodes = (
        _place_in_zones(cands, nodes, [(w, zs, z) for w, zs, z, col in zone_cols if round(values[col])])
        if min_zones > 1
        else {}
    )
    cost = sum(c.monthly * n for c, n in zip(cands, nodes, strict=True))
    penalty = churn * sum(abs(n - cur) for n, cur in zip(nodes, current, strict=True))
    seconds = time.perf_counter() - started
    return _Solution(nodes, cost + penalty, seconds, len(model.cost), zone_nodes, proven, gap)


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
) -> None:
    """Check the rounded solution against the base constraints (guards against solver tolerance)."""
    for w_idx, w in enumerate(workloads):
        members = [i for i, c in enumerate(cands) if c.w == w_idx]
        served = sum(cands[i].capacity * nodes[i] for i in members)
        if served < demands[w_idx] * (1 - _TOL) - _TOL:
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
    max_nodes, peak_covered = _autoscale(workloads, cands, options, solution.nodes)
    pools = _pools(workloads, cands, solution.nodes, max_nodes)
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
    )


def _precheck(
    workloads: Sequence[Workload],
    cands: Sequence[Candidate],
    facts: Sequence[_Eligibility],
    options: SizingOptions,
) -> Reason | None:
    """Reasons a single workload cannot be served at all, found without solving."""
    for w_idx, w in enumerate(workloads):
        fact = facts[w_idx]
        if w.demand <= 0 and w.min_replicas <= 0:
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
        most = _max_within_quota(own)
        if most[0] < w.demand * (1 - _TOL) or most[1] < w.min_replicas:
            return Reason(
                "quota",
                w.name,
                f"max_nodes allows at most {most[0]:,.0f} units/s and {most[1]:,} replicas on the usable "
                f"offerings; needed {w.demand:,.0f} units/s and {w.min_replicas} replicas",
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
            _Switches(zones=False, floor=False, pools=False, churn=False),
            "quota",
            f"shared quotas: workloads {names} together need more nodes than max_nodes allows",
        ),
        (
            _Switches(zones=True, floor=False, pools=False, churn=False),
            "zones",
            f"spreading every workload over {options.min_zones} zones does not fit within max_nodes",
        ),
        (
            _Switches(zones=True, floor=True, pools=True, churn=False),
            "max_pools",
            f"at most {options.max_pools_per_workload} pool(s) per workload cannot meet demand within max_nodes "
            "together with the other constraints",
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
        if not chosen or w.peak <= w.demand:
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
            _Switches(zones=False, floor=False, pools=False, churn=False),
            demands=[w.peak],
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
    )
    return WorkloadReport(
        workload=w.name,
        demand=w.demand,
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
    )


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
    if w.demand > 0 and any(served - cands[i].capacity < w.demand * (1 - _TOL) for i in chosen):
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
    if options.on_demand_floor > 0 and w.spot and w.demand > 0:
        on_demand = [i for i in chosen if not cands[i].spot]
        od_served = sum(cands[i].capacity * nodes[i] for i in on_demand)
        limit = options.on_demand_floor * w.demand
        if any(od_served - cands[i].capacity < limit * (1 - _TOL) for i in on_demand):
            tags.append("on_demand_floor")
    if options.max_pools_per_workload is not None and len(chosen) >= options.max_pools_per_workload:
        tags.append("max_pools")
    if options.churn_usd_per_node > 0 and any(current[i] > 0 for i in chosen):
        tags.append("churn")
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
