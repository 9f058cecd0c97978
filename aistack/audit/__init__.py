"""``audit``: re-check the live stateful resources of a deployed stack against the policy pack's rules.

Resources are found without Pulumi state, by the tags (labels on GCP) every aistack resource
carries: ``managed-by=aistack`` and ``aistack-stack=<stack>``. Each cloud's auditor reads the
live settings of its object stores and reports, per resource, every rule as ``pass`` or
``fail``; any failure is drift (exit 1). See ``aistack/preflight/README.md``.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Protocol

from aistack.errors import InputError
from aistack.spec import StackSpec, StoreSpec

# Cloud → module with ``auditor(cloud_spec) -> Auditor``, imported lazily (each pulls its own SDK).
AUDITORS = {"aws": "aistack.audit.aws", "azure": "aistack.audit.azure", "gcp": "aistack.audit.gcp"}

# The tags (GCP: labels) every aistack resource carries; components/aws sets them as provider default tags.
MANAGED_BY = ("managed-by", "aistack")
STACK_TAG = "aistack-stack"

PASS, FAIL = "pass", "fail"


class Auditor(Protocol):
    """What each cloud implements: find the stack's stores and check their live settings."""

    cloud: str

    def audit(self, stack: str, stores: dict[str, StoreSpec]) -> list[dict[str, Any]]:
        """One entry per live resource (and per spec store not found): see :func:`resource`."""
        ...


def tagged(tags: dict[str, str] | None, stack: str) -> bool:
    """Whether a resource's tags/labels mark it as part of the stack."""
    tags = tags or {}
    return tags.get(MANAGED_BY[0]) == MANAGED_BY[1] and tags.get(STACK_TAG) == stack


def store_of(physical_name: str, stores: dict[str, StoreSpec], suffix: str) -> str | None:
    """The spec store a Pulumi-auto-named resource belongs to (``<store>-<suffix>-<random>``), if any."""
    for name in stores:
        if physical_name.startswith(f"{name}-{suffix}-"):
            return name
    return None


def check(rule: str, ok: bool, detail: str) -> dict[str, str]:
    """One rule's verdict on one resource."""
    return {"rule": rule, "status": PASS if ok else FAIL, "detail": detail}


def resource(
    cloud: str, kind: str, ident: str, store: str | None, checks: list[dict[str, str]]
) -> dict[str, Any]:
    """One audited resource: what it is, which spec store it holds, and its checks."""
    return {"cloud": cloud, "kind": kind, "id": ident, "store": store, "checks": checks}


def missing(
    cloud: str, kind: str, stores: dict[str, StoreSpec], found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """A failing entry for each spec store no live resource was found for (deleted, or its tags removed)."""
    seen = {r["store"] for r in found}
    return [
        resource(
            cloud,
            kind,
            f"{name} (not found)",
            name,
            [check("exists", False, f"no {kind} tagged for store {name}")],
        )
        for name in stores
        if name not in seen
    ]


def auditor_for(cloud: str, cloud_spec: Any) -> Auditor:
    """The auditor of a configured cloud, chosen from :data:`AUDITORS`."""
    if cloud not in AUDITORS:
        raise InputError("arguments", "--stack", f"audit has no auditor for cloud {cloud!r} yet")
    return importlib.import_module(AUDITORS[cloud]).auditor(cloud_spec)


def run(spec: StackSpec, stack: str, auditors: dict[str, Auditor] | None = None) -> dict[str, Any]:
    """Audit every cloud of a stack that holds stores.

    Returns:
        ``{"stack", "status": "clean"|"drift", "resources": [...]}``.
    """
    resources: list[dict[str, Any]] = []
    for cloud, cloud_spec in spec.clouds.configured().items():
        stores = {name: s for name, s in spec.stores.items() if s.cloud == cloud}
        if not stores:
            continue
        auditor = (auditors or {}).get(cloud) or auditor_for(cloud, cloud_spec)
        resources += auditor.audit(stack, stores)
    drift = any(c["status"] == FAIL for r in resources for c in r["checks"])
    return {"stack": stack, "status": "drift" if drift else "clean", "resources": resources}


def exit_code(report: dict[str, Any]) -> int:
    """1 on drift, else 0."""
    return 1 if report["status"] == "drift" else 0


def as_text(report: dict[str, Any]) -> str:
    """One block per resource: its id and store, then each rule's verdict."""
    lines = [f"audit {report['stack']}: {report['status']} ({len(report['resources'])} resource(s))"]
    for res in report["resources"]:
        lines.append(
            f"{res['cloud']} {res['kind']} {res['id']}" + (f" (store {res['store']})" if res["store"] else "")
        )
        lines += [
            f"  {c['status'].upper() if c['status'] == FAIL else c['status']:4}  {c['rule']}: {c['detail']}"
            for c in res["checks"]
        ]
    return "\n".join(lines)


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as ``text`` or ``json``."""
    return json.dumps(report, indent=2) if fmt == "json" else as_text(report)
