"""The deployer path and cluster admins in the spec: how pulumi up reaches each API, refused
combinations (one line naming the key), and what pulumi up demands beyond a preview."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aistack.errors import InputError
from aistack.spec import spec_from_config
from components import registry
from tests.conftest import REPO

DEV = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]
AZURE = yaml.safe_load((REPO / "stacks" / "Pulumi.azure-dev.yaml").read_text())["config"]
MULTI = yaml.safe_load((REPO / "stacks" / "Pulumi.multicloud.yaml").read_text())["config"]
FILE = "stacks/Pulumi.x.yaml"


def _with(config: dict, path: list[str], value) -> dict:
    config = copy.deepcopy(config)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


def _api(config: dict, cluster: str, api: dict) -> dict:
    return _with(config, ["aistack:clusters", cluster, "api"], api)


def _error(config: dict) -> InputError:
    with pytest.raises(InputError) as info:
        registry.check_features(spec_from_config(config, FILE), FILE)
    return info.value


def test_every_cluster_must_declare_its_deployer_path():
    err = _error(_api(DEV, "main", {"private": True}))
    assert err.line() == f"{FILE}: aistack:clusters.main.api.deployer: required key is missing"


@pytest.mark.parametrize(
    ("block", "why"),
    [
        ("203.0.113.0/24", "documentation"),  # TEST-NET-3 pretending to be a runner
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space"),
    ],
)
def test_public_allow_list_refuses_blocks_no_runner_comes_from(block, why):
    err = _error(_api(DEV, "main", {"deployer": "allow-listed", "public_cidrs": [block]}))
    assert err.key == "aistack:clusters.main.api", why
    assert err.message.startswith(f"public_cidrs: {block} is not a globally routed block")


@pytest.mark.parametrize(
    ("api", "message"),
    [
        (
            {"deployer": "in-network", "private": True},
            "deployer: in-network needs runner_cidrs: the private CIDR blocks the runner inside the network "
            "connects from",
        ),
        (
            {"deployer": "in-network", "private": False, "runner_cidrs": ["10.99.0.0/24"]},
            "deployer: in-network needs the private endpoint (private: true)",
        ),
        (
            {"deployer": "allow-listed", "runner_cidrs": ["10.99.0.0/24"]},
            "runner_cidrs applies to deployer: in-network only (deployer is allow-listed)",
        ),
        (
            {"deployer": "in-network", "runner_cidrs": ["10.99.0.0/24"], "public_cidrs": ["52.94.0.0/22"]},
            "deployer: in-network reaches the API on its private endpoint only; drop public_cidrs or use "
            "deployer: allow-listed",
        ),
    ],
)
def test_refused_path_combinations(api, message):
    err = _error(_api(DEV, "main", api))
    assert (err.key, err.message) == ("aistack:clusters.main.api", message)


@pytest.mark.parametrize(
    ("config", "cluster", "api", "key", "message"),
    [
        (
            DEV,
            "main",
            {"deployer": "dns-endpoint"},
            "aistack:clusters.main.api.deployer",
            "aws does not support deployer dns-endpoint: EKS has no IAM-authenticated DNS endpoint",
        ),
        (
            AZURE,
            "main",
            {"deployer": "in-network", "runner_cidrs": ["10.20.0.0/24"]},
            "aistack:clusters.main.api.deployer",
            "azure does not support deployer in-network: a private AKS API server answers only inside",
        ),
        (
            AZURE,
            "main",
            {"deployer": "allow-listed", "private": True},
            "aistack:clusters.main.api.private",
            "azure does not support private_and_public_api",
        ),
        (
            MULTI,
            "central",
            {"deployer": "in-network", "runner_cidrs": ["10.50.0.0/24"]},
            "aistack:clusters.central.api.deployer",
            "gcp does not support deployer in-network",
        ),
    ],
)
def test_what_a_cloud_cannot_do_is_refused(config, cluster, api, key, message):
    err = _error(_api(config, cluster, api))
    assert err.key == key and err.message.startswith(message)


def test_deployer_role_and_admin_roles_are_checked():
    err = _error(_with(DEV, ["aistack:clouds", "aws", "deployer_role"], "role/with spaces"))
    assert err.key == "aistack:clouds.aws.deployer_role"
    err = _error(_with(DEV, ["aistack:clouds", "aws", "admin_role_arns"], ["arn:aws:iam::123:role/x"]))
    assert err.key == "aistack:clouds.aws.admin_role_arns.0"
    arn = "arn:aws:iam::111122223333:role/ci"
    twice = _with(
        _with(DEV, ["aistack:clouds", "aws", "deployer_role"], arn),
        ["aistack:clouds", "aws", "admin_role_arns"],
        [arn],
    )
    assert (
        _error(twice).message
        == "admin_role_arns repeats deployer_role, which is an admin already; list it once"
    )


def test_pulumi_up_demands_the_operator_cidrs_a_preview_goes_without():
    shipped = spec_from_config(DEV, FILE)
    registry.check_features(shipped, FILE)  # previews run
    with pytest.raises(InputError) as info:
        registry.check_deploy_inputs(shipped, FILE)
    assert info.value.key == "aistack:clusters.main.api.public_cidrs"
    assert info.value.message.startswith("required by pulumi up with deployer: allow-listed")
    ready = spec_from_config(
        _api(DEV, "main", {"deployer": "allow-listed", "public_cidrs": ["52.94.0.0/22"]}), FILE
    )
    registry.check_deploy_inputs(ready, FILE)
    # GKE's DNS endpoint needs nothing from the operator.
    gke_only = copy.deepcopy(MULTI)
    for cluster in ("east", "south"):
        gke_only["aistack:clusters"][cluster]["api"]["public_cidrs"] = ["52.94.0.0/22"]
    registry.check_deploy_inputs(spec_from_config(gke_only, FILE), FILE)


def test_cli_exits_2_with_one_line_for_a_documentation_cidr(tmp_path: Path):
    config = _api(DEV, "main", {"deployer": "allow-listed", "public_cidrs": ["198.51.100.0/24"]})
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "preview", "--stack-file", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: aistack:clusters.main.api: public_cidrs: 198.51.100.0/24 is not a globally routed "
        "block (documentation, private or reserved range); list the public egress CIDRs of the machines "
        "that run pulumi up"
    ]
