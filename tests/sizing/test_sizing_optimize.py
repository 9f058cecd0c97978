"""The MILP against exhaustive enumeration, every infeasibility reason, and each extension."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing.catalog import Catalog
from sizing.optimize import plan_for
from sizing.plan import HOURS_PER_MONTH, POOL_KEYS
from sizing.workloads import DeployedPool, SizingOptions
from tests.sizing.sizing_factories import brute_force, cost_close, offering, workload

# --------------------------------------------------------------------------- exhaustive checks


@st.composite
def small_instances(draw: st.DrawFn) -> tuple[Catalog, list, SizingOptions]:
    """1-2 workloads over 1-3 offerings with optional shared quotas, small enough to enumerate.

    Node capacity is at least 48 units/s and demand at most 300, so no variable of an optimum
    needs more than 7 nodes and the enumeration bound of 8 hides no solution.
    """
    n_workloads = draw(st.integers(1, 2))
    n_offerings = draw(st.integers(1, 3 if n_workloads == 1 else 2))
    offerings = []
    for k in range(n_offerings):
        gpus = draw(st.sampled_from([1, 2, 4]))
        offerings.append(
            offering(
                f"t{k}",
                price=draw(st.integers(20, 400)) / 100 * gpus,
                gpus=gpus,
                gpu_mem=draw(st.sampled_from([16.0, 24.0, 48.0])),
                accelerator=draw(st.sampled_from(["L4-24GB", "T4-16GB"])),
                max_nodes=draw(st.one_of(st.none(), st.integers(0, 4))),
            )
        )
    workloads = []
    for k in range(n_workloads):
        workloads.append(
            workload(
                f"w{k}",
                model_mem_gib=draw(st.sampled_from([10.0, 20.0, 40.0])),
                demand=float(draw(st.integers(0, 300))),
                min_replicas=draw(st.integers(0, 3)),
                throughput={"L4-24GB": 100.0, "T4-16GB": float(draw(st.integers(60, 120)))},
                target_utilization=draw(st.sampled_from([0.8, 1.0])),
            )
        )
    return Catalog(offerings), workloads, SizingOptions()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_optimum_matches_exhaustive_enumeration(instance: tuple[Catalog, list, SizingOptions]) -> None:
    catalog, workloads, options = instance
    expected = brute_force(workloads, catalog, options, max_nodes_per_choice=8)
    plan = plan_for(workloads, catalog, options, explain=False)
    if expected is None:
        assert plan.status == "infeasible", plan.to_text()
    else:
        assert plan.status == "optimal", plan.reason
        assert cost_close(plan.monthly_usd, expected)


@st.composite
def extension_instances(draw: st.DrawFn) -> tuple[Catalog, list, SizingOptions]:
    """One workload over 1-2 offerings with zones, spot prices and every extension drawn."""
    offerings = []
    for k in range(draw(st.integers(1, 2))):
        price = draw(st.integers(50, 300)) / 100
        offerings.append(
            offering(
                f"t{k}",
                price=price,
                spot=draw(st.one_of(st.none(), st.just(round(price * draw(st.sampled_from([0.3, 0.6])), 4)))),
                zones=draw(st.sampled_from([(), ("z1",), ("z2",), ("z1", "z2")])),
                max_nodes=draw(st.one_of(st.none(), st.integers(1, 5))),
            )
        )
    w = workload(
        "w",
        demand=float(draw(st.integers(0, 400))),
        min_replicas=draw(st.integers(0, 2)),
        spot=draw(st.booleans()),
    )
    options = SizingOptions(
        min_zones=draw(st.integers(1, 2)),
        on_demand_floor=draw(st.sampled_from([0.0, 0.5])),
        max_pools_per_workload=draw(st.sampled_from([None, 1])),
    )
    return Catalog(offerings), [w], options


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extension_instances())
def test_extensions_match_exhaustive_enumeration(instance: tuple[Catalog, list, SizingOptions]) -> None:
    catalog, workloads, options = instance
    # Spot nodes count at their availability (< 1), so 400 units/s can take 7 nodes of 64.
    expected = brute_force(workloads, catalog, options, max_nodes_per_choice=8)
    plan = plan_for(workloads, catalog, options, explain=False)
    if expected is None:
        assert plan.status == "infeasible", plan.to_text()
    else:
        assert plan.status == "optimal", plan.reason
        assert cost_close(plan.monthly_usd, expected)


def test_shared_quota_is_split_between_workloads() -> None:
    # Both workloads prefer "cheap" (3 nodes allowed in total); the optimum splits it.
    catalog = Catalog(
        [
            offering("cheap", 1.0, max_nodes=3),
            offering("dear", 1.6),
        ]
    )
    workloads = [workload("a", demand=160.0), workload("b", demand=160.0)]  # 2 nodes each at 80/node
    plan = plan_for(workloads, catalog)
    assert plan.optimal
    cheap_nodes = sum(p.nodes for p in plan.pools if p.instance_type == "cheap")
    assert cheap_nodes == 3
    assert cost_close(plan.monthly_usd, (3 * 1.0 + 1 * 1.6) * HOURS_PER_MONTH)
    assert cost_close(plan.monthly_usd, brute_force(workloads, catalog))
    # The workload pushed onto "dear" is reported as bound by the quota on "cheap".
    pushed = [r for r in plan.workloads if any(p.instance_type == "dear" for p in plan.pools_for(r.workload))]
    assert pushed and all("quota" in r.bound_by for r in pushed)


def test_mixing_offerings_beats_any_single_offering() -> None:
    # demand 230 at 80 units/s per GPU: 3 small (3.0) or 2 big (3.4) alone; 1 big + 1 small (2.7) mixed.
    catalog = Catalog([offering("small", 1.0), offering("big", 1.7, gpus=2)])
    w = [workload("w", demand=230.0)]
    plan = plan_for(w, catalog)
    assert {p.instance_type: p.nodes for p in plan.pools} == {"small": 1, "big": 1}
    assert cost_close(plan.monthly_usd, 2.7 * HOURS_PER_MONTH)
    assert cost_close(plan.monthly_usd, brute_force(w, catalog))


# --------------------------------------------------------------------------- infeasibility reasons


def test_no_allowed_offering() -> None:
    plan = plan_for([workload("w", clouds=["azure"])], Catalog([offering("a", 1.0)]))
    assert plan.status == "infeasible"
    assert plan.reason is not None and plan.reason.code == "no_allowed_offering"
    assert plan.reason.workload == "w"


def test_no_accelerator_in_throughput() -> None:
    plan = plan_for([workload("w", throughput={"H100-80GB": 1000.0})], Catalog([offering("a", 1.0)]))
    assert plan.reason is not None and plan.reason.code == "no_accelerator"
    assert "L4-24GB" in plan.reason.message


def test_no_offering_fits_the_model_memory() -> None:
    plan = plan_for([workload("w", model_mem_gib=100.0)], Catalog([offering("a", 1.0, gpus=4)]))
    assert plan.reason is not None and plan.reason.code == "memory"
    assert "100.0 GiB" in plan.reason.message and "4 x 24 GiB" in plan.reason.message


def test_quota_too_small_for_one_workload() -> None:
    plan = plan_for([workload("w", demand=500.0)], Catalog([offering("a", 1.0, max_nodes=2)]))
    assert plan.reason is not None and plan.reason.code == "quota"
    assert plan.reason.workload == "w"


def test_zero_quota_reads_as_quota() -> None:
    plan = plan_for([workload("w")], Catalog([offering("a", 1.0, max_nodes=0)]))
    assert plan.reason is not None and plan.reason.code == "quota"


def test_quota_shared_between_workloads_too_small() -> None:
    catalog = Catalog([offering("a", 1.0, max_nodes=3)])
    plan = plan_for([workload("x", demand=160.0), workload("y", demand=160.0)], catalog)
    assert plan.reason is not None and plan.reason.code == "quota"
    assert plan.reason.workload is None and "x, y" in plan.reason.message


def test_zones_unreachable() -> None:
    catalog = Catalog([offering("a", 1.0, zones=["z1"])])
    plan = plan_for([workload("w")], catalog, SizingOptions(min_zones=2))
    assert plan.reason is not None and plan.reason.code == "zones"


def test_zones_unreachable_only_together() -> None:
    # Each workload alone can spread over z1/z2, but z2 holds one node in total.
    catalog = Catalog([offering("a", 1.0, zones=["z1"]), offering("b", 1.0, zones=["z2"], max_nodes=1)])
    workloads = [workload("x", demand=50.0), workload("y", demand=50.0)]
    plan = plan_for(workloads, catalog, SizingOptions(min_zones=2))
    assert plan.reason is not None and plan.reason.code == "zones" and plan.reason.workload is None


def test_max_pools_unreachable() -> None:
    catalog = Catalog([offering("a", 1.0, max_nodes=2), offering("b", 1.0, max_nodes=2)])
    w = workload("w", demand=300.0)  # needs 4 nodes: both offerings
    assert plan_for([w], catalog).optimal
    plan = plan_for([w], catalog, SizingOptions(max_pools_per_workload=1))
    assert plan.reason is not None and plan.reason.code == "max_pools"


# --------------------------------------------------------------------------- extensions


def test_on_demand_floor_keeps_a_share_on_demand() -> None:
    catalog = Catalog([offering("a", 1.0, spot=0.3), offering("b", 1.2, spot=0.25)])
    w = [workload("w", demand=400.0, spot=True)]
    without = plan_for(w, catalog)
    assert all(p.spot for p in without.pools)
    options = SizingOptions(on_demand_floor=0.5)
    plan = plan_for(w, catalog, options)
    on_demand = sum(p.nodes * 80 for p in plan.pools if not p.spot)
    assert on_demand >= 0.5 * 400
    assert cost_close(plan.monthly_usd, brute_force(w, catalog, options))
    assert "on_demand_floor" in plan.workloads[0].bound_by


def test_zone_spread_places_nodes_in_distinct_zones() -> None:
    catalog = Catalog(
        [
            offering("one-zone", 1.0, zones=["z1"]),
            offering("two-zones", 1.3, zones=["z1", "z2"]),
        ]
    )
    w = [workload("w", demand=150.0)]  # 2 nodes
    assert [p.instance_type for p in plan_for(w, catalog).pools] == ["one-zone"]
    options = SizingOptions(min_zones=2)
    plan = plan_for(w, catalog, options)
    report = plan.workloads[0]
    assert len(report.zones) >= 2
    assert sum(report.zones.values()) == sum(p.nodes for p in plan.pools)
    assert cost_close(plan.monthly_usd, brute_force(w, catalog, options))


def test_zone_spread_needs_one_node_per_zone() -> None:
    # One node in a two-zone offering covers one zone only: three zones need three nodes.
    catalog = Catalog([offering("a", 1.0, zones=["z1", "z2", "z3"])])
    plan = plan_for([workload("w", demand=10.0)], catalog, SizingOptions(min_zones=3))
    assert plan.pools[0].nodes == 3
    assert len(plan.workloads[0].zones) == 3


def test_churn_penalty_keeps_current_pools_for_a_small_change() -> None:
    catalog = Catalog(
        [
            offering("aws-node", 1.00, cloud="aws"),
            offering("gcp-node", 0.95, cloud="gcp", region="us-central1"),
        ]
    )
    current = (
        DeployedPool(workload="w", cloud="aws", region="us-east-1", instance_type="aws-node", nodes=3),
    )
    w = [workload("w", demand=300.0)]  # 4 nodes of either at 80/node
    moved = plan_for(w, catalog, SizingOptions(current=current))
    assert {p.cloud for p in moved.pools} == {"gcp"}
    options = SizingOptions(churn_usd_per_node=200.0, current=current)
    kept = plan_for(w, catalog, options)
    # The three deployed AWS nodes stay; only the extra node goes to the cheaper cloud.
    assert {p.cloud: p.nodes for p in kept.pools} == {"aws": 3, "gcp": 1}
    assert "churn" in kept.workloads[0].bound_by
    assert cost_close(
        kept.objective_usd, brute_force(w, catalog, options, current={("w", "aws-node", False): 3})
    )


def test_churn_counts_removed_pools_that_are_no_longer_offered() -> None:
    catalog = Catalog([offering("a", 1.0)])
    current = (DeployedPool(workload="w", cloud="aws", region="us-east-1", instance_type="gone", nodes=2),)
    plan = plan_for(
        [workload("w", demand=80.0)], catalog, SizingOptions(churn_usd_per_node=10.0, current=current)
    )
    # 1 node added (10) + 2 removed (20) on top of the cost.
    assert cost_close(plan.objective_usd, plan.monthly_usd + 30.0)


def test_max_pools_per_workload_caps_the_mix() -> None:
    catalog = Catalog(
        [
            offering("a", 1.0, max_nodes=2),
            offering("b", 1.1, max_nodes=2),
            offering("c", 1.5),
        ]
    )
    w = [workload("w", demand=300.0)]  # 4 nodes
    assert len(plan_for(w, catalog).pools) == 2
    options = SizingOptions(max_pools_per_workload=1)
    plan = plan_for(w, catalog, options)
    assert [p.instance_type for p in plan.pools] == ["c"]
    assert cost_close(plan.monthly_usd, brute_force(w, catalog, options))


def test_autoscale_sets_max_from_peak_and_min_from_base() -> None:
    catalog = Catalog([offering("a", 1.0)])
    w = [workload("w", demand=160.0, peak_demand=400.0)]  # base 2 nodes, peak 5
    off = plan_for(w, catalog)
    assert (off.pools[0].min_nodes, off.pools[0].nodes, off.pools[0].max_nodes) == (2, 2, 2)
    plan = plan_for(w, catalog, SizingOptions(autoscale=True))
    assert (plan.pools[0].min_nodes, plan.pools[0].nodes, plan.pools[0].max_nodes) == (2, 2, 5)
    assert plan.workloads[0].peak_covered is True


def test_autoscale_peak_capped_by_quota_left_by_other_workloads() -> None:
    catalog = Catalog([offering("a", 1.0, max_nodes=6)])
    w = [workload("x", demand=160.0, peak_demand=800.0), workload("y", demand=240.0)]  # 2 + 3 nodes
    plan = plan_for(w, catalog, SizingOptions(autoscale=True))
    x_pool = plan.pools_for("x")[0]
    assert x_pool.max_nodes == 3  # 6 quota - 3 used by y
    assert plan.workloads[0].peak_covered is False


# --------------------------------------------------------------------------- explanation


def test_runner_up_and_margin() -> None:
    catalog = Catalog([offering("a", 1.0), offering("b", 1.25)])
    plan = plan_for([workload("w", demand=160.0)], catalog)
    report = plan.workloads[0]
    assert report.runner_up is not None
    assert report.runner_up.pools == ("aws/us-east-1/b (1 x L4-24GB) x2",)  # "b" does not fix its GPUs
    assert math.isclose(report.runner_up.margin_usd, 2 * 0.25 * HOURS_PER_MONTH)
    assert math.isclose(report.runner_up.margin_pct, 25.0)
    assert "demand" in report.bound_by


def test_no_runner_up_when_nothing_else_is_feasible() -> None:
    plan = plan_for([workload("w")], Catalog([offering("a", 1.0)]))
    assert plan.workloads[0].runner_up is None


def test_bound_by_min_replicas_and_memory() -> None:
    # The 20 GiB model spans both 16 GiB T4s of "pair"; the cheaper L4 row's 12 GiB cannot hold it.
    catalog = Catalog(
        [
            offering("pair", 2.0, gpus=2, gpu_mem=16.0, accelerator="T4-16GB"),
            offering("small", 0.2, gpu_mem=12.0),
        ]
    )
    w = workload("w", demand=1.0, min_replicas=3, throughput={"T4-16GB": 50.0, "L4-24GB": 100.0})
    plan = plan_for([w], catalog)
    report = plan.workloads[0]
    assert (plan.pools[0].instance_type, plan.pools[0].nodes, plan.pools[0].gpus_per_replica) == (
        "pair",
        3,
        2,
    )
    assert "min_replicas" in report.bound_by and "memory" in report.bound_by
    assert "demand" not in report.bound_by


def test_plan_json_shape() -> None:
    plan = plan_for([workload("w", demand=160.0)], Catalog([offering("a", 1.0)]))
    data = plan.to_json()
    assert {"status", "monthly_usd", "pools", "workloads", "reason"} <= set(data)
    assert data["status"] == "optimal"
    assert [list(p) for p in data["pools"]] == [list(POOL_KEYS)]
    assert data["pools"][0]["monthly_usd"] == round(2 * HOURS_PER_MONTH, 2)


def test_duplicate_workload_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unique"):
        plan_for([workload("w"), workload("w")], Catalog([offering("a", 1.0)]))


def test_workload_without_demand_gets_no_pool() -> None:
    plan = plan_for(
        [workload("idle", demand=0.0, min_replicas=0), workload("w")], Catalog([offering("a", 1.0)])
    )
    assert plan.optimal and not plan.pools_for("idle")
    assert plan.workloads[0].bound_by == ()


# --------------------------------------------------------------------------- time limit


class _Stopped:
    """What scipy's milp returns when HiGHS hits its time limit."""

    def __init__(self, x: object) -> None:
        self.status, self.x, self.mip_gap, self.message = 1, x, 0.015, "Time limit reached."


