"""The plan of an endpoint served from several clouds, mapped back to each cluster's share."""

from __future__ import annotations

import pytest

from aistack.plan import capacity_by_share, resolve
from aistack.spec import read_stack_config, spec_from_config
from tests.conftest import REPO

STACKS = sorted(
    p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO / "stacks").glob("Pulumi.*.yaml")
)


def resolved(stack: str):
    path = REPO / "stacks" / f"Pulumi.{stack}.yaml"
    spec = spec_from_config(read_stack_config(path), str(path))
    return spec, *resolve(spec, str(path), REPO)


def test_the_multicloud_plan_places_chat_on_all_three_clouds_and_survives_losing_any():
    spec, done, plan = resolved("multicloud")
    pools = plan.pools_for("chat")
    assert {p.cloud for p in pools} == {"aws", "gcp", "azure"}
    assert len(pools) == 3  # one machine type per serving pool
    capacity = capacity_by_share(done, plan, base_dir=REPO)
    demand = spec.endpoints["chat"].demand_tokens_per_s
    assert set(capacity) == {("chat", "east"), ("chat", "central"), ("chat", "south")}
    for lost in capacity:
        rest = sum(c.tokens_per_s_at_max for key, c in capacity.items() if key != lost)
        assert rest >= demand * (1 - 1e-9), f"losing {lost[1]} leaves {rest:.0f} < {demand} tokens/s"
    # Each share's plan reaches the deployed spec: pool bounds, its replicas and GPUs per replica.
    for share in done.shares_of("chat"):
        pool = done.clusters[share.cluster].gpu_pools[share.pool]
        (planned,) = [p for p in pools if p.cloud == done.clusters[share.cluster].cloud]
        assert planned.instance_type in pool.instance_types
        assert pool.max_nodes == planned.max_nodes
        assert pool.min_nodes == max(planned.min_nodes, pool.on_demand_floor)
        assert share.endpoint.max_replicas == planned.max_replicas
        assert share.endpoint.gpus_per_replica == planned.gpus_per_replica
        assert capacity[("chat", share.cluster)].nodes_max == planned.max_nodes


def test_surviving_a_cloud_is_what_costs_the_difference():
    _, _, plan = resolved("multicloud")
    assert plan.survive_cost_usd is not None and plan.survive_cost_usd > 0


@pytest.mark.parametrize("stack", STACKS)
def test_every_share_of_every_stack_has_a_planned_capacity(stack):
    _, done, plan = resolved(stack)
    capacity = capacity_by_share(done, plan, base_dir=REPO)
    assert set(capacity) == {(s.name, s.cluster) for s in done.shares()}
    for key, share in capacity.items():
        assert 0 <= share.nodes_min <= share.nodes_max, key
        assert share.zones, key
        assert share.tokens_per_s_at_max is None or share.tokens_per_s_at_max > 0


def test_explicit_pools_take_their_replica_bounds():
    _, done, plan = resolved("staging")
    ((key, share),) = capacity_by_share(done, plan, base_dir=REPO).items()
    endpoint = done.endpoints[key[0]]
    pool = done.clusters[key[1]].gpu_pools[endpoint.pool]
    assert (share.nodes_min, share.nodes_max) == (
        endpoint.min_replicas,
        min(endpoint.max_replicas, pool.max_nodes),
    )
    assert share.instance_type == pool.instance_types[0]


def test_size_prints_each_clusters_share_and_the_replication_cost(capsys):
    from aistack.cli import main

    assert main(["size", "--stack", "multicloud"]) == 0
    out = capsys.readouterr().out
    assert "surviving the loss of one failure domain costs" in out
    for cluster, cloud in (("east", "aws"), ("central", "gcp"), ("south", "azure")):
        assert f"chat on {cluster} ({cloud} " in out
    assert "replication egress: chat weights aws -> gcp (models-gcp): 1.45 USD per full copy" in out
