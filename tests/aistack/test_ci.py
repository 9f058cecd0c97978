"""The pull-request check's steps: stack listing, the base/head preview pair, the one comment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aistack import ci
from tests.conftest import REPO, stack_names

# A stand-in for `python -m aistack preview` (and `failover`): logs its arguments, then behaves as its
# folder's behaviour.json says (exit code, whether it writes --output, what it prints on stderr; for the
# failover drill the same under "failover").
FAKE = f"""#!{sys.executable}
import json, pathlib, sys
args = sys.argv[1:]
here = pathlib.Path.cwd()
with open(here / "calls.log", "a") as log:
    log.write(json.dumps(args) + "\\n")
behaviour = json.loads((here / "behaviour.json").read_text())
if args[2] == "failover":
    behaviour = behaviour.get("failover", {{"report": "drill"}})
if behaviour.get("write", True):
    pathlib.Path(args[args.index("--output") + 1]).write_text(behaviour.get("report", "report"))
sys.stderr.write(behaviour.get("stderr", ""))
sys.exit(behaviour.get("rc", 0))
"""


def _side(root: Path, name: str, stacks: list[str], **behaviour) -> tuple[Path, str]:
    side = root / name
    (side / "stacks").mkdir(parents=True)
    for stack in stacks:
        (side / "stacks" / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (side / "behaviour.json").write_text(json.dumps(behaviour))
    python = root / f"{name}-python"
    python.write_text(FAKE)
    python.chmod(0o755)
    return side, str(python)


def _calls(side: Path) -> list[list[str]]:
    return [json.loads(line) for line in (side / "calls.log").read_text().splitlines()]


def _pair(tmp_path: Path, base_kw: dict, head_kw: dict, base_stacks=("dev",)) -> tuple[int, Path, Path, Path]:
    base, base_python = _side(tmp_path, "base", list(base_stacks), **base_kw)
    head, head_python = _side(tmp_path, "head", ["dev"], **head_kw)
    out = tmp_path / "out"
    rc = ci.preview_pair(
        "dev", head=head, head_python=head_python, base=base, base_python=base_python, out=out
    )
    return rc, base, head, out


def test_pair_diffs_the_head_against_the_base_report(tmp_path: Path):
    rc, base, head, out = _pair(tmp_path, {"report": "{}"}, {"report": "**aistack/dev** · report"})
    assert rc == 0 and (out / "dev.rc").read_text() == "0\n"
    assert _calls(base) == [
        [
            "-m",
            "aistack",
            "preview",
            "--stack",
            "dev",
            "--format",
            "json",
            "--output",
            str(out / "dev.base.json"),
        ]
    ]
    call, drill = _calls(head)
    assert call[call.index("--baseline") + 1] == str(out / "dev.base.json")
    assert drill == [
        "-m",
        "aistack",
        "failover",
        "--stack",
        "dev",
        "--format",
        "markdown",
        "--output",
        str(out / "dev.failover.md"),
    ]
    assert (out / "dev.md").read_text() == "**aistack/dev** · report\n\ndrill\n"
    assert (out / "dev.failover.rc").read_text() == "0\n"


def test_pair_uses_a_base_that_violates_policy_as_baseline(tmp_path: Path):
    rc, _, head, _ = _pair(tmp_path, {"rc": 1, "report": "{}"}, {"rc": 1})
    assert rc == 1
    assert "--baseline" in _calls(head)[0]


@pytest.mark.parametrize(
    ("base_kw", "base_stacks", "note"),
    [
        ({}, (), "🆕 `dev` is new in this pull request: no diff shown."),
        (
            {"rc": 2, "write": False},
            ("dev",),
            "⚠️ the base branch's preview of `dev` failed (exit 2): no diff shown.",
        ),
        (
            {"rc": 0, "report": ""},
            ("dev",),
            "⚠️ the base branch's preview of `dev` failed (exit 0): no diff shown.",
        ),
    ],
)
def test_pair_without_a_usable_base_reports_the_head_alone_and_says_why(tmp_path, base_kw, base_stacks, note):
    rc, _, head, out = _pair(tmp_path, base_kw, {"report": "the report"}, base_stacks=base_stacks)
    assert rc == 0
    assert "--baseline" not in _calls(head)[0]
    assert (out / "dev.md").read_text() == f"the report\n\ndrill\n\n{note}\n"


def test_pair_reports_the_error_tail_when_the_head_is_invalid(tmp_path: Path):
    stderr = (
        "".join(f"noise {i}\n" for i in range(30)) + "error: stacks/Pulumi.dev.yaml: aistack:clouds: bad\n"
    )
    rc, _, _, out = _pair(tmp_path, {"report": "{}"}, {"rc": 2, "write": False, "stderr": stderr})
    assert rc == 2 and (out / "dev.rc").read_text() == "2\n"
    text = (out / "dev.md").read_text()
    assert text.startswith("**aistack/dev** · ⛔ no report (exit 2):")
    assert "error: stacks/Pulumi.dev.yaml: aistack:clouds: bad" in text
    assert "noise 11\n" in text and "noise 10\n" not in text  # the last 20 lines only


def test_every_stack_is_listed_with_its_clouds_and_esc_imports():
    stacks = [ci.describe(p) for p in ci.stack_files(REPO / "stacks")]
    assert [s["stack"] for s in stacks] == stack_names()
    by_name = {s["stack"]: s for s in stacks}
    assert by_name["dev"] == {"stack": "dev", "clouds": ["aws"], "esc": False}
    assert by_name["multicloud"] == {"stack": "multicloud", "clouds": ["aws", "azure", "gcp"], "esc": True}


def test_an_unreadable_stack_file_is_still_listed(tmp_path: Path):
    (tmp_path / "Pulumi.broken.yaml").write_text("config: [\n")
    assert [ci.describe(p) for p in ci.stack_files(tmp_path)] == [
        {"stack": "broken", "clouds": [], "esc": False}
    ]


def test_real_previews_take_esc_stacks_and_stacks_whose_clouds_all_have_secrets():
    stacks = [
        {"stack": "dev", "clouds": ["aws"], "esc": False},
        {"stack": "azure-dev", "clouds": ["azure"], "esc": False},
        {"stack": "multicloud", "clouds": ["aws", "azure", "gcp"], "esc": True},
        {"stack": "broken", "clouds": [], "esc": False},
    ]
    assert ci.real_preview_matrix(stacks, pulumi_login=True, secrets=["aws"]) == [
        {"stack": "dev", "esc": False, "aws": True, "azure": False, "gcp": False},
        {"stack": "multicloud", "esc": True, "aws": False, "azure": False, "gcp": False},
    ]
    assert ci.real_preview_matrix(stacks, pulumi_login=False, secrets=["aws", "azure", "gcp"]) == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (False, [])),
        ({"PULUMI_ACCESS_TOKEN_SET": "true", "AWS_ROLE_TO_ASSUME_SET": "true"}, (True, ["aws"])),
        ({"PULUMI_ACCESS_TOKEN_SET": "false", "AWS_ROLE_TO_ASSUME_SET": "true"}, (False, ["aws"])),
        ({"PULUMI_OIDC": "true", "PULUMI_ORG": "acme"}, (True, [])),
        ({"PULUMI_OIDC": "true", "PULUMI_ORG": ""}, (False, [])),
        (
            {
                "FROM_FORK": "true",
                "PULUMI_OIDC": "true",
                "PULUMI_ORG": "acme",
                "AWS_ROLE_TO_ASSUME_SET": "true",
            },
            (False, []),
        ),
        (
            {
                "PULUMI_ACCESS_TOKEN_SET": "true",
                "AZURE_CLIENT_ID_SET": "true",
                "AZURE_TENANT_ID_SET": "true",
                "AZURE_SUBSCRIPTION_ID_SET": "false",
                "GCP_SERVICE_ACCOUNT_SET": "true",
            },
            (True, []),  # Azure lacks its subscription, GCP its workload identity provider
        ),
    ],
)
def test_credentials_are_read_from_what_the_workflow_passes(env, expected):
    assert ci.credentials(env) == expected


def test_stacks_command_prints_github_outputs(capsys, monkeypatch):
    for name in ("PULUMI_ACCESS_TOKEN_SET", "AWS_ROLE_TO_ASSUME_SET", "PULUMI_ORG", "FROM_FORK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PULUMI_OIDC", "true")
    monkeypatch.setenv("PULUMI_ORG", "acme")
    assert ci.main(["stacks", "--stacks-dir", str(REPO / "stacks")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"offline={json.dumps(stack_names())}"
    assert json.loads(lines[1].removeprefix("real=")) == [
        {"stack": "multicloud", "esc": True, "aws": False, "azure": False, "gcp": False}
    ]


def _reports(tmp_path: Path, results: dict) -> Path:
    for stack, (rc, body) in results.items():
        (tmp_path / f"{stack}.rc").write_text(f"{rc}\n")
        (tmp_path / f"{stack}.md").write_text(body)
    return tmp_path


def test_comment_gathers_every_stack_under_one_marker(tmp_path: Path):
    reports = _reports(
        tmp_path, {"dev": (0, "**aistack/dev** · ok\n\ndetails"), "prod": (0, "**aistack/prod** · ok")}
    )
    (reports / "prod.pulumi").write_text("success\n")
    (reports / "prod.failover.rc").write_text("0\n")
    comment, full, failed = ci.gather(reports, ["dev", "prod"], base_ref="main")
    assert not failed and comment == full
    assert comment.startswith("<!-- aistack-preview -->\n## aistack preview\n")
    assert "Offline preview of 2 stack(s) against `main`" in comment
    assert "| `dev` | ✅ passes | not run | not run |" in comment
    assert "| `prod` | ✅ passes | ✅ every required loss met | ✅ passes |" in comment
    assert comment.index("**aistack/dev**") < comment.index("**aistack/prod**")


@pytest.mark.parametrize(
    ("results", "real", "row"),
    [
        (
            {"dev": (1, "**aistack/dev** · ❌")},
            None,
            "| `dev` | ❌ fails (policy or forbidden change) | not run | not run |",
        ),
        ({"dev": (2, "**aistack/dev** · ⛔")}, None, "| `dev` | ⛔ invalid input | not run | not run |"),
        (
            {},
            None,
            "| `dev` | ⛔ no report: the stack's job did not finish (see the workflow run) | not run | not run |",
        ),
        (
            {"dev": (0, "**aistack/dev** · ok")},
            "failure",
            "| `dev` | ✅ passes | not run | ❌ fails (see its job summary) |",
        ),
    ],
)
def test_comment_fails_the_check_on_any_failing_or_missing_stack(tmp_path: Path, results, real, row):
    reports = _reports(tmp_path, results)
    if real:
        (reports / "dev.pulumi").write_text(real)
    comment, _, failed = ci.gather(reports, ["dev"], base_ref="main")
    assert failed and row in comment


@pytest.mark.parametrize(
    ("drill", "cell"),
    [(1, "❌ a loss an endpoint must survive is not met"), (2, "⛔ no drill")],
)
def test_comment_fails_the_check_when_the_failover_drill_does(tmp_path: Path, drill, cell):
    reports = _reports(tmp_path, {"dev": (0, "**aistack/dev** · ok")})
    (reports / "dev.failover.rc").write_text(f"{drill}\n")
    comment, _, failed = ci.gather(reports, ["dev"], base_ref="main")
    assert failed and f"| `dev` | ✅ passes | {cell} | not run |" in comment


def test_pair_appends_the_drill_or_its_error_to_the_report(tmp_path: Path):
    rc, _, _, out = _pair(
        tmp_path,
        {"report": "{}"},
        {"report": "the report", "failover": {"rc": 2, "write": False, "stderr": "error: x: --lose: bad\n"}},
    )
    assert rc == 0 and (out / "dev.failover.rc").read_text() == "2\n"
    assert (out / "dev.md").read_text() == (
        "the report\n\n⛔ no failover drill (exit 2):\n\n```\nerror: x: --lose: bad\n```\n"
    )


def test_pair_runs_the_real_drill_on_a_stack(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    table = ci.failover_drill("prod", head=REPO, head_python=sys.executable, out=out)
    assert (out / "prod.failover.rc").read_text() == "0\n"
    assert table.startswith("#### Failover drill")
    assert "| `chat-70b` | none | 6,000 tokens/s | lose aws:us-east-1a |" in table


def test_a_long_comment_keeps_the_table_and_each_summary_line(tmp_path: Path):
    body = "**aistack/{0}** · summary\n\n" + "x" * 25_000
    reports = _reports(tmp_path, {s: (0, body.format(s)) for s in ("a", "b", "c")})
    comment, full, failed = ci.gather(reports, ["a", "b", "c"], base_ref="feature`x")
    assert not failed and len(full) > ci.COMMENT_LIMIT >= len(comment)
    assert "against `featurex`" in comment and "| `c` | ✅ passes | not run | not run |" in comment
    assert "- **aistack/b** · summary" in comment and "xxxx" not in comment


def test_comment_command_writes_the_comment_and_the_summary_and_exits_1_on_failure(tmp_path: Path):
    (tmp_path / "r").mkdir()
    reports = _reports(tmp_path / "r", {"dev": (1, "**aistack/dev** · ❌")})
    summary = tmp_path / "summary.md"
    args = ["comment", "--reports", str(reports), "--stacks", '["dev"]', "--base-ref", "main"]
    assert ci.main([*args, "--output", str(tmp_path / "c.md"), "--summary", str(summary)]) == 1
    assert (tmp_path / "c.md").read_text().startswith(ci.MARKER)
    assert "**aistack/dev** · ❌" in summary.read_text()


def test_a_summary_past_its_limit_gets_the_comment_instead(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ci, "COMMENT_LIMIT", 300)
    monkeypatch.setattr(ci, "SUMMARY_LIMIT", 500)
    (tmp_path / "r").mkdir()
    reports = _reports(tmp_path / "r", {"dev": (0, "**aistack/dev** · ok\n\n" + "y" * 600)})
    summary = tmp_path / "summary.md"
    args = ["comment", "--reports", str(reports), "--stacks", '["dev"]', "--base-ref", "main"]
    assert ci.main([*args, "--output", str(tmp_path / "c.md"), "--summary", str(summary)]) == 0
    text = summary.read_text()
    assert text.startswith(ci.MARKER) and "- **aistack/dev** · ok" in text and "yyyy" not in text
    assert text.endswith("The full reports pass the job summary's size limit: see the artifacts.\n")
