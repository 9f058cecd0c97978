"""``python -m sizing`` as a subprocess: exit codes 0/1/2, JSON shape, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sizing.catalog import COLUMNS
from sizing.plan import POOL_KEYS

ROOT = Path(__file__).resolve().parents[2]
CATALOG = "\n".join(
    [
        ",".join(COLUMNS),
        "aws,us-east-1,g6.xlarge,L4-24GB,1,22.35,4,16,0.8048,0.4173,use1-az1;use1-az2,10,test,2025-01",
        "gcp,us-central1,g2-standard-4,L4-24GB,1,24,4,16,0.70683,0.28184,us-central1-a,,test,2025-01",
    ]
)
WORKLOADS = """
workloads:
  - name: chat
    model_mem_gib: 20
    demand: 400
    throughput: {L4: 100}
"""


def size(
    tmp_path: Path, *args: str, catalog: str = CATALOG, workloads: str = WORKLOADS
) -> subprocess.CompletedProcess:
    (tmp_path / "c.csv").write_text(catalog + "\n")
    (tmp_path / "w.yaml").write_text(workloads)
    return subprocess.run(
        [sys.executable, "-m", "sizing", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_optimal_plan_as_json(tmp_path: Path) -> None:
    done = size(
        tmp_path,
        "--catalog",
        str(tmp_path / "c.csv"),
        "--workloads",
        str(tmp_path / "w.yaml"),
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["status"] == "optimal"
    assert {"status", "monthly_usd", "pools"} <= set(plan)
    assert [tuple(p) for p in plan["pools"]] == [POOL_KEYS]
    pool = plan["pools"][0]
    # 400 units/s at 80 per node: 5 nodes of the cheaper GCP offering.
    assert (pool["cloud"], pool["instance_type"], pool["nodes"]) == ("gcp", "g2-standard-4", 5)
    assert plan["monthly_usd"] == pytest.approx(5 * 0.70683 * 730, abs=0.01)
    runner_up = plan["workloads"][0]["runner_up"]
    assert runner_up["pools"] == ["aws/us-east-1/g6.xlarge x5"]
    assert runner_up["margin_usd"] == pytest.approx(5 * (0.8048 - 0.70683) * 730, abs=0.01)


def test_text_output_explains_the_choice(tmp_path: Path) -> None:
    done = size(tmp_path, "--catalog", str(tmp_path / "c.csv"), "--workloads", str(tmp_path / "w.yaml"))
    assert done.returncode == 0, done.stderr
    assert "gcp us-central1 g2-standard-4" in done.stdout
    assert "runner-up:" in done.stdout and "loses by" in done.stdout
    assert "bound by: demand" in done.stdout


def test_infeasible_exits_1_with_the_reason(tmp_path: Path) -> None:
    workloads = WORKLOADS.replace("throughput: {L4: 100}", "throughput: {L4: 100}\n    clouds: [azure]")
    done = size(
        tmp_path,
        "--catalog",
        str(tmp_path / "c.csv"),
        "--workloads",
        str(tmp_path / "w.yaml"),
        workloads=workloads,
    )
    assert done.returncode == 1
    assert "no_allowed_offering" in done.stderr
    assert "Traceback" not in done.stderr


def test_malformed_catalog_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = CATALOG.replace("0.8048,0.4173", "0.8048,0.9")
    done = size(
        tmp_path, "--catalog", str(tmp_path / "c.csv"), "--workloads", str(tmp_path / "w.yaml"), catalog=bad
    )
    assert done.returncode == 2
    assert (
        done.stderr
        == f"{tmp_path / 'c.csv'}: row 2.spot_price_hr: spot 0.9 exceeds on-demand 0.8048 USD per hour\n"
    )
    assert done.stdout == ""


def test_malformed_workloads_exits_2_with_one_line(tmp_path: Path) -> None:
    done = size(
        tmp_path,
        "--workloads",
        str(tmp_path / "w.yaml"),
        workloads=WORKLOADS.replace("demand: 400", "demand: lots"),
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"{tmp_path / 'w.yaml'}: workloads.chat.demand: ")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [["--format", "xml", "--workloads", "w.yaml"], [], ["--bogus"]])
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, args: list[str]) -> None:
    done = size(tmp_path, *args)
    assert done.returncode == 2
    assert done.stderr.startswith("arguments: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_bundled_catalog_is_the_default(tmp_path: Path) -> None:
    done = size(tmp_path, "--workloads", str(tmp_path / "w.yaml"), "--format", "json", "--no-explain")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["pools"] and plan["workloads"][0]["runner_up"] is None


def test_example_workloads_file_is_optimal_with_the_bundled_catalog(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sizing",
            "size",
            "--workloads",
            "sizing/examples/workloads.yaml",
            "--format",
            "json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert {p["workload"] for p in plan["pools"]} == {"chat", "summarize"}
    chat = [p for p in plan["pools"] if p["workload"] == "chat"]
    # The on-demand floor keeps at least a quarter of chat's demand off spot.
    assert any(not p["spot"] for p in chat) and any(p["spot"] for p in chat)


def test_sizing_imports_no_pulumi() -> None:
    code = "import sys, sizing, sizing.cli; sys.exit(any(m.split('.')[0] == 'pulumi' for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60).returncode == 0
