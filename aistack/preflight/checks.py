"""The cloud-neutral half of preflight: which pools a stack asks for, and how they are judged.

Each cloud implements one small interface, :class:`Checker` (zones offering an instance type,
and the quota one node of it draws on). Everything else (which zones a pool names, how many
nodes it may reach per purchase option, summing the needs of pools that share one quota, the
fixes printed) is decided here, once, for every cloud.
"""

from __future__ import annotations

import importlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

from aistack.errors import InputError
from aistack.spec import StackSpec

# Cloud → module with ``checker(cloud_spec) -> Checker``, imported lazily (each pulls its own SDK).
# A cloud is checked once its stack spec exists and its module is listed here (see README.md).
CHECKERS = {
    "aws": "aistack.preflight.aws",
    "azure": "aistack.preflight.azure",
    "gcp": "aistack.preflight.gcp",
}

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Pool:
    """One node pool as preflight sees it (a GPU pool, or a cluster's CPU system pool).

    Attributes:
        cloud: Cloud name (``aws``).
        cluster: Cluster name in the spec.
        name: Pool name in the spec, ``system`` for the system pool.
        key: Dotted config key of the pool, for messages.
        accelerator: Canonical accelerator (``L4-24GB``), ``None`` for the system pool.
        instance_types: Machine types the pool may launch.
        zones: Zones the pool's nodes are placed in.
        max_nodes: Most nodes per purchase option (``on-demand`` / ``spot``), from ``GpuPoolSpec.split``.
    """

    cloud: str
    cluster: str
    name: str
    key: str
    accelerator: str | None
    instance_types: tuple[str, ...]
    zones: tuple[str, ...]
    max_nodes: dict[str, int] = field(hash=False)

    @property
    def label(self) -> str:
        """``cluster/pool``, the row name in the table."""
        return f"{self.cluster}/{self.name}"


@dataclass(frozen=True)
class Quota:
    """The quota one node of an instance type draws on, as the cloud reports it.

    Attributes:
        code: The cloud's quota id (``L-DB2E81BA``, ``NVIDIA_L4_GPUS``, ``standardNCADSA100v4Family``).
        name: Its human name (``Running On-Demand G and VT instances``).
        unit: What it counts (``vCPUs`` or ``GPUs``).
        per_node: Units one node of the instance type uses.
        limit: The account's current limit in ``unit``; ``0`` when the cloud lists no such quota.
        how_to_raise: Where to ask for more, completed with the wanted value: a format string with
            ``{value}``.
    """

    code: str
    name: str
    unit: str
    per_node: int
    limit: float
    how_to_raise: str


class NotChecked(Exception):
    """A check that cannot be decided for a reason the user should read (e.g. an unknown family)."""


class Checker(Protocol):
    """What each cloud implements: two questions, answered with the cloud's own APIs."""

    cloud: str
    region: str

    def offered_zones(self, instance_type: str, accelerator: str | None) -> list[str]:
        """Zones of the region where the instance type (and its accelerator) can be launched; [] if none."""
        ...

    def quota(self, instance_type: str, accelerator: str | None, capacity: str) -> Quota:
        """The quota a node of this type draws on for a purchase option (``on-demand``/``spot``).

        Raises:
            NotChecked: the type is unknown or draws on no quota this checker knows.
        """
        ...

    def kubernetes_versions(self) -> dict[str, str]:
        """Kubernetes minors the region offers for a new cluster → :data:`STANDARD` when in standard
        support, else the cloud's word for it (``EXTENDED_SUPPORT``, ``preview``, ``lts-only``)."""
        ...


STANDARD = "standard"
"""A Kubernetes minor the region offers for new clusters in standard support (see ``kubernetes_versions``)."""


def checker_for(cloud: str, cloud_spec: Any) -> Checker:
    """The checker of a configured cloud, chosen from :data:`CHECKERS`."""
    if cloud not in CHECKERS:
        raise InputError("arguments", "--stack", f"preflight has no checker for cloud {cloud!r} yet")
    return importlib.import_module(CHECKERS[cloud]).checker(cloud_spec)


def pools(spec: StackSpec) -> list[Pool]:
    """Every pool of every cluster, system pools included, with the zones and maxima it asks for."""
    from components import registry

    found = []
    for cname, cluster in spec.clusters.items():
        cloud_zones = tuple(spec.clouds.configured()[cluster.cloud].zones)
        key = f"aistack:clusters.{cname}"
        system = cluster.system_pool
        system_type = system.instance_type or getattr(
            registry.family(cluster.cloud).Cluster, "SYSTEM_INSTANCE_TYPE", None
        )
        if system_type is None:
            raise InputError(
                "stack", f"{key}.system_pool.instance_type", f"{cluster.cloud} has no default: set one"
            )
        found.append(
            Pool(
                cluster.cloud, cname, "system", f"{key}.system_pool", None, (system_type,), cloud_zones,
                {"on-demand": system.max_nodes},
            )
        )  # fmt: skip
        for pname, pool in cluster.gpu_pools.items():
            most: dict[str, int] = defaultdict(int)
            for capacity, _, high in pool.split().values():
                most[capacity] += high
            found.append(
                Pool(
                    cluster.cloud, cname, pname, f"{key}.gpu_pools.{pname}", pool.accelerator,
                    tuple(pool.instance_types), tuple(pool.zones or cloud_zones), dict(most),
                )
            )  # fmt: skip
    return found


