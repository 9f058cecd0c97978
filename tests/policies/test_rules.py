"""Every rule: a compliant, a violating and an unknown-valued case, run through the rule
function directly and through ``policies.evaluate``; stack rules also joined and orphaned."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from policies import RULES, evaluate
from policies.aistack_rules import RULES_BY_ID
from policies.aistack_rules.core import CannotCheck, Indeterminate, Rule
from policies.aistack_rules.levels import level_for
from policies.offline import to_subject
from tests.policies.cases import CASES

RULE_IDS = [rule.id for rule in RULES]


def direct(
    rule: Rule, resources: Sequence[Mapping[str, Any]], config: Mapping[str, Any]
) -> tuple[list[str], list[Any]]:
    """Call the rule function itself; returns (violation messages, undecided parts)."""
    settings = {**rule.defaults(), **config}
    subjects = [to_subject(r) for r in resources]
    violations: list[str] = []
    undecided: list[Any] = []

    def collect(results: Any) -> None:
        try:
            for item in results:
                if isinstance(item, Indeterminate):
                    undecided.append(item)
                else:
                    violations.append(item[1] if isinstance(item, tuple) else item)
        except CannotCheck as exc:
            undecided.append(exc)

    if rule.stack:
        collect(rule.check(subjects, settings))
    else:
        for subject in subjects:
            if subject.type in rule.resource_types:
                collect(rule.check(subject, settings))
    return violations, undecided


def offline(
    rule: Rule, resources: Sequence[Mapping[str, Any]], config: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Findings of ``rule`` from ``evaluate`` in prod, with the rule forced to its non-remediating
    level so the violation itself is visible."""
    level = level_for(rule, "prod")
    policy_config: dict[str, Any] = {
        rule.id: {"enforcementLevel": "mandatory" if level == "remediate" else level, **config}
    }
    return [
        f for f in evaluate(resources, environment="prod", config=policy_config) if f["policy"] == rule.id
    ]


def test_every_rule_has_cases() -> None:
    assert set(CASES) == set(RULE_IDS)
    assert len(RULE_IDS) == len(set(RULE_IDS)) == 99


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_compliant(rule_id: str) -> None:
    rule, case = RULES_BY_ID[rule_id], CASES[rule_id]
    assert direct(rule, case.compliant, case.settings("compliant")) == ([], [])
    assert offline(rule, case.compliant, case.settings("compliant")) == []


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_violating(rule_id: str) -> None:
    rule, case = RULES_BY_ID[rule_id], CASES[rule_id]
    violations, undecided = direct(rule, case.violating, case.settings("violating"))
    assert undecided == []
    assert any(case.message in v for v in violations), violations
    findings = offline(rule, case.violating, case.settings("violating"))
    expected_level = "advisory" if level_for(rule, "prod") == "advisory" else "mandatory"
    assert any(f["level"] == expected_level and case.message in f["message"] for f in findings), findings
    if rule.stack and rule_id != "cost-budget":
        urns = {r["urn"] for r in case.violating}
        assert all(f["urn"] in urns for f in findings)


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_unknown_is_advisory_not_a_pass(rule_id: str) -> None:
    rule, case = RULES_BY_ID[rule_id], CASES[rule_id]
    violations, undecided = direct(rule, case.unknown, case.settings("unknown"))
    assert violations == []
    assert undecided, "an unknown value must not pass silently"
    findings = offline(rule, case.unknown, case.settings("unknown"))
    assert findings and all(f["level"] == "advisory" for f in findings)
    assert all(f["message"].startswith("cannot check") for f in findings)


STACK_RULES = [rule.id for rule in RULES if rule.stack]


@pytest.mark.parametrize("rule_id", STACK_RULES)
def test_stack_rule_joined_and_orphaned(rule_id: str) -> None:
    rule, case = RULES_BY_ID[rule_id], CASES[rule_id]
    if case.orphaned is None:
        # The budget joins the cost estimate, not resources: with no estimate it cannot decide.
        assert rule_id == "cost-budget"
        assert direct(rule, [], {"budgetUsd": 10.0})[1]
        return
    assert direct(rule, case.compliant, case.config) == ([], [])
    violations, undecided = direct(rule, case.orphaned, case.config)
    assert undecided == []
    if case.orphan_passes:
        assert violations == []
    else:
        assert violations, "a resource left without its partner must be reported"
        orphans = offline(rule, case.orphaned, case.config)
        assert {f["urn"] for f in orphans} == {case.orphaned[0]["urn"]}
