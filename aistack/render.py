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
    cost = result["cost"]
    if cost["monthly_usd"] or cost.get("monthly_usd_max"):
        lines.append(
            f"estimated cost: ${cost['monthly_usd']:,.2f}/month "
            f"(up to ${cost.get('monthly_usd_max', cost['monthly_usd']):,.2f} at the pools' max nodes)"
        )
    for copy in cost.get("replication") or []:
        price = "size unknown" if copy["usd_per_copy"] is None else f"${copy['usd_per_copy']:,.2f}"
        lines.append(
            f"replication egress: {copy['endpoint']} weights {copy['primary']} ({copy['from']}) -> {copy['store']} "
            f"({copy['to']}): {price} per full copy at ${copy['usd_per_gb']}/GB ({copy['as_of']})"
        )
    diff = result["diff"]
    if "cost_delta" in diff:
        lines.append(
            f"against the baseline: +{len(diff['create'])} ~{len(diff['update'])} -{len(diff['delete'])}, "
            f"{len(diff['replace_risk'])} identity change(s), cost {_delta(diff['cost_delta']['monthly_usd'])}/month"
        )
        lines.extend(f"  forbidden: {f['reason']}" for f in diff.get("forbidden", []))
    esc = result.get("esc") or {}
    if esc.get("environments"):
        deploy = esc["deploy_time"]
        lines.append(
            f"Pulumi ESC environments (opened at deploy time only): {', '.join(esc['environments'])}"
        )
        lines.extend(
            f"  {cloud} credentials from ESC: {', '.join(names)}"
            for cloud, names in deploy["credentials"].items()
        )
        if deploy["config"]:
            lines.append(
                "  not in the stack file, previewed with defaults (an environment may set them): "
                + ", ".join(deploy["config"])
            )
        if deploy.get("merged"):
            lines.append(
                "  mappings an environment may add keys to (the stack file's keys win): "
                + ", ".join(deploy["merged"])
            )
    return "\n".join(lines)


LEVELS = ("mandatory", "remediate", "advisory", "disabled")
"""Policy enforcement levels, most severe first (the order findings are shown in)."""


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _delta(value: float) -> str:
    return f"{'+' if value >= 0 else '−'}${abs(value):,.2f}"


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(urn: str) -> str:
    """A resource named by its URN, shortly: ``Bucket `models-bucket` ``."""
    qualified, name = urn.split("::")[2:4] if urn.count("::") >= 3 else ("", urn)
    return f"{qualified.rsplit('$', 1)[-1].rsplit(':', 1)[-1]} `{name}`".lstrip()


def _verdict(violations: list[dict[str, Any]]) -> str:
    if not violations:
        return "✅ passes policy"
    counts = Counter(v["level"] for v in violations)
    if counts.get("mandatory"):
        return f"❌ {counts['mandatory']} mandatory policy violation(s)"
    return f"⚠️ {len(violations)} policy finding(s), none mandatory"


def _or_unknown(value: Any, form: str) -> str:
    return "?" if value is None else form.format(value)


