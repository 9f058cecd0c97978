"""``preflight``: check a stack against the live cloud before ``pulumi up``.

For every pool of every cluster (GPU pools and the CPU system pool), with the cloud's own APIs
and the credentials in the environment: the pool's instance types are offered in every zone it
names, and the account's quota covers the pool's maximum. See ``aistack/preflight/README.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aistack.preflight.checks import (
    CHECKERS,
    FAIL,
    Checker,
    NotChecked,
    Pool,
    Quota,
    constraints,
    exit_code,
    run,
)

__all__ = [
    "CHECKERS",
    "Checker",
    "NotChecked",
    "Pool",
    "Quota",
    "constraints",
    "exit_code",
    "load",
    "render",
    "run",
]


def load(stack: str | None, stack_file: Path | None) -> tuple[str, Any]:
    """Resolve ``--stack``/``--stack-file`` to (stack name, validated spec), as ``preview`` does."""
    from aistack.preview import REPO
    from aistack.spec import load_stack_file
    from aistack.spec import stack_file as resolve

    path = Path(stack_file) if stack_file else resolve(REPO, stack)
    name = stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    return name, load_stack_file(path)[1]


def as_text(findings: dict[str, Any]) -> str:
    """A table of pools × checks, then each check's detail and, for failures, the fix."""
    header = ["cluster/pool", "cloud", "region", "instance types", "zones", "quota"]
    table = [header]
    for row in findings["pools"]:
        marks = [c["status"].upper() if c["status"] == FAIL else c["status"] for c in row["checks"]]
        table.append(
            [
                f"{row['cluster']}/{row['pool']}",
                row["cloud"],
                row["region"],
                ", ".join(row["instance_types"]),
                *marks,
            ]
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [f"preflight {findings['stack']}: {findings['status']}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    for row in findings.get("clusters", []):
        check = row["checks"][0]
        mark = check["status"].upper() if check["status"] == FAIL else check["status"]
        lines.append(
            f"cluster {row['cluster']} ({row['cloud']} {row['region']}): kubernetes {row['kubernetes_version']} {mark}"
        )
    notes = []
    for row in [*findings["pools"], *findings.get("clusters", [])]:
        for check in row["checks"]:
            if check["detail"]:
                label = f"{row['cluster']}/{row['pool']}" if "pool" in row else row["cluster"]
                notes.append(f"{label} {check['check']} [{check['status']}]: {check['detail']}")
            notes += [f"  fix: {fix}" for fix in check["fixes"]]
    return "\n".join(lines + ([""] + notes if notes else []))


def render(findings: dict[str, Any], fmt: str) -> str:
    """The findings as ``text`` (table) or ``json`` (the findings dict)."""
    return json.dumps(findings, indent=2) if fmt == "json" else as_text(findings)
