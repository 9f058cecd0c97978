"""Request classes, multi-period plans with the quadratic migration term, survival, SLO capacity.

Each optimum is checked against an independent reference: enumeration of node counts, with an
LP (scipy ``linprog``, not the MILP) deciding whether the classes can be routed onto them.
"""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

from aistack.errors import InputError
from sizing import Catalog, capacity, plan_for, throughput
from sizing.optimize import _prune, candidates
from sizing.workloads import SizingOptions, Workload, load_workloads
from tests.sizing.sizing_factories import cost_close, offering

MELANGE_PRICES = {"A10G-24GB": 1.01, "A100-80GB": 3.67}
MELANGE_RATES = {"A10G-24GB": [2, 1, 5, 2], "A100-80GB": [20, 20, 40, 20]}
MELANGE_SHARES = [0.2, 0.1, 0.5, 0.2]


def classes_workload(
    rates: dict[str, list[float]], shares: list[float], demand: float | tuple, **fields: object
) -> Workload:
    return Workload(
        name="w",
        model_mem_gib=10,
        demand=demand,
        target_utilization=1.0,
        min_replicas=0,
        classes=[
            {"name": f"b{k}", "share": share, "throughput": {a: r[k] for a, r in rates.items() if r[k] > 0}}
            for k, share in enumerate(shares)
        ],
        **fields,
    )


def routable(
    counts: dict[str, int], rates: dict[str, list[float]], shares: list[float], demand: float
) -> bool:
    """Whether GPUs ``counts`` can carry every class (LP over routed fractions, scipy linprog)."""
    accs = sorted(counts)
    classes = range(len(shares))
    var = [(b, a) for b in classes for a in accs if rates[a][b] > 0]
    if not var:
        return demand == 0
    a_eq = np.zeros((len(shares), len(var)))
    a_ub = np.zeros((len(accs), len(var)))
    for j, (b, a) in enumerate(var):
        a_eq[b, j] = 1.0
        a_ub[accs.index(a), j] = demand * shares[b] / rates[a][b]
    b_eq = np.ones(len(shares))
    for b in classes:
        if not any(vb == b for vb, _ in var):
            return False
    done = linprog(
        np.zeros(len(var)),
        A_ub=a_ub,
        b_ub=[counts[a] + 1e-9 for a in accs],
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=(0, None),
    )
    return done.status == 0


def melange_catalog() -> Catalog:
    return Catalog(
        [
            offering("a10g", MELANGE_PRICES["A10G-24GB"], accelerator="A10G-24GB"),
            offering("a100", MELANGE_PRICES["A100-80GB"], accelerator="A100-80GB", gpu_mem=80),
        ]
    )


def test_melange_published_example_fractional_optimum_is_found_and_proven() -> None:
    # Melange (arXiv 2404.14527, melange/config/example.json): their ILP answers {A10G 3, A100 1}.
    published = 3 * 1.01 + 1 * 3.67
    assert published == pytest.approx(6.70)
    assert routable({"A10G-24GB": 3, "A100-80GB": 1}, MELANGE_RATES, MELANGE_SHARES, 30)
    plan = plan_for([classes_workload(MELANGE_RATES, MELANGE_SHARES, 30)], melange_catalog())
    assert plan.optimal
    hourly = plan.objective_usd / 730
    assert hourly <= published
    # Proof by enumeration: no cheaper GPU mix can carry the classes.
    best = min(
        n10 * 1.01 + n100 * 3.67
        for n10, n100 in itertools.product(range(8), range(3))
        if routable({"A10G-24GB": n10, "A100-80GB": n100}, MELANGE_RATES, MELANGE_SHARES, 30)
    )
    assert hourly == pytest.approx(best)
    assert hourly == pytest.approx(4.68)
    routes = {c.name: c.routes for c in plan.workloads[0].classes}
    assert sum(routes["b2"].values()) == pytest.approx(1.0)
    assert len(routes["b2"]) == 2  # the big class is split across both pools


