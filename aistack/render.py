"""Render a preview report as text (a tree), JSON, or Markdown."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any


def as_json(result: dict[str, Any]) -> str:
    """The report as indented JSON."""
    return json.dumps(result, indent=2, sort_keys=False, default=str)


def _children(result: dict[str, Any]) -> dict[str | None, list[dict[str, Any]]]:
    urns = {r["urn"] for r in result["resources"]}
    tree: dict[str | None, list[dict[str, Any]]] = {}
    for r in result["resources"]:
        parent = r["parent"] if r["parent"] in urns else None
        tree.setdefault(parent, []).append(r)
    return tree


def as_text(result: dict[str, Any]) -> str:
    """A readable tree of components and resources, with counts per cloud."""
    tree = _children(result)
    lines = [f"{result['project']}/{result['stack']}: {len(result['resources'])} resources"]

    def walk(parent: str | None, depth: int) -> None:
        for r in tree.get(parent, []):
            marks = " [protected]" if r.get("protect") else ""
            lines.append(f"{'  ' * depth}{'+' if r['custom'] else '*'} {r['type']}  {r['name']}{marks}")
            walk(r["urn"], depth + 1)

    walk(None, 1)
    counts = Counter(r["cloud"] or "other" for r in result["resources"] if r["custom"])
    lines.append("resources per cloud: " + ", ".join(f"{cloud} {n}" for cloud, n in sorted(counts.items())))
    violations = result["policy"]["violations"]
    if violations:
        lines.append(f"policy: {len(violations)} finding(s)")
        lines.extend(f"  [{v['level']}] {v['policy']}: {v['urn']}: {v['message']}" for v in violations)
    if result["cost"]["monthly_usd"]:
        lines.append(f"estimated cost: ${result['cost']['monthly_usd']:,.2f}/month")
    return "\n".join(lines)


def as_markdown(result: dict[str, Any]) -> str:
    """A pull-request comment: summary line, resources per cloud, policy findings."""
    counts = Counter(r["cloud"] or "other" for r in result["resources"] if r["custom"])
    violations = result["policy"]["violations"]
    verdict = "passes policy" if not violations else f"{len(violations)} policy finding(s)"
    lines = [
        f"**{result['project']}/{result['stack']}**: {sum(counts.values())} resources, "
        f"${result['cost']['monthly_usd']:,.2f}/month, {verdict}",
        "",
        "| cloud | resources |",
        "|---|---|",
        *[f"| {cloud} | {n} |" for cloud, n in sorted(counts.items())],
    ]
    if violations:
        lines += ["", "| level | policy | resource | message |", "|---|---|---|---|"]
        lines += [f"| {v['level']} | `{v['policy']}` | `{v['urn']}` | {v['message']} |" for v in violations]
    return "\n".join(lines)


RENDERERS = {"text": as_text, "json": as_json, "markdown": as_markdown}
