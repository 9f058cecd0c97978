"""Joint placement of one workload across several sites (one endpoint served from several clusters).

Each site is one node pool: its cloud, region, accelerator and machine types, spot or on-demand,
at most one machine type, a floor of replicas. The plan is checked against brute-force enumeration
of every machine-type choice and node count per site, with survive: cloud (and region, none).
"""

from __future__ import annotations

import itertools
import math
import random

import pytest

from sizing import Catalog, SizingOptions, plan_for
from sizing.optimize import candidates
from sizing.workloads import Site, Workload
from tests.sizing.sizing_factories import offering

CLOUDS = (
    ("aws", "us-east-1", "A10G-24GB"),
    ("gcp", "us-central1", "L4-24GB"),
    ("azure", "eastus", "A10-24GB"),
)
THROUGHPUT = {"A10G-24GB": 300.0, "L4-24GB": 250.0, "A10-24GB": 280.0}


def instance(seed: int, sites: int = 3) -> tuple[Workload, Catalog, list[list]]:
    """A random small instance: per site two machine types (1 or 2 GPUs), some spot."""
    rng = random.Random(seed)
    offers, site_specs = [], []
    for cloud, region, accelerator in CLOUDS[:sites]:
        spot = rng.random() < 0.5
        for k, gpus in enumerate((1, 2)):
            price = round(rng.uniform(0.6, 1.6) * gpus * (0.9 if k else 1.0), 3)
            offers.append(
                offering(
                    f"{cloud}-{gpus}x",
                    price,
                    cloud=cloud,
                    region=region,
                    accelerator=accelerator,
                    gpus=gpus,
                    spot=round(price * rng.uniform(0.3, 0.6), 3) if spot else None,
                    max_nodes=rng.choice((None, 6, 8)),
                )
            )
        # Another cloud's region holds a cheaper offering no site accepts: it must never be used.
        site_specs.append(
            Site(cloud=cloud, region=region, accelerator=accelerator, spot=spot, min_replicas=1)
        )
    offers.append(offering("elsewhere", 0.01, cloud="aws", region="eu-west-1", accelerator="A10G-24GB"))
    workload = Workload(
        name="chat",
        demand=rng.choice((900.0, 1400.0, 2000.0)),
        model_mem_gib=20,
        throughput=THROUGHPUT,
        target_utilization=0.8,
        min_replicas=0,
        clouds=tuple(c for c, _, _ in CLOUDS[:sites]),
        regions=tuple(r for _, r, _ in CLOUDS[:sites]),
        spot=any(s.spot for s in site_specs),
        sites=tuple(site_specs),
    )
    return workload, Catalog(offers), site_specs


def brute_force(workload: Workload, catalog: Catalog, options: SizingOptions, limit: int = 9) -> float:
    """Cheapest hourly cost over every (machine type, nodes) per site meeting the demand, the floors, the
    quotas and the survival rule; candidates' capacities are the model's own (what is checked is the solve)."""
    cands, _ = candidates([workload], catalog, options)
    per_site: list[list[tuple[float, float, int, int | None, str]]] = []
    for k, _ in enumerate(workload.sites):
        mine = [c for c in cands if c.site == k]
        choices = [(0.0, 0.0, 0, None, "")]  # no node on the site (allowed only with a floor of 0)
        for c in mine:
            cap = c.offering.max_nodes if c.offering.max_nodes is not None else limit
            for n in range(1, min(cap, limit) + 1):
                choices.append(
                    (
                        n * c.hourly,
                        n * c.capacity,
                        n * c.replicas_per_node,
                        c.offering.max_nodes,
                        c.offering.cloud,
                    )
                )
        per_site.append(choices)
    best = math.inf
    for combo in itertools.product(*per_site):
        cost = sum(c[0] for c in combo)
        if cost >= best:
            continue
        if any(c[2] < site.min_replicas for c, site in zip(combo, workload.sites, strict=True)):
            continue
        total = sum(c[1] for c in combo)
        if total < workload.base - 1e-6:
            continue
        # Sites are on distinct clouds (and regions): losing one loses that site's nodes.
        if options.survive in ("cloud", "region") and any(total - c[1] < workload.base - 1e-6 for c in combo):
            continue
        best = cost
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("survive", ["cloud", None])
def test_joint_placement_is_the_optimum_of_enumeration(seed, survive):
    workload, catalog, _ = instance(seed)
    options = SizingOptions(max_pools_per_workload=1, survive=survive)
    plan = plan_for([workload], catalog, options, explain=False)
    expected = brute_force(workload, catalog, options)
    if math.isinf(expected):
        assert plan.status == "infeasible"
        return
    assert plan.status == "optimal"
    hourly = plan.monthly_usd / 730
    assert hourly == pytest.approx(expected, abs=1e-6)
    # At most one machine type per site, every site holds its floor, nothing outside the sites.
    by_cloud: dict[str, set[str]] = {}
    for pool in plan.pools:
        by_cloud.setdefault(pool.cloud, set()).add(pool.instance_type)
        assert pool.region != "eu-west-1"
    assert all(len(types) == 1 for types in by_cloud.values())
    assert set(by_cloud) == {s.cloud for s in workload.sites}


