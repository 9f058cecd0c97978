"""Third-party controllers installed from their own Helm charts, pinned, one way for every add-on.

Controllers with many moving parts (operators, webhooks, their CRDs and RBAC) are installed from the
chart their project publishes rather than re-written here: the chart is what upstream tests and
supports. Each add-on pins its chart version in a :class:`Chart` constant with its source and the
date it was checked; :func:`release` declares the ``helm.sh/v3`` Release with the options a first
``pulumi up`` needs.

Why these options:

- ``atomic`` and ``cleanup_on_fail``: a failed install is rolled back and removed. Without them Helm
  keeps a release in ``failed`` state that Pulumi never recorded, and the next ``pulumi up`` stops
  with "cannot re-use a name that is still in use" until someone runs ``helm uninstall`` by hand
  (pulumi/pulumi-kubernetes#1727, #2758).
- ``timeout``: Helm waits for the chart's workloads to be ready (the Release's default); the bound
  leaves room for a node scale-up under a fresh cluster's system pool.
- ``max_history``: release secrets otherwise accumulate, one per upgrade.
- Custom resources of a chart's CRDs must be declared with ``depends_on=[release]``: the API server
  knows their kind only once the chart's CRDs are installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

TIMEOUT_S = 900
"""Seconds Helm waits for a chart's workloads to become ready before the install fails (and is rolled back)."""
MAX_HISTORY = 10


@dataclass(frozen=True)
class Chart:
    """A pinned chart: where it is published and which version aistack installs.

    Attributes:
        name: The chart's name in its repository (or the full ``oci://`` reference, with ``repo`` empty).
        version: The exact chart version (never a range: an update must not change what is installed).
        repo: The chart repository URL (empty for an OCI reference).
        source: Where the version was read, and when (``"<url>, checked <date>"``).
    """

    name: str
    version: str
    repo: str
    source: str


def release(
    name: str,
    chart: Chart,
    *,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any] | pulumi.Input[Mapping[str, Any]],
    opts: pulumi.ResourceOptions,
    release_name: str | None = None,
) -> k8s.helm.v3.Release:
    """Declare ``chart`` as a Helm Release named ``release_name`` (default: the chart's name) in ``namespace``.

    Args:
        name: The Pulumi resource name (``<component>-<suffix>``).
        chart: The pinned chart.
        namespace: The namespace the release installs into (declared by the caller: its labels matter).
        values: The chart's values (only what aistack changes from the chart's defaults).
        opts: Parent and the cluster's Kubernetes provider, plus any ``depends_on``.
        release_name: The Helm release name, stable across updates (defaults to the chart's name).
    """
    return k8s.helm.v3.Release(
        name,
        name=release_name or chart.name.rsplit("/", 1)[-1],
        chart=chart.name,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo) if chart.repo else None,
        namespace=namespace,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        timeout=TIMEOUT_S,
        max_history=MAX_HISTORY,
        opts=opts,
    )
