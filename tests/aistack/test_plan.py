"""Sized pools: the stack spec resolved against the catalog and the sizing plan."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aistack.errors import InputError
from aistack.plan import resolve, sizing_model
from aistack.spec import spec_from_config
from tests.conftest import REPO

PROD = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())["config"]
DEV = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]


def _resolve(config: dict, base_dir: Path = REPO):
    return resolve(spec_from_config(config, "stacks/Pulumi.x.yaml"), "stacks/Pulumi.x.yaml", base_dir)


def _error(config: dict, base_dir: Path = REPO) -> InputError:
    with pytest.raises(InputError) as info:
        _resolve(config, base_dir)
    return info.value


def test_sized_pools_take_machine_type_bounds_and_replicas_from_the_plan():
    spec, plan = _resolve(PROD)
    assert plan.status == "optimal"
    (chat,) = plan.pools_for("chat")
    (big,) = plan.pools_for("chat-70b")
    a10g, h100 = spec.clusters["main"].gpu_pools["a10g"], spec.clusters["main"].gpu_pools["h100"]
    # The user's machine types stay (spot fills from all of them); the plan picked among them.
    assert (
        a10g.instance_types == ["g5.xlarge", "g5.2xlarge", "g5.4xlarge"]
        and chat.instance_type in a10g.instance_types
    )
    assert (a10g.min_nodes, a10g.max_nodes) == (max(chat.min_nodes, 2), chat.max_nodes)
    assert h100.instance_types == [big.instance_type] == ["p5.48xlarge"]
    assert (h100.min_nodes, h100.max_nodes) == (big.min_nodes, big.max_nodes)
    # Peak demand / (throughput per GPU x 0.8 utilisation x 0.8 spot availability, sizing/risk.py)
    # replicas of one GPU each: 3000 / (486 x 0.8 x 0.8) -> 10.
    assert chat.max_nodes == 10 and chat.gpus_per_replica == 1
    assert spec.endpoints["chat"].max_replicas == chat.max_nodes * chat.replicas_per_node
    # 300 GiB per replica on 80 GiB GPUs -> 4 GPUs per replica, 2 replicas per 8-GPU node.
    assert (big.gpus_per_replica, big.replicas_per_node) == (4, 2)
    assert spec.endpoints["chat-70b"].gpus_per_replica == 4
    assert spec.endpoints["chat-70b"].max_replicas == big.max_nodes * 2


def test_preview_reports_the_plan_and_deploys_its_numbers(preview):
    report = preview("prod")
    sizing = report["sizing"]
    assert sizing["status"] == "optimal" and sizing["monthly_usd"] > 0
    for pool in sizing["pools"]:
        assert {
            "workload",
            "cloud",
            "region",
            "instance_type",
            "nodes",
            "min_nodes",
            "max_nodes",
            "monthly_usd",
        } <= set(pool)
    # prod's H100 pool is provisioning: auto: the plan sets its Karpenter NodePool's instance type and
    # GPU limit (max nodes x 8 GPUs of a p5.48xlarge).
    nodepools = {
        r["name"]: r["inputs"]
        for r in report["resources"]
        if r["type"] == "kubernetes:karpenter.sh/v1:NodePool"
    }
    big = next(p for p in sizing["pools"] if p["workload"] == "chat-70b")
    h100 = nodepools["main-provisioner-h100-nodes"]["spec"]
    assert h100["limits"] == {"nvidia.com/gpu": str(big["max_nodes"] * 8)}
    requirements = {r["key"]: r["values"] for r in h100["template"]["spec"]["requirements"]}
    assert requirements["node.kubernetes.io/instance-type"] == [big["instance_type"]]
    scaled = next(r["inputs"] for r in report["resources"] if r["name"] == "chat-70b-autoscaler")
    assert scaled["kind"] == "ScaledObject"
    assert scaled["spec"]["maxReplicaCount"] == big["max_nodes"] * big["replicas_per_node"]
    deployment = next(r["inputs"] for r in report["resources"] if r["name"] == "chat-70b-deployment")
    (server,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "server"]
    assert int(server["resources"]["limits"]["nvidia.com/gpu"]) == big["gpus_per_replica"] == 4


def test_unsized_pool_without_machine_types_takes_the_cheapest_fitting_offering():
    config = copy.deepcopy(DEV)
    del config["aistack:clusters"]["main"]["gpu_pools"]["l4"]["instance_types"]
    spec, plan = _resolve(config)
    assert plan is None
    # g6.xlarge (1 x L4, 0.8048 USD/h) is the cheapest L4 offering in us-east-1 of the bundled catalog.
    assert spec.clusters["main"].gpu_pools["l4"].instance_types == ["g6.xlarge"]


def test_user_catalog_overrides_prices_and_changes_the_choice(tmp_path: Path):
    from sizing import load_catalog

    header = "cloud,region,instance_type,accelerator,gpus,gpu_mem_gib,vcpus,mem_gib,price_hr,spot_price_hr,zones,max_nodes,source,as_of\n"
    bundled = next(o for o in load_catalog().find("aws", "us-east-1", instance_type="g5.2xlarge"))
    (tmp_path / "negotiated.csv").write_text(
        header
        + f"aws,us-east-1,g5.2xlarge,A10G-24GB,1,{bundled.gpu_mem_gib},{bundled.vcpus},{bundled.mem_gib},"
        "0.40,0.10,,,negotiated price sheet (test),2026-11\n"
    )
    config = {**copy.deepcopy(PROD), "aistack:sizing": {"catalog": "negotiated.csv"}}
    _, plan = _resolve(config, tmp_path)
    assert plan.pools_for("chat")[0].instance_type == "g5.2xlarge"


def test_quota_in_a_user_catalog_makes_sizing_fail_with_the_reason(tmp_path: Path):
    header = "cloud,region,instance_type,accelerator,gpus,gpu_mem_gib,vcpus,mem_gib,price_hr,spot_price_hr,zones,max_nodes,source,as_of\n"
    (tmp_path / "quota.csv").write_text(
        header + "aws,us-east-1,p5.48xlarge,H100-80GB,8,80,192,2048,98.32,,,0,account quota (test),2026-11\n"
    )
    err = _error({**copy.deepcopy(PROD), "aistack:sizing": {"catalog": "quota.csv"}}, tmp_path)
    assert err.key == "aistack:clusters.main.gpu_pools.h100"
    assert err.message.startswith("cannot size the pool: [")


def test_missing_user_catalog_is_a_clear_error(tmp_path: Path):
    err = _error({**copy.deepcopy(PROD), "aistack:sizing": {"catalog": "nope.csv"}}, tmp_path)
    assert err.key == "aistack:sizing.catalog" and "no catalog file" in err.message


def test_sized_endpoint_without_a_sourced_throughput_names_the_key():
    config = copy.deepcopy(PROD)
    del config["aistack:endpoints"]["chat"]["throughput_per_gpu"]
    err = _error(config)
    assert err.key == "aistack:endpoints.chat.throughput_per_gpu"
    assert "no sourced throughput figure for meta-llama/Llama-3.1-8B-Instruct on A10G-24GB" in err.message


@pytest.mark.parametrize(
    ("mutate", "key", "fragment"),
    [
        (
            lambda c: c["aistack:endpoints"]["chat"].pop("demand_tokens_per_s"),
            "aistack:endpoints.chat.demand_tokens_per_s",
            "required",
        ),
        (
            lambda c: c["aistack:endpoints"]["chat"].update(max_replicas=3),
            "aistack:endpoints.chat.max_replicas",
            "set by the sizing plan",
        ),
        (
            lambda c: c["aistack:endpoints"].pop("chat-70b"),
            "aistack:clusters.main.gpu_pools.h100",
            "needs an endpoint",
        ),
        (
            lambda c: c["aistack:clusters"]["main"]["gpu_pools"]["h100"].update(min_nodes=1),
            "aistack:clusters.main.gpu_pools.h100",
            "remove them",
        ),
    ],
)
def test_sized_pool_rules(mutate, key, fragment):
    config = copy.deepcopy(PROD)
    mutate(config)
    with pytest.raises(InputError) as info:
        spec_from_config(config, "stacks/Pulumi.x.yaml")
    assert info.value.key == key and fragment in info.value.message


def test_served_model_names_map_to_the_sizing_table():
    assert sizing_model("meta-llama/Llama-3.1-8B-Instruct") == "llama-3.1-8b"
    assert sizing_model("meta-llama/Llama-3.1-70B-Instruct") == "llama-3.1-70b"
    assert sizing_model("mistralai/Mistral-7B-Instruct-v0.3") is None


def _aistack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aistack", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


def test_size_command_for_a_stack_and_for_workloads():
    result = _aistack("size", "--stack", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["status"] == "optimal" and {p["workload"] for p in plan["pools"]} == {"chat", "chat-70b"}
    text = _aistack("size", "--stack", "prod").stdout
    assert "runner-up" in text and "bound by" in text
    result = _aistack("size", "--workloads", "sizing/examples/workloads.yaml", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["status"] == "optimal"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("size", "--stack", "dev"), "no GPU pool says `nodes: sized`"),
        (("size",), "name exactly one of --stack, --stack-file or --workloads"),
        (("size", "--stack", "prod", "--catalog", "x.csv"), "aistack:sizing.catalog"),
    ],
)
def test_size_command_errors_are_one_line_exit_2(args, expected):
    result = _aistack(*args)
    assert result.returncode == 2 and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


class _Cloud:
    """A checker answering like an account where g5.xlarge is missing from us-east-1c and the
    P-instance quota holds one p5.48xlarge (192 vCPUs)."""

    cloud, region = "aws", "us-east-1"

    def offered_zones(self, instance_type, accelerator):
        if instance_type == "g5.xlarge":
            return ["us-east-1a", "us-east-1b"]
        return ["us-east-1a", "us-east-1b", "us-east-1c"]

    def quota(self, instance_type, accelerator, capacity):
        from aistack.preflight.checks import Quota

        per_node = 192 if instance_type.startswith("p5") else 8
        limit = 192 if instance_type.startswith("p5") else 4096
        return Quota("L-TEST", "test quota", "vCPUs", per_node, limit, "ask for {value}")

    def kubernetes_versions(self):
        from aistack.preflight.checks import STANDARD

        return {"1.35": STANDARD, "1.36": STANDARD}


def test_preflight_findings_constrain_the_plan(tmp_path: Path):
    from aistack import preflight

    spec, _ = _resolve(PROD)
    findings = preflight.run(spec, "prod", checkers={"aws": _Cloud()})
    (tmp_path / "findings.json").write_text(json.dumps(findings))
    spec, plan = _resolve(
        {**copy.deepcopy(PROD), "aistack:sizing": {"constraints": "findings.json"}}, tmp_path
    )
    # g5.xlarge is not offered in every zone the pool spans, so the plan moves to the next type.
    assert plan.pools_for("chat")[0].instance_type == "g5.2xlarge"
    # The quota holds one p5.48xlarge: the plan never asks for more.
    assert plan.pools_for("chat-70b")[0].max_nodes == 1
    assert spec.clusters["main"].gpu_pools["h100"].max_nodes == 1


def test_unreadable_preflight_findings_are_a_clear_error(tmp_path: Path):
    (tmp_path / "findings.json").write_text("{not json")
    err = _error({**copy.deepcopy(PROD), "aistack:sizing": {"constraints": "findings.json"}}, tmp_path)
    assert err.key == "aistack:sizing.constraints" and "cannot read preflight findings" in err.message


def test_budget_feeds_the_cost_budget_policy(tmp_path: Path):
    from aistack import preview

    config = copy.deepcopy(DEV)
    config["aistack:sizing"] = {"budget_usd_month": 100}
    path = tmp_path / "Pulumi.budget-test.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    result = preview.run(stack_path=path)
    (finding,) = [v for v in result["policy"]["violations"] if v["policy"] == "cost-budget"]
    assert finding["level"] == "advisory"
    assert (
        f"estimated {result['cost']['monthly_usd_max']:,.2f} USD/month exceeds the budget of 100.00"
        in finding["message"]
    )


def test_size_command_with_a_user_catalog_and_a_malformed_one(tmp_path: Path):
    from sizing import load_catalog

    offer = load_catalog().find("aws", "us-east-1", accelerator="H100-80GB")[0]
    header = "cloud,region,instance_type,accelerator,gpus,gpu_mem_gib,vcpus,mem_gib,price_hr,spot_price_hr,zones,max_nodes,source,as_of\n"
    good = tmp_path / "offers.csv"
    good.write_text(
        header
        + f"aws,us-east-1,{offer.instance_type},H100-80GB,8,80,192,2048,55.04,,,4,negotiated (test),2026-11\n"
    )
    workloads = tmp_path / "w.yaml"
    workloads.write_text(
        "workloads:\n  - name: chat\n    model: llama-3.1-70b\n    demand: 3000\n    clouds: [aws]\n"
    )
    result = _aistack("size", "--catalog", str(good), "--workloads", str(workloads), "--format", "json")
    assert result.returncode == 0, result.stderr
    (pool,) = json.loads(result.stdout)["pools"]
    assert pool["instance_type"] == offer.instance_type
    assert pool["monthly_usd"] == pytest.approx(pool["nodes"] * 55.04 * 730, rel=1e-6)
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "aws,us-east-1,p5.48xlarge,H100-80GB,eight,80,192,2048,55.04,,,,x,2026-11\n")
    result = _aistack("size", "--catalog", str(bad), "--workloads", str(workloads))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert str(bad) in result.stderr and "gpus" in result.stderr


def test_a_context_no_offering_of_the_pool_holds_is_one_line_naming_the_pool():
    # model_mem_gib 20 puts the 8B on one A10G; its full 131,072-token context fits no A10G offering of the
    # pool. The plan only looks at the pool's own accelerator (not at the H100 offerings of chat-70b's pool
    # in the same region), so it refuses in one line naming the pool, not a traceback.
    config = copy.deepcopy(PROD)
    config["aistack:endpoints"]["chat"]["max_model_len"] = 131072
    err = _error(config)
    assert err.file == "stacks/Pulumi.x.yaml"
    assert err.key == "aistack:clusters.main.gpu_pools.a10g"
    assert err.message.startswith("cannot size the pool: [memory]")


def test_endpoint_context_reaches_the_kv_bound_at_the_typical_length():
    # prod's chat: 8B BF16 on one A10G at max_model_len 16,384 keeps ~25,600 tokens of KV cache.
    # At the default typical request (1,024 + 256 tokens) that is 20 sequences, a bound of ~747 tokens/s
    # per GPU above the stated 486, so the plan keeps 10 nodes. If every request used the full context,
    # one sequence would fit and the bound (~37 tokens/s) would need ~126 nodes: the length matters.
    from sizing import capacity, load_catalog

    spec, plan = _resolve(PROD)
    (chat,) = plan.pools_for("chat")
    assert chat.max_nodes == 10
    config = copy.deepcopy(PROD)
    config["aistack:endpoints"]["chat"]["typical_tokens"] = 16384
    _, full = _resolve(config)
    (long_chat,) = full.pools_for("chat")
    a10g = spec.clusters["main"].gpu_pools["a10g"]
    offer = next(o for o in load_catalog() if o.instance_type == a10g.instance_types[0])
    bound = capacity.kv_bound_per_gpu(_chat_workload(config), offer.gpu_mem_gib, 1, 0.6)
    assert bound is not None and 30 < bound < 45
    assert long_chat.max_nodes == math.ceil(3000 / (bound * 0.8 * 0.8))


def _chat_workload(config: dict):
    from sizing.workloads import Workload

    chat = config["aistack:endpoints"]["chat"]
    return Workload(
        name="chat",
        model="llama-3.1-8b",
        demand=0.0,
        throughput={"A10G": chat["throughput_per_gpu"]},
        max_model_len=chat["max_model_len"],
        typical_tokens=chat.get("typical_tokens"),
    )
