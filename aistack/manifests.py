"""Kubernetes manifests from a preview report: one YAML file per object the program declares.

Each object is rebuilt from its recorded inputs, which for pulumi-kubernetes resources are the
object's own fields in their Kubernetes (camelCase) spelling: ``apiVersion``, ``kind``,
``metadata``, ``spec`` and so on. Files are grouped by the Kubernetes provider (one directory per
cluster, e.g. ``main-k8s/``) and named ``<kind>-<namespace>-<name>.yaml``, so a directory can be
applied to its cluster as it is. Secret values stay masked (``[secret]``) as in the report.
Patch resources (``...Patch`` kinds) and Helm releases are not whole objects and are skipped.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from aistack import engine
from aistack.errors import InputError


def plain(value: Any) -> Any:
    """Whole-number floats (the wire format has only doubles) back to integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def objects(result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object in a preview report, as (relative file path, manifest)."""
    found: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for resource in result["resources"]:
        inputs = resource["inputs"]
        if not (resource["custom"] and resource["type"].startswith("kubernetes:")):
            continue
        if "apiVersion" not in inputs or "kind" not in inputs or inputs["kind"].endswith("Patch"):
            continue
        body = plain(inputs)
        metadata = dict(body.pop("metadata", None) or {})
        # Auto-named objects: the name the mock runtime gave them (deterministic per logical name).
        metadata.setdefault("name", engine._physical(resource["name"]))
        manifest = {
            "apiVersion": body.pop("apiVersion"),
            "kind": body.pop("kind"),
            "metadata": metadata,
            **body,
        }
        folder = resource["provider"].rsplit("::", 1)[-1] if resource["provider"] else "default-provider"
        stem = "-".join(
            p for p in (manifest["kind"].lower(), metadata.get("namespace"), metadata["name"]) if p
        )
        path = f"{folder}/{stem}.yaml"
        if path in seen:
            path = f"{folder}/{stem}-{hashlib.sha1(resource['urn'].encode()).hexdigest()[:8]}.yaml"
        seen.add(path)
        found.append((path, manifest))
    return found


def write(result: dict[str, Any], directory: Path) -> list[Path]:
    """Write every Kubernetes object of a report under ``directory``; returns the files written.

    Raises:
        InputError: ``directory`` exists and is not a directory, or cannot be written.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise InputError("arguments", "--manifests", f"{directory} exists and is not a directory")
    written = []
    try:
        for relative, manifest in objects(result):
            path = directory / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(manifest, sort_keys=False, default_flow_style=False))
            written.append(path)
    except OSError as err:
        raise InputError("arguments", "--manifests", f"cannot write {directory}: {err.strerror}") from None
    return written