def test_explanations_say_where_each_class_went_and_what_slo_and_survival_cost() -> None:
    # Melange: the explanation names each class's pools and the cheapest pool per unit of it.
    plan = plan_for([classes_workload(MELANGE_RATES, MELANGE_SHARES, 30)], melange_catalog())
    text = plan.to_text()
    for klass in plan.workloads[0].classes:
        assert f"class {klass.name} (" in text and klass.why and klass.why in text
    b0 = next(k for k in plan.workloads[0].classes if k.name == "b0")
    # b0 runs at 2/s on an A10G (1.01 USD/h) and 20/s on an A100 (3.67): the A100 is cheaper per unit.
    assert "a100" in b0.why and "a100" in next(iter(b0.routes))
    # The latency target's cost is the objective at the target minus the objective at offline figures:
    # 90,000 tokens/s at 80% takes 3 nodes at H200's interactive 6,684/GPU, 2 at its offline 8,255.
    w = Workload(
        name="w", model="llama-3.1-8b", precision="fp8", demand=90_000, slo="interactive", min_replicas=0
    )
    h200 = Catalog([offering("h200x8", 60.0, accelerator="H200-141GB", gpu_mem=141, gpus=8)])
    tight = plan_for([w], h200)
    loose = plan_for([Workload(**{**w.model_dump(exclude={"throughput"}), "slo": "offline"})], h200)
    assert tight.optimal and loose.optimal and loose.slo_cost_usd is None
    assert tight.slo_cost_usd == pytest.approx(
        tight.objective_usd - loose.objective_usd
    ) and tight.slo_cost_usd == pytest.approx(60.0 * 730)
    assert f"latency targets cost {tight.slo_cost_usd:,.2f} USD" in tight.to_text()
    # Surviving a zone: the cost is the objective with survival minus the one without.
    cat = Catalog([offering("z", 1.0, zones=["us-east-1a", "us-east-1b"])])
    single = Workload(name="w", model_mem_gib=20, demand=300, throughput={"L4": 100}, target_utilization=1.0)
    robust, plain = plan_for([single], cat, SizingOptions(survive="zone")), plan_for([single], cat)
    assert (
        robust.survive_cost_usd
        == pytest.approx(robust.objective_usd - plain.objective_usd)
        == pytest.approx(3 * 730)
    )
    assert "surviving the loss of one failure domain costs 2,190.00 USD" in robust.to_text()


@pytest.mark.parametrize("seed", range(12))
def test_random_class_instances_match_enumeration(seed: int) -> None:
    rng = random.Random(seed)
    accs = ["L4-24GB", "A10G-24GB", "A100-80GB"]
    prices = {a: round(rng.uniform(0.5, 4.0), 2) for a in accs}
    rates = {a: [rng.choice([0, rng.uniform(1, 10)]) for _ in range(3)] for a in accs}
    for b in range(3):  # every class has somewhere to go
        if all(rates[a][b] == 0 for a in accs):
            rates[accs[b]][b] = rng.uniform(1, 10)
    cut = sorted(rng.uniform(0.05, 0.95) for _ in range(2))
    shares = [cut[0], cut[1] - cut[0], 1 - cut[1]]
    demand = rng.uniform(2, 15)
    cat = Catalog(
        [offering(a, prices[a], accelerator=a, gpu_mem=80 if a.startswith("A100") else 24) for a in accs]
    )
    plan = plan_for([classes_workload(rates, shares, demand)], cat, explain=False)
    best = None
    for counts in itertools.product(range(7), repeat=3):
        mix = dict(zip(accs, counts, strict=True))
        if routable(mix, rates, shares, demand):
            cost = sum(prices[a] * n for a, n in mix.items())
            best = cost if best is None else min(best, cost)
    assert best is not None and plan.optimal
    assert cost_close(plan.objective_usd, best * 730)


def test_without_classes_a_workload_is_one_class() -> None:
    w = Workload(name="w", model_mem_gib=10, demand=5, throughput={"L4": 2})
    assert [(c.name, c.share) for c in w.request_classes] == [("all", 1.0)]
    cands, _ = candidates([w], Catalog([offering("l4", 1.0)]), SizingOptions())
    assert cands[0].class_caps == (cands[0].capacity,)


def test_class_shares_must_sum_to_one(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "workloads:\n  - name: chat\n    model_mem_gib: 10\n    demand: 10\n    classes:\n"
        "      - {name: short, share: 0.5, throughput: {L4: 10}}\n"
        "      - {name: long, share: 0.4, throughput: {L4: 2}}\n"
    )
    with pytest.raises(InputError) as err:
        load_workloads(path)
    assert err.value.key == "workloads.chat.classes"
    assert "sum to 1" in err.value.message


def brute_force_periods(
    prices: dict[str, float],
    caps: dict[str, float],
    demands: list[float],
    alpha: float,
    current: dict[str, int],
    hours: float,
) -> float:
    """Cheapest sum of period costs plus alpha x sum of squared changes, by enumeration."""
    names = sorted(prices)
    per_period = [
        [
            c
            for c in itertools.product(range(6), repeat=len(names))
            if sum(n * caps[a] for n, a in zip(c, names, strict=True)) >= d - 1e-9
        ]
        for d in demands
    ]
    best = float("inf")
    for path in itertools.product(*per_period):
        cost = 0.0
        previous = [current.get(a, 0) for a in names]
        for counts in path:
            cost += hours * sum(n * prices[a] for n, a in zip(counts, names, strict=True))
            cost += alpha * sum((n - p) ** 2 for n, p in zip(counts, previous, strict=True))
            previous = list(counts)
        best = min(best, cost)
    return best


