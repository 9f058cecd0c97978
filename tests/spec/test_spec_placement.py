"""One endpoint across clouds in the stack spec: `serve_from`, `survive`, `replica_of` and the shares."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aistack.errors import InputError
from aistack.spec import Share, spec_from_config

ROOT = Path(__file__).resolve().parents[2]
MULTICLOUD = ROOT / "stacks" / "Pulumi.multicloud.yaml"


def base() -> dict[str, Any]:
    return yaml.safe_load(MULTICLOUD.read_text())["config"]


def load(config: dict[str, Any]):
    return spec_from_config(config, "stack.yaml")


def error(config: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        load(config)
    return caught.value


def chat(config: dict[str, Any]) -> dict[str, Any]:
    return config["aistack:endpoints"]["chat"]


POOLS = {"a10g": "east", "l4": "central", "a10": "south"}


def explicit(config: dict[str, Any], *pools: str) -> dict[str, Any]:
    """Give pools node counts of their own (no longer sized)."""
    for pool in pools:
        settings = config["aistack:clusters"][POOLS[pool]]["gpu_pools"][pool]
        settings.pop("nodes", None)
        settings.update(min_nodes=1, max_nodes=4)
    return config


def single(config: dict[str, Any], cluster: str = "east", pool: str = "a10g") -> dict[str, Any]:
    """The endpoint served from one cluster's pool; the other pools get node counts of their own."""
    endpoint = chat(config)
    del endpoint["serve_from"]
    endpoint.update(cluster=cluster, pool=pool)
    return explicit(config, *(p for p in POOLS if p != pool))


def test_the_multicloud_stack_has_one_share_per_serving_cluster():
    spec = load(base())
    shares = spec.shares()
    assert [(s.name, s.cluster, s.pool, s.store) for s in shares] == [
        ("chat", "east", "a10g", "models-aws"),
        ("chat", "central", "l4", "models-gcp"),
        ("chat", "south", "a10", "models-azure"),
    ]
    assert all(isinstance(s, Share) for s in shares)
    # Each share's endpoint is concrete: its cluster, pool and store, no serve_from.
    assert [
        (s.endpoint.cluster, s.endpoint.pool, s.endpoint.store, s.endpoint.serve_from) for s in shares
    ] == [
        ("east", "a10g", "models-aws", None),
        ("central", "l4", "models-gcp", None),
        ("south", "a10", "models-azure", None),
    ]
    # The endpoint itself names no cluster: only its shares do.
    assert spec.endpoints["chat"].cluster is None and spec.endpoints["chat"].pool is None
    assert [spec.served_by(c) for c in ("east", "central", "south")] == [["chat"]] * 3
    assert spec.survive_of("chat") == "cloud"


def test_a_single_cluster_endpoint_is_its_own_share():
    config = single(base())
    del chat(config)["survive"]
    spec = load(config)
    (share,) = spec.shares()
    assert share == Share("chat", "east", "a10g", "models-aws", spec.endpoints["chat"])
    assert spec.survive_of("chat") == "none"
    config["aistack:sizing"] = {"survive": "zone"}
    assert load(config).survive_of("chat") == "zone"


def test_a_share_takes_its_own_replica_bounds():
    config = explicit(base(), *POOLS)
    endpoint = chat(config)
    del endpoint["demand_tokens_per_s"]
    endpoint["max_replicas"] = 3
    endpoint["serve_from"][1].update(min_replicas=2, max_replicas=4)
    shares = load(config).shares()
    assert [(s.endpoint.min_replicas, s.endpoint.max_replicas) for s in shares] == [(1, 3), (2, 4), (1, 3)]


def edit(change) -> InputError:
    config = copy.deepcopy(base())
    change(config)
    return error(config)


