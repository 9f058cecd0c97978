"""The fixture programs under tests/fixtures, run through the real SDKs by the offline engine
(``aistack.engine``): each insecure program trips exactly the rules its README row names; the
secure reference, which declares every resource family the pack checks, trips nothing in any
environment."""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import Any

import pytest

from aistack import engine
from aistack.preview import project_name
from aistack.spec import read_stack_config, stack_file
from policies import evaluate
from tests.conftest import REPO

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The families the program can create (policies/README.md). BucketAcl is left out: with
# BucketOwnerEnforced ownership, ACLs are disabled; tests/policies/cases.py covers it.
REFERENCE_FAMILIES = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ebs/volume:Volume",
    "aws:kms/key:Key",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:lb/listener:Listener",
    "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer",
    "azure-native:containerservice:ManagedCluster",
    "azure-native:containerservice:AgentPool",
    "azure-native:network:NetworkSecurityGroup",
    "azure-native:network:SecurityRule",
    "azure-native:authorization:RoleAssignment",
    "gcp:storage/bucket:Bucket",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
    "gcp:container/cluster:Cluster",
    "gcp:container/nodePool:NodePool",
    "gcp:compute/firewall:Firewall",
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:core/v1:Pod",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Service",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
}
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<rules>[^|]+) \| (?P<resources>[^|]+) \|$", re.MULTILINE)


def expectations() -> dict[str, tuple[set[str], set[str]]]:
    """Fixture → (mandatory rule ids, resource names), from tests/fixtures/README.md."""
    table = {}
    for row in ROW.finditer((FIXTURES / "README.md").read_text()):
        rules, resources = (set(re.findall(r"`([^`]+)`", row[group])) for group in ("rules", "resources"))
        table[row["name"]] = (rules, resources)
    return table


@functools.cache
def recorded(fixture: str) -> tuple[dict[str, Any], ...]:
    """The fixture's resources as the offline engine records them (once per session: a run takes
    seconds), in the shape ``evaluate`` takes."""
    program = FIXTURES / fixture
    config = read_stack_config(stack_file(program, "dev"))
    run = engine.run_program(program, project=project_name(program), stack="dev", config=config)
    return tuple(dataclasses.asdict(r) for r in run.resources)


def test_every_fixture_directory_has_a_readme_row() -> None:
    directories = {p.name for p in FIXTURES.iterdir() if (p / "__main__.py").exists()}
    assert directories == set(expectations())
    for directory in directories:
        assert (FIXTURES / directory / "Pulumi.yaml").exists()
        assert read_stack_config(FIXTURES / directory / "Pulumi.dev.yaml") == {
            "pulumi:disable-default-providers": ["*"]
        }


@pytest.mark.parametrize("fixture", sorted(name for name in expectations() if name.startswith("insecure_")))
@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_insecure_fixture_trips_its_rules(fixture: str, environment: str) -> None:
    rules, resources = expectations()[fixture]
    mandatory = [f for f in evaluate(recorded(fixture), environment=environment) if f["level"] == "mandatory"]
    assert {f["policy"] for f in mandatory} == rules
    assert {f["urn"].rsplit("::", 1)[-1] for f in mandatory} == resources


def test_secure_reference_is_clean() -> None:
    resources = recorded("secure_reference")
    assert {r["type"] for r in resources} >= REFERENCE_FAMILIES
    for environment in ("dev", "staging", "prod"):
        assert (
            evaluate(resources, environment=environment, config={"monthly_usd": 900.0, "budget_usd": 1000.0})
            == []
        )


@pytest.mark.parametrize("fixture", sorted(d for d in expectations() if d.startswith("insecure_")))
def test_preview_of_an_insecure_program_exits_1_naming_rule_and_resource(fixture: str) -> None:
    import subprocess
    import sys

    program = FIXTURES / fixture
    result = subprocess.run(
        [sys.executable, "-m", "aistack", "preview", "--program", str(program), "--stack", "dev"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    mandatory, resources = expectations()[fixture]
    lines = [x for x in result.stdout.splitlines() if "[mandatory] " in x]
    assert {x.split("[mandatory] ")[1].split(":")[0] for x in lines} == mandatory
    named = {re.search(r"urn:pulumi:dev::\S+::([^:\s]+): ", x)[1] for x in lines}  # the URN's resource name
    assert named <= resources and named
