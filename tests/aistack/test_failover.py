"""The offline failover drill: what is left of each endpoint after losing a cloud, a region or a zone."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aistack import cli, failover
from aistack.errors import InputError
from aistack.plan import capacity_by_share, resolve
from aistack.spec import spec_from_config
from sizing import risk
from tests.conftest import REPO

FILE = "stacks/Pulumi.x.yaml"


def _config(stack: str) -> dict:
    return copy.deepcopy(yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"])


def _drill(config: dict, lose: str | None = None, base_dir: Path = REPO) -> dict[str, failover.EndpointDrill]:
    spec = spec_from_config(config, FILE)
    domain = failover.parse_domain(lose, spec) if lose else None
    resolved, plan = resolve(spec, FILE, base_dir)
    return {r.endpoint: r for r in failover.drill(resolved, plan, FILE, base_dir, domain)}


# prod's chat: a10g spot pool sized to 10 g5.xlarge (one A10G, one replica each); 486 tokens/s per GPU (the
# stack's own figure) x 0.8 target utilisation x 0.8 spot availability, as the plan counts them.
SPOT = 486 * 0.8 * risk.DEFAULT_AVAILABILITY


def test_losing_the_only_cloud_leaves_nothing_and_fails():
    chat = _drill(_config("prod"), "aws")["chat"]
    (site,) = chat.sites
    assert (site.nodes, site.max_replicas, site.instance_type) == (10, 10, "g5.xlarge")
    assert chat.full.tokens_per_s == pytest.approx(10 * SPOT)
    (lost,) = chat.drills
    assert (lost.replicas, lost.tokens_per_s, lost.met, lost.required) == (0, 0.0, False, True)
    assert failover.exit_code([chat]) == 1


def test_a_zone_takes_the_fullest_zone_of_the_pool():
    # 10 nodes over 3 zones: the fullest holds ceil(10 / 3) = 4.
    chat = _drill(_config("prod"), "aws:us-east-1b")["chat"]
    (lost,) = chat.drills
    assert lost.clusters == (("main", 6, 6, pytest.approx(6 * SPOT)),)
    assert lost.tokens_per_s == pytest.approx(1866, abs=1) and not lost.met  # 3,000 tokens/s asked


def test_a_pool_in_one_zone_loses_everything_with_that_zone_and_nothing_with_another():
    config = _config("prod")
    config["aistack:clusters"]["main"]["gpu_pools"]["h100"]["zones"] = ["us-east-1c"]
    drills = _drill(config, "aws:us-east-1c")
    assert drills["chat-70b"].drills[0].replicas == 0
    assert _drill(config, "aws:us-east-1a")["chat-70b"].drills[0].replicas == 4


def test_multi_node_replicas_lose_a_whole_group_with_any_of_its_nodes():
    # 405B over 2 x p5.48xlarge per replica, up to 4 nodes (2 groups) over 3 zones: the nodes split 2/1/1;
    # the fullest zone's group goes, and a zone holding one node takes the group it shares with the other.
    for zone in ("aws:us-east-1a", "aws:us-east-1c"):
        big = _drill(_config("multinode"), zone)["chat-405b"]
        (site,) = big.sites
        assert (site.nodes, site.nodes_per_replica, site.max_replicas) == (4, 2, 2)
        (lost,) = big.drills
        assert (lost.replicas, lost.clusters[0][1]) == (1, 2)
        assert lost.tokens_per_s == pytest.approx(big.full.tokens_per_s / 2)


@pytest.mark.parametrize(
    ("nodes", "zones", "n", "left"),
    [(4, 3, 2, 1), (6, 3, 2, 2), (4, 2, 2, 1), (6, 2, 3, 1), (8, 3, 2, 2), (3, 3, 3, 0)],
)
def test_groups_left_after_a_zone(nodes, zones, n, left):
    assert failover._groups_left(nodes, zones, n) == left


def test_survive_none_shows_each_zone_loss_without_failing():
    drills = _drill(_config("prod"))
    chat = drills["chat"]
    assert chat.survive == "none"
    assert [failover.label(d.lost) for d in chat.drills] == [
        "aws:us-east-1a",
        "aws:us-east-1b",
        "aws:us-east-1c",
    ]
    assert all(not d.met and not d.required for d in chat.drills)
    assert failover.exit_code(drills.values()) == 0


@pytest.mark.parametrize(("max_nodes", "met"), [(2, False), (4, True)])
def test_survive_zone_requires_every_zone_of_the_endpoint(max_nodes, met):
    # dev's l4 pool over two zones with explicit bounds: 100 tokens/s at 100 per GPU x 0.8 x 0.8 spot needs
    # two replicas, so with one zone lost (half the nodes) 2 nodes are short and 4 are enough.
    config = _config("dev")
    config["aistack:clusters"]["main"]["gpu_pools"]["l4"]["max_nodes"] = max_nodes
    config["aistack:endpoints"]["chat"].update(
        survive="zone", demand_tokens_per_s=100, throughput_per_gpu=100, max_replicas=max_nodes
    )
    drills = _drill(config)
    chat = drills["chat"]
    assert [failover.label(d.lost) for d in chat.drills] == ["aws:us-east-1a", "aws:us-east-1b"]
    assert [(d.replicas, d.required, d.met) for d in chat.drills] == [(max_nodes // 2, True, met)] * 2
    assert chat.drills[0].tokens_per_s == pytest.approx(max_nodes // 2 * 100 * 0.8 * 0.8)
    assert failover.exit_code(drills.values()) == (0 if met else 1)


def test_without_a_demand_the_replica_floor_decides_and_scale_from_zero_counts_its_max():
    config = _config("dev")
    config["aistack:endpoints"]["chat"].update(min_replicas=0, max_replicas=2)
    chat = _drill(config, "aws:us-east-1a")["chat"]
    assert chat.full.replicas == 2 and chat.drills[0].replicas == 1 and chat.drills[0].met
    # No figure for 8B on L4: the roofline estimate stands in, flagged, as in capacity_by_share.
    assert chat.drills[0].tokens_per_s == pytest.approx(chat.full.tokens_per_s / 2)
    assert any("ESTIMATED" in n for n in chat.notes)
    assert any("no demand_tokens_per_s: met while 1 replica(s) remain" in n for n in chat.notes)


def test_a_model_without_any_figure_is_drilled_in_replicas():
    config = _config("dev")
    config["aistack:endpoints"]["chat"].update(model="mistralai/Mistral-7B-Instruct-v0.3", min_replicas=2)
    chat = _drill(config, "aws:us-east-1b")["chat"]
    assert chat.full.tokens_per_s is None and chat.drills[0].tokens_per_s is None
    # Two replicas asked for, one left with a zone gone.
    assert (chat.drills[0].replicas, chat.drills[0].met) == (1, False)
    assert any("tokens/s unknown" in n for n in chat.notes)


def test_a_quota_in_the_catalog_caps_what_the_pool_can_reach(tmp_path: Path):
    row = next(
        line
        for line in (REPO / "sizing" / "data" / "aws.csv").read_text().splitlines()
        if line.startswith("aws,us-east-1,p5.48xlarge,")
    ).split(",")
    header = (REPO / "sizing" / "data" / "aws.csv").read_text().splitlines()[0]
    row[header.split(",").index("max_nodes")] = "1"
    (tmp_path / "quota.csv").write_text(f"{header}\n{','.join(row)}\n")
    config = _config("prod")
    config["aistack:sizing"]["catalog"] = "quota.csv"
    config["aistack:clusters"]["main"]["gpu_pools"]["h100"].update(
        instance_types=["p5.48xlarge"], nodes=None, min_nodes=1, max_nodes=2
    )
    config["aistack:endpoints"]["chat-70b"].update(gpus_per_replica=4, max_replicas=4)
    big = _drill(config, "aws:us-east-1a", base_dir=tmp_path)["chat-70b"]
    assert big.sites[0].nodes == 1 and big.full.replicas == 2
    assert any(n.startswith("main: quota: 1 node(s) of p5.48xlarge") for n in big.notes)


def test_recovery_is_the_scale_up_window_and_the_rollout_budget():
    chat = _drill(_config("prod"))["chat"]
    # KEDA polling 15 s + scale-up window min(300, 900) + rollout budget 2 x load_timeout_s (900).
    assert chat.recovery_s == 15 + 300 + 2 * 900


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aws", ("aws",)),
        ("aws:us-east-1", ("aws", "us-east-1")),
        ("aws:us-east-1a", ("aws", "us-east-1", "us-east-1a")),
        ("azure:1", ("azure", "southcentralus", "1")),
        ("azure:southcentralus:2", ("azure", "southcentralus", "2")),
    ],
)
def test_lose_names_a_cloud_region_or_zone_of_the_stack(text, expected):
    assert failover.parse_domain(text, spec_from_config(_config("multicloud"), FILE)) == expected


@pytest.mark.parametrize(
    "text", ["mars", "aws:eu-west-1", "gcp:us-central1-c", "aws:us-east-1:us-central1-a"]
)
def test_a_domain_the_stack_does_not_use_is_refused_with_those_it_does(text):
    with pytest.raises(InputError) as info:
        failover.parse_domain(text, spec_from_config(_config("multicloud"), FILE))
    assert info.value.key == "--lose"
    assert info.value.message.endswith(
        "allowed: aws, aws:us-east-1, aws:us-east-1a, aws:us-east-1b, gcp, gcp:us-central1, gcp:us-central1-a, "
        "gcp:us-central1-b, azure, azure:southcentralus, azure:1, azure:2"
    )


def test_json_and_markdown_carry_the_verdict(capsys):
    assert cli.main(["failover", "--stack", "prod", "--lose", "aws:us-east-1a", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["met"] is False and report["lose"] == "aws:us-east-1a"
    chat = next(e for e in report["endpoints"] if e["endpoint"] == "chat")
    assert chat["drills"][0]["level"] == "zone" and chat["drills"][0]["replicas"] == 6
    assert chat["sites"][0]["zones"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert cli.main(["failover", "--stack", "prod", "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    assert "| `chat` | none | 3,000 tokens/s | lose aws:us-east-1a | 1,866 tokens/s, 6 replica(s) |" in table


def test_exit_codes_and_the_one_line_error_across_the_process_boundary():
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "aistack", "failover", "--stack", "multicloud", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
        )

    bad = run("--lose", "oracle")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "error: arguments: --lose: 'oracle' is not a cloud, region or zone this stack uses; allowed: aws, "
        "aws:us-east-1, aws:us-east-1a, aws:us-east-1b, gcp, gcp:us-central1, gcp:us-central1-a, "
        "gcp:us-central1-b, azure, azure:southcentralus, azure:1, azure:2"
    ]
    ok = run("--lose", "aws:us-east-1a")
    assert ok.returncode == 0 and "verdict: met" in ok.stdout


def test_the_zone_split_rule_is_the_one_the_plan_sizes_survive_zone_with():
    for zones in range(2, 6):
        for need in range(30):
            m = risk.nodes_to_survive_zone(need, zones)
            assert m - risk.fullest_zone(m, zones) >= need
            assert m == 0 or (m - 1) - risk.fullest_zone(m - 1, zones) < need


def _site(cluster: str, cloud: str, region: str, zones: tuple[str, ...], nodes: int) -> failover.Site:
    return failover.Site(
        endpoint="chat",
        cluster=cluster,
        pool="gpu",
        cloud=cloud,
        region=region,
        zones=zones,
        instance_type="t",
        nodes=nodes,
        nodes_per_replica=1,
        replicas_per_group=1,
        max_replicas=nodes,
        tokens_per_node=400.0,
    )


THREE_CLOUDS = [
    _site("east", "aws", "us-east-1", ("us-east-1a", "us-east-1b"), 4),
    _site("central", "gcp", "us-central1", ("us-central1-a", "us-central1-b"), 3),
    _site("south", "azure", "southcentralus", ("1", "2"), 2),
]


@pytest.mark.parametrize(
    ("lost", "left"),
    [
        # The survivors add up cluster by cluster; the lost cloud's row is empty.
        (("aws",), {"east": 0, "central": 3, "south": 2}),
        (("gcp", "us-central1"), {"east": 4, "central": 0, "south": 2}),
        # A zone of one cloud: only that cluster loses its fullest zone.
        (("azure", "southcentralus", "1"), {"east": 4, "central": 3, "south": 1}),
        (("gcp", "us-central1", "us-central1-b"), {"east": 4, "central": 1, "south": 2}),
    ],
)
def test_a_multi_cluster_endpoint_keeps_what_the_other_clusters_reach(lost, left):
    drill = failover._drill(THREE_CLOUDS, lost, (2500.0, 1), required=True)
    assert {c: r for c, _, r, _ in drill.clusters} == left
    assert drill.tokens_per_s == pytest.approx(400 * sum(left.values()))
    assert drill.met == (400 * sum(left.values()) >= 2500)


def test_multicloud_losing_aws_leaves_gcp_and_azure_and_still_meets_demand():
    chat = _drill(_config("multicloud"), "aws")["chat"]
    assert chat.survive == "cloud" and [s.cluster for s in chat.sites] == ["east", "central", "south"]
    (lost,) = chat.drills
    left = {c: (n, r) for c, n, r, _ in lost.clusters}
    assert left["east"] == (0, 0)
    assert left["central"] == (chat.sites[1].nodes, chat.sites[1].max_replicas)
    assert left["south"] == (chat.sites[2].nodes, chat.sites[2].max_replicas)
    # What is left is exactly the two other clusters' reach, and it carries the 2,000 tokens/s.
    assert lost.tokens_per_s == pytest.approx(sum(t for c, _, _, t in chat.full.clusters if c != "east"))
    assert lost.tokens_per_s >= 2000 and lost.met and lost.required


def test_the_drill_counts_what_capacity_by_share_plans():
    spec = spec_from_config(_config("multicloud"), FILE)
    resolved, plan = resolve(spec, FILE, REPO)
    planned = capacity_by_share(resolved, plan, FILE, REPO)
    (chat,) = failover.drill(resolved, plan, FILE, REPO)
    for site, (cluster, nodes, _, tokens) in zip(chat.sites, chat.full.clusters, strict=True):
        share = planned[("chat", cluster)]
        assert (site.nodes, site.zones, site.instance_type) == (
            share.nodes_max,
            share.zones,
            share.instance_type,
        )
        assert nodes == share.nodes_max and tokens == pytest.approx(share.tokens_per_s_at_max)


def test_a_two_cloud_endpoint_sized_to_survive_a_cloud_meets_each_loss():
    config = _config("multicloud")
    config["aistack:endpoints"]["chat"]["serve_from"] = [
        {"cluster": "east", "pool": "a10g"},
        {"cluster": "central", "pool": "l4"},
    ]
    del config["aistack:clusters"]["south"]
    del config["aistack:stores"]["models-azure"]
    chat = _drill(config)["chat"]
    assert [failover.label(d.lost) for d in chat.drills] == ["aws", "gcp"]
    assert all(d.required and d.met and d.tokens_per_s >= 2000 for d in chat.drills)


def test_a_multi_cloud_endpoint_with_pools_too_small_fails_each_cloud_it_must_survive():
    config = _config("multicloud")
    for cluster, pool in (("east", "a10g"), ("central", "l4"), ("south", "a10")):
        config["aistack:clusters"][cluster]["gpu_pools"][pool].update(nodes=None, min_nodes=1, max_nodes=2)
    chat_spec = config["aistack:endpoints"]["chat"]
    chat_spec["serve_from"] = [dict(e, max_replicas=2) for e in chat_spec["serve_from"]]
    drills = _drill(config)
    chat = drills["chat"]
    assert [(failover.label(d.lost), d.replicas, d.met) for d in chat.drills] == [
        ("aws", 4, False),
        ("gcp", 4, False),
        ("azure", 4, False),
    ]
    assert failover.exit_code(drills.values()) == 1
    assert "NOT MET" in failover.as_text(list(drills.values()))


def test_an_endpoint_planned_to_survive_a_zone_survives_each_of_its_pools_zones():
    # The plan spreads a pool's nodes over the pool's own zones (as the stack names them), not over every
    # zone the catalog lists for the type: planned over the catalog's 5 us-east-1 zone IDs, prod's chat got
    # 13 nodes and lost 5 with one of its 3 zones (2,488 of 3,000 tokens/s left); p5.48xlarge, whose row
    # lists no zones, could not be planned to survive a zone at all.
    config = _config("prod")
    for endpoint in config["aistack:endpoints"].values():
        endpoint["survive"] = "zone"
    drills = _drill(config)
    assert set(drills) == {"chat", "chat-70b"}
    for drill in drills.values():
        assert [failover.label(d.lost) for d in drill.drills] == [
            "aws:us-east-1a",
            "aws:us-east-1b",
            "aws:us-east-1c",
        ]
        assert all(d.met and d.required for d in drill.drills), drill.endpoint


def test_reroute_is_the_failed_health_checks_then_the_ttl_and_only_behind_a_global_name():
    config = _config("multicloud")
    config["aistack:dns"].update(failure_threshold=2, ttl_s=45)
    assert _drill(config, "aws")["chat"].reroute_s == 2 * 30 + 45
    assert _drill(_config("prod"), "aws")["chat"].reroute_s is None  # no global name: nothing to reroute
