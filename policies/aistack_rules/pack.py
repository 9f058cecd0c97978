"""Wrap the rules as pulumi-policy policies; ``policies/__main__.py`` serves them as a pack.

Nothing here starts the policy server: :func:`pack_arguments` returns the keyword arguments of
``pulumi_policy.PolicyPack``, whose constructor is what starts serving.

How values reach the rules. pulumi-policy hands validations read-only proxies that raise
``UnknownValueError`` when an unknown value is read. :func:`unproxy` copies them into plain data
with :data:`UNKNOWN` in place of each unknown, so the rules run exactly as they do offline.
Whatever a rule cannot decide is re-raised as ``UnknownValueError``, which pulumi-policy reports
as an *advisory* "can't run policy ... during preview" diagnostic whatever the policy's level:
never a crash, never a silent pass.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from . import RULES
from .core import UNKNOWN, Indeterminate, Rule, Subject, plain, run_resource_rule, run_stack_rule
from .levels import environment_from_pulumi, level_for

PACK_NAME = "aistack"


def unproxy(value: Any) -> Any:
    """Plain dicts and lists from pulumi-policy's proxies, unknowns as :data:`UNKNOWN`."""
    if isinstance(value, Mapping):
        result = {}
        for key in value:
            try:
                result[key] = unproxy(value[key])
            except UnknownValueError:
                result[key] = UNKNOWN
        return result
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = []
        for i in range(len(value)):
            try:
                items.append(unproxy(value[i]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return plain(value)


def _undecided(unknowns: Sequence[Indeterminate], names: Mapping[str, str]) -> UnknownValueError:
    """One ``UnknownValueError`` carrying every undecided part, for the SDK's advisory report."""
    parts = []
    for item in unknowns:
        where = f" ({names.get(item.urn, item.urn)})" if item.urn else ""
        parts.append(item.message() + where)
    error = UnknownValueError(UNKNOWN_STRING_VALUE, [])
    error.message = "; ".join(parts)
    return error


def _resource_policy(rule: Rule, level: str) -> ResourceValidationPolicy:
    def validate(args: Any, report_violation: Any) -> None:
        if args.resource_type not in rule.resource_types:
            return
        subject = Subject(
            urn=args.urn,
            type=args.resource_type,
            name=args.name,
            inputs=unproxy(args.props),
            parent=args.opts.parent if args.opts else None,
            provider=args.provider.urn if args.provider else None,
        )
        outcome = run_resource_rule(rule, subject, dict(args.get_config()))
        for _urn, message in outcome.violations:
            report_violation(message, None)
        if outcome.unknowns:
            raise _undecided(outcome.unknowns, {})

    remediate = None
    if rule.remediate is not None:
        fix = rule.remediate

        def remediate(args: Any) -> Any:
            if args.resource_type not in rule.resource_types:
                return None
            changes = fix(unproxy(args.props))
            if not changes:
                return None
            props = args.props
            for key, value in changes.items():
                props[key] = value
            return props

    return ResourceValidationPolicy(
        name=rule.id,
        description=rule.description,
        validate=validate,
        remediate=remediate,
        enforcement_level=EnforcementLevel(level),
        config_schema=PolicyConfigSchema(properties=dict(rule.config_schema)) if rule.config_schema else None,
    )


def _stack_policy(rule: Rule, level: str) -> StackValidationPolicy:
    def validate(args: Any, report_violation: Any) -> None:
        subjects = [
            Subject(
                urn=r.urn,
                type=r.resource_type,
                name=r.name,
                inputs=unproxy(r.props),
                parent=r.parent.urn if r.parent is not None else (r.opts.parent if r.opts else None),
                provider=r.provider.urn if r.provider else None,
                property_dependencies={
                    k: tuple(d.urn for d in v) for k, v in r.property_dependencies.items()
                },
                dependencies=tuple(d.urn for d in r.dependencies),
                ignore_changes=tuple(r.opts.ignore_changes or ()) if r.opts else (),
            )
            for r in args.resources
        ]
        outcome = run_stack_rule(rule, subjects, dict(args.get_config()))
        for urn, message in outcome.violations:
            report_violation(message, urn)
        if outcome.unknowns:
            raise _undecided(outcome.unknowns, {s.urn: s.name for s in subjects})

    return StackValidationPolicy(
        name=rule.id,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel(level),
        config_schema=PolicyConfigSchema(properties=dict(rule.config_schema)) if rule.config_schema else None,
    )


def build_policies(environment: str | None) -> list[Policy]:
    """Every rule as a pulumi-policy policy, at its level for ``environment``."""
    policies: list[Policy] = []
    for rule in RULES:
        level = level_for(rule, environment)
        policies.append(_stack_policy(rule, level) if rule.stack else _resource_policy(rule, level))
    return policies


def pack_arguments(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for ``pulumi_policy.PolicyPack`` in the current Pulumi process.

    Args:
        environ: The process environment (defaults to ``os.environ``); Pulumi sets
            ``PULUMI_STACK`` and ``PULUMI_CONFIG`` for policy packs.
    """
    environment = environment_from_pulumi(os.environ if environ is None else environ)
    return {
        "name": PACK_NAME,
        "policies": build_policies(environment),
        "enforcement_level": EnforcementLevel.ADVISORY,
        "description": (
            "aistack guardrails for multi-cloud GPU stacks: encryption, TLS, no public exposure, least "
            f"privilege, private clusters, hardened workloads, GPU scheduling and budget (environment: {environment})."
        ),
    }
