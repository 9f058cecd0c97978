"""The sizing result as plain data, and its text and JSON renderings.

Money is USD; ``monthly_usd`` is the hourly price x :data:`HOURS_PER_MONTH`. Throughput is in the
workloads' unit per second (tokens/s for LLM serving).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HOURS_PER_MONTH = 730
"""Hours in the month every monthly figure uses (365 x 24 / 12)."""

POOL_KEYS = (
    "workload",
    "cloud",
    "region",
    "instance_type",
    "accelerator",
    "gpus_per_node",
    "gpus_per_replica",
    "replicas_per_node",
    "nodes",
    "min_nodes",
    "max_nodes",
    "spot",
    "monthly_usd",
    "nodes_per_replica",
)
"""Keys of every pool dict, in order."""


@dataclass(frozen=True)
class Pool:
    """One node pool of the plan.

    Attributes:
        workload: Workload served.
        cloud: Cloud.
        region: Region.
        instance_type: Instance type of the nodes.
        accelerator: Canonical accelerator name.
        gpus_per_node: GPUs per node.
        gpus_per_replica: GPUs one replica spans (tensor parallelism).
        replicas_per_node: Replicas per node.
        nodes: Nodes sized for base demand (the autoscaler's desired size).
        min_nodes: Autoscaler minimum.
        max_nodes: Autoscaler maximum.
        spot: Spot capacity.
        monthly_usd: Cost of ``nodes`` nodes for a month, USD.
        nodes_per_replica: Nodes one replica spans (a LeaderWorkerSet group); above 1 the node counts
            are whole groups of that many nodes, and ``replicas_per_node`` is 1 replica per group.
    """

    workload: str
    cloud: str
    region: str
    instance_type: str
    accelerator: str
    gpus_per_node: int
    gpus_per_replica: int
    replicas_per_node: int
    nodes: int
    min_nodes: int
    max_nodes: int
    spot: bool
    monthly_usd: float
    nodes_per_replica: int = 1

    @property
    def max_replicas(self) -> int:
        """Replicas the pool holds at ``max_nodes``."""
        return self.max_nodes // self.nodes_per_replica * self.replicas_per_node

    def to_dict(self) -> dict[str, Any]:
        """The pool as a dict with exactly :data:`POOL_KEYS`."""
        return asdict(self)


@dataclass(frozen=True)
class RunnerUp:
    """The best plan for a workload when its chosen offerings are taken away.

    Attributes:
        pools: ``cloud/region/instance_type[ spot]`` labels of the workload's pools in that plan.
        monthly_usd: The workload's own cost in that plan, USD per month.
        margin_usd: How much more the whole plan costs (objective difference), USD per month.
        margin_pct: ``margin_usd`` as a percentage of the workload's chosen monthly cost.
    """

    pools: tuple[str, ...]
    monthly_usd: float
    margin_usd: float
    margin_pct: float


@dataclass(frozen=True)
class WorkloadReport:
    """Why a workload got its pools.

    Attributes:
        workload: Workload name.
        demand: Base demand, units/s.
        capacity: Planned capacity at target utilisation, units/s.
        replicas: Replicas across the workload's pools.
        monthly_usd: Cost of the workload's pools, USD per month.
        bound_by: What determined the result: ``demand`` (removing any node would miss demand),
            ``min_replicas``, ``quota`` (a chosen or cheaper offering is at its ``max_nodes``),
            ``memory`` (the model spans several GPUs, or a cheaper accelerator cannot hold it),
            ``zones``, ``on_demand_floor``, ``max_pools``, ``churn`` (kept current pools).
        runner_up: Best alternative, ``None`` when every other option is infeasible.
        zones: Nodes per zone (``cloud/region/zone``) when zone spread is on.
        peak_covered: With autoscale, whether the pools' max sizes reach peak demand within quota.
        caveats: Catalog flags on the chosen offerings, e.g. ``STALE_AFTER_2025-06``.
    """

    workload: str
    demand: float
    capacity: float
    replicas: int
    monthly_usd: float
    bound_by: tuple[str, ...]
    runner_up: RunnerUp | None
    zones: dict[str, int] = field(default_factory=dict)
    peak_covered: bool | None = None
    caveats: tuple[str, ...] = ()
    classes: tuple[ClassRoute, ...] = ()


@dataclass(frozen=True)
class ClassRoute:
    """Where one request class of a workload goes (period 0).

    Attributes:
        name: Class name.
        share: The class's share of the workload's demand.
        demand: The class's demand, units/s.
        routes: ``{pool label: fraction of the class's demand}``.
        why: Why those pools: the cheapest USD per hour per unit/s of this class on them.
    """

    name: str
    share: float
    demand: float
    routes: dict[str, float]
    why: str = ""


@dataclass(frozen=True)
class PeriodPlan:
    """The pools of one planning period.

    Attributes:
        period: Index, 0 first.
        pools: The pools of that period.
        cost_usd: Their cost over the period (hourly x ``period_hours``), USD.
    """

    period: int
    pools: tuple[Pool, ...]
    cost_usd: float


@dataclass(frozen=True)
class Reason:
    """Why a plan is infeasible.

    Attributes:
        code: ``no_allowed_offering``, ``no_accelerator``, ``memory``, ``quota``, ``zones`` or
            ``max_pools``. (The on-demand floor never makes a plan infeasible: on-demand nodes also
            serve demand, so it only changes the cost.)
        workload: Workload concerned, ``None`` when several are.
        message: One sentence for people.
    """

    code: str
    workload: str | None
    message: str


@dataclass(frozen=True)
class Plan:
    """A sizing plan.

    Attributes:
        status: ``"optimal"`` (proven), ``"infeasible"``, or ``"time_limit"`` (``options.time_limit_s``
            ran out: ``pools`` holds the best plan found, ``mip_gap`` its distance to the optimum).
        monthly_usd: Cost of all pools, USD per month (0 when infeasible).
        pools: The node pools.
        workloads: One report per workload (empty when infeasible).
        reason: Why the plan is infeasible, else ``None``.
        objective_usd: Solver objective: the periods' costs plus the churn penalty and the migration
            cost (``monthly_usd`` plus churn for a single 730-hour period), USD.
        solve_seconds: Wall time of the main MILP solve, seconds.
        variables: Decision variables of the main MILP.
        mip_gap: Relative gap between the plan and the best bound (0 when proven optimal).
        periods: One entry per planning period (``pools`` is period 0's).
        period_hours: Length of one period, hours.
        migration_usd: The migration term's share of the objective, USD.
        survive_cost_usd: What surviving the loss of a domain adds to the objective (``None``: not
            asked, or not explained).
        slo_cost_usd: What the latency targets add over offline (saturation) capacity (``None``: no
            workload names an SLO, or not explained).
    """

    status: str
    monthly_usd: float
    pools: tuple[Pool, ...]
    workloads: tuple[WorkloadReport, ...] = ()
    reason: Reason | None = None
    objective_usd: float = 0.0
    solve_seconds: float = 0.0
    variables: int = 0
    mip_gap: float = 0.0
    periods: tuple[PeriodPlan, ...] = ()
    period_hours: float = HOURS_PER_MONTH
    migration_usd: float = 0.0
    survive_cost_usd: float | None = None
    slo_cost_usd: float | None = None

    @property
    def optimal(self) -> bool:
        """True when the plan is the proven optimum."""
        return self.status == "optimal"

    def pools_for(self, workload: str) -> tuple[Pool, ...]:
        """The pools serving one workload."""
        return tuple(p for p in self.pools if p.workload == workload)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data: ``{"status", "monthly_usd", "pools", ...}``."""
        return {
            "status": self.status,
            "monthly_usd": round(self.monthly_usd, 2),
            "pools": [{**p.to_dict(), "monthly_usd": round(p.monthly_usd, 2)} for p in self.pools],
            "workloads": [_report_json(r) for r in self.workloads],
            "reason": asdict(self.reason) if self.reason else None,
            "objective_usd": round(self.objective_usd, 2),
            "hours_per_month": HOURS_PER_MONTH,
            "solve_seconds": round(self.solve_seconds, 4),
            "variables": self.variables,
            "mip_gap": self.mip_gap,
            "periods": [
                {
                    "period": p.period,
                    "pools": [{**q.to_dict(), "monthly_usd": round(q.monthly_usd, 2)} for q in p.pools],
                    "cost_usd": round(p.cost_usd, 2),
                }
                for p in self.periods
            ],
            "period_hours": self.period_hours,
            "migration_usd": round(self.migration_usd, 2),
            "survive_cost_usd": None if self.survive_cost_usd is None else round(self.survive_cost_usd, 2),
            "slo_cost_usd": None if self.slo_cost_usd is None else round(self.slo_cost_usd, 2),
        }

    def to_text(self) -> str:
        """A human explanation: pools and cost, runner-up and margin, what bound each workload."""
        if self.reason is not None and not self.pools:
            who = f" (workload {self.reason.workload})" if self.reason.workload else ""
            return f"sizing: {self.status}{who} [{self.reason.code}]: {self.reason.message}\n"
        lines = [
            f"sizing: {self.status}, {len(self.pools)} pool(s), {self.monthly_usd:,.2f} USD/month "
            f"({HOURS_PER_MONTH} h/month)"
        ]
        if self.reason is not None:
            lines.append(f"[{self.reason.code}] {self.reason.message}")
        for report in self.workloads:
            lines.append("")
            lines.append(
                f"workload {report.workload}: demand {report.demand:,.0f}/s, capacity {report.capacity:,.0f}/s "
                f"at target utilisation, {report.replicas} replica(s), {report.monthly_usd:,.2f} USD/month"
            )
            for p in self.pools_for(report.workload):
                k = p.nodes_per_replica
                per = (
                    f"{p.replicas_per_node} replica(s)/node"
                    if k == 1
                    else f"nodes in groups of {k} (one replica per group: tensor parallel "
                    f"{p.gpus_per_node} within a node, pipeline parallel {k} across)"
                )
                groups = (
                    ""
                    if k == 1
                    else f" = {p.nodes // k} group(s) (min {p.min_nodes // k}, max {p.max_nodes // k})"
                )
                lines.append(
                    f"  {p.cloud} {p.region} {p.instance_type}: {p.gpus_per_node} x {p.accelerator}, "
                    f"{p.gpus_per_replica} GPU(s)/replica, {per}, "
                    f"{p.nodes} node(s) (min {p.min_nodes}, max {p.max_nodes}){groups}, "
                    f"{'spot' if p.spot else 'on-demand'}, {p.monthly_usd:,.2f} USD/month"
                )
            if report.runner_up is None:
                lines.append("  runner-up: none (every other option is infeasible)")
            else:
                ru = report.runner_up
                lines.append(
                    f"  runner-up: {', '.join(ru.pools)} at {ru.monthly_usd:,.2f} USD/month; "
                    f"loses by {ru.margin_usd:,.2f} USD/month ({ru.margin_pct:+.1f}%)"
                )
            lines.append(f"  bound by: {', '.join(report.bound_by) or 'nothing (no nodes needed)'}")
            if report.zones:
                lines.append("  zones: " + ", ".join(f"{z} {n}" for z, n in sorted(report.zones.items())))
            if report.peak_covered is False:
                lines.append("  peak demand: not covered within quota; max nodes capped by quota")
            for klass in report.classes:
                routes = ", ".join(f"{share:.0%} to {label}" for label, share in klass.routes.items())
                lines.append(
                    f"  class {klass.name} ({klass.share:.0%}, {klass.demand:,.0f}/s): {routes or 'nothing'}"
                    + (f"; {klass.why}" if klass.why else "")
                )
            for caveat in report.caveats:
                lines.append(f"  caveat: {caveat}")
        if self.slo_cost_usd is not None:
            lines.append(
                f"\nlatency targets cost {self.slo_cost_usd:,.2f} USD over offline (saturation) capacity"
            )
        if self.survive_cost_usd is not None:
            lines.append(f"surviving the loss of one failure domain costs {self.survive_cost_usd:,.2f} USD")
        if len(self.periods) > 1:
            lines.append("")
            for p in self.periods:
                pools = ", ".join(
                    f"{q.workload}:{q.cloud}/{q.region}/{q.instance_type}{' spot' if q.spot else ''} x{q.nodes}"
                    for q in p.pools
                )
                lines.append(
                    f"period {p.period}: {p.cost_usd:,.2f} USD ({self.period_hours:g} h): {pools or 'no pools'}"
                )
            lines.append(
                f"migration cost: {self.migration_usd:,.2f} USD; objective {self.objective_usd:,.2f} USD"
            )
        return "\n".join(lines) + "\n"


def _report_json(report: WorkloadReport) -> dict[str, Any]:
    data = asdict(report)
    data["demand"] = round(report.demand, 4)
    data["capacity"] = round(report.capacity, 4)
    data["monthly_usd"] = round(report.monthly_usd, 2)
    data["bound_by"] = list(report.bound_by)
    data["caveats"] = list(report.caveats)
    if report.runner_up is not None:
        data["runner_up"] = {
            "pools": list(report.runner_up.pools),
            "monthly_usd": round(report.runner_up.monthly_usd, 2),
            "margin_usd": round(report.runner_up.margin_usd, 2),
            "margin_pct": round(report.runner_up.margin_pct, 2),
        }
    return data
