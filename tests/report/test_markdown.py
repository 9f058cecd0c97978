"""The pull-request comment: a fixed preview against its stored rendering, and structural checks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aistack import render
from tests.conftest import stack_names

HERE = Path(__file__).parent
FIXED = json.loads((HERE / "fixtures" / "fixed_preview.json").read_text())


def test_fixed_preview_renders_exactly_the_stored_comment():
    expected = (HERE / "expected" / "fixed_preview.md").read_text()
    # Regenerate after an intended change with:
    #   python -c "import json; from aistack import render; print(render.as_markdown(json.load(
    #   open('tests/report/fixtures/fixed_preview.json'))))" > tests/report/expected/fixed_preview.md
    assert render.as_markdown(FIXED) + "\n" == expected


def test_summary_line_has_resources_cost_delta_and_verdict():
    first = render.as_markdown(FIXED).splitlines()[0]
    assert first == (
        "**aistack/fixed** · 8 resources · $490.58/month (up to $1,366.57) · +$0.00/month (max +$584.00) "
        "against the baseline · ❌ 1 mandatory policy violation(s) · ⛔ 2 forbidden change(s)"
    )


def test_policy_findings_are_grouped_most_severe_first():
    text = render.as_markdown(FIXED)
    assert text.index("**mandatory** (1)") < text.index("<summary>advisory (2)</summary>")
    # A pipe inside a message stays inside its table cell.
    assert "spot pool without an on-demand floor \\| serving may drop to zero |" in text


def test_clean_report_without_baseline_has_no_diff_section():
    clean = {**FIXED, "policy": {"violations": []}, "diff": {"create": [], "update": [], "delete": []}}
    text = render.as_markdown(clean)
    assert "✅ passes policy" in text.splitlines()[0]
    assert "against the baseline" not in text and "#### Changes" not in text


def parse_mermaid(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    """Parse the Mermaid block: node id → (subgraph, label), and edges; asserts it is well formed."""
    blocks = re.findall(r"```mermaid\n(.*?)\n```", text, flags=re.S)
    assert len(blocks) == 1, "exactly one Mermaid block"
    lines = blocks[0].splitlines()
    assert lines[0] == "graph LR"
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str]] = []
    current = None
    for line in lines[1:]:
        if m := re.fullmatch(r'  subgraph (\w+)\["([^"]+)"\]', line):
            assert current is None, "subgraphs do not nest"
            current = m.group(1)
        elif line == "  end":
            assert current is not None, "end without subgraph"
            current = None
        elif m := re.fullmatch(r'    (c\d+)\["([^"]*)"\]', line):
            assert current is not None, "every node sits in a cloud subgraph"
            assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
            nodes[m.group(1)] = (current, m.group(2))
        elif m := re.fullmatch(r"  (c\d+) --> (c\d+)", line):
            edges.append((m.group(1), m.group(2)))
        else:
            pytest.fail(f"unexpected Mermaid line: {line!r}")
    assert current is None, "subgraph left open"
    assert all(a in nodes and b in nodes for a, b in edges), "edges join declared nodes"
    return nodes, edges


def components(report: dict) -> list[dict]:
    return [r for r in report["resources"] if not r["custom"] and r["type"] != "pulumi:pulumi:Stack"]


def test_mermaid_has_a_node_per_component_in_its_cloud_and_parent_edges():
    nodes, edges = parse_mermaid(render.as_markdown(FIXED))
    expected = sorted(
        (f"cloud_{c['cloud']}", f"{c['type'].rsplit(':', 1)[-1]} {c['name']}") for c in components(FIXED)
    )
    assert sorted(nodes.values()) == expected
    labels = {node: label for node, (_, label) in nodes.items()}
    assert [(labels[a], labels[b]) for a, b in edges] == [("Cluster main", "ServingEndpoint llama")]


def test_mermaid_labels_are_escaped():
    report = {
        **FIXED,
        "resources": [*FIXED["resources"], {**components(FIXED)[0], "urn": "u", "name": 'say "hi"'}],
    }
    nodes, _ = parse_mermaid(render.mermaid(report) + "\n")
    assert "Network say #quot;hi#quot;" in {label for _, label in nodes.values()}


def _tables_are_rectangular(text: str) -> None:
    """Every row of each table has as many cells as its header (escaped pipes do not split)."""
    tables: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in filter(None, tables):
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, f"ragged table: {table}"
        assert re.fullmatch(r"\|(---:?\|)+", table[1]), f"second row is not a separator: {table[1]}"


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_renders_readable_markdown(preview, stack):
    report = preview(stack)
    text = render.as_markdown(report)
    assert text.splitlines()[0].startswith(f"**aistack/{stack}** · ")
    assert text.count("<details>") == text.count("</details>")
    _tables_are_rectangular(text)
    nodes, _ = parse_mermaid(text)
    assert len(nodes) == len(components(report))
    assert len(text) < 60_000, "a pull-request comment holds at most 65,536 characters"