def _row(check: str, status: str, detail: str, fixes: list[str] | None = None) -> dict[str, Any]:
    return {"check": check, "status": status, "detail": detail, "fixes": fixes or []}


def _zones_check(pool: Pool, offered: dict[tuple[str, str | None], list[str]], region: str) -> dict[str, Any]:
    problems, fixes = [], []
    for itype in pool.instance_types:
        zones = offered[(itype, pool.accelerator)]
        missing = [z for z in pool.zones if z not in zones]
        if not missing:
            continue
        problems.append(f"{itype} not offered in {', '.join(missing)}")
        if zones:
            fixes.append(f"{itype} is offered in {', '.join(zones)}: name only those zones for {pool.key}")
        else:
            fixes.append(f"{itype} is offered in no zone of {region}: drop it or pick another type/region")
    if problems:
        return _row("zones", FAIL, "; ".join(problems), fixes)
    return _row("zones", PASS, f"{', '.join(pool.instance_types)} offered in {', '.join(pool.zones)}")


def evaluate(checker: Checker, cloud_pools: list[Pool]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the zone and quota checks of one cloud's pools.

    The quota a pool needs is ``max nodes × units per node of its largest type`` per purchase option.
    Pools drawing on the same quota are summed: two pools that each fit but together exceed the
    limit both fail, with the total to request.

    Returns:
        ``(rows, offerings)``: one row per pool (``checks``: zones and quota results), and one
        offering per instance type (zones offering it, quota per purchase option, for sizing).
    """
    types = sorted({(t, p.accelerator) for p in cloud_pools for t in p.instance_types})
    # Keyed by (type, accelerator): on GCP an N1 type's zones depend on the GPU attached to it.
    offered = {(t, acc): sorted(checker.offered_zones(t, acc)) for t, acc in types}
    offerings: dict[str, dict[str, Any]] = {
        t: {
            "cloud": checker.cloud,
            "region": checker.region,
            "instance_type": t,
            "zones": offered[(t, acc)],
            "quota": {},
        }
        for t, acc in types
    }
    # (capacity, code) → [(pool, need)], and each pool's own demands, to sum needs per quota.
    shared: dict[tuple[str, str], list[tuple[Pool, int]]] = defaultdict(list)
    demands: dict[Pool, list[tuple[str, Quota, int, str]]] = defaultdict(list)
    skipped: dict[Pool, list[str]] = defaultdict(list)
    for pool in cloud_pools:
        for capacity, most in pool.max_nodes.items():
            if most <= 0:
                continue
            groups: dict[str, list[tuple[str, Quota]]] = defaultdict(list)
            for itype in pool.instance_types:
                try:
                    quota = checker.quota(itype, pool.accelerator, capacity)
                except NotChecked as why:
                    skipped[pool].append(f"{itype} {capacity}: {why}")
                    continue
                groups[quota.code].append((itype, quota))
                offerings[itype]["quota"][capacity] = {
                    "code": quota.code,
                    "unit": quota.unit,
                    "limit": quota.limit,
                    "per_node": quota.per_node,
                    "max_nodes": math.floor(quota.limit / quota.per_node) if quota.per_node else None,
                }
            for code, members in groups.items():
                itype, quota = max(members, key=lambda m: m[1].per_node)
                need = most * quota.per_node
                shared[(capacity, code)].append((pool, need))
                demands[pool].append(
                    (capacity, quota, need, f"{most} × {itype} ({quota.per_node} {quota.unit})")
                )
    rows = []
    for pool in cloud_pools:
        details, fixes = [], []
        for capacity, quota, need, how in demands[pool]:
            sharers = shared[(capacity, quota.code)]
            total = sum(n for _, n in sharers)
            limit = quota.limit
            text = f"{quota.code} {capacity}: need {need} {quota.unit} ({how}), limit {limit:g}"
            if len(sharers) > 1:
                text += f", {total} with {', '.join(p.label for p, _ in sharers if p is not pool)}"
            details.append(text)
            if total > limit:
                fixes.append(
                    f"request {total} {quota.unit} of {quota.code} ({quota.name}) in {checker.region}: "
                    + quota.how_to_raise.format(value=total)
                )
        status = FAIL if fixes else PASS if details else SKIP
        details.extend(skipped[pool])
        rows.append(
            {
                "cloud": checker.cloud,
                "region": checker.region,
                "cluster": pool.cluster,
                "pool": pool.name,
                "key": pool.key,
                "instance_types": list(pool.instance_types),
                "zones": list(pool.zones),
                "max_nodes": pool.max_nodes,
                "checks": [
                    _zones_check(pool, offered, checker.region),
                    _row("quota", status, "; ".join(details), fixes),
                ],
            }
        )
    return rows, list(offerings.values())


def version_rows(checker: Checker, spec: StackSpec, cloud: str) -> list[dict[str, Any]]:
    """One row per cluster of ``cloud``: the region offers its Kubernetes minor in standard support.

    The spec already refuses a minor past standard support by the dated table; this asks the cloud
    itself, per region (a minor reaches regions over days, and a region may lack one).
    """
    offered = checker.kubernetes_versions()
    rows = []
    for cname, cluster in spec.clusters.items():
        if cluster.cloud != cloud:
            continue
        minor = cluster.kubernetes_version
        key = f"aistack:clusters.{cname}.kubernetes_version"
        status = offered.get(minor)
        where = f"{cloud} {checker.region}"
        choices = ", ".join(sorted((m for m, s in offered.items() if s == STANDARD), key=_minor_key))
        if status == STANDARD:
            check = _row("version", PASS, f"{minor} offered in {where} in standard support")
        elif status is None:
            check = _row(
                "version", FAIL, f"{minor} not offered for new clusters in {where}",
                [f"set {key} to one of {choices or '(none offered)'}"],
            )  # fmt: skip
        else:
            check = _row(
                "version", FAIL, f"{minor} offered in {where} only as {status}",
                [f"set {key} to one in standard support: {choices or '(none offered)'}"],
            )  # fmt: skip
        rows.append(
            {"cloud": cloud, "region": checker.region, "cluster": cname, "key": key,
             "kubernetes_version": minor, "checks": [check]}
        )  # fmt: skip
    return rows


def _minor_key(minor: str) -> tuple[int, ...]:
    return tuple(int(p) for p in minor.split(".") if p.isdigit())


def run(spec: StackSpec, stack: str, checkers: dict[str, Checker] | None = None) -> dict[str, Any]:
    """Preflight a validated stack: every pool × (zones, quota), every cluster's Kubernetes version in
    its region, with fixes and sizing offerings.

    Args:
        spec: The validated stack spec.
        stack: The stack's name (report header).
        checkers: Checkers by cloud; default: built from the spec's clouds via :data:`CHECKERS`.

    Returns:
        The findings: ``{"stack", "status", "pools": [...], "clusters": [...], "offerings": [...]}``
        (see README.md).
    """
    all_pools = pools(spec)
    rows: list[dict[str, Any]] = []
    clusters: list[dict[str, Any]] = []
    offerings: list[dict[str, Any]] = []
    for cloud, cloud_spec in spec.clouds.configured().items():
        mine = [p for p in all_pools if p.cloud == cloud]
        if not mine:
            continue
        checker = (checkers or {}).get(cloud) or checker_for(cloud, cloud_spec)
        cloud_rows, cloud_offerings = evaluate(checker, mine)
        rows += cloud_rows
        offerings += cloud_offerings
        clusters += version_rows(checker, spec, cloud)
    failed = any(c["status"] == FAIL for r in rows + clusters for c in r["checks"])
    return {
        "stack": stack,
        "status": FAIL if failed else PASS,
        "pools": rows,
        "clusters": clusters,
        "offerings": offerings,
    }


def exit_code(findings: dict[str, Any]) -> int:
    """1 when any check failed, else 0."""
    return 1 if findings["status"] == FAIL else 0


def constraints(findings: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Preflight findings as sizing constraints, plain data.

    Returns:
        ``(cloud, region, instance_type) → {"zones": [...], "max_nodes": n, "max_nodes_by_capacity":
        {"on-demand": n, "spot": m}}``. ``zones`` are the region's zones offering the type (empty:
        not offered, so the offering must not be used). ``max_nodes`` (count) is the fewest nodes any
        checked purchase option's quota allows (``floor(limit / units per node)``), ``None`` when no
        quota was read. A quota shared by several instance types (AWS G/VT vCPUs) caps each type
        alone here; the sum across types is not expressed.
    """
    result = {}
    for offering in findings["offerings"]:
        by_capacity = {
            cap: q["max_nodes"] for cap, q in offering["quota"].items() if q["max_nodes"] is not None
        }
        result[(offering["cloud"], offering["region"], offering["instance_type"])] = {
            "zones": list(offering["zones"]),
            "max_nodes": min(by_capacity.values()) if by_capacity else None,
            "max_nodes_by_capacity": by_capacity,
        }
    return result
