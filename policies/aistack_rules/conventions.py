"""GPU scheduling conventions the policies enforce and the components follow.

One place for the taint, the labels and the way a GPU pool is recognised on each cloud, so a
component (``from policies.aistack_rules.conventions import EKS_GPU_TAINT``) and the rule that
checks it cannot drift apart. Plain data; imports nothing.

The convention:
- every GPU node pool carries the taint ``nvidia.com/gpu=present:NoSchedule`` and the node label
  ``aistack.io/accelerator=<canonical accelerator, e.g. L4-24GB>``;
- every GPU pod (one that requests ``nvidia.com/gpu``) tolerates that taint and selects
  ``aistack.io/accelerator``; on GKE it also selects ``cloud.google.com/gke-accelerator``
  (GKE only schedules GPU pods that select the accelerator type).
"""

from __future__ import annotations

import re

GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource GPU containers request (NVIDIA device plugin / GKE)."""

GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_TAINT_VALUE = "present"
K8S_TAINT_EFFECT = "NoSchedule"
"""The taint effect as Kubernetes (and tolerations) spell it."""

ACCELERATOR_LABEL = "aistack.io/accelerator"
"""Node label carrying the canonical accelerator name on every cloud."""
POOL_LABEL = "aistack.io/pool"
"""Node label naming the spec's GPU pool (``components/gpu.py`` ``node_labels``)."""

GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
"""Node label GKE sets on GPU nodes (value e.g. ``nvidia-l4``); GPU pods on GKE select it."""

EKS_GPU_TAINT = {"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NO_SCHEDULE"}
"""``aws.eks.NodeGroup(taints=[EKS_GPU_TAINT])``."""

GKE_GPU_TAINT = {"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NO_SCHEDULE"}
"""``gcp.container.NodePool(node_config={"taints": [GKE_GPU_TAINT]})``."""

AKS_GPU_TAINT = f"{GPU_TAINT_KEY}={GPU_TAINT_VALUE}:{K8S_TAINT_EFFECT}"
"""``azure_native.containerservice.AgentPool(node_taints=[AKS_GPU_TAINT])``."""

GPU_TOLERATION = {
    "key": GPU_TAINT_KEY,
    "operator": "Equal",
    "value": GPU_TAINT_VALUE,
    "effect": K8S_TAINT_EFFECT,
}
"""The toleration every GPU pod carries."""

# Instance families with NVIDIA GPUs (P and G families, e.g. p4d, p5, g5, g6e, gr6), per the
# EC2 accelerated-computing instance list; AL2/AL2023/Bottlerocket GPU AMIs name NVIDIA or GPU.
_EKS_GPU_INSTANCE = re.compile(r"^(p\d|g\d|gr\d)", re.IGNORECASE)
_EKS_GPU_AMI = re.compile(r"NVIDIA|GPU", re.IGNORECASE)
# Azure N-series (NC, ND, NV, NG) are the GPU VM sizes.
_AKS_GPU_VM = re.compile(r"^Standard_N", re.IGNORECASE)
# GKE machine types that come with GPUs attached (A2, A3, A4: A100/H100/H200/B200; G2: L4;
# G4: RTX PRO 6000); other machine types get GPUs through guestAccelerators.
_GKE_GPU_MACHINE = re.compile(r"^(a2|a3|a4|g2|g4)-", re.IGNORECASE)


def is_eks_gpu_instance_type(instance_type: str) -> bool:
    """Whether an EC2 instance type has NVIDIA GPUs (``g5.xlarge`` → True)."""
    return bool(_EKS_GPU_INSTANCE.match(instance_type))


def is_eks_gpu_ami_type(ami_type: str) -> bool:
    """Whether an EKS AMI type is a GPU AMI (``AL2023_x86_64_NVIDIA`` → True)."""
    return bool(_EKS_GPU_AMI.search(ami_type))


def is_aks_gpu_vm_size(vm_size: str) -> bool:
    """Whether an Azure VM size is GPU-accelerated (``Standard_NC24ads_A100_v4`` → True)."""
    return bool(_AKS_GPU_VM.match(vm_size))


def is_gke_gpu_machine_type(machine_type: str) -> bool:
    """Whether a GCE machine type comes with GPUs attached (``g2-standard-8`` → True)."""
    return bool(_GKE_GPU_MACHINE.match(machine_type))
