"""The GPU scheduling convention every cloud family and the serving endpoints share.

GPU nodes carry one taint so nothing but GPU workloads lands on them, and labels that GPU pods
select on. The taint and the accelerator label are defined once, in the policy pack's
conventions (the pack runs on its own and cannot import aistack), so the components and the
rules that check them (``gpu-pool-tainted``, ``gpu-pod-tolerates-and-selects``) cannot drift.
"""

from policies.aistack_rules.conventions import (  # noqa: F401 (re-exported for the families)
    ACCELERATOR_LABEL,
    AKS_GPU_TAINT,
    EKS_GPU_TAINT,
    GKE_GPU_TAINT,
    GPU_RESOURCE,
    GPU_TOLERATION,
)
from policies.aistack_rules.conventions import GPU_TAINT_KEY as TAINT_KEY  # noqa: F401
from policies.aistack_rules.conventions import GPU_TAINT_VALUE as TAINT_VALUE  # noqa: F401
from policies.aistack_rules.conventions import K8S_TAINT_EFFECT as TAINT_EFFECT  # noqa: F401

POOL_LABEL = "aistack.io/pool"
CAPACITY_LABEL = "aistack.io/capacity"

AKS_SPOT_LABEL = "kubernetes.azure.com/scalesetpriority"
"""AKS labels and taints every spot node ``<this>=spot`` (``NoSchedule``) itself; GPU pods tolerate it."""
AKS_SPOT_TOLERATION = {"key": AKS_SPOT_LABEL, "operator": "Equal", "value": "spot", "effect": TAINT_EFFECT}


def node_labels(
    pool: str, accelerator: str, capacity: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Labels on every node of a GPU pool, on every cloud."""
    return {**(extra or {}), POOL_LABEL: pool, ACCELERATOR_LABEL: accelerator, CAPACITY_LABEL: capacity}


# GKE's accelerator type names (`cloud.google.com/gke-accelerator` node label and node pool
# `guest_accelerators.type`) for the canonical accelerators Google Cloud offers.
GKE_ACCELERATORS = {
    "H100-80GB": "nvidia-h100-80gb",
    "A100-80GB": "nvidia-a100-80gb",
    "A100-40GB": "nvidia-tesla-a100",
    "L4-24GB": "nvidia-l4",
    "T4-16GB": "nvidia-tesla-t4",
}
