"""The GPU conventions shared by the components and the rules."""

from __future__ import annotations

import pytest

from policies.aistack_rules import conventions as c


def test_taint_spellings_agree_across_clouds() -> None:
    assert c.AKS_GPU_TAINT == "nvidia.com/gpu=present:NoSchedule"
    assert (
        c.EKS_GPU_TAINT
        == c.GKE_GPU_TAINT
        == {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
    )
    assert c.GPU_TOLERATION == {
        "key": "nvidia.com/gpu",
        "operator": "Equal",
        "value": "present",
        "effect": "NoSchedule",
    }
    assert c.ACCELERATOR_LABEL == "aistack.io/accelerator"
    assert c.GKE_ACCELERATOR_LABEL == "cloud.google.com/gke-accelerator"


@pytest.mark.parametrize(
    ("check", "value", "gpu"),
    [
        (c.is_eks_gpu_instance_type, "g5.xlarge", True),
        (c.is_eks_gpu_instance_type, "p5.48xlarge", True),
        (c.is_eks_gpu_instance_type, "p6-b200.48xlarge", True),
        (c.is_eks_gpu_instance_type, "gr6.4xlarge", True),
        (c.is_eks_gpu_instance_type, "m6i.large", False),
        (c.is_eks_gpu_instance_type, "inf2.xlarge", False),
        (c.is_eks_gpu_ami_type, "AL2023_x86_64_NVIDIA", True),
        (c.is_eks_gpu_ami_type, "BOTTLEROCKET_x86_64_NVIDIA", True),
        (c.is_eks_gpu_ami_type, "AL2_x86_64_GPU", True),
        (c.is_eks_gpu_ami_type, "AL2023_x86_64_STANDARD", False),
        (c.is_aks_gpu_vm_size, "Standard_NC24ads_A100_v4", True),
        (c.is_aks_gpu_vm_size, "Standard_ND96isr_H100_v5", True),
        (c.is_aks_gpu_vm_size, "Standard_D4s_v5", False),
        (c.is_gke_gpu_machine_type, "g2-standard-8", True),
        (c.is_gke_gpu_machine_type, "a3-highgpu-8g", True),
        (c.is_gke_gpu_machine_type, "n2-standard-8", False),
    ],
)
def test_gpu_pools_are_recognised(check: object, value: str, gpu: bool) -> None:
    assert check(value) is gpu