@pytest.mark.parametrize("alpha", [0.0, 3.0, 40.0, 400.0])
def test_two_periods_with_migration_match_brute_force(alpha: float) -> None:
    prices = {"small": 1.0, "big": 3.5}
    caps = {"small": 100.0, "big": 400.0}
    cat = Catalog([offering("small", 1.0), offering("big", 3.5, gpus=4, gpu_mem=24)])
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=(250.0, 820.0),
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    current = [{"workload": "w", "cloud": "aws", "region": "us-east-1", "instance_type": "small", "nodes": 2}]
    options = SizingOptions(migration_usd_per_node_sq=alpha, period_hours=10, current=current)
    plan = plan_for([w], cat, options, explain=False)
    expected = brute_force_periods(prices, caps, [250.0, 820.0], alpha, {"small": 2}, 10)
    assert plan.optimal and len(plan.periods) == 2
    assert cost_close(plan.objective_usd, expected)
    assert cost_close(sum(p.cost_usd for p in plan.periods) + plan.migration_usd, plan.objective_usd)


def test_migration_keeps_nodes_through_a_dip_when_that_is_cheaper() -> None:
    # Dropping 3 nodes and re-adding them costs 2 x 9 x 400 USD; keeping them costs 3 x 10 USD.
    cat = Catalog([offering("small", 1.0)])
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=(400.0, 100.0, 400.0),
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    plan = plan_for([w], cat, SizingOptions(migration_usd_per_node_sq=400, period_hours=10), explain=False)
    expected = brute_force_periods({"small": 1.0}, {"small": 100.0}, [400.0, 100.0, 400.0], 400, {}, 10)
    assert plan.optimal and cost_close(plan.objective_usd, expected)
    assert [p.pools[0].nodes for p in plan.periods] == [4, 4, 4]


def test_migration_spreads_growth_over_identical_pools_that_dominance_would_drop() -> None:
    # Three identical offerings: one dominates the others, but adding one node to each costs
    # 3 x 400 USD of migration against 2^2 + 1 = 5 x 400 USD on two of them.
    names = ["c1", "c2", "c3"]
    cat = Catalog([offering(n, 1.0) for n in names])
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=(300.0, 300.0),
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    plan = plan_for([w], cat, SizingOptions(migration_usd_per_node_sq=400, period_hours=10), explain=False)
    prices, caps = dict.fromkeys(names, 1.0), dict.fromkeys(names, 100.0)
    expected = brute_force_periods(prices, caps, [300.0, 300.0], 400, {}, 10)
    assert plan.optimal and cost_close(plan.objective_usd, expected)
    assert sorted(p.nodes for p in plan.periods[0].pools) == [1, 1, 1]


def dp_periods(
    prices: list[float],
    caps: list[float],
    demands: list[float],
    alpha: float,
    current: list[int],
    hours: float,
    quotas: list[int] | None = None,
) -> float:
    """Cheapest period costs plus alpha x squared changes over node vectors up to 5 per pool (DP),
    each pool within its quota when ``quotas`` is given."""
    states = np.array(list(itertools.product(range(6), repeat=len(prices))), dtype=float)
    if quotas is not None:
        states = states[(states <= np.array(quotas)).all(axis=1)]
    served, price = states @ np.array(caps), states @ np.array(prices) * hours
    best = alpha * ((states - np.array(current, dtype=float)) ** 2).sum(axis=1)
    moves = alpha * ((states[:, None, :] - states[None, :, :]) ** 2).sum(axis=2)
    for t, demand in enumerate(demands):
        if t:
            best = (best[None, :] + moves).min(axis=1)
        best = np.where(served >= demand - 1e-9, best + price, np.inf)
    return float(best.min())


def _three_periods(cat: Catalog, demands: list[float], alpha: float, deployed: int):
    """Plan one L4 workload (100 units/s per node) over ``demands``, ``deployed`` nodes on "deployed" today."""
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=tuple(demands),
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    current = [
        {
            "workload": "w",
            "cloud": "aws",
            "region": "us-east-1",
            "instance_type": "deployed",
            "nodes": deployed,
        }
    ]
    options = SizingOptions(
        migration_usd_per_node_sq=alpha, period_hours=10, current=current if deployed else []
    )
    return plan_for([w], cat, options, explain=False)


