"""The pull-request check's steps (``.github/workflows/preview.yml``), kept here to be tested.

``python -m aistack.ci stacks``   the stacks to preview, as matrix JSON for the workflow
``python -m aistack.ci pair``     one stack: the base branch's preview, then the head's against it, then the
                                  head's failover drill (its table joins the stack's report)
``python -m aistack.ci comment``  every stack's report gathered into the one pull-request comment

Only the standard library and PyYAML are imported, so the listing and commenting jobs install
nothing else. Every job's file is one stack's: ``<stack>.md`` (the Markdown report, or the error),
``<stack>.rc`` (the head preview's exit code), ``<stack>.failover.rc`` (the failover drill's) and, for the real
preview, ``<stack>.pulumi``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

CLOUDS = ("aws", "azure", "gcp")
MARKER = "<!-- aistack-preview -->"
COMMENT_LIMIT = 60_000
"""A pull-request comment holds at most 65,536 characters; past this the reports are summarised."""
SUMMARY_LIMIT = 1_000_000
"""A step's job summary holds at most 1 MiB; past this it gets the comment and the artifacts hold the rest."""


def stack_files(stacks_dir: Path) -> list[Path]:
    """The stack files of a ``stacks/`` folder, sorted by stack name."""
    return sorted(Path(stacks_dir).glob("Pulumi.*.yaml"))


def stack_name(path: Path) -> str:
    """``stacks/Pulumi.dev.yaml`` → ``dev``."""
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def describe(path: Path) -> dict[str, Any]:
    """A stack's name, clouds and ESC imports, read leniently.

    A file that does not parse is still listed (no clouds, no imports): its offline preview then
    fails with the one-line error, which the comment shows.
    """
    try:
        document = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        document = {}
    document = document if isinstance(document, dict) else {}
    config = document.get("config") if isinstance(document.get("config"), dict) else {}
    clouds = config.get("aistack:clouds") if isinstance(config.get("aistack:clouds"), dict) else {}
    environments = document.get("environment")
    return {
        "stack": stack_name(path),
        "clouds": [c for c in CLOUDS if clouds.get(c) is not None],
        "esc": isinstance(environments, list) and bool(environments),
    }


def real_preview_matrix(
    stacks: Iterable[dict[str, Any]], *, pulumi_login: bool, secrets: Iterable[str]
) -> list[dict[str, Any]]:
    """The stacks a real ``pulumi preview`` can run for, with how each gets its cloud credentials.

    Args:
        stacks: :func:`describe` of every stack.
        pulumi_login: The workflow can log in to Pulumi Cloud (an access token, or OIDC).
        secrets: The clouds whose credentials are configured as repository secrets.

    A stack that imports ESC environments takes its credentials from them (``esc: true``, no
    cloud login step); any other stack runs only when every cloud it uses has repository secrets.
    """
    if not pulumi_login:
        return []
    ready = set(secrets)
    matrix = []
    for stack in stacks:
        if not stack["clouds"]:
            continue
        if stack["esc"] or set(stack["clouds"]) <= ready:
            uses = set() if stack["esc"] else set(stack["clouds"])
            matrix.append({"stack": stack["stack"], "esc": stack["esc"], **{c: c in uses for c in CLOUDS}})
    return matrix


SECRETS = {
    "aws": ("AWS_ROLE_TO_ASSUME",),
    "azure": ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"),
    "gcp": ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT"),
}
"""The repository secrets each cloud's OIDC login needs on the secrets path (README.md)."""


def credentials(env: dict[str, str]) -> tuple[bool, list[str]]:
    """Whether the workflow can log in to Pulumi Cloud, and the clouds with repository secrets.

    Pulumi Cloud: the ``PULUMI_ACCESS_TOKEN`` secret, or OIDC (repository variables
    ``PULUMI_OIDC=true`` and ``PULUMI_ORG``). The workflow passes ``<SECRET>_SET=true|false``
    for each secret, never its value, and the two variables as they are. A pull request from a
    fork gets neither secrets nor an OIDC token (``FROM_FORK=true``): no real preview.
    """
    if env.get("FROM_FORK") == "true":
        return False, []

    def has(name: str) -> bool:
        return env.get(f"{name}_SET") == "true"

    login = has("PULUMI_ACCESS_TOKEN") or (env.get("PULUMI_OIDC") == "true" and bool(env.get("PULUMI_ORG")))
    return login, [cloud for cloud, names in SECRETS.items() if all(has(n) for n in names)]


