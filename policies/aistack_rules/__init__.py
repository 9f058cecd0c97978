"""The aistack policy rules: plain functions over engine-style camelCase inputs.

Importable two ways, so that Pulumi (which runs the pack from inside ``policies/``) and the
repository (tests, the offline engine, the CLI) share one copy: as ``aistack_rules`` with
``policies/`` on ``sys.path``, and as ``policies.aistack_rules`` from the repository root. Modules
here import each other relatively and need nothing beyond ``pulumi-policy`` (and the ``pulumi``
SDK it depends on).

Attributes:
    RULES: Every rule, grouped by concern in a stable order.
    UNKNOWN: The sentinel for an input not known until apply (Pulumi's ``pulumi.output.UNKNOWN``,
        which is also how the mock runtime records unknowns).
"""

from __future__ import annotations

import dataclasses

from . import (
    audit,
    clusters,
    deploy,
    deploy_access,
    deploy_capacity,
    deploy_routing,
    deploy_serving,
    dns,
    encryption,
    gpu,
    identity,
    interconnect,
    network,
    replication,
    transit,
    workloads,
)
from .core import UNKNOWN, Rule

CONCERNS = {
    "encryption": encryption.RULES + replication.RULES,
    "transit": transit.RULES,
    "network": network.RULES + deploy_routing.NETWORK_RULES + interconnect.NETWORK_RULES + dns.NETWORK_RULES,
    "identity": identity.RULES,
    "clusters": clusters.RULES,
    "audit": audit.RULES,
    "workloads": workloads.RULES,
    "gpu-cost": gpu.RULES,
    # First-deploy breakers (DESIGN.md, "Policies"): ordering, zones and support windows over the whole
    # graph (deploy); API reachability, admins and kubeconfigs (deploy_access); the model fits, weights
    # get in, awaits end (deploy_serving); pools have pickers, routes reach pools (deploy_routing); every
    # GPU pod has somewhere to run (deploy_capacity).
    "deploy": deploy.RULES
    + deploy_access.RULES
    + deploy_serving.RULES
    + deploy_routing.RULES
    + deploy_capacity.RULES
    + replication.DEPLOY_RULES
    + interconnect.DEPLOY_RULES
    + dns.DEPLOY_RULES,
}

RULES: tuple[Rule, ...] = tuple(
    dataclasses.replace(rule, concern=concern) for concern, rules in CONCERNS.items() for rule in rules
)
RULES_BY_ID = {rule.id: rule for rule in RULES}

__all__ = ["CONCERNS", "RULES", "RULES_BY_ID", "UNKNOWN", "Rule"]