def _cost_section(cost: dict[str, Any], counts: Counter) -> list[str]:
    lines = [
        "#### Cost",
        "",
        "| cloud | resources | monthly (min nodes) | monthly (max nodes) |",
        "|---|---:|---:|---:|",
    ]
    clouds = sorted(set(counts) | set(cost.get("by_cloud", {})))
    for cloud in clouds:
        low = cost.get("by_cloud", {}).get(cloud, 0.0)
        high = cost.get("by_cloud_max", {}).get(cloud, low)
        lines.append(f"| {cloud} | {counts.get(cloud, 0)} | {_usd(low)} | {_usd(high)} |")
    lines.append(
        f"| **total** | {sum(counts.values())} | **{_usd(cost['monthly_usd'])}** | "
        f"**{_usd(cost.get('monthly_usd_max', cost['monthly_usd']))}** |"
    )
    if cost.get("replication"):
        lines += [
            "",
            "Replication egress, per full copy of the weights (once per weights version):",
            "",
            "| endpoint | from | to | weights | USD/GB | per copy | source |",
            "|---|---|---|---:|---:|---:|---|",
        ]
        lines += [
            f"| {c['endpoint']} | {c['primary']} ({c['from']}) | {c['store']} ({c['to']}) | "
            f"{_or_unknown(c['weights_gb'], '{} GB')} | {c['usd_per_gb']} | "
            f"{'?' if c['usd_per_copy'] is None else _usd(c['usd_per_copy'])} | {_cell(c['source'])} ({c['as_of']}) |"
            for c in cost["replication"]
        ]
    if cost.get("unpriced"):
        lines += ["", f"⚠️ {len(cost['unpriced'])} resource(s) could not be priced:"]
        lines += [f"- {_short(u['urn'])}: {u['reason']}" for u in cost["unpriced"]]
    lines += [
        "",
        f"<details><summary>Cost by component and resource ({len(cost.get('lines', []))} priced)</summary>",
        "",
    ]
    for cloud in clouds:
        components = {k: v for k, v in cost.get("by_component", {}).items() if v["cloud"] == cloud}
        if not components:
            continue
        lines += [f"**{cloud}**", "", "| component | monthly | max |", "|---|---:|---:|"]
        lines += [
            f"| `{_cell(name)}` | {_usd(c['monthly_usd'])} | {_usd(c['monthly_usd_max'])} |"
            for name, c in components.items()
        ]
        lines += ["", "| resource | monthly | max | basis |", "|---|---:|---:|---|"]
        lines += [
            f"| {_cell(_short(line['urn']))} | {_usd(line['monthly_usd'])} | "
            f"{_usd(line.get('monthly_usd_max', line['monthly_usd']))} | {_cell(line['basis'])} |"
            for line in cost.get("lines", [])
            if line.get("cloud") == cloud
        ]
        lines.append("")
    if cost.get("assumptions"):
        lines += ["Assumptions:", "", *[f"- {a}" for a in cost["assumptions"]], ""]
    lines += ["</details>"]
    return lines


def _policy_section(violations: list[dict[str, Any]]) -> list[str]:
    lines = ["#### Policy", ""]
    if not violations:
        return [*lines, "✅ No findings."]
    by_level: dict[str, list[dict[str, Any]]] = {}
    for v in violations:
        by_level.setdefault(v["level"], []).append(v)
    order = [level for level in LEVELS if level in by_level] + sorted(set(by_level) - set(LEVELS))
    for level in order:
        found = by_level[level]
        table = ["| policy | resource | message |", "|---|---|---|"] + [
            f"| `{_cell(v['policy'])}` | {_cell(_short(v['urn']) if v.get('urn') else 'the stack')} | {_cell(v['message'])} |"
            for v in found
        ]
        if level == "mandatory":
            lines += [f"**{level}** ({len(found)})", "", *table, ""]
        else:
            lines += [f"<details><summary>{level} ({len(found)})</summary>", "", *table, "", "</details>", ""]
    return lines[:-1]


def _diff_section(diff: dict[str, Any]) -> list[str]:
    delta = diff["cost_delta"]
    lines = [
        "#### Changes against the baseline",
        "",
        f"**+{len(diff['create'])} to create · ~{len(diff['update'])} to update · "
        f"−{len(diff['delete'])} to delete · {len(diff['replace_risk'])} identity change(s)** · "
        f"cost {_delta(delta['monthly_usd'])}/month (max {_delta(delta['monthly_usd_max'])})",
    ]
    if diff.get("forbidden"):
        lines += ["", f"⛔ **{len(diff['forbidden'])} forbidden change(s)** (the check fails):", ""]
        lines += [f"- {_short(f['urn'])}: {f['reason']}" for f in diff["forbidden"]]
    replacing = [u for u in diff["update"] if u.get("replaces")]
    if replacing:
        lines += ["", "Updates that replace the resource:", ""]
        lines += [f"- {_short(u['urn'])}: {', '.join(f'`{p}`' for p in u['replaces'])}" for u in replacing]
    if not any(diff[k] for k in ("create", "update", "delete")):
        return [*lines, "", "No resource changes."]
    lines += ["", "<details><summary>Resource changes</summary>", ""]
    if diff["replace_risk"]:
        lines += ["Identity changes (delete + create, Pulumi replaces these):", ""]
        lines += [
            f"- {_short(r['old_urn'])} → {_short(r['new_urn'])}: {r['reason']}" for r in diff["replace_risk"]
        ]
        lines.append("")
    paired = {r["old_urn"] for r in diff["replace_risk"]} | {r["new_urn"] for r in diff["replace_risk"]}
    for key, mark in (("create", "+"), ("delete", "−")):
        rest = [r for r in diff[key] if r["urn"] not in paired]
        if rest:
            lines += [f"{key.capitalize()}:", "", *[f"- {mark} {_short(r['urn'])}" for r in rest], ""]
    if diff["update"]:
        lines += ["Update:", ""]
        for u in diff["update"]:
            renamed = f" (renamed from {_short(u['renamed_from'])})" if u.get("renamed_from") else ""
            changes = ", ".join(f"`{p}`" for p in u["changes"]) or "no input changes"
            lines.append(f"- ~ {_short(u['urn'])}{renamed}: {changes}")
        lines.append("")
    return [*lines, "</details>"]


