"""The GPU scheduling convention every cloud family and the serving endpoints share.

GPU nodes carry one taint so nothing but GPU workloads lands on them, and labels that GPU pods
select on. The policy pack checks the same convention (``gpu-pool-tainted``,
``gpu-pod-tolerates-and-selects``).
"""

TAINT_KEY = "nvidia.com/gpu"
TAINT_VALUE = "present"
TAINT_EFFECT = "NoSchedule"  # Kubernetes spelling; EKS spells it NO_SCHEDULE, GKE NO_SCHEDULE.
ACCELERATOR_LABEL = "aistack.io/accelerator"
POOL_LABEL = "aistack.io/pool"
CAPACITY_LABEL = "aistack.io/capacity"


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