def preview_pair(
    stack: str,
    *,
    head: Path,
    head_python: str,
    base: Path,
    base_python: str,
    out: Path,
) -> int:
    """Preview a stack on the base branch (JSON), then on the head against it (Markdown).

    Writes ``out/<stack>.md`` (the report, or the head preview's last error lines) and
    ``out/<stack>.rc``. A stack new in the head, or whose base preview fails, is reported without
    a diff (and says so). Returns the head preview's exit code.
    """
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    baseline: list[str] = []
    note = ""
    base_json = out / f"{stack}.base.json"
    if (Path(base) / "stacks" / f"Pulumi.{stack}.yaml").is_file():
        done = subprocess.run(
            [
                base_python,
                "-m",
                "aistack",
                "preview",
                "--stack",
                stack,
                "--format",
                "json",
                "--output",
                str(base_json),
            ],
            cwd=base,
            capture_output=True,
            text=True,
        )
        # Exit 1 (the base itself violates policy) still writes the report the diff needs.
        if done.returncode <= 1 and base_json.is_file() and base_json.stat().st_size:
            baseline = ["--baseline", str(base_json)]
        else:
            note = f"⚠️ the base branch's preview of `{stack}` failed (exit {done.returncode}): no diff shown."
    else:
        note = f"🆕 `{stack}` is new in this pull request: no diff shown."
    report = out / f"{stack}.md"
    done = subprocess.run(
        [
            head_python,
            "-m",
            "aistack",
            "preview",
            "--stack",
            stack,
            *baseline,
            "--format",
            "markdown",
            "--output",
            str(report),
        ],
        cwd=head,
        capture_output=True,
        text=True,
    )
    if done.returncode == 2 or not report.is_file() or not report.stat().st_size:
        tail = "\n".join(done.stderr.strip().splitlines()[-20:])
        report.write_text(
            f"**aistack/{stack}** · ⛔ no report (exit {done.returncode}):\n\n```\n{tail}\n```\n"
        )
    else:
        drill = failover_drill(stack, head=head, head_python=head_python, out=out)
        report.write_text(f"{report.read_text().rstrip()}\n\n{drill}\n")
    if note:
        report.write_text(f"{report.read_text().rstrip()}\n\n{note}\n")
    (out / f"{stack}.rc").write_text(f"{done.returncode}\n")
    return done.returncode


def failover_drill(stack: str, *, head: Path, head_python: str, out: Path) -> str:
    """Run the head's failover drill on a stack (every loss each endpoint must survive, Markdown).

    Writes ``out/<stack>.failover.rc`` (0 met, 1 a required loss not met, 2 no drill) and returns the
    Markdown for the stack's report: the drill's table, or its error line.
    """
    table = out / f"{stack}.failover.md"
    done = subprocess.run(
        [
            head_python,
            "-m",
            "aistack",
            "failover",
            "--stack",
            stack,
            "--format",
            "markdown",
            "--output",
            str(table),
        ],
        cwd=head,
        capture_output=True,
        text=True,
    )
    (out / f"{stack}.failover.rc").write_text(f"{done.returncode}\n")
    if done.returncode <= 1 and table.is_file() and table.stat().st_size:
        return table.read_text().strip()
    tail = "\n".join(done.stderr.strip().splitlines()[-5:])
    return f"⛔ no failover drill (exit {done.returncode}):\n\n```\n{tail}\n```"


DRILL_CELLS = {
    0: "✅ every required loss met",
    1: "❌ a loss an endpoint must survive is not met",
    2: "⛔ no drill",
}
"""The comment's failover column, by the drill's exit code."""


