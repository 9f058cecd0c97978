"""Sizing benchmark: solve time and optimality of the MILP on synthetic catalogs.

Run: ``python benchmarks/sizing_bench.py [--sizes 100 1000 10000] [--repeat 3] [--seed 7]``
(``--goals-only [--only periods] [--catalog aws.csv azure.csv gcp.csv]`` for the issue-14 goal cases
alone, on a draw from the given catalog files)

Prints, per catalog size (offerings) with 5 workloads sharing quotas:

* solve time of :func:`sizing.optimize.plan_for` without and with explanations (median of
  ``--repeat`` runs, seconds) and the MILP size;
* the cost ratio of a greedy baseline (each workload in turn takes the offering with the lowest
  cost per unit of capacity, then the next when its quota runs out) to the optimum;
* the gap to an exact dynamic programme over node counts (single workload, no quotas), which
  enumerates every total capacity up to the demand, so it is an exhaustive check at catalog scale.

It also checks the MILP against plain enumeration of every node-count vector on many small
random instances (``--small`` of them).

The catalogs are synthetic: prices are random multiples of a per-GPU base, not market prices,
drawn per offering, so every offering is distinct, which no real catalog is. The two speed goals
(``--goals-only``) are measured on :func:`realistic_catalog` (bundled catalog rows moved across
regions at a few regional price factors, class figures per accelerator), then on the synthetic one.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sizing import accelerators  # noqa: E402
from sizing.catalog import Catalog, Offering, load_catalog  # noqa: E402
from sizing.optimize import candidates, plan_for  # noqa: E402
from sizing.plan import HOURS_PER_MONTH  # noqa: E402
from sizing.workloads import DeployedPool, SizingOptions, Workload  # noqa: E402

GPU_BASE_USD = {
    "T4-16GB": 0.5,
    "L4-24GB": 0.8,
    "A10G-24GB": 1.0,
    "L40S-48GB": 1.9,
    "A100-80GB": 3.7,
    "H100-80GB": 9.0,
}
REGIONS = {
    "aws": ["us-east-1", "us-west-2"],
    "azure": ["eastus", "westus2"],
    "gcp": ["us-central1", "us-east4"],
}


def synthetic_catalog(n: int, rng: random.Random) -> Catalog:
    """``n`` distinct synthetic offerings across clouds, regions and accelerators."""
    offerings = []
    for k in range(n):
        cloud = rng.choice(list(REGIONS))
        region = rng.choice(REGIONS[cloud])
        acc = rng.choice(list(GPU_BASE_USD))
        gpus = rng.choice([1, 1, 2, 4, 8])
        price = round(GPU_BASE_USD[acc] * gpus * rng.uniform(0.8, 1.6), 4)
        zones = tuple(f"{region}-{z}" for z in "abc" if rng.random() < 0.7)
        offerings.append(
            Offering(
                cloud=cloud,
                region=region,
                instance_type=f"syn-{k}",
                accelerator=acc,
                gpus=gpus,
                gpu_mem_gib=accelerators.get(acc).memory_gib,
                vcpus=4 * gpus,
                mem_gib=16.0 * gpus,
                price_hr=price,
                spot_price_hr=round(price * rng.uniform(0.3, 0.7), 4) if rng.random() < 0.6 else None,
                zones=zones,
                max_nodes=rng.choice([None, None, 2, 4, 8]),
                source="synthetic",
                as_of="synthetic",
            )
        )
    return Catalog(offerings)


def synthetic_workloads(
    rng: random.Random, count: int = 5, accelerators_from: list[str] | None = None
) -> list[Workload]:
    workloads = []
    for k in range(count):
        accs = rng.sample(accelerators_from or list(GPU_BASE_USD), 4)
        workloads.append(
            Workload(
                name=f"w{k}",
                model_mem_gib=rng.choice([14.0, 20.0, 40.0, 70.0]),
                demand=float(rng.randrange(2_000, 40_000)),
                throughput={a: float(rng.randrange(200, 2_000)) for a in accs},
                min_replicas=rng.choice([1, 2]),
                spot=rng.random() < 0.4,
            )
        )
    return workloads


def greedy(workloads: list[Workload], catalog: Catalog) -> float | None:
    """Cheapest-offering-per-workload baseline; ``None`` when it runs out of quota."""
    cands, _ = candidates(workloads, catalog, SizingOptions())
    left = {c.offering.key: c.offering.max_nodes for c in cands}
    total = 0.0
    for w_idx, w in enumerate(workloads):
        mine = sorted((c for c in cands if c.w == w_idx), key=lambda c: c.unit_cost)
        need_capacity, need_replicas = w.demand, float(w.min_replicas)
        for c in mine:
            if need_capacity <= 0 and need_replicas <= 0:
                break
            nodes = max(
                math.ceil(need_capacity / c.capacity - 1e-9), math.ceil(need_replicas / c.replicas_per_node)
            )
            limit = left[c.offering.key]
            if limit is not None:
                nodes = min(nodes, limit)
                left[c.offering.key] = limit - nodes
            total += nodes * c.monthly
            need_capacity -= nodes * c.capacity
            need_replicas -= nodes * c.replicas_per_node
        if need_capacity > 1e-6 or need_replicas > 0:
            return None
    return total


def exact_dp(workload: Workload, catalog: Catalog) -> float:
    """Cheapest cover of the demand by node counts (no quotas, integer capacities), exhaustively.

    ``best[c]`` is the cheapest way to reach capacity at least ``c``; every offering may be used
    any number of times. Dominated offerings (no more capacity for no less money) are dropped
    first, which keeps the answer exact.
    """
    cands, _ = candidates([workload], catalog, SizingOptions())
    items = sorted({(round(c.capacity), c.monthly) for c in cands}, key=lambda t: (-t[0], t[1]))
    frontier: list[tuple[int, float]] = []
    for cap, cost in items:
        if not frontier or cost < frontier[-1][1] - 1e-12:
            frontier.append((cap, cost))
    demand = math.ceil(workload.demand)
    best = [0.0] + [math.inf] * demand
    for c in range(1, demand + 1):
        best[c] = min(cost + best[max(0, c - cap)] for cap, cost in frontier)
    return best[demand]


def enumerate_small(rng: random.Random) -> tuple[float | None, float | None]:
    """(MILP, enumeration) optimum of a small random instance with shared quotas."""
    catalog = synthetic_catalog(rng.randint(2, 4), rng)
    workloads = [
        Workload(
            name=f"w{k}",
            model_mem_gib=rng.choice([14.0, 40.0]),
            demand=float(rng.randrange(0, 2_500)),
            throughput={a: float(rng.randrange(300, 1_000)) for a in GPU_BASE_USD},
            min_replicas=rng.choice([0, 1, 2]),
        )
        for k in range(rng.randint(1, 2))
    ]
    plan = plan_for(workloads, catalog, explain=False)
    cands, _ = candidates(workloads, catalog, SizingOptions())
    bounds = [
        max(
            math.ceil(workloads[c.w].demand / c.capacity - 1e-9),
            math.ceil(workloads[c.w].min_replicas / c.replicas_per_node),
        )
        for c in cands
    ]
    best = None
    for counts in itertools.product(*(range(b + 1) for b in bounds)):
        used: dict[tuple, int] = {}
        for c, n in zip(cands, counts, strict=True):
            used[c.offering.key] = used.get(c.offering.key, 0) + n
        if any(
            c.offering.max_nodes is not None and used[c.offering.key] > c.offering.max_nodes for c in cands
        ):
            continue
        ok = all(
            sum(c.capacity * n for c, n in zip(cands, counts, strict=True) if c.w == k) >= w.demand - 1e-9
            and sum(c.replicas_per_node * n for c, n in zip(cands, counts, strict=True) if c.w == k)
            >= w.min_replicas
            for k, w in enumerate(workloads)
        )
        if ok:
            cost = sum(c.monthly * n for c, n in zip(cands, counts, strict=True))
            best = cost if best is None else min(best, cost)
    return (plan.monthly_usd if plan.optimal else None), best


REGION_MARKUP = (1.0, 1.0, 1.0, 1.05, 1.1, 1.2)
"""Regional price factors: most regions list a type at its home price, some at a markup."""


def realistic_catalog(n: int, rng: random.Random, paths: list[str] | None = None) -> Catalog:
    """``n`` offerings drawn from the bundled catalog's GPU rows (or those of the catalog files
    ``paths``, e.g. an earlier commit's, to reproduce that draw), spread over many regions.

    Each offering is a real row (instance type, accelerator, GPUs, on-demand and spot price) moved
    to one of 30 regions of its cloud, at its home price times a regional factor from
    :data:`REGION_MARKUP`, with the row's zone count and a quota drawn like the synthetic one.
    So, as in a real catalog, the same instance type recurs across regions at a handful of prices,
    and its capacity follows its accelerator (per-accelerator figures), not the offering.
    """
    rows = [o for o in load_catalog(paths) if o.gpus > 0]
    seen: set[tuple] = set()
    offerings = []
    while len(offerings) < n:
        row = rng.choice(rows)
        region = f"{row.region}-r{rng.randrange(30)}"
        if (row.key, region) in seen:
            continue
        seen.add((row.key, region))
        markup = rng.choice(REGION_MARKUP)
        offerings.append(
            replace(
                row,
                region=region,
                price_hr=round(row.price_hr * markup, 4),
                spot_price_hr=None if row.spot_price_hr is None else round(row.spot_price_hr * markup, 4),
                zones=tuple(f"{region}-{z}" for z in "abcdef"[: len(row.zones)]),
                max_nodes=rng.choice([None, None, 2, 4, 8]),
                source="synthetic from the bundled catalog",
            )
        )
    return Catalog(offerings)


def class_workloads(
    rng: random.Random, count: int = 5, classes: int = 8, accelerators_from: list[str] | None = None
) -> list[Workload]:
    """Workloads with ``classes`` request-size classes each (random shares; per-class throughput
    per accelerator, so every offering with that accelerator shares the figures)."""
    pool = accelerators_from or list(GPU_BASE_USD)
    workloads = []
    for k in range(count):
        accs = rng.sample(pool, 4)
        cuts = sorted(rng.random() for _ in range(classes - 1))
        shares = [b - a for a, b in zip([0.0, *cuts], [*cuts, 1.0], strict=True)]
        shares = [max(s_, 1e-3) for s_ in shares]
        shares = [s_ / sum(shares) for s_ in shares]
        workloads.append(
            Workload(
                name=f"c{k}",
                model_mem_gib=rng.choice([14.0, 20.0, 40.0]),
                demand=float(rng.randrange(2_000, 40_000)),
                classes=[
                    {
                        "name": f"b{b}",
                        "share": share,
                        "throughput": {
                            a: float(rng.randrange(100, 3_000)) for a in accs if rng.random() < 0.8
                        }
                        or {accs[0]: 500.0},
                    }
                    for b, share in enumerate(shares)
                ],
                min_replicas=rng.choice([1, 2]),
                spot=rng.random() < 0.4,
            )
        )
    return workloads


def classes_and_periods(
    rng: random.Random,
    size: int,
    repeat: int,
    time_limit: float,
    realistic: bool = True,
    only: str | None = None,
    catalog_paths: list[str] | None = None,
) -> None:
    """The two speed goals: 5 workloads x 8 classes, and 3 periods with the migration term.

    ``realistic`` draws the catalog with :func:`realistic_catalog` (the goals' instances);
    otherwise :func:`synthetic_catalog`, whose per-offering random prices make every offering
    distinct, which no real catalog does. Each solve stops at ``time_limit`` seconds; the line
    then says ``time_limit`` and the gap. ``only`` (``classes`` or ``periods``) solves one of the
    two (the instances are drawn either way, so each is the same as in a full run)."""
    catalog = realistic_catalog(size, rng, catalog_paths) if realistic else synthetic_catalog(size, rng)
    kind = "realistic" if realistic else "synthetic"
    accs = sorted({o.accelerator for o in catalog if o.accelerator}) if realistic else None
    workloads = class_workloads(rng, accelerators_from=accs)
    limit = SizingOptions(time_limit_s=time_limit)
    if only != "periods":
        solve_s, plan = timed(lambda: plan_for(workloads, catalog, limit, explain=False), repeat)
        print(
            f"classes ({kind}): {size:,} offerings x {len(workloads)} workloads x 8 classes: {solve_s:.3f} s "
            f"(median of {repeat}; CPU {statistics.median(CPU):.3f} s), {plan.variables} variables, {plan.status}, gap {plan.mip_gap:.2%}  [goal < 5 s]"
        )
    base = synthetic_workloads(rng, accelerators_from=accs)
    three = [w.model_copy(update={"demand": (w.base, w.base * 1.4, w.base * 0.8)}) for w in base]
    first = plan_for([w.model_copy(update={"demand": w.base}) for w in base], catalog, explain=False)
    current = tuple(
        DeployedPool(**{k: v for k, v in p.to_dict().items() if k in DeployedPool.model_fields})
        for p in first.pools
    )
    if only == "classes":
        return
    options = SizingOptions(migration_usd_per_node_sq=500.0, current=current, time_limit_s=time_limit)
    solve_s, plan = timed(lambda: plan_for(three, catalog, options, explain=False), repeat)
    print(
        f"periods ({kind}): {size:,} offerings x {len(three)} workloads x 3 periods, migration 500 USD/node^2 from the "
        f"deployed plan: {solve_s:.3f} s (median of {repeat}; CPU {statistics.median(CPU):.3f} s), {plan.variables} variables, {plan.status}, "
        f"gap {plan.mip_gap:.2%}, migration {plan.migration_usd:,.0f} USD  [goal < 10 s]"
    )


CPU: list[float] = []
"""Process CPU seconds of the last :func:`timed` call's runs (the machine is shared: wall time
includes other jobs' load, CPU time does not)."""


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    CPU.clear()
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - started)
        CPU.append(time.process_time() - cpu)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--small", type=int, default=200, help="small instances checked by enumeration")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="time_limit_s for the every-extension runs, seconds"
    )
    parser.add_argument(
        "--classes-offerings",
        type=int,
        default=1_000,
        help="catalog size for the classes and periods figures",
    )
    parser.add_argument(
        "--goals-only",
        action="store_true",
        help="only the classes and periods figures (realistic catalog, then the synthetic one)",
    )
    parser.add_argument(
        "--only",
        choices=["classes", "periods"],
        help="with --goals-only: solve one goal's case (on the realistic catalog only)",
    )
    parser.add_argument(
        "--catalog",
        nargs="+",
        help="catalog CSVs the realistic draw samples (default: the bundled ones); an earlier "
        "commit's files reproduce that commit's draw",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.goals_only:
        classes_and_periods(
            rng, args.classes_offerings, 1, args.time_limit, only=args.only, catalog_paths=args.catalog
        )
        if args.only is None:
            classes_and_periods(rng, args.classes_offerings, 1, args.time_limit, realistic=False)
        return 0

    matches = mismatches = 0
    for _ in range(args.small):
        milp_cost, enum_cost = enumerate_small(rng)
        same = (milp_cost is None and enum_cost is None) or (
            milp_cost is not None
            and enum_cost is not None
            and math.isclose(milp_cost, enum_cost, abs_tol=0.01)
        )
        matches += same
        mismatches += not same
    print(
        f"enumeration check: {matches}/{args.small} small instances match the MILP optimum ({mismatches} differ)"
    )
    print()
    header = (
        f"{'offerings':>9} {'workloads':>9} {'choices':>8} {'vars':>6} {'solve s':>8} {'+explain s':>10} "
        f"{'optimum USD/mo':>15} {'greedy/opt':>10} {'DP gap':>8}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        catalog = synthetic_catalog(size, rng)
        workloads = synthetic_workloads(rng)
        solve_s, plan = timed(lambda c=catalog, w=workloads: plan_for(w, c, explain=False), args.repeat)
        explain_s, _ = timed(lambda c=catalog, w=workloads: plan_for(w, c, explain=True), 1)
        assert plan.optimal, plan.reason
        baseline = greedy(workloads, catalog)
        ratio = f"{baseline / plan.monthly_usd:.4f}" if baseline else "n/a"
        single = Workload(
            name="dp",
            model_mem_gib=20.0,
            demand=float(rng.randrange(5_000, 20_000)),
            throughput={a: float(rng.randrange(200, 2_000)) for a in GPU_BASE_USD},
            target_utilization=1.0,
            min_replicas=0,
        )
        uncapped = Catalog([replace(o, max_nodes=None) for o in catalog])
        dp = exact_dp(single, uncapped)
        milp_single = plan_for([single], uncapped, explain=False).monthly_usd
        gap = f"{(milp_single - dp) / dp:+.1e}"
        choices = len(candidates(workloads, catalog, SizingOptions())[0])
        print(
            f"{size:>9} {len(workloads):>9} {choices:>8} {plan.variables:>6} {solve_s:>8.3f} {explain_s:>10.3f} "
            f"{plan.monthly_usd:>15,.2f} {ratio:>10} {gap:>8}"
        )
    print()
    print(
        "with every extension on (min_zones 2, on_demand_floor 0.3, max_pools_per_workload 2, churn 100 USD/node"
    )
    print(
        "against a current deployment of the base plan with demand +10%, autoscale to 1.5x demand, "
        f"time_limit_s {args.time_limit:g}):"
    )
    for size in args.sizes:
        catalog = synthetic_catalog(size, rng)
        base = synthetic_workloads(rng)
        first = plan_for(base, catalog, explain=False)
        current = tuple(
            DeployedPool(**{k: v for k, v in p.to_dict().items() if k in DeployedPool.model_fields})
            for p in first.pools
        )
        grown = [w.model_copy(update={"demand": w.demand * 1.1, "peak_demand": w.demand * 1.5}) for w in base]
        options = SizingOptions(
            min_zones=2,
            on_demand_floor=0.3,
            max_pools_per_workload=2,
            churn_usd_per_node=100.0,
            current=current,
            autoscale=True,
            time_limit_s=args.time_limit,
        )
        solve_s, plan = timed(lambda c=catalog, w=grown, o=options: plan_for(w, c, o, explain=False), 1)
        status = plan.status if plan.optimal else f"{plan.status}, gap {plan.mip_gap:.2%}"
        print(f"  {size:>6} offerings: {solve_s:.3f} s, {plan.variables} variables, {status}")
    print()
    classes_and_periods(rng, args.classes_offerings, 1, args.time_limit)
    classes_and_periods(rng, args.classes_offerings, 1, args.time_limit, realistic=False)
    print()
    print(
        "(choices = workload x offering x capacity-type candidates; vars = MILP variables after dropping "
        f"dominated choices; monthly = hourly x {HOURS_PER_MONTH} h; solve = median of {args.repeat} runs of "
        "plan_for without explanations (one run with every extension), +explain = one run with runner-up solves; "
        "synthetic catalogs)"
    )
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
