"""Compare a preview with a baseline preview (``--baseline OLD.json``): what a change would do.

Resources are the same when their URN is (or the new one names the old URN among its
``aliases``). The diff lists what would be created, updated (which inputs, by dotted camelCase
path) and deleted; pairs deletions with creations that look like the same resource under a
new name, parent or type (``replace_risk``: Pulumi would replace it); and lists as ``forbidden``
every stateful resource (buckets, storage accounts, keys, clusters) that would be deleted or
replaced, unless the stack's ``aistack:allow_replace`` names it or its component.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aistack import cost
from aistack.errors import InputError

STATEFUL: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws:s3/bucket:Bucket": ("S3 bucket", ("bucket", "bucketPrefix", "objectLockEnabled")),
    "aws:kms/key:Key": (
        "KMS key",
        ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    ),
    "aws:eks/cluster:Cluster": (
        "EKS cluster",
        (
            "name",
            "roleArn",
            "bootstrapSelfManagedAddons",
            "accessConfig.bootstrapClusterCreatorAdminPermissions",
            "kubernetesNetworkConfig.serviceIpv4Cidr",
            "kubernetesNetworkConfig.ipFamily",
            "outpostConfig",
            "remoteNetworkConfig",
        ),
    ),
    "azure-native:storage:StorageAccount": (
        "storage account",
        ("accountName", "resourceGroupName", "location"),
    ),
    "azure-native:keyvault:Vault": ("Key Vault", ("vaultName", "resourceGroupName", "location")),
    "azure-native:keyvault:Key": ("Key Vault key", ("keyName", "vaultName", "resourceGroupName")),
    "azure-native:containerservice:ManagedCluster": (
        "AKS cluster",
        ("resourceName", "resourceGroupName", "location", "dnsPrefix", "nodeResourceGroup"),
    ),
    "gcp:storage/bucket:Bucket": ("GCS bucket", ("name", "location", "project")),
    "gcp:kms/cryptoKey:CryptoKey": ("Cloud KMS key", ("name", "keyRing", "purpose", "importOnly")),
    "gcp:container/cluster:Cluster": (
        "GKE cluster",
        ("name", "location", "project", "network", "subnetwork", "ipAllocationPolicy"),
    ),
}
"""Stateful type token → (what it is, inputs whose change replaces it).