@pytest.mark.parametrize("seed", range(6))
def test_three_periods_with_twin_pools_match_enumeration(seed: int) -> None:
    # Twins (same price and capacity, nothing deployed) are solved as one column priced at the
    # least sum of squares of an even spread; a deployed copy and a dearer copy stay apart.
    rng = random.Random(seed)
    names = ["deployed", "twin-a", "twin-b", "dearer", "big"]
    prices = [1.0, 1.0, 1.0, 1.08, 3.5]
    caps = [100.0, 100.0, 100.0, 100.0, 400.0]
    cat = Catalog([offering(n, p, gpus=4 if n == "big" else 1) for n, p in zip(names, prices, strict=True)])
    demands = [float(rng.randrange(100, 900, 50)) for _ in range(3)]
    alpha = rng.choice([2.0, 15.0, 60.0])
    deployed = rng.randrange(0, 4)
    plan = _three_periods(cat, demands, alpha, deployed)
    expected = dp_periods(prices, caps, demands, alpha, [deployed, 0, 0, 0, 0], 10)
    assert plan.optimal and cost_close(plan.objective_usd, expected), (demands, alpha, deployed)
    assert cost_close(sum(p.cost_usd for p in plan.periods) + plan.migration_usd, plan.objective_usd)


def test_capped_offerings_dominate_under_migration_when_their_quota_holds_the_pool() -> None:
    # With the migration term a candidate is dropped only when enough new pools dominate it (one
    # of them is then unused in any optimum); a capped pool counts when its quota holds every node
    # the dropped pool can hold. "p3" (quota 2) has two such dominators, "p4" (quota 5) only "p2"
    # (the cheaper "p0*" hold one node each). The catalog lists offerings by name.
    cat = Catalog(
        [
            offering("p0a", 0.9, max_nodes=1),
            offering("p0b", 0.9, max_nodes=1),
            offering("p1", 1.0, max_nodes=4),
            offering("p2", 1.0, max_nodes=5),
            offering("p3", 1.0, max_nodes=2),
            offering("p4", 1.0, max_nodes=5),
        ]
    )
    w = Workload(name="w", model_mem_gib=20, demand=500.0, throughput={"L4": 100}, target_utilization=1.0)
    cands, _ = candidates([w], cat, SizingOptions())
    names = [c.offering.instance_type for c in cands]
    quotas = [c.offering.max_nodes for c in cands]
    new = [False] * len(cands)
    keep = _prune(cands, new, [q is None for q in quotas], False, None, 2, True, quotas)
    assert [n for n, k in zip(names, keep, strict=True) if not k] == ["p3"]
    assert all(_prune(cands, new, [q is None for q in quotas], False, None, 2, True))  # without quotas
    # Deployed nodes on an offering take it out of the dominators.
    deployed = [n == "p1" for n in names]
    assert all(_prune(cands, deployed, [q is None for q in quotas], False, None, 2, True, quotas))


@pytest.mark.parametrize("seed", range(8))
def test_three_periods_with_capped_pools_match_enumeration(seed: int) -> None:
    rng = random.Random(seed)
    names = ["deployed", "a", "c", "b"]
    prices = [1.0] + [rng.choice([1.0, 1.0, 1.1]) for _ in names[1:]]
    quotas = [5] + [rng.randrange(1, 6) for _ in names[1:]]
    demands = [float(rng.randrange(100, 100 * sum(quotas) + 1, 50)) for _ in range(3)]
    _check_capped(rng, names, prices, quotas, demands, rng.choice([2.0, 15.0, 60.0]))


def _check_capped(
    rng: random.Random,
    names: list[str],
    prices: list[float],
    quotas: list[int | None],
    demands: list[float],
    alpha: float,
) -> None:
    """Three periods over four pools (the first deployed with 0-3 nodes) equal the enumeration, within quota
    (an uncapped pool enumerated up to 5 nodes)."""
    cat = Catalog([offering(n, p, max_nodes=q) for n, p, q in zip(names, prices, quotas, strict=True)])
    deployed = rng.randrange(0, 4)
    plan = _three_periods(cat, demands, alpha, deployed)
    bounded = [5 if q is None else q for q in quotas]
    expected = dp_periods(prices, [100.0] * 4, demands, alpha, [deployed, 0, 0, 0], 10, bounded)
    assert plan.optimal and cost_close(plan.objective_usd, expected), (prices, quotas, demands, alpha)
    for period in plan.periods:
        assert all(p.nodes <= bounded[names.index(p.instance_type)] for p in period.pools)


