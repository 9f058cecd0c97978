"""Enforcement levels per environment.

A rule's level comes from, highest precedence first:

1. the policy config for that rule (``{"<rule-id>": {"enforcementLevel": ...}}`` or
   ``{"<rule-id>": "<level>"}``), as given to ``pulumi preview --policy-pack-config FILE`` or to
   the offline ``evaluate(config=...)``;
2. the policy config's ``"all"`` entry;
3. the environment profile below;
4. the rule's default (mandatory for security, advisory for cost and hygiene, remediate where a
   safe in-place fix exists).

The environment is the stack's ``aistack:environment`` config value when set, else the stack
name. An environment without a profile (e.g. a stack named ``ci``) gets the rule defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .core import DISABLED, MANDATORY, Rule

ENVIRONMENT_CONFIG_KEY = "aistack:environment"

PROFILES: Mapping[str, Mapping[str, str]] = {
    # Spot-only GPU pools are fine while developing; nothing else is relaxed.
    "dev": {"gpu-spot-has-ondemand-floor": DISABLED},
    "staging": {},
    # Production also blocks on hygiene that keeps serving reliable and reproducible.
    "prod": {
        "gpu-pool-tainted": MANDATORY,
        "gpu-pod-tolerates-and-selects": MANDATORY,
        "gpu-spot-has-ondemand-floor": MANDATORY,
        "k8s-image-pinned": MANDATORY,
        "k8s-resource-limits": MANDATORY,
    },
}
ENVIRONMENTS = tuple(PROFILES)


def level_for(rule: Rule, environment: str | None, configured: str | None = None) -> str:
    """The level ``rule`` runs at in ``environment``.

    Args:
        rule: The rule.
        environment: ``dev``, ``staging``, ``prod``, or any other name (rule defaults).
        configured: A level from the policy config (rule entry, else ``"all"``), if any.
    """
    if configured is not None:
        return configured
    return PROFILES.get(environment or "", {}).get(rule.id, rule.level)


def environment_of(stack: str | None, config: Mapping[str, object]) -> str | None:
    """A stack's environment: its ``aistack:environment`` config value when set, else its name.

    Args:
        stack: The stack name.
        config: The stack config (namespaced keys, values parsed).
    """
    configured = config.get(ENVIRONMENT_CONFIG_KEY)
    return configured if isinstance(configured, str) and configured else stack or None


def environment_from_pulumi(environ: Mapping[str, str]) -> str | None:
    """The environment of the stack a policy pack process was started for.

    Pulumi starts policy packs with ``PULUMI_STACK`` and the stack's config as JSON in
    ``PULUMI_CONFIG``.
    """
    try:
        config = json.loads(environ.get("PULUMI_CONFIG") or "{}")
    except json.JSONDecodeError:
        config = {}
    return environment_of(environ.get("PULUMI_STACK"), config if isinstance(config, dict) else {})
