"""Sized multi-node pools: an endpoint whose replica spans several nodes is planned in groups of them."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aistack.errors import InputError
from aistack.plan import resolve
from aistack.spec import spec_from_config
from tests.conftest import REPO

MULTINODE = yaml.safe_load((REPO / "stacks" / "Pulumi.multinode.yaml").read_text())["config"]
HEADER = "cloud,region,instance_type,accelerator,gpus,gpu_mem_gib,vcpus,mem_gib,price_hr,spot_price_hr,zones,max_nodes,source,as_of\n"
P5_HOURLY = 55.04  # sizing/data/aws.csv, p5.48xlarge us-east-1 on-demand


def _config(demand: float, catalog: str | None = None) -> dict:
    config = copy.deepcopy(MULTINODE)
    endpoint = config["aistack:endpoints"]["chat-405b"]
    # A stated figure (not the roofline estimate) keeps the optimum computable by hand: a group of
    # 2 x 8 H100s serves 16 x 100 tokens/s, 1,280 at the 0.8 target utilisation (below the KV bound).
    endpoint.pop("slo")
    endpoint.update(demand_tokens_per_s=demand, throughput_per_gpu=100)
    if catalog:
        config["aistack:sizing"] = {"catalog": catalog}
    return config


def _resolve(config: dict, base_dir: Path = REPO):
    return resolve(spec_from_config(config, "stacks/Pulumi.x.yaml"), "stacks/Pulumi.x.yaml", base_dir)


def test_the_spec_accepts_a_sized_multi_node_pool():
    spec = spec_from_config(copy.deepcopy(MULTINODE), "stacks/Pulumi.multinode.yaml")
    assert spec.clusters["main"].gpu_pools["h100"].sized
    assert spec.endpoints["chat-405b"].nodes_per_replica == 2


def test_groups_of_nodes_are_planned_against_the_hand_computed_optimum():
    # Peak 2,000 tokens/s over 1,280 per group -> 2 groups; min_replicas 1 -> 1 group at base.
    spec, plan = _resolve(_config(2000))
    (pool,) = plan.pools_for("chat-405b")
    assert (pool.instance_type, pool.gpus_per_node, pool.gpus_per_replica) == ("p5.48xlarge", 8, 16)
    assert pool.nodes_per_replica == 2 and pool.replicas_per_node == 1
    assert (pool.nodes, pool.min_nodes, pool.max_nodes) == (2, 2, 4)
    assert plan.monthly_usd == pytest.approx(2 * P5_HOURLY * 730)
    # Mapped back into the spec: node counts in nodes (whole groups), replicas in groups.
    h100 = spec.clusters["main"].gpu_pools["h100"]
    assert (h100.instance_types, h100.min_nodes, h100.max_nodes) == (["p5.48xlarge"], 2, 4)
    endpoint = spec.endpoints["chat-405b"]
    assert (endpoint.gpus_per_replica, endpoint.nodes_per_replica, endpoint.max_replicas) == (16, 2, 2)
    # p5.4xlarge (1 H100) is cheaper per node but holds no 8-GPU stage: never a group.
    assert all(p.instance_type == "p5.48xlarge" for p in plan.pools)
    # Peak 3,000 -> ceil(3000 / 1280) = 3 groups = 6 nodes.
    spec, _ = _resolve(_config(3000))
    assert (
        spec.clusters["main"].gpu_pools["h100"].max_nodes == 6
        and spec.endpoints["chat-405b"].max_replicas == 3
    )


def test_a_quota_in_nodes_caps_whole_groups(tmp_path: Path):
    # 5 nodes of quota hold 2 groups (5 // 2); the 3 groups peak demand wants are capped there.
    (tmp_path / "quota.csv").write_text(
        HEADER
        + f"aws,us-east-1,p5.48xlarge,H100-80GB,8,80,192,2048,{P5_HOURLY},,,5,account quota (test),2026-11\n"
    )
    spec, plan = _resolve(_config(3000, "quota.csv"), tmp_path)
    (pool,) = plan.pools_for("chat-405b")
    assert (pool.min_nodes, pool.max_nodes) == (2, 4)
    assert spec.endpoints["chat-405b"].max_replicas == 2
    (report,) = plan.workloads
    assert report.peak_covered is False
    text = plan.to_text()
    assert "nodes in groups of 2 (one replica per group" in text
    assert "2 node(s) (min 2, max 4) = 1 group(s) (min 1, max 2)" in text


def test_a_replica_that_fits_fewer_nodes_than_it_spans_is_refused():
    # 405B in BF16 needs 16 H100s: a 4-node, 32-GPU layout would leave the plan 2 replicas per group.
    config = _config(2000)
    config["aistack:endpoints"]["chat-405b"].update(gpus_per_replica=32, nodes_per_replica=4)
    with pytest.raises(InputError) as info:
        _resolve(config)
    assert info.value.key == "aistack:endpoints.chat-405b.nodes_per_replica"
    assert (
        "needs only 16 GPUs per replica, 2 node(s) of p5.48xlarge (8 GPUs each), not 4" in info.value.message
    )


def test_the_group_is_sized_with_the_per_stage_kv_arithmetic_of_the_endpoint_check():
    from sizing import accelerators, capacity, memory
    from sizing.workloads import Workload

    fields = {
        "name": "x",
        "model": "llama-3.1-405b",
        "demand": 0.0,
        "max_model_len": 32768,
        "throughput": {"H100-80GB": 100},
    }
    staged = Workload(**fields, tensor_parallel=8)
    one_set = Workload(**fields)
    fit = capacity._fit(staged, 80, 16, 32768)
    check = memory.fit("llama-3.1-405b", gpus=16, gpu_mem_gib=80, max_model_len=32768, tensor_parallel=8)
    # The endpoint check's figure: 2 x 126 layers x 8 KV heads x 128 x 2 B = 504 KiB per token; one
    # 16-way tensor-parallel set would replicate the 8 heads to 16 and count 1,008.
    assert fit.kv_bytes_per_token == check.kv_bytes_per_token == 504 * 1024
    assert capacity._fit(one_set, 80, 16, 32768).kv_bytes_per_token == 1008 * 1024
    # The KV bound of a 2-stage pipeline: each stage reads its half of the weights per micro-batch.
    bandwidth = accelerators.get("H100-80GB").bandwidth_tb_s
    concurrent = fit.kv_tokens // staged.typical_len
    expected = concurrent * bandwidth * 1e12 / (fit.weights_gib * capacity.GIB) / 2
    assert capacity.kv_bound_per_gpu(staged, 80, 16, bandwidth) == pytest.approx(expected)
    assert capacity.stages(staged, 16) == 2 and capacity.stages(one_set, 16) == 1


def test_a_sized_multi_node_endpoint_with_max_replicas_is_one_line_exit_2(tmp_path: Path):
    config = copy.deepcopy(MULTINODE)
    config["aistack:endpoints"]["chat-405b"]["max_replicas"] = 2
    stack = tmp_path / "Pulumi.bad.yaml"
    stack.write_text(yaml.safe_dump({"config": config}))
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "size", "--stack-file", str(stack)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert (
        "aistack:endpoints.chat-405b.max_replicas" in result.stderr
        and "set by the sizing plan" in result.stderr
    )
    assert str(stack) in result.stderr


def test_one_node_and_group_endpoints_share_an_offerings_quota(tmp_path: Path):
    # A one-node 70B endpoint (2 replicas of 4 GPUs per node) on its own sized pool of the same p5.48xlarge:
    # it is solved first, its base node comes off the 5-node quota, and the 405B groups get (5 - 1) // 2 = 2.
    prod = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
    (tmp_path / "quota.csv").write_text(
        HEADER
        + f"aws,us-east-1,p5.48xlarge,H100-80GB,8,80,192,2048,{P5_HOURLY},,,5,account quota (test),2026-11\n"
    )
    config = _config(3000, "quota.csv")
    config["aistack:clusters"]["main"]["gpu_pools"]["h100-small"] = {
        **prod["aistack:clusters"]["main"]["gpu_pools"]["h100"],
        "provisioning": "groups",
    }
    config["aistack:endpoints"]["chat-70b"] = {
        **prod["aistack:endpoints"]["chat-70b"],
        "pool": "h100-small",
        "demand_tokens_per_s": 100,
    }
    spec, plan = _resolve(config, tmp_path)
    (small,) = plan.pools_for("chat-70b")
    (group,) = plan.pools_for("chat-405b")
    assert (small.nodes, small.nodes_per_replica, group.nodes_per_replica) == (1, 1, 2)
    assert (group.min_nodes, group.max_nodes) == (2, 4)
    assert {r.workload for r in plan.workloads} == {"chat-70b", "chat-405b"}
    assert plan.monthly_usd == pytest.approx((1 + 2) * P5_HOURLY * 730)
    assert spec.clusters["main"].gpu_pools["h100"].max_nodes == 4
