"""End to end, as the pull-request workflow runs it: base preview, modified stack, report and exit code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

DEV = REPO / "stacks" / "Pulumi.dev.yaml"


def aistack(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aistack", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dev stack's JSON preview, as the workflow makes it on the base branch."""
    out = tmp_path_factory.mktemp("base") / "base.json"
    result = aistack("preview", "--stack", "dev", "--format", "json", "--output", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def check(tmp_path: Path, baseline: Path) -> Callable[[Callable[[dict], Any]], tuple[int, str]]:
    """Edit a copy of the dev stack, preview it against the baseline; return exit code and Markdown."""

    def run(edit: Callable[[dict[str, Any]], Any]) -> tuple[int, str]:
        document = yaml.safe_load(DEV.read_text())
        edit(document["config"])
        stack = tmp_path / "Pulumi.dev.yaml"  # same stack name, so URNs line up with the baseline
        stack.write_text(yaml.safe_dump(document, sort_keys=False))
        report = tmp_path / "report.md"
        result = aistack(
            "preview",
            "--stack-file",
            str(stack),
            "--baseline",
            str(baseline),
            "--format",
            "markdown",
            "--output",
            str(report),
        )
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, report.read_text()

    return run


def test_growing_a_gpu_pool_is_an_update_with_a_cost_delta_and_passes(check):
    def grow(config: dict) -> None:
        config["aistack:clusters"]["main"]["gpu_pools"]["l4"]["max_nodes"] = 4

    code, text = check(grow)
    assert code == 0
    assert "**+0 to create · ~1 to update · −0 to delete · 0 identity change(s)**" in text
    # The node group ignores its bounds after create; its scaling command applies them from the live
    # desired size (docs/first-deploy.md, "Changing pool bounds").
    assert "- ~ Command `main-l4-nodes-scaling`: `create`, `triggers`, `update`" in text
    # Two more g6.xlarge spot nodes at the most: the maximum grows, the minimum does not.
    summary = text.splitlines()[0]
    assert "+$0.00/month (max +$" in summary and "(max +$0.00)" not in summary
    assert "⛔" not in text


def test_deleting_the_bucket_fails_the_check_unless_allowed(check):
    def drop_store(config: dict) -> None:
        # The serving endpoint reads its weights from the store, so it goes too.
        config["aistack:stores"] = {}
        config.pop("aistack:endpoints", None)

    code, text = check(drop_store)
    assert code == 1
    # The store's bucket and key, the bucket of its access trail (the audit logs go with it), and the
    # key encrypting the endpoint's API key (the endpoint goes, so does its key).
    assert "⛔ **4 forbidden change(s)** (the check fails):" in text
    assert (
        "- Key `main-api-keys-secrets-key`: KMS key 'main-api-keys-secrets-key' would be deleted. "
        "To allow it, add 'main-api-keys' to aistack:allow_replace." in text
    )
    assert (
        "- Bucket `models-bucket`: S3 bucket 'models-bucket' would be deleted. "
        "To allow it, add 'models' to aistack:allow_replace." in text
    )
    assert (
        "- Bucket `aws-audit-bucket`: S3 bucket 'aws-audit-bucket' would be deleted. "
        "To allow it, add 'aws-audit' to aistack:allow_replace." in text
    )

    def drop_and_allow(config: dict) -> None:
        drop_store(config)
        config["aistack:allow_replace"] = ["models", "aws-audit", "main-api-keys"]

    code, text = check(drop_and_allow)
    assert code == 0
    assert "⛔" not in text and "Bucket `models-bucket`" in text


def test_renaming_a_component_is_an_identity_change_and_fails_the_check(check):
    def rename(config: dict) -> None:
        config["aistack:stores"] = {"weights": config["aistack:stores"]["models"]}
        for endpoint in (config.get("aistack:endpoints") or {}).values():
            endpoint["store"] = "weights"

    code, text = check(rename)
    assert code == 1
    assert "- ObjectStore `models` → ObjectStore `weights`: new logical name without an alias" in text
    assert (
        "- Bucket `models-bucket` → Bucket `weights-bucket`: new logical name and parent without an alias"
        in text
    )
    assert "it reappears as 'weights-bucket' (add an alias to keep it)" in text


def test_a_baseline_of_another_stack_is_refused_in_one_line(baseline: Path):
    result = aistack("preview", "--stack", "staging", "--baseline", str(baseline))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"error: {baseline}: stack: the baseline previews stack 'dev', not 'staging'"
    )