def _esc_section(esc: dict[str, Any]) -> list[str]:
    """What the stack takes from Pulumi ESC at deploy time, which the offline preview cannot see."""
    deploy = esc["deploy_time"]
    lines = [
        "#### Resolved at deploy time (Pulumi ESC)",
        "",
        "Imports "
        + ", ".join(f"`{e}`" for e in esc["environments"])
        + "; the offline preview does not open them.",
        "",
    ]
    lines += [
        f"- {cloud} credentials: " + ", ".join(f"`{n}`" for n in names)
        for cloud, names in deploy["credentials"].items()
    ]
    if deploy["config"]:
        lines.append(
            "- not in the stack file, previewed with their defaults (an environment's `pulumiConfig` may set them): "
            + ", ".join(f"`{k}`" for k in deploy["config"])
        )
    if deploy.get("merged"):
        lines.append(
            "- mappings an environment may add keys to (the stack file's own keys win): "
            + ", ".join(f"`{k}`" for k in deploy["merged"])
        )
    return lines


def mermaid(result: dict[str, Any]) -> str:
    """A Mermaid graph of the components: a subgraph per cloud, edges parent → child component."""
    components = [r for r in result["resources"] if not r["custom"] and r["type"] != "pulumi:pulumi:Stack"]
    by_cloud: dict[str, list[dict[str, Any]]] = {}
    for r in components:
        by_cloud.setdefault(r.get("cloud") or "other", []).append(r)
    ordered = [r for _cloud, members in sorted(by_cloud.items()) for r in members]
    ids = {r["urn"]: f"c{i}" for i, r in enumerate(ordered)}
    lines = ["```mermaid", "graph LR"]
    for cloud, members in sorted(by_cloud.items()):
        lines.append(f'  subgraph cloud_{cloud}["{cloud}"]')
        for r in members:
            label = f"{r['type'].rsplit(':', 1)[-1]} {r['name']}".replace('"', "#quot;")
            lines.append(f'    {ids[r["urn"]]}["{label}"]')
        lines.append("  end")
    lines += [f"  {ids[r['parent']]} --> {ids[r['urn']]}" for r in ordered if r.get("parent") in ids]
    return "\n".join([*lines, "```"])


def as_markdown(result: dict[str, Any]) -> str:
    """A pull-request comment: summary line, cost per cloud, policy by level, diff, component graph."""
    counts = Counter(
        r["cloud"] or "other"
        for r in result["resources"]
        if r["custom"] and not r["type"].startswith("pulumi:providers:")
    )
    cost = result["cost"]
    violations = result["policy"]["violations"]
    diff = result["diff"]
    has_baseline = "cost_delta" in diff
    summary = [
        f"**{result['project']}/{result['stack']}**",
        f"{sum(counts.values())} resources",
        f"{_usd(cost['monthly_usd'])}/month (up to {_usd(cost.get('monthly_usd_max', cost['monthly_usd']))})",
    ]
    if has_baseline:
        delta = diff["cost_delta"]
        summary.append(
            f"{_delta(delta['monthly_usd'])}/month (max {_delta(delta['monthly_usd_max'])}) against the baseline"
        )
    summary.append(_verdict(violations))
    if diff.get("forbidden"):
        summary.append(f"⛔ {len(diff['forbidden'])} forbidden change(s)")
    lines = [" · ".join(summary), "", *_cost_section(cost, counts), "", *_policy_section(violations)]
    if has_baseline:
        lines += ["", *_diff_section(diff)]
    if (result.get("esc") or {}).get("environments"):
        lines += ["", *_esc_section(result["esc"])]
    lines += ["", "<details><summary>Components</summary>", "", mermaid(result), "", "</details>"]
    return "\n".join(lines)


RENDERERS = {"text": as_text, "json": as_json, "markdown": as_markdown}