The replacing inputs are the ``ForceNew`` arguments of the bridged Terraform providers (e.g.
terraform-provider-aws ``internal/service/eks/cluster.go``: ``name``, ``role_arn``,
``kubernetes_network_config.service_ipv4_cidr`` replace; ``vpc_config.subnet_ids`` is updated in
place) and, for azure-native, the resource's name path and location.
"""


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a ``preview --format json`` report.

    Raises:
        InputError: the file is missing, not JSON, or not a preview report.
    """
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise InputError(str(path), "", f"cannot read baseline: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise InputError(str(path), "", f"baseline is not JSON (line {err.lineno}): {err.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        raise InputError(
            str(path), "resources", "a baseline is the output of `preview --format json` (no resources list)"
        )
    for i, r in enumerate(data["resources"]):
        if not isinstance(r, dict) or not {"urn", "type", "name"} <= set(r):
            raise InputError(str(path), f"resources.{i}", "each resource needs urn, type and name")
    return data


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted camelCase paths whose values differ (``scalingConfig.maxSize``, ``rules[0].id``).

    Maps recurse by key; lists of equal length recurse by index when they hold maps, otherwise a
    differing list is reported whole.
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        paths = []
        for key in sorted(set(old) | set(new)):
            paths += changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
        return paths
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and len(old) == len(new)
        and any(isinstance(v, Mapping) for v in old + new)
    ):
        return [
            p
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for p in changed_paths(a, b, f"{prefix}[{i}]")
        ]
    return [] if old == new else [prefix]


def _covered(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``patterns`` or inside one (``a.b`` covers ``a.b.c`` and ``a.b[0]``)."""
    return any(path == p or path.startswith((f"{p}.", f"{p}[")) for p in patterns)


def _role(r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> tuple[Any, ...]:
    """What a resource is regardless of names: its type, cloud and its place in its parent.

    A child named ``<parent name>-<suffix>`` has the role (type, parent's type, suffix), so a
    store's bucket keeps its role when the store is renamed.
    """
    parent = by_urn.get(r.get("parent") or "")
    if parent is None:
        return (r["type"], r.get("cloud"), None, "")
    prefix = f"{parent['name']}-"
    suffix = r["name"][len(prefix) :] if r["name"].startswith(prefix) else r["name"]
    return (r["type"], r.get("cloud"), parent["type"], suffix)


def _similarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    old, new = a.get("inputs") or {}, b.get("inputs") or {}
    return sum(1 for k in set(old) & set(new) if old[k] == new[k])


def _ancestors(r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names, seen = [r["name"]], set()
    while (parent := by_urn.get(r.get("parent") or "")) is not None and parent["urn"] not in seen:
        seen.add(parent["urn"])
        names.append(parent["name"])
        r = parent
    return names


def _brief(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"urn": r["urn"], "type": r["type"], "name": r["name"], "cloud": r.get("cloud")}


def compare(
    baseline: Mapping[str, Any],
    head: Mapping[str, Any],
    *,
    allow_replace: Sequence[str] = (),
    base_cost: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report's ``diff`` section: ``head`` against ``baseline`` (both preview reports).

    Args:
        baseline: The earlier preview (``--format json`` of the base branch).
        head: The new preview; its ``cost`` section gives the new side of ``cost_delta``.
        allow_replace: Logical names (of a resource or of any component around it) whose
            stateful resources may be deleted or replaced.
        base_cost: The baseline's cost section; by default the baseline is re-priced with this
            branch's cost model, so the delta shows what the resource changes cost.

    Returns:
        ``create`` / ``delete`` (resources), ``update`` (``urn``, ``type``, ``name``, ``changes``:
        dotted paths, ``replaces``: the changed paths that force replacement, ``renamed_from``
        when matched through an alias), ``replace_risk`` (``old_urn``, ``new_urn``, ``type``,
        ``reason``), ``forbidden`` (``urn``, ``type``, ``reason``) and ``cost_delta``.
    """
    old = {r["urn"]: r for r in baseline["resources"]}
    new = {r["urn"]: r for r in head["resources"]}
    # A resource with an alias naming an old URN is that resource, renamed.
    renamed = {}
    for urn, r in new.items():
        if urn in old:
            continue
        for alias in r.get("aliases") or []:
            if alias in old and alias not in new and alias not in renamed.values():
                renamed[urn] = alias
                break
    pairs = [(old[u], new[u]) for u in sorted(set(old) & set(new))]
    pairs += [(old[alias], new[urn]) for urn, alias in sorted(renamed.items())]
    deleted = [old[u] for u in sorted(set(old) - set(new) - set(renamed.values()))]
    created = [new[u] for u in sorted(set(new) - set(old) - set(renamed))]

    update, replaced = [], []
    for before, after in pairs:
        ignored = after.get("ignore_changes") or []
        changes = [
            p
            for p in changed_paths(before.get("inputs") or {}, after.get("inputs") or {})
            if not _covered(p, ignored)
        ]
        if before["type"] != after["type"]:
            changes.insert(0, "<type>")
        if not changes and before["urn"] == after["urn"]:
            continue
        forcing = [*STATEFUL.get(after["type"], ("", ()))[1], *(after.get("replace_on_changes") or [])]
        replaces = [p for p in changes if _covered(p, forcing)]
        entry = {**_brief(after), "changes": changes, "replaces": replaces}
        if before["urn"] != after["urn"]:
            entry["renamed_from"] = before["urn"]
        update.append(entry)
        if replaces:
            replaced.append((before, after, f"changing {', '.join(replaces)} replaces it"))

    replace_risk = _identity_changes(deleted, created, old, new)
    old_by_urn = old
    forbidden = []
    for before, reason in [(r, "would be deleted") for r in deleted] + [
        (b, f"would be replaced ({why})") for b, _a, why in replaced
    ]:
        if before["type"] not in STATEFUL:
            continue
        if set(_ancestors(before, old_by_urn)) & set(allow_replace):
            continue
        what = STATEFUL[before["type"]][0]
        renamed_to = next((p["new_urn"] for p in replace_risk if p["old_urn"] == before["urn"]), None)
        detail = (
            f"; it reappears as {renamed_to.rsplit('::', 1)[-1]!r} (add an alias to keep it)"
            if renamed_to
            else ""
        )
        protected = (
            " It is protected: Pulumi refuses until `protect` is lifted." if before.get("protect") else ""
        )
        forbidden.append(
            {
                "urn": before["urn"],
                "type": before["type"],
                "name": before["name"],
                "reason": f"{what} {before['name']!r} {reason}{detail}.{protected} "
                f"To allow it, add {_ancestors(before, old_by_urn)[-1]!r} to aistack:allow_replace.",
            }
        )

    if base_cost is None:
        base_cost = cost.estimate(baseline["resources"])
    head_cost = head.get("cost") or cost.estimate(head["resources"])
    clouds = sorted(set(base_cost.get("by_cloud", {})) | set(head_cost.get("by_cloud", {})))
    cost_delta = {
        "monthly_usd": round(head_cost["monthly_usd"] - base_cost["monthly_usd"], 2),
        "monthly_usd_max": round(
            head_cost.get("monthly_usd_max", 0.0) - base_cost.get("monthly_usd_max", 0.0), 2
        ),
        "base_monthly_usd": base_cost["monthly_usd"],
        "base_monthly_usd_max": base_cost.get("monthly_usd_max", 0.0),
        "by_cloud": {
            c: round(head_cost["by_cloud"].get(c, 0.0) - base_cost["by_cloud"].get(c, 0.0), 2) for c in clouds
        },
    }
    return {
        "create": [_brief(r) for r in created],
        "update": update,
        "delete": [{**_brief(r), "protect": bool(r.get("protect"))} for r in deleted],
        "replace_risk": replace_risk,
        "forbidden": forbidden,
        "cost_delta": cost_delta,
    }


def _identity_changes(
    deleted: list[Mapping[str, Any]],
    created: list[Mapping[str, Any]],
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Pair each deletion with a creation that is the same resource under a new identity.

    First the same name and parent with another type (a type migration), then the same role
    (type, parent's type, name suffix) under a renamed parent or name, the most similar inputs
    first. Parents are paired before their children: a child of a renamed parent pairs with its
    twin under the new parent even when every input changed with the rename (ids, ARNs).
    """
    free = list(created)
    risks = []
    moved: dict[str, str] = {}  # old parent URN → new parent URN, as parents are paired
    for before in sorted(deleted, key=lambda r: len(_ancestors(r, old))):
        same_place = [
            c for c in free if c["name"] == before["name"] and c.get("parent") == before.get("parent")
        ]
        if same_place:
            after = same_place[0]
            reason = f"type changes from {before['type']}"
        else:
            role = _role(before, old)
            new_parent = moved.get(before.get("parent") or "")
            # Same role; unless under its renamed parent, at least one input in common when both
            # carry inputs (a new resource with nothing in common is not a renamed one).
            candidates = [
                c
                for c in free
                if _role(c, new) == role
                and (
                    (new_parent is not None and c.get("parent") == new_parent)
                    or not before.get("inputs")
                    or not c.get("inputs")
                    or _similarity(before, c) > 0
                )
            ]
            if not candidates:
                continue
            after = max(candidates, key=lambda c: _similarity(before, c))
            what = [
                part
                for part, changed in (
                    ("name", before["name"] != after["name"]),
                    ("parent", before.get("parent") != after.get("parent")),
                )
                if changed
            ]
            reason = f"new logical {' and '.join(what)} without an alias"
        free.remove(after)
        moved[before["urn"]] = after["urn"]
        risks.append(
            {"old_urn": before["urn"], "new_urn": after["urn"], "type": after["type"], "reason": reason}
        )
    return sorted(risks, key=lambda r: r["old_urn"])