@pytest.mark.parametrize("seed", range(6))
def test_capped_twins_with_one_quota_match_enumeration(seed: int) -> None:
    # "a" and "c" are capped twins (same price, capacity and quota, nothing deployed): one column
    # whose quota is their sum, split evenly after the solve.
    rng = random.Random(seed)
    names = ["deployed", "a", "c", "b"]
    quota = rng.randrange(1, 4)
    prices = [1.0, 1.0, 1.0, rng.choice([1.0, 1.2])]
    quotas = [5, quota, quota, rng.randrange(1, 6)]
    demands = [float(rng.randrange(100, 100 * sum(quotas) + 1, 50)) for _ in range(3)]
    _check_capped(rng, names, prices, quotas, demands, rng.choice([2.0, 15.0, 60.0]))


@pytest.mark.parametrize("seed", range(10))
def test_quota_above_the_node_bound_twins_with_uncapped_pools_match_enumeration(seed: int) -> None:
    # "c" has a quota above the most nodes a new pool can hold in a plan that can be optimal, so it
    # is solved in one column with its uncapped twin "a"; "b" is a dearer or small-quota copy.
    rng = random.Random(seed)
    names = ["deployed", "a", "c", "b"]
    prices = [1.0, 1.0, 1.0, rng.choice([1.0, 1.1])]
    quotas = [5, None, 5, rng.choice([None, 2])]
    demands = [float(rng.randrange(100, 1201, 50)) for _ in range(3)]
    _check_capped(rng, names, prices, quotas, demands, rng.choice([8.0, 10.0, 12.0]))


def dp_two_workloads(
    prices: list[float],
    quotas: list[int | None],
    demands: list[tuple[float, float]],
    alpha: float,
    current: list[int],
    hours: float,
) -> float:
    """Two workloads u, v on offerings a, b (100 units/s per node): the cheapest period costs plus
    alpha x squared changes per pool (u-a, u-b, v-a, v-b), each offering's quota shared (DP)."""
    states = np.array(list(itertools.product(range(6), repeat=4)), dtype=float)
    for k, cap in enumerate(quotas):
        if cap is not None:
            states = states[states[:, k] + states[:, k + 2] <= cap]
    price = states @ np.array(prices * 2) * hours
    served_u, served_v = 100 * (states[:, 0] + states[:, 1]), 100 * (states[:, 2] + states[:, 3])
    best = alpha * ((states - np.array(current, dtype=float)) ** 2).sum(axis=1)
    moves = alpha * ((states[:, None, :] - states[None, :, :]) ** 2).sum(axis=2)
    for t, (du, dv) in enumerate(demands):
        if t:
            best = (best[None, :] + moves).min(axis=1)
        best = np.where((served_u >= du - 1e-9) & (served_v >= dv - 1e-9), best + price, np.inf)
    return float(best.min())


@pytest.mark.parametrize("seed", range(10))
def test_workloads_sharing_a_quota_match_joint_enumeration(seed: int) -> None:
    # With the migration term workloads are solved one by one and merged when their plans overrun
    # a shared quota: the cheap offering "a" has a small quota both workloads want.
    rng = random.Random(seed)
    prices = [1.0, rng.choice([1.1, 1.3])]
    quotas = [rng.randrange(1, 5), rng.choice([None, 8])]
    cat = Catalog([offering(n, p, max_nodes=q) for n, p, q in zip("ab", prices, quotas, strict=True)])
    demands = [(float(rng.randrange(0, 400, 50)), float(rng.randrange(0, 400, 50))) for _ in range(3)]
    alpha = rng.choice([2.0, 15.0, 60.0])
    deployed = [min(rng.randrange(0, 3), quotas[0]), 0, 0, 0]
    workloads = [
        Workload(
            name=name,
            model_mem_gib=20,
            demand=tuple(d[k] for d in demands),
            throughput={"L4": 100},
            target_utilization=1.0,
            min_replicas=0,
        )
        for k, name in enumerate("uv")
    ]
    current = [
        {"workload": "u", "cloud": "aws", "region": "us-east-1", "instance_type": "a", "nodes": deployed[0]}
    ]
    options = SizingOptions(
        migration_usd_per_node_sq=alpha, period_hours=10, current=current if deployed[0] else []
    )
    plan = plan_for(workloads, cat, options, explain=False)
    expected = dp_two_workloads(prices, quotas, demands, alpha, deployed, 10)
    assert plan.optimal and cost_close(plan.objective_usd, expected), (
        prices,
        quotas,
        demands,
        alpha,
        deployed,
    )
    for period in plan.periods:
        for k, name in enumerate("ab"):
            used = sum(p.nodes for p in period.pools if p.instance_type == name)
            assert quotas[k] is None or used <= quotas[k]