def test_surviving_a_cloud_costs_more_and_keeps_demand_without_any_cloud():
    workload, catalog, _ = instance(3)
    plain = plan_for([workload], catalog, SizingOptions(max_pools_per_workload=1), explain=False)
    robust = plan_for([workload], catalog, SizingOptions(max_pools_per_workload=1, survive="cloud"))
    assert robust.monthly_usd > plain.monthly_usd
    assert robust.survive_cost_usd == pytest.approx(robust.objective_usd - plain.objective_usd, rel=1e-6)
    cands, _ = candidates([workload], catalog, SizingOptions())
    capacity = {(c.offering.instance_type, c.spot): c.capacity for c in cands}
    by_cloud = {p.cloud: p.nodes * capacity[(p.instance_type, p.spot)] for p in robust.pools}
    for lost in by_cloud:
        assert sum(v for c, v in by_cloud.items() if c != lost) >= workload.base - 1e-6


def test_a_site_keeps_its_floor_even_when_another_site_is_cheaper():
    workload, catalog, _ = instance(5, sites=2)
    plan = plan_for([workload], catalog, SizingOptions(max_pools_per_workload=1), explain=False)
    assert {p.cloud for p in plan.pools} == {"aws", "gcp"}
    bare = workload.model_copy(
        update={"sites": tuple(s.model_copy(update={"min_replicas": 0}) for s in workload.sites)}
    )
    cheaper = plan_for([bare], catalog, SizingOptions(max_pools_per_workload=1), explain=False)
    assert cheaper.monthly_usd <= plan.monthly_usd


def with_fixed_costs(workload: Workload, seed: int) -> Workload:
    """Sites that may stay empty, each with a fixed monthly cost of being used (e.g. copying the weights)."""
    rng = random.Random(seed)
    sites = tuple(
        s.model_copy(update={"min_replicas": 0, "fixed_usd_month": rng.choice((0.0, 150.0, 900.0))})
        for s in workload.sites
    )
    return workload.model_copy(update={"sites": sites})


def brute_force_fixed(workload: Workload, catalog: Catalog, options: SizingOptions, limit: int = 9) -> float:
    """Like brute_force, monthly, with each used site's fixed cost added."""
    cands, _ = candidates([workload], catalog, options)
    per_site = []
    for k, site in enumerate(workload.sites):
        choices = [(0.0, 0.0)]
        for c in (c for c in cands if c.site == k):
            cap = c.offering.max_nodes if c.offering.max_nodes is not None else limit
            choices += [
                (n * c.hourly * 730 + site.fixed_usd_month, n * c.capacity)
                for n in range(1, min(cap, limit) + 1)
            ]
        per_site.append(choices)
    best = math.inf
    for combo in itertools.product(*per_site):
        cost, total = sum(c[0] for c in combo), sum(c[1] for c in combo)
        if cost >= best or total < workload.base - 1e-6:
            continue
        if options.survive == "cloud" and any(total - c[1] < workload.base - 1e-6 for c in combo):
            continue
        best = cost
    return best


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("survive", ["cloud", None])
def test_a_fixed_cost_per_used_site_is_solved_exactly(seed, survive):
    workload, catalog, _ = instance(seed)
    workload = with_fixed_costs(workload, seed)
    options = SizingOptions(max_pools_per_workload=1, survive=survive)
    plan = plan_for([workload], catalog, options, explain=False)
    expected = brute_force_fixed(workload, catalog, options)
    assert plan.status == "optimal"
    assert plan.objective_usd == pytest.approx(expected, abs=1e-4)
    used = {p.cloud for p in plan.pools}
    fixed = sum(s.fixed_usd_month for s in workload.sites if s.cloud in used)
    assert plan.objective_usd == pytest.approx(plan.monthly_usd + fixed, abs=1e-4)