def test_time_limit_returns_the_best_plan_with_its_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    import sizing.optimize as optimize

    real = optimize.milp

    def stopped(*args: object, **kwargs: object) -> object:
        assert kwargs["options"]["time_limit"] == 5.0
        return _Stopped(real(*args, **{**kwargs, "options": {}}).x)

    monkeypatch.setattr(optimize, "milp", stopped)
    plan = plan_for(
        [workload("w", demand=160.0)], Catalog([offering("a", 1.0)]), SizingOptions(time_limit_s=5.0)
    )
    assert plan.status == "time_limit" and not plan.optimal
    assert plan.reason is not None and plan.reason.code == "time_limit" and "1.50%" in plan.reason.message
    assert [p.nodes for p in plan.pools] == [2] and plan.mip_gap == 0.015
    assert plan.workloads[0].runner_up is None  # not computed without a proof
    assert "[time_limit]" in plan.to_text() and "aws us-east-1 a" in plan.to_text()


def test_time_limit_without_any_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    import sizing.optimize as optimize

    monkeypatch.setattr(optimize, "milp", lambda *a, **k: _Stopped(None))
    plan = plan_for([workload("w")], Catalog([offering("a", 1.0)]), SizingOptions(time_limit_s=1.0))
    assert plan.status == "time_limit" and not plan.pools
    assert plan.reason is not None and plan.reason.code == "time_limit"