def test_quadratic_and_linear_churn_give_different_plans() -> None:
    # Six small nodes run now; 250 units/s needs three. L1 (5 USD/node) sheds three for 15 USD;
    # the square (5 USD/node^2) makes shedding three cost 45, so it sheds one (5 USD).
    cat = Catalog([offering("small", 1.0), offering("big", 3.5, gpus=4, gpu_mem=24)])
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=250.0,
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    current = [{"workload": "w", "cloud": "aws", "region": "us-east-1", "instance_type": "small", "nodes": 6}]
    quadratic = plan_for(
        [w], cat, SizingOptions(migration_usd_per_node_sq=5, period_hours=10, current=current)
    )
    linear = plan_for([w], cat, SizingOptions(churn_usd_per_node=5, period_hours=10, current=current))
    assert [(p.instance_type, p.nodes) for p in quadratic.pools] == [("small", 5)]
    assert [(p.instance_type, p.nodes) for p in linear.pools] == [("small", 3)]
    assert quadratic.objective_usd == pytest.approx(55.0) and linear.objective_usd == pytest.approx(45.0)


def test_periods_must_agree_in_length() -> None:
    with pytest.raises(ValueError, match="same number of periods"):
        from sizing.workloads import WorkloadsFile

        WorkloadsFile.model_validate(
            {
                "workloads": [
                    {"name": "a", "model_mem_gib": 1, "demand": [1, 2], "throughput": {"L4": 1}},
                    {"name": "b", "model_mem_gib": 1, "demand": [1, 2, 3], "throughput": {"L4": 1}},
                ]
            }
        )


def test_survive_zone_spreads_and_over_provisions_spot() -> None:
    cat = Catalog(
        [
            offering("cheap", 1.0, spot=0.3, zones=["a", "b", "c"]),
            offering("solo", 0.9, spot=0.2, zones=["a"]),
        ]
    )
    w = Workload(
        name="w", model_mem_gib=20, demand=200, throughput={"L4": 100}, target_utilization=1.0, spot=True
    )
    plain = plan_for([w], cat, SizingOptions())
    robust = plan_for([w], cat, SizingOptions(survive="zone"))
    assert plain.optimal and robust.optimal
    assert robust.survive_cost_usd is not None and robust.survive_cost_usd > 0
    # Spot nodes count at 0.8: 200 units/s needs 3 nodes; any one zone lost must leave 3.
    nodes = sum(p.nodes for p in robust.pools)
    assert nodes >= 4 and "survive" in robust.workloads[0].bound_by


def test_survive_zone_lets_a_multi_zone_offering_carry_demand_alone() -> None:
    # One offering in two zones: surviving a zone takes 3 nodes in each (the per-offering bound
    # used to stop at the 3 nodes demand needs, which made this infeasible). With a dearer
    # one-zone offering beside it, 2 + 2 plus 1 elsewhere (5.5 USD/h) beats 3 + 3 (6 USD/h).
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=300.0,
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    two = offering("a", 1.0, zones=("us-east-1a", "us-east-1b"))
    alone = plan_for([w], Catalog([two]), SizingOptions(survive="zone"), explain=False)
    assert alone.optimal and [p.nodes for p in alone.pools] == [6]
    assert alone.workloads[0].zones == {"aws/us-east-1/us-east-1a": 3, "aws/us-east-1/us-east-1b": 3}
    shared = plan_for(
        [w],
        Catalog([two, offering("b", 1.5, zones=("us-east-1c",))]),
        SizingOptions(survive="zone"),
        explain=False,
    )
    assert shared.optimal and shared.monthly_usd == pytest.approx(5.5 * 730)
    assert sorted((p.instance_type, p.nodes) for p in shared.pools) == [("a", 4), ("b", 1)]


