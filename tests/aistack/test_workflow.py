"""The pull-request workflow stays hardened (zizmor in .ci/run checks the same, and more)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _jobs(path):
    return yaml.safe_load(path.read_text())["jobs"]


def _steps(path):
    return [(name, step) for name, job in _jobs(path).items() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment(path):
    lines = [line.strip() for line in path.read_text().splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert lines, "no action found"
    for line in lines:
        assert PINNED.match(line.split("uses:", 1)[1].strip()), line


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_script(path):
    for job, step in _steps(path):
        assert "${{" not in step.get("run", ""), f"{job}: {step.get('name', step['run'][:40])}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_keep_no_token(path):
    for job, step in _steps(path):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, job


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_granted_per_job_only_where_used(path):
    assert yaml.safe_load(path.read_text())["permissions"] == {}
    for name, job in _jobs(path).items():
        granted = job["permissions"]
        assert granted.get("contents") == "read", name
        uses = {step.get("uses", "").split("@")[0] for step in job.get("steps", [])}
        if "pull-requests" in granted:
            assert "marocchino/sticky-pull-request-comment" in uses, name
        if "id-token" in granted:
            assert uses & {
                "pulumi/auth-actions",
                "aws-actions/configure-aws-credentials",
                "pulumi/actions",
            }, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_are_read_only_by_jobs_in_a_dedicated_environment(path):
    """Environment secrets reach only jobs naming the environment; the OIDC subject names it too."""
    for name, job in _jobs(path).items():
        if "secrets." in yaml.safe_dump(job):
            assert job.get("environment") == "pulumi-preview", name