@pytest.mark.parametrize(
    ("change", "key", "phrase"),
    [
        (lambda c: chat(c).update(cluster="east", pool="a10g"), "aistack:endpoints.chat", "not both"),
        (lambda c: chat(c).pop("serve_from"), "aistack:endpoints.chat", "give cluster and pool"),
        (
            lambda c: chat(c)["serve_from"].pop() and chat(c)["serve_from"].pop(),
            "aistack:endpoints.chat",
            "two",
        ),
        (
            lambda c: chat(c)["serve_from"].__setitem__(1, {"cluster": "east", "pool": "a10g"}),
            "aistack:endpoints.chat",
            "distinct clusters",
        ),
        (
            lambda c: chat(c)["serve_from"][1].update(cluster="west"),
            "aistack:endpoints.chat.serve_from.1.cluster",
            "no cluster named 'west'",
        ),
        (
            lambda c: chat(c)["serve_from"][2].update(pool="h100"),
            "aistack:endpoints.chat.serve_from.2.pool",
            "no GPU pool 'h100'",
        ),
        (
            lambda c: chat(c)["serve_from"][0].update(region="us"),
            "aistack:endpoints.chat.serve_from.0.region",
            "unknown key",
        ),
        (lambda c: chat(c).update(survive="continent"), "aistack:endpoints.chat.survive", "'cloud'"),
        (
            lambda c: c["aistack:stores"].pop("models-azure"),
            "aistack:endpoints.chat.store",
            "replica_of: models-aws",
        ),
        (lambda c: chat(c).update(store="models-gcp"), "aistack:endpoints.chat.store", "name the primary"),
        (
            lambda c: c["aistack:stores"]["models-gcp"].update(replica_of="models-eu"),
            "aistack:stores.models-gcp.replica_of",
            "no other store",
        ),
        (
            lambda c: c["aistack:stores"]["models-gcp"].update(replica_of="models-gcp"),
            "aistack:stores.models-gcp.replica_of",
            "no other store",
        ),
        (
            lambda c: c["aistack:stores"]["models-gcp"].update(replica_of="models-azure"),
            "aistack:stores.models-gcp.replica_of",
            "do not chain",
        ),
        (
            lambda c: c["aistack:stores"].update(
                {"models-aws2": {"cloud": "aws", "replica_of": "models-aws"}}
            ),
            "aistack:stores.models-aws2.replica_of",
            "another cloud",
        ),
        (
            lambda c: c["aistack:stores"]["models-gcp"].update(purpose="datasets"),
            "aistack:stores.models-gcp.purpose",
            "'model-weights'",
        ),
        (
            lambda c: c["aistack:stores"].update(
                {"models-gcp2": {"cloud": "gcp", "replica_of": "models-aws"}}
            ),
            "aistack:stores.models-gcp2.replica_of",
            "one per cloud",
        ),
        (
            lambda c: chat(c)["serve_from"][0].update(max_replicas=3),
            "aistack:endpoints.chat.serve_from.0.max_replicas",
            "set by the sizing plan",
        ),
        (
            lambda c: chat(c)["serve_from"][0].update(gpus_per_replica=3),
            "aistack:endpoints.chat.serve_from.0.gpus_per_replica",
            "power of two",
        ),
        (
            lambda c: c["aistack:clusters"]["south"]["gpu_pools"]["a10"].update(
                nodes=None, min_nodes=1, max_nodes=2
            ),
            "aistack:endpoints.chat.serve_from",
            "not a mix",
        ),
    ],
)
def test_bad_placement_is_one_line_naming_the_key(change, key, phrase):
    err = edit(change)
    assert err.key == key
    assert phrase in err.message
    assert "\n" not in err.line()


def test_surviving_a_cloud_needs_two_clouds():
    err = edit(lambda c: single(c))
    assert (err.key, "two clouds" in err.message) == ("aistack:endpoints.chat.survive", True)


def test_a_single_cluster_endpoint_reads_the_replica_on_its_cloud():
    config = single(base(), "central", "l4")
    chat(config)["survive"] = "zone"
    (share,) = load(config).shares()
    assert (share.store, share.endpoint.store) == ("models-gcp", "models-gcp")


def test_serve_from_clusters_are_on_distinct_clouds():
    config = base()
    east2 = copy.deepcopy(config["aistack:clusters"]["east"])
    east2["service_cidr"] = "172.22.0.0/16"
    config["aistack:clusters"]["east2"] = east2
    chat(config)["serve_from"][1] = {"cluster": "east2", "pool": "a10g"}
    err = error(config)
    assert (err.key, "distinct clouds" in err.message) == ("aistack:endpoints.chat.serve_from", True)


def test_the_cli_exits_2_with_one_line(tmp_path):
    document = yaml.safe_load(MULTICLOUD.read_text())
    chat(document["config"])["serve_from"][2]["cluster"] = "west"
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    run = subprocess.run(
        [sys.executable, "-m", "aistack", "preview", "--stack-file", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "aistack:endpoints.chat.serve_from.2.cluster" in lines[0]
