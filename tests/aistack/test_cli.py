"""``python -m aistack`` as a user runs it: exit codes, JSON shape, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, stack_names


def aistack(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aistack", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_preview_json_has_every_section_and_exits_0():
    result = aistack("preview", "--stack", "prod", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {"project", "stack", "resources", "outputs", "sizing", "cost", "policy", "diff"}
    assert report["project"] == "aistack" and report["stack"] == "prod"
    first = report["resources"][0]
    assert set(first) >= {"urn", "type", "name", "parent", "custom", "cloud", "inputs"}
    types = {r["type"] for r in report["resources"]}
    assert {
        "aistack:aws:Network",
        "aistack:aws:Cluster",
        "aistack:aws:ObjectStore",
        "aistack:aws:WorkloadIdentity",
        # prod's GPU pools are provisioning: auto: Karpenter NodePools, the system pool a node group.
        "aistack:k8s:GpuProvisioner",
        "kubernetes:karpenter.sh/v1:NodePool",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:s3/bucket:Bucket",
    } <= types
    assert report["outputs"]["aws"]["clusters"]["main"]["kubeconfig"] == "[secret]"
    assert all(
        r["protect"] for r in report["resources"] if r["type"] in ("aws:s3/bucket:Bucket", "aws:kms/key:Key")
    )


def test_text_tree_counts_per_cloud_and_output_file(tmp_path: Path):
    out = tmp_path / "dev.txt"
    result = aistack("preview", "--stack", "dev", "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("aistack/dev: ")
    assert "  * aistack:aws:ObjectStore  models" in text
    assert "    + aws:s3/bucket:Bucket  models-bucket" in text
    assert "resources per cloud: aws " in text


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_previews_cleanly(stack):
    result = aistack("preview", "--stack", stack, "--format", "json")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("config: [\n", ": malformed YAML: line 2"),
        (
            'config:\n  pulumi:disable-default-providers: ["*"]\n  aistack:environment: qa\n',
            ": aistack:environment: Input should be 'dev', 'staging' or 'prod' (got 'qa')",
        ),
        (
            'config:\n  pulumi:disable-default-providers: ["*"]\n  aistack:environment: dev\n',
            ": aistack:clouds: required key is missing",
        ),
    ],
)
def test_bad_stack_file_exits_2_with_one_line(tmp_path: Path, content: str, expected: str):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    result = aistack("preview", "--stack-file", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith(f"error: {path}") and expected in lines[0]


def test_unknown_stack_exits_2():
    result = aistack("preview", "--stack", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: arguments: --stack: unknown stack 'nope'; stacks in")


def test_bad_arguments_exit_2():
    result = aistack("preview", "--stack", "dev", "--format", "yaml")
    assert result.returncode == 2
    assert "invalid choice: 'yaml'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _program(tmp_path: Path, body: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(body)
    (tmp_path / "Pulumi.dev.yaml").write_text('config:\n  pulumi:disable-default-providers: ["*"]\n')
    return tmp_path


def test_any_program_runs_with_explicit_providers(tmp_path: Path):
    program = _program(
        tmp_path,
        "import pulumi, pulumi_aws as aws\n"
        "p = aws.Provider('aws', region='eu-west-1')\n"
        "key = 'arn:aws:kms:eu-west-1:111122223333:key/logs'\n"
        "g = aws.cloudwatch.LogGroup('logs', retention_in_days=30, kms_key_id=key,\n"
        "    opts=pulumi.ResourceOptions(provider=p))\n"
        "pulumi.export('group', g.name)\n",
    )
    result = aistack(
        "preview",
        "--program",
        str(program),
        "--stack-file",
        str(program / "Pulumi.dev.yaml"),
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["project"] == "other" and report["stack"] == "dev"
    assert {r["name"] for r in report["resources"]} == {"logs", "aws"}
    assert report["outputs"]["group"].startswith("logs-")
    assert report["policy"]["violations"] == []


def test_program_using_a_disabled_default_provider_fails_like_the_engine(tmp_path: Path):
    program = _program(tmp_path, "import pulumi_aws as aws\naws.s3.Bucket('logs')\n")
    result = aistack("preview", "--program", str(program), "--stack-file", str(program / "Pulumi.dev.yaml"))
    assert result.returncode == 2
    assert "default provider for 'aws' is disabled" in result.stderr


def test_crashing_program_is_one_line(tmp_path: Path):
    program = _program(tmp_path, "raise KeyError('region')\n")
    result = aistack("preview", "--program", str(program), "--stack-file", str(program / "Pulumi.dev.yaml"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {program / '__main__.py'}: program failed: KeyError: 'region'"


def test_policies_command_lists_every_rule():
    from policies import RULES

    result = aistack("policies", "--format", "json")
    assert result.returncode == 0, result.stderr
    rules = json.loads(result.stdout)
    assert {r["id"] for r in rules} == {r.id for r in RULES}
    assert all({"id", "level", "resource_types", "description"} <= set(r) for r in rules)
    markdown = aistack("policies", "--format", "markdown").stdout
    assert markdown.startswith("| Rule | Level (dev / staging / prod) |")


def test_unknown_invokes_are_refused_with_the_token(tmp_path: Path):
    program = _program(
        tmp_path,
        "import pulumi_aws as aws\naws.get_availability_zones()\n",
    )
    result = aistack("preview", "--program", str(program), "--stack-file", str(program / "Pulumi.dev.yaml"))
    assert result.returncode == 2
    assert (
        "aws:index/getAvailabilityZones:getAvailabilityZones: the offline engine does not answer"
        in result.stderr
    )


def test_caller_identity_is_answered_with_the_mock_account(declare):
    import pulumi
    import pulumi_aws as aws

    def body():
        provider = aws.Provider("aws", region="us-east-1")
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(provider=provider)
        ).account_id
        aws.s3.Bucket("named", tags={"account": account}, opts=pulumi.ResourceOptions(provider=provider))

    assert declare(body).named("named").inputs["tags"] == {"account": "111122223333"}
