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
from aistack.plan import _catalog, resolve
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
    catalog, _ = _catalog(resolved, FILE, base_dir)
    return {r.endpoint: r for r in failover.drill(resolved, plan, catalog, FILE, domain)}


# prod's chat: a10g spot pool sized to 10 g5.xlarge (one A10G, one replica each), 2 of them the on-demand
# floor; 486 tokens/s per GPU (the stack's own figure) x 0.8 target utilisation, x 0.8 more on spot.
ON_DEMAND, SPOT = 486 * 0.8, 486 * 0.8 * risk.DEFAULT_AVAILABILITY


def test_losing_the_only_cloud_leaves_nothing_and_fails():
    chat = _drill(_config("prod"), "aws")["chat"]
    (site,) = chat.sites
    assert (site.nodes, site.on_demand_nodes, site.instance_type) == (10, 2, "g5.xlarge")
    assert chat.full.tokens_per_s == pytest.approx(2 * ON_DEMAND + 8 * SPOT)
    (lost,) = chat.drills
    assert (lost.replicas, lost.tokens_per_s, lost.met, lost.required) == (0, 0.0, False, True)
    assert failover.exit_code([chat]) == 1


def test_a_zone_takes_the_fullest_zone_of_the_pool_on_demand_first():
    # 10 nodes over 3 zones: the fullest holds ceil(10 / 3) = 4, one of them on-demand (ceil(2 / 3)).
    chat = _drill(_config("prod"), "aws:us-east-1b")["chat"]
    (lost,) = chat.drills
    assert lost.clusters == (("main", 6, 6, pytest.approx(1 * ON_DEMAND + 5 * SPOT)),)
    assert lost.tokens_per_s == pytest.approx(1944, abs=1) and not lost.met  # 3,000 tokens/s asked


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


def test_survive_zone_requires_every_zone_and_fails_when_a_zone_is_short():
    config = _config("prod")
    config["aistack:sizing"]["survive"] = "zone"
    drills = _drill(config)
    assert all(d.required for d in drills["chat"].drills) and len(drills["chat"].drills) == 3
    assert failover.exit_code(drills.values()) == 1
    assert "NOT MET" in failover.as_text(list(drills.values()))


def test_without_a_demand_the_replica_floor_decides_and_scale_from_zero_counts_its_max():
    config = _config("dev")
    config["aistack:endpoints"]["chat"]["min_replicas"] = 0
    config["aistack:endpoints"]["chat"]["max_replicas"] = 2
    chat = _drill(config, "aws:us-east-1a")["chat"]
    assert chat.full.replicas == 2 and chat.full.tokens_per_s is None
    assert chat.drills[0].replicas == 1 and chat.drills[0].met
    assert any("tokens/s unknown" in n for n in chat.notes)
    assert any("no demand_tokens_per_s" in n for n in chat.notes)


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
    assert "| `chat` | none | 3,000 tokens/s | lose aws:us-east-1a | 1,944 tokens/s, 6 replica(s) |" in table


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


def _site(
    cluster: str, cloud: str, region: str, zones: tuple[str, ...], nodes: int, od: int
) -> failover.Site:
    return failover.Site(
        endpoint="chat",
        cluster=cluster,
        pool="gpu",
        cloud=cloud,
        region=region,
        zones=zones,
        instance_type="t",
        nodes=nodes,
        on_demand_nodes=od,
        nodes_per_replica=1,
        replicas_per_group=1,
        max_replicas=nodes,
        tokens_on_demand=500.0,
        tokens_spot=400.0,
    )


THREE_CLOUDS = [
    _site("east", "aws", "us-east-1", ("us-east-1a", "us-east-1b"), 4, 1),
    _site("central", "gcp", "us-central1", ("us-central1-a", "us-central1-b"), 3, 1),
    _site("south", "azure", "southcentralus", ("1", "2"), 2, 2),
]


@pytest.mark.parametrize(
    ("lost", "left", "tokens"),
    [
        # The survivors add up cluster by cluster; the lost cloud's row is empty.
        (("aws",), {"east": 0, "central": 3, "south": 2}, 500 + 2 * 400 + 2 * 500),
        (("gcp", "us-central1"), {"east": 4, "central": 0, "south": 2}, 500 + 3 * 400 + 2 * 500),
        # A zone of one cloud: only that cluster loses its fullest zone (on-demand first).
        (("azure", "southcentralus", "1"), {"east": 4, "central": 3, "south": 1}, 1700 + 1300 + 500),
    ],
)
def test_a_multi_cluster_endpoint_keeps_what_the_other_clusters_reach(lost, left, tokens):
    drill = failover._drill(THREE_CLOUDS, lost, (2500.0, 1), required=True)
    assert {c: r for c, _, r, _ in drill.clusters} == left
    assert drill.tokens_per_s == pytest.approx(tokens)
    assert drill.met == (tokens >= 2500)
