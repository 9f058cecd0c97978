"""``python -m aistack preflight`` as a subprocess: exit 2 with one line for missing credentials and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def no_aws_credentials(tmp_path: Path) -> dict[str, str]:
    """The environment without any AWS credentials, and with instance metadata lookups off (no network)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    return env


def aistack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aistack", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_credentials_is_one_line_exit_2(tmp_path):
    result = aistack("preflight", "--stack", "dev", env=no_aws_credentials(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: credentials: aws: Unable to locate credentials (ec2:DescribeInstanceTypeOfferings): "
        "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    ]


def test_unknown_stack_is_exit_2(tmp_path):
    result = aistack("preflight", "--stack", "nope", env=no_aws_credentials(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: arguments: --stack: unknown stack 'nope'")
    assert "Traceback" not in result.stderr


def test_invalid_stack_file_is_exit_2_before_any_cloud_call(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    text = (REPO / "stacks" / "Pulumi.dev.yaml").read_text()
    bad.write_text(text.replace("max_nodes: 2\n  aistack:stores", "max_nodes: -1\n  aistack:stores"))
    assert bad.read_text() != text
    result = aistack("preflight", "--stack-file", str(bad), env=no_aws_credentials(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}: aistack:clusters.main.gpu_pools.l4.max_nodes: ")
