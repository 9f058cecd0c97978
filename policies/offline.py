"""The offline policy API: the pack's rules over a recorded resource graph, no Pulumi engine.

Used by ``python -m aistack preview`` (on the resources its mock runtime records) and by
``python -m aistack policies`` (the rule listing). See ``policies/README.md``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aistack.errors import InputError

from .aistack_rules import RULES, RULES_BY_ID
from .aistack_rules.core import (
    ADVISORY,
    DISABLED,
    LEVELS,
    MANDATORY,
    REMEDIATE,
    Rule,
    Subject,
    plain,
    run_resource_rule,
    run_stack_rule,
)
from .aistack_rules.levels import ENVIRONMENTS, level_for

CONFIG_SOURCE = "policy config"
# Shorthands for the cost-budget settings (the cost model and the stack spec supply them).
_COST_SHORTHANDS = {"monthly_usd": "monthlyUsd", "budget_usd": "budgetUsd"}
_JSON_TYPES = {"integer": int, "number": (int, float), "string": str, "array": list}


def _check_value(value: Any, schema: Mapping[str, Any], key: str) -> None:
    expected = schema.get("type")
    if isinstance(value, bool) or not isinstance(value, _JSON_TYPES[expected]):
        raise InputError(CONFIG_SOURCE, key, f"must be of type {expected}, got {value!r}")
    if expected == "array":
        for i, item in enumerate(value):
            _check_value(item, schema["items"], f"{key}.{i}")
        return
    if "minimum" in schema and value < schema["minimum"]:
        raise InputError(CONFIG_SOURCE, key, f"must be at least {schema['minimum']}, got {value!r}")
    if "maximum" in schema and value > schema["maximum"]:
        raise InputError(CONFIG_SOURCE, key, f"must be at most {schema['maximum']}, got {value!r}")


def _check_level(value: Any, key: str) -> str:
    if value not in LEVELS:
        raise InputError(CONFIG_SOURCE, key, f"must be one of {', '.join(LEVELS)}, got {value!r}")
    return value


@dataclasses.dataclass
class _Settings:
    levels: dict[str, str]
    properties: dict[str, dict[str, Any]]
    all_level: str | None


def _parse_config(config: Mapping[str, Any] | None) -> _Settings:
    """Validate a policy config (Pulumi's ``--policy-pack-config`` shape plus cost shorthands)."""
    settings = _Settings({}, {}, None)
    for key, value in (config or {}).items():
        if key in _COST_SHORTHANDS:
            prop = _COST_SHORTHANDS[key]
            if value is not None:
                _check_value(value, RULES_BY_ID["cost-budget"].config_schema[prop], key)
                settings.properties.setdefault("cost-budget", {})[prop] = value
        elif key == "all":
            settings.all_level = _check_level(value, "all")
        elif key in RULES_BY_ID:
            rule = RULES_BY_ID[key]
            if isinstance(value, str):
                settings.levels[key] = _check_level(value, key)
                continue
            if not isinstance(value, Mapping):
                raise InputError(CONFIG_SOURCE, key, "must be a level or an object of settings")
            for prop, item in value.items():
                if prop == "enforcementLevel":
                    settings.levels[key] = _check_level(item, f"{key}.{prop}")
                elif prop in rule.config_schema:
                    _check_value(item, rule.config_schema[prop], f"{key}.{prop}")
                    settings.properties.setdefault(key, {})[prop] = item
                else:
                    allowed = ", ".join(["enforcementLevel", *rule.config_schema])
                    raise InputError(
                        CONFIG_SOURCE, f"{key}.{prop}", f"unknown setting; {key} accepts {allowed}"
                    )
        else:
            raise InputError(
                CONFIG_SOURCE, key, "unknown key; use a rule id, 'all', 'monthly_usd' or 'budget_usd'"
            )
    return settings


def to_subject(resource: Mapping[str, Any]) -> Subject:
    """A recorded resource dict (see :func:`evaluate`) as the rules see it."""
    if not isinstance(resource, Mapping) or "urn" not in resource or "type" not in resource:
        raise ValueError(f"a resource needs at least 'urn' and 'type': {resource!r}")
    urn = resource["urn"]
    return Subject(
        urn=urn,
        type=resource["type"],
        name=resource.get("name") or urn.rsplit("::", 1)[-1],
        inputs=plain(resource.get("inputs") or {}),
        parent=resource.get("parent"),
        provider=resource.get("provider"),
        property_dependencies={k: tuple(v) for k, v in (resource.get("property_dependencies") or {}).items()},
        outputs=plain(resource.get("outputs") or {}),
        dependencies=tuple(resource.get("dependencies") or ()),
        ignore_changes=tuple(resource.get("ignore_changes") or ()),
    )


def _finding(rule: Rule, level: str, urn: str | None, message: str) -> dict[str, Any]:
    return {"policy": rule.id, "level": level, "urn": urn, "message": message}


def evaluate(
    resources: Sequence[Mapping[str, Any]],
    *,
    environment: str = "dev",
    config: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run every rule of the pack on a recorded resource graph.

    Args:
        resources: ``{"urn", "type", "name", "parent", "custom", "inputs"}`` per resource, inputs
            camelCase as the mock runtime records them (unknown values as ``UNKNOWN`` or
            ``pulumi.output.Unknown``; secret envelopes are unwrapped). Optional, for the stack
            rules' joins: ``"outputs"`` (what the mocks returned: physical names, ids),
            ``"provider"`` (the provider URN or the mock's ``"<urn>::<id>"`` reference) and
            ``"property_dependencies"`` (input → URNs) and ``"dependencies"`` (every URN it waits for). ``dataclasses.asdict`` of an
            ``aistack.engine.Resource`` has this shape.
        environment: Selects the level profile (``dev``, ``staging``, ``prod``; others: defaults).
        config: Policy config: ``{"<rule-id>": "<level>" | {"enforcementLevel": ..., <settings>},
            "all": "<level>", "monthly_usd": x, "budget_usd": y}``.

    Returns:
        Findings ``{"policy", "level", "urn", "message"}``, level ``mandatory`` or ``advisory``,
        in rule order then resource order; ``urn`` is ``None`` for the stack as a whole.

    Raises:
        InputError: ``config`` names an unknown rule or setting, or a value of the wrong type.
    """
    settings = _parse_config(config)
    subjects = [to_subject(r) for r in resources]
    findings: list[dict[str, Any]] = []
    for rule in RULES:
        level = level_for(rule, environment, settings.levels.get(rule.id, settings.all_level))
        if level == DISABLED:
            continue
        # As in Pulumi: a remediate-level rule fixes what it can; what is left blocks.
        violation_level = MANDATORY if level == REMEDIATE else level
        props = settings.properties.get(rule.id, {})
        if rule.stack:
            runs = [(None, run_stack_rule(rule, subjects, props))]
        else:
            runs = []
            for subject in subjects:
                if subject.type not in rule.resource_types:
                    continue
                if level == REMEDIATE and rule.remediate is not None:
                    changes = rule.remediate(subject.inputs)
                    if changes:
                        shown = ", ".join(f"{k}={v!r}" for k, v in changes.items())
                        findings.append(
                            _finding(rule, ADVISORY, subject.urn, f"remediated on apply: sets {shown}")
                        )
                        subject = dataclasses.replace(subject, inputs={**subject.inputs, **changes})
                runs.append((subject.urn, run_resource_rule(rule, subject, props)))
        for default_urn, outcome in runs:
            for urn, message in outcome.violations:
                findings.append(_finding(rule, violation_level, urn or default_urn, message))
            for item in outcome.unknowns:
                findings.append(_finding(rule, ADVISORY, item.urn or default_urn, item.message()))
    return findings


def list_rules() -> list[dict[str, Any]]:
    """Every rule: ``id``, default ``level``, ``levels`` per environment, ``kind`` (resource or
    stack), ``concern``, ``resource_types``, ``description``, ``remediation`` and ``settings``
    (name → default)."""
    return [
        {
            "id": rule.id,
            "level": rule.level,
            "levels": {env: level_for(rule, env) for env in ENVIRONMENTS},
            "kind": "stack" if rule.stack else "resource",
            "concern": rule.concern,
            "resource_types": list(rule.resource_types),
            "description": rule.description,
            "remediation": rule.remediate is not None,
            "settings": {k: v.get("default") for k, v in rule.config_schema.items()},
        }
        for rule in RULES
    ]


def _levels_cell(entry: Mapping[str, Any]) -> str:
    levels = list(entry["levels"].values())
    return levels[0] if len(set(levels)) == 1 else " / ".join(levels)


def format_rules(fmt: str = "text") -> str:
    """The rule listing as ``text`` (terminal), ``markdown`` (docs) or ``json``.

    Raises:
        InputError: ``fmt`` is not one of the three.
    """
    rules = list_rules()
    if fmt == "json":
        return json.dumps(rules, indent=2) + "\n"
    if fmt == "markdown":
        lines = [
            "| Rule | Level (dev / staging / prod) | Kind | Resource types | Description |",
            "|---|---|---|---|---|",
        ]
        for r in rules:
            types = "<br>".join(f"`{t}`" for t in r["resource_types"]) or "(the stack)"
            lines.append(f"| `{r['id']}` | {_levels_cell(r)} | {r['kind']} | {types} | {r['description']} |")
        return "\n".join(lines) + "\n"
    if fmt == "text":
        width = max(len(r["id"]) for r in rules)
        level_width = max(len(_levels_cell(r)) for r in rules)
        lines = []
        for r in rules:
            lines.append(
                f"{r['id']:<{width}}  {_levels_cell(r):<{level_width}}  {r['kind']:<8}  {r['description']}"
            )
            if r["resource_types"]:
                lines.append(f"{'':<{width}}  types: {', '.join(r['resource_types'])}")
        return "\n".join(lines) + "\n"
    raise InputError("arguments", "--format", f"must be text, markdown or json, got {fmt!r}")