def enumerate_survive_zone(offers: list[tuple[float, tuple[str, ...]]], nodes_needed: int) -> float:
    """Cheapest nodes per (offering, zone), up to 4 each, with every one zone lost leaving enough."""
    slots = [(price, zone) for price, zones in offers for zone in zones]
    all_zones = {zone for _, zone in slots}
    best = float("inf")
    for counts in itertools.product(range(5), repeat=len(slots)):
        total = sum(counts)
        if all(
            total - sum(n for n, (_, z) in zip(counts, slots, strict=True) if z == lost) >= nodes_needed
            for lost in all_zones
        ):
            best = min(best, sum(n * price for n, (price, _) in zip(counts, slots, strict=True)))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_survive_zone_matches_enumeration_of_zone_placements(seed: int) -> None:
    rng = random.Random(seed)
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    offers = [
        (round(rng.uniform(1.0, 2.0), 2), tuple(sorted(rng.sample(zones, rng.choice([1, 2])))))
        for _ in range(3)
    ]
    needed = rng.randrange(1, 5)
    cat = Catalog([offering(f"o{k}", price, zones=zs) for k, (price, zs) in enumerate(offers)])
    w = Workload(
        name="w",
        model_mem_gib=20,
        demand=100.0 * needed,
        throughput={"L4": 100},
        target_utilization=1.0,
        min_replicas=0,
    )
    plan = plan_for([w], cat, SizingOptions(survive="zone"), explain=False)
    expected = enumerate_survive_zone(offers, needed)
    if expected == float("inf"):
        assert not plan.optimal
        return
    assert plan.optimal and plan.monthly_usd == pytest.approx(expected * 730), (offers, needed)
    # The reported placement is the one survival was proven with.
    placed = plan.workloads[0].zones
    assert sum(placed.values()) == sum(p.nodes for p in plan.pools)
    assert all(sum(placed.values()) - n >= needed for n in placed.values())


def test_survive_region_needs_two_regions() -> None:
    w = Workload(name="w", model_mem_gib=20, demand=100, throughput={"L4": 100})
    plan = plan_for([w], Catalog([offering("a", 1.0)]), SizingOptions(survive="region"))
    assert plan.status == "infeasible" and plan.reason.code == "survive"
    two = Catalog([offering("a", 1.0), offering("b", 1.2, region="us-west-2")])
    plan = plan_for([w], two, SizingOptions(survive="region"))
    assert plan.optimal and {p.region for p in plan.pools} == {"us-east-1", "us-west-2"}


def test_spot_availability_override_changes_the_count() -> None:
    cat = Catalog([offering("a", 1.0, spot=0.3)])
    w = Workload(
        name="w", model_mem_gib=20, demand=400, throughput={"L4": 100}, target_utilization=1.0, spot=True
    )
    assert plan_for([w], cat).pools[0].nodes == 5  # 400 / (100 x 0.8)
    assert plan_for([w], cat, SizingOptions(spot_availability={"aws": 1.0})).pools[0].nodes == 4


def test_every_throughput_row_carries_its_source_and_date() -> None:
    with throughput.TABLE.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        assert row["source"].strip() and row["as_of"].strip() and "mlcommons" in row["source"].lower()
    assert len(throughput.measurements()) == len(rows)


def test_slo_picks_the_scenario_figure() -> None:
    server = Workload(name="w", model="llama-3.1-8b", demand=1, slo="server")
    offline = Workload(name="w", model="llama-3.1-8b", demand=1, slo="offline")
    assert server.throughput["H100-80GB"] == pytest.approx(5104.0, abs=1)
    assert offline.throughput["H100-80GB"] == pytest.approx(5777.1, abs=1)
    tight = Workload(name="w", model="llama-2-70b", demand=1, slo={"ttft_ms": 450, "tpot_ms": 40})
    assert tight.throughput["MI300X-192GB"] == pytest.approx(1056.9, abs=1)


def test_unmeasured_pairs_get_a_flagged_estimate_with_margin() -> None:
    w = Workload(name="w", model="llama-3.1-8b", precision="fp8", demand=1000, slo="server", clouds=("aws",))
    plan = plan_for([w], Catalog([offering("l4", 0.8, accelerator="L4-24GB", gpu_mem=22.35)]))
    assert plan.optimal
    assert any("ESTIMATED" in c for c in plan.workloads[0].caveats)


@pytest.mark.parametrize("model", ["llama-3.1-8b", "llama-3.1-70b", "llama-2-70b"])
@pytest.mark.parametrize("slo", ["offline", "server", "interactive"])
def test_credited_capacity_never_exceeds_the_kv_bound(model: str, slo: str) -> None:
    w = Workload(
        name="w", model=model, precision="fp8", kv_tokens=1024, demand=1, slo=slo, max_model_len=8192
    )
    for acc, mem in (("H100-80GB", 80), ("H200-141GB", 141), ("L40S-48GB", 44.7), ("B200-180GB", 180)):
        o = offering("x", 10.0, accelerator=acc, gpu_mem=mem, gpus=8)
        for g in (1, 2, 4, 8):
            credit = capacity.credited_throughput(w, o, g)
            bound = capacity.kv_bound_per_gpu(
                w, mem, g, {"H100-80GB": 3.35, "H200-141GB": 4.8, "L40S-48GB": 0.864, "B200-180GB": 8.0}[acc]
            )
            assert bound is not None
            for value in credit.per_class.values():
                assert 0 < value <= bound + 1e-9


