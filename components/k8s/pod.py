"""Pod settings every workload aistack runs shares: the restricted security profile and placement.

Every container runs as a non-root user with a read-only root filesystem, no privilege escalation,
no capabilities and the runtime's seccomp profile: the Pod Security Standard ``restricted``. Add-ons
(autoscaler, metrics) run on the system pool and tolerate nothing, so they never take GPU nodes.
"""

from __future__ import annotations

import hashlib

from components import gpu

SYSTEM_NODES = {gpu.POOL_LABEL: "system"}
"""Node selector of the CPU system pool every cloud family labels ``aistack.io/pool=system``."""

NOBODY = 65534
"""The ``nobody`` user the add-on images run as (their own manifests use it)."""


def container_security(uid: int) -> dict:
    """A container's security context: non-root ``uid``, read-only root, nothing privileged."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "privileged": False,
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security(uid: int, **extra: object) -> dict:
    """A pod's security context: non-root ``uid`` and group, volumes owned by it, RuntimeDefault seccomp."""
    return {
        "run_as_non_root": True,
        "run_as_user": uid,
        "run_as_group": uid,
        "fs_group": uid,
        "seccomp_profile": {"type": "RuntimeDefault"},
        **extra,
    }


def checksum(text: str) -> str:
    """SHA-256 of a configuration, as a pod annotation that rolls the pods when the configuration changes."""
    return hashlib.sha256(text.encode()).hexdigest()
