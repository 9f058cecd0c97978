"""The container images a stack runs, and the allow-list admission control derives from them.

GKE Binary Authorization admits only images matching its allow-list patterns (see
``components/gcp/admission.py``); the policy rule ``k8s-image-allowed-registry`` checks every
cloud's workloads against the registries here. Both come from this one list, so an image added
to the program without its repository being allowed fails a test before it fails a deploy.
"""

from __future__ import annotations

from typing import Any

from components.k8s import autoscaler, keda, metrics, multinode, routing, runtime, weights

ADDON_IMAGES = (
    metrics.PROMETHEUS_IMAGE,
    *keda.IMAGES,
    runtime.DEVICE_PLUGIN_IMAGE,
    routing.EPP_IMAGE,
    routing.ENVOY_IMAGE,
)
"""Images of the add-ons aistack installs itself (per cloud, a subset runs)."""


def repository(image: str) -> str:
    """The image's repository: its reference without the ``@digest`` or ``:tag``."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def registry(image: str) -> str:
    """The registry host of a fully qualified image reference (``docker.io`` for a bare Hub name)."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def declared(spec: Any) -> list[str]:
    """Every image the program may run for ``spec``: add-ons, autoscalers, the LWS controller, servers, and
    rclone (the weights check and the replication jobs) where they run."""
    images = set(ADDON_IMAGES)
    if any(e.multi_node for e in spec.endpoints.values()):
        images.add(multinode.CONTROLLER_IMAGE)
    images |= {
        autoscaler.IMAGES[c.kubernetes_version]
        for c in spec.clusters.values()
        if c.kubernetes_version in autoscaler.IMAGES
    }
    images |= {e.image for e in spec.endpoints.values()}
    # rclone checks the weights manifest in server pods and copies weights into replica stores.
    if any(e.weights_manifest for e in spec.endpoints.values()) or any(
        s.replica_of for s in spec.stores.values()
    ):
        images.add(weights.RCLONE_IMAGE)
    return sorted(images)


def allow_patterns(spec: Any) -> list[str]:
    """Binary Authorization name patterns: each declared repository with any tag or digest.

    A trailing ``*`` matches within the last path segment only (so ``gcr.io/a/b*`` admits
    ``gcr.io/a/b:1`` and ``gcr.io/a/b@sha256:...`` but not ``gcr.io/a/b/c``; Binary Authorization
    API reference, ``AdmissionWhitelistPattern.name_pattern``).
    """
    return sorted({f"{repository(image)}*" for image in declared(spec)})


def allowed_registries(spec: Any) -> list[str]:
    """The registry hosts of every declared image (the policy rule's default allow-list)."""
    return sorted({registry(image) for image in declared(spec)})