def _read_rc(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def gather(reports: Path, stacks: list[str], *, base_ref: str) -> tuple[str, str, bool]:
    """Every stack's report as one comment, the full reports for the job summary, and whether to fail.

    The check fails when a stack's preview exited non-zero (a mandatory policy violation, a
    forbidden change, invalid input), when a stack has no report (its job did not finish), or when
    a real ``pulumi preview`` that ran failed, or when the failover drill finds a loss an endpoint's
    ``survive`` covers not met (or could not run).
    """
    reports = Path(reports)
    ref = base_ref.replace("`", "")
    rows = ["| stack | offline preview | failover drill | `pulumi preview` |", "|---|---|---|---|"]
    bodies = []
    failed = False
    for stack in stacks:
        rc = _read_rc(reports / f"{stack}.rc")
        md = reports / f"{stack}.md"
        body = md.read_text().strip() if md.is_file() else ""
        if rc is None or not body:
            failed = True
            offline = "⛔ no report: the stack's job did not finish (see the workflow run)"
        else:
            failed |= rc != 0
            offline = {0: "✅ passes", 1: "❌ fails (policy or forbidden change)", 2: "⛔ invalid input"}.get(
                rc, f"⛔ exit {rc}"
            )
            bodies.append(body)
        real = (
            (reports / f"{stack}.pulumi").read_text().strip()
            if (reports / f"{stack}.pulumi").is_file()
            else ""
        )
        failed |= real == "failure"
        real_cell = {"success": "✅ passes", "failure": "❌ fails (see its job summary)"}.get(real, "not run")
        drill = _read_rc(reports / f"{stack}.failover.rc")
        failed |= drill not in (None, 0)
        drill_cell = "not run" if drill is None else DRILL_CELLS.get(drill, f"⛔ exit {drill}")
        rows.append(f"| `{stack}` | {offline} | {drill_cell} | {real_cell} |")
    head = [
        MARKER,
        "## aistack preview",
        "",
        f"Offline preview of {len(stacks)} stack(s) against `{ref}` (no cloud credentials used), one job per "
        "stack; `pulumi preview` runs where credentials are configured (see README.md).",
        "",
        *rows,
    ]
    full = "\n".join([*head, *[f"\n---\n\n{b}" for b in bodies]]) + "\n"
    comment = full
    if len(comment) > COMMENT_LIMIT:
        firsts = [b.splitlines()[0] for b in bodies]
        comment = (
            "\n".join(
                [
                    *head,
                    "",
                    *[f"- {line}" for line in firsts],
                    "",
                    "The full reports are too long for a comment: see the job summary or the `aistack-preview-*` artifacts.",
                ]
            )
            + "\n"
        )
    return comment, full, failed


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m aistack.ci", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    p = commands.add_parser(
        "stacks",
        help="Print GitHub outputs: offline=<names JSON>, real=<matrix JSON> (credentials read from the "
        "environment, see credentials()).",
    )
    p.add_argument("--stacks-dir", type=Path, default=Path("stacks"))
    p = commands.add_parser("pair", help="Preview one stack on the base and on the head.")
    p.add_argument("--stack", required=True)
    p.add_argument("--head", type=Path, required=True)
    p.add_argument("--head-python", required=True)
    p.add_argument("--base", type=Path, required=True)
    p.add_argument("--base-python", required=True)
    p.add_argument("--out", type=Path, required=True)
    p = commands.add_parser("comment", help="Gather the stacks' reports into one comment.")
    p.add_argument("--reports", type=Path, required=True)
    p.add_argument("--stacks", required=True, help="The JSON list `stacks` printed.")
    p.add_argument("--base-ref", required=True)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--summary", type=Path, help="Append the full reports here (the job summary).")
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one step; return its exit code (1 when the check must fail)."""
    args = _parser().parse_args(argv)
    if args.command == "stacks":
        stacks = [describe(p) for p in stack_files(args.stacks_dir)]
        login, secrets = credentials(dict(os.environ))
        real = real_preview_matrix(stacks, pulumi_login=login, secrets=secrets)
        print(f"offline={json.dumps([s['stack'] for s in stacks])}")
        print(f"real={json.dumps(real)}")
        return 0
    if args.command == "pair":
        rc = preview_pair(
            args.stack,
            head=args.head,
            head_python=args.head_python,
            base=args.base,
            base_python=args.base_python,
            out=args.out,
        )
        print(f"{args.stack}: exit {rc}")
        # The exit code is recorded for the comment; failing here too marks the stack's own job.
        return 0 if rc == 0 else 1
    comment, full, failed = gather(args.reports, json.loads(args.stacks), base_ref=args.base_ref)
    args.output.write_text(comment)
    if args.summary:
        if len(full.encode()) > SUMMARY_LIMIT:
            full = f"{comment}\nThe full reports pass the job summary's size limit: see the artifacts.\n"
        with args.summary.open("a") as summary:
            summary.write(full)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