def test_kv_bound_counts_typical_requests_and_needs_one_full_length_sequence() -> None:
    # 8B BF16 on one A10G (22.35 GiB visible): ~25,866 tokens of KV cache at 16,384 tokens of context.
    # A typical 1,280-token request gives 20 concurrent sequences; a layout that cannot hold one
    # max_model_len sequence (131,072 tokens) is credited nothing.
    from sizing import memory

    a10g = offering("g5", 1.0, accelerator="A10G-24GB", gpu_mem=22.35)
    base = {"name": "w", "model": "llama-3.1-8b", "demand": 1, "throughput": {"A10G": 486}}
    fit = memory.fit("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=16_384)
    per_sequence = 0.6e12 / (fit.weights_gib * 2**30)
    typical = Workload(**base, max_model_len=16_384)
    assert typical.typical_len == 1_280
    assert capacity.kv_bound_per_gpu(typical, 22.35, 1, 0.6) == pytest.approx(
        fit.kv_tokens // 1_280 * per_sequence
    )
    assert capacity.credited_throughput(typical, a10g, 1).per_class == {"all": 486}
    full = Workload(**base, max_model_len=16_384, typical_tokens=50_000)  # capped at max_model_len
    assert full.typical_len == 16_384
    assert capacity.credited_throughput(full, a10g, 1).per_class["all"] == pytest.approx(per_sequence)
    classes = Workload(
        **{**base, "throughput": None},
        max_model_len=16_384,
        classes=[
            {"name": "short", "share": 0.75, "throughput": {"A10G": 600}, "tokens": 1_000},
            {"name": "long", "share": 0.25, "throughput": {"A10G": 200}, "tokens": 9_000},
        ],
    )
    assert classes.typical_len == 3_000
    too_long = Workload(**base, max_model_len=131_072)
    assert capacity.kv_bound_per_gpu(too_long, 22.35, 1, 0.6) == 0
    assert capacity.credited_throughput(too_long, a10g, 1).per_class == {}


def test_70b_fp8_on_one_h100_is_credited_a_few_hundred_tokens() -> None:
    w = Workload(
        name="w",
        model="llama-3.1-70b",
        precision="fp8",
        kv_tokens=1024,
        demand=1,
        slo="server",
        max_model_len=4096,
    )
    credit = capacity.credited_throughput(
        w, offering("p5", 50.0, accelerator="H100-80GB", gpu_mem=80, gpus=8), 1
    )
    assert 0 < credit.per_class["all"] < 600  # the measured 2,679 needs a larger KV cache


@pytest.mark.parametrize("pools", [1, 2, 3, 5])
def test_balanced_twins_pay_the_least_sum_of_squares(pools: int) -> None:
    from sizing.optimize import _balanced, _spread_squares

    rng = random.Random(pools)
    totals = [rng.randrange(0, 12) for _ in range(8)]
    split = _balanced(totals, pools)
    previous = [0] * pools
    for total, nodes in zip(totals, split, strict=True):
        assert sum(nodes) == total and min(nodes) >= 0 and max(nodes) - min(nodes) <= 1
        d = total - sum(previous)
        paid = sum((n - p) ** 2 for n, p in zip(nodes, previous, strict=True))
        # The even spread is the least any integer split of d can pay (checked by enumeration).
        least = (
            min(
                sum(x * x for x in split_d)
                for split_d in itertools.product(range(-12, 13), repeat=pools)
                if sum(split_d) == d
            )
            if pools <= 3
            else _spread_squares(abs(d), pools)
        )
        assert paid == _spread_squares(abs(d), pools) == least
        previous = nodes


@pytest.mark.parametrize("seed", range(4))
def test_period_floors_cut_no_plan_when_sites_carry_a_fixed_cost(seed: int, monkeypatch) -> None:
    # The per-period cost floors are rows of the MILP; where a site's fixed cost makes a workload's
    # single-period optimum no bound on its node cost they are left out. Same optimum without them.
    from sizing import optimize
    from tests.sizing.test_sizing_sites import instance, with_fixed_costs

    workload, catalog, _ = instance(seed)
    workload = with_fixed_costs(workload, seed)
    demands = (workload.base, workload.base * 1.5, workload.base * 0.7)
    workload = workload.model_copy(update={"demand": demands})
    options = SizingOptions(max_pools_per_workload=1, migration_usd_per_node_sq=40.0)
    plan = plan_for([workload], catalog, options, explain=False)
    monkeypatch.setattr(optimize, "_period_floors", lambda workloads, *_: None)
    without = plan_for([workload], catalog, options, explain=False)
    assert plan.optimal and without.optimal
    assert cost_close(plan.objective_usd, without.objective_usd)
