"""Builders and an independent brute-force reference for the sizing tests.

The brute force recomputes every capacity from the raw offering fields with plain loops and
enumerates node counts, so it shares no code with ``sizing.optimize`` beyond the data classes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sizing.catalog import Catalog, Offering
from sizing.plan import HOURS_PER_MONTH
from sizing.workloads import SizingOptions, Workload


def offering(
    instance_type: str,
    price: float,
    *,
    cloud: str = "aws",
    region: str = "us-east-1",
    accelerator: str = "L4-24GB",
    gpus: int = 1,
    gpu_mem: float = 24.0,
    spot: float | None = None,
    zones: Sequence[str] = (),
    max_nodes: int | None = None,
) -> Offering:
    """An offering with test defaults (prices are fixtures, not catalog figures)."""
    return Offering(
        cloud=cloud,
        region=region,
        instance_type=instance_type,
        accelerator=accelerator,
        gpus=gpus,
        gpu_mem_gib=gpu_mem,
        vcpus=4,
        mem_gib=16,
        price_hr=price,
        spot_price_hr=spot,
        zones=tuple(zones),
        max_nodes=max_nodes,
        source="test fixture",
        as_of="test",
    )


def workload(name: str = "w", **fields: object) -> Workload:
    """A workload with test defaults: 20 GiB model, L4 at 100 units/s per GPU, demand 100."""
    data: dict[str, object] = {
        "name": name,
        "model_mem_gib": 20.0,
        "demand": 100.0,
        "throughput": {"L4-24GB": 100.0},
    }
    data.update(fields)
    return Workload.model_validate(data)


@dataclass(frozen=True)
class Choice:
    """One brute-force variable: workload, offering, spot, per-node capacity and replicas, price."""

    w: int
    offering: Offering
    spot: bool
    capacity: float
    replicas: int
    monthly: float


def choices(workloads: Sequence[Workload], catalog: Catalog, options: SizingOptions) -> list[Choice]:
    """Every usable (workload, offering, capacity type), computed from first principles."""
    found = []
    for w_idx, w in enumerate(workloads):
        for o in catalog:
            if (
                o.gpus == 0
                or (w.clouds and o.cloud not in w.clouds)
                or (w.regions and o.region not in w.regions)
            ):
                continue
            if o.accelerator not in w.throughput or o.max_nodes == 0:
                continue
            g = 1
            while g * o.gpu_mem_gib < w.model_mem_gib:
                g *= 2
            if g > o.gpus:
                continue
            replicas = o.gpus // g
            cap = replicas * g * w.throughput[o.accelerator] * w.target_utilization
            spot_ok = w.spot and o.spot_price_hr is not None
            kinds = [True] if spot_ok else [False]
            if spot_ok and options.on_demand_floor > 0:
                kinds.append(False)
            for spot in kinds:
                price = o.spot_price_hr if spot else o.price_hr
                found.append(
                    Choice(
                        w_idx, o, spot, cap * spot_share(o, spot, options), replicas, price * HOURS_PER_MONTH
                    )
                )
    return found


SPOT_AVAILABILITY = 0.8
"""Share of a spot node's capacity a plan counts on without an override (sizing/risk.py: the ">20%" band)."""


def spot_share(o: Offering, spot: bool, options: SizingOptions) -> float:
    """Capacity share counted for a node: 1 on-demand, the most specific override or 0.8 on spot."""
    if not spot:
        return 1.0
    table = options.spot_availability
    for key in (f"{o.cloud}/{o.region}/{o.instance_type}", f"{o.cloud}/{o.region}", o.cloud):
        if key in table:
            return table[key]
    return SPOT_AVAILABILITY


def _zones_coverable(groups: Sequence[tuple[int, tuple[str, ...]]], needed: int) -> bool:
    """Whether pools (nodes, zones) can put nodes in ``needed`` distinct zones (Hall's condition)."""
    all_zones = sorted({z for _, zs in groups for z in zs})
    for subset in itertools.combinations(all_zones, needed):
        ok = True
        for size in range(1, needed + 1):
            for part in itertools.combinations(subset, size):
                supply = sum(n for n, zs in groups if set(zs) & set(part))
                if supply < size:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            return True
    return False


def brute_force(
    workloads: Sequence[Workload],
    catalog: Catalog,
    options: SizingOptions | None = None,
    *,
    max_nodes_per_choice: int = 6,
    current: dict[tuple[str, str, bool], int] | None = None,
) -> float | None:
    """Cheapest objective (USD/month) by enumerating node counts; ``None`` when infeasible.

    Args:
        workloads: Workloads.
        catalog: Offerings.
        options: Extensions to honour (floor, zones, max pools, churn).
        max_nodes_per_choice: Enumeration bound per variable; keep instances small enough that
            the optimum needs fewer nodes.
        current: Current nodes keyed by ``(workload, instance_type, spot)`` for churn.
    """
    options = options or SizingOptions()
    found = choices(workloads, catalog, options)
    current = current or {}
    best: float | None = None
    for counts in itertools.product(range(max_nodes_per_choice + 1), repeat=len(found)):
        if not _feasible(workloads, found, counts, options):
            continue
        cost = sum(c.monthly * n for c, n in zip(found, counts, strict=True))
        cost += options.churn_usd_per_node * sum(
            abs(n - current.get((workloads[c.w].name, c.offering.instance_type, c.spot), 0))
            for c, n in zip(found, counts, strict=True)
        )
        if best is None or cost < best - 1e-9:
            best = cost
    return best


def _feasible(
    workloads: Sequence[Workload], found: Sequence[Choice], counts: Sequence[int], options: SizingOptions
) -> bool:
    used: dict[tuple[str, str, str, str, int], int] = {}
    for c, n in zip(found, counts, strict=True):
        used[c.offering.key] = used.get(c.offering.key, 0) + n
    for c in found:
        if c.offering.max_nodes is not None and used[c.offering.key] > c.offering.max_nodes:
            return False
    for w_idx, w in enumerate(workloads):
        mine = [(c, n) for c, n in zip(found, counts, strict=True) if c.w == w_idx]
        if sum(c.capacity * n for c, n in mine) < w.demand - 1e-9:
            return False
        if sum(c.replicas * n for c, n in mine) < w.min_replicas:
            return False
        on_demand = sum(c.capacity * n for c, n in mine if not c.spot)
        if options.on_demand_floor > 0 and w.spot and on_demand < options.on_demand_floor * w.demand - 1e-9:
            return False
        pools = sum(1 for _, n in mine if n > 0)
        if options.max_pools_per_workload is not None and pools > options.max_pools_per_workload:
            return False
        if options.min_zones > 1 and (w.demand > 0 or w.min_replicas > 0):
            groups = [
                (
                    n,
                    tuple(f"{c.offering.cloud}/{c.offering.region}/{z}" for z in c.offering.zones)
                    or (f"{c.offering.cloud}/{c.offering.region}/?",),
                )
                for c, n in mine
                if n > 0
            ]
            if not _zones_coverable(groups, options.min_zones):
                return False
    return True


def cost_close(a: float, b: float) -> bool:
    """Costs equal within a cent per month (float sums differ in the last digits)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.01)
