"""Cases for the GPU capacity rule (``policies/aistack_rules/deploy_capacity.py``), merged into CASES."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import DEPLOYMENT, GPU_TOLERATION, Case, container, res

NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
COMPUTE_CLASS = "kubernetes:cloud.google.com/v1:ComputeClass"
SELECTOR = {"aistack.io/pool": "a10g", "aistack.io/accelerator": "A10G-24GB"}


def gpu_pod(
    *, gpus: Any = 1, replicas: Any = 1, selector: Any = None, tolerations: Any = None, name: str = "llm"
) -> dict[str, Any]:
    """A serving Deployment requesting ``gpus`` per pod."""
    c = container(resources={"requests": {"cpu": "1"}, "limits": {"nvidia.com/gpu": gpus}})
    spec = {
        "containers": [c],
        "nodeSelector": SELECTOR if selector is None else selector,
        "tolerations": [GPU_TOLERATION] if tolerations is None else tolerations,
    }
    return res(
        DEPLOYMENT,
        name,
        {
            "metadata": {"name": name, "namespace": "serving"},
            "spec": {"replicas": replicas, "template": {"spec": spec}},
        },
    )


def nodepool(
    *, limit: Any = "4", labels: Any = None, taints: Any = None, types: Any = None
) -> dict[str, Any]:
    """A Karpenter NodePool as components/k8s/provisioning.py renders it."""
    return res(
        NODEPOOL,
        "a10g-nodes",
        {
            "metadata": {"name": "aistack-a10g-nodes"},
            "spec": {
                "template": {
                    "metadata": {
                        "labels": {"aistack.io/pool": "a10g", "aistack.io/capacity": "auto"}
                        if labels is None
                        else labels
                    },
                    "spec": {
                        "requirements": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": types or ["g5.xlarge"],
                            },
                            # The accelerator label given as a requirement rather than a template label.
                            {"key": "aistack.io/accelerator", "operator": "In", "values": ["A10G-24GB"]},
                        ],
                        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
                        if taints is None
                        else taints,
                    },
                },
                "limits": {"nvidia.com/gpu": limit},
            },
        },
    )


def compute_class(*, count: Any = 1) -> dict[str, Any]:
    """A GKE ComputeClass whose nodes carry the L4 pool's labels."""
    return res(
        COMPUTE_CLASS,
        "l4-class",
        {
            "metadata": {"name": "aistack-l4"},
            "spec": {
                "priorities": [
                    {
                        "machineType": "g2-standard-8",
                        "spot": True,
                        "gpu": {"type": "nvidia-l4", "count": count},
                    }
                ],
                "nodePoolConfig": {
                    "nodeLabels": {"aistack.io/pool": "l4", "aistack.io/accelerator": "L4-24GB"}
                },
            },
        },
    )


GKE_SELECTOR = {
    "aistack.io/pool": "l4",
    "aistack.io/accelerator": "L4-24GB",
    "cloud.google.com/gke-accelerator": "nvidia-l4",
    "cloud.google.com/compute-class": "aistack-l4",
}
GKE_TOLERATIONS = [
    GPU_TOLERATION,
    {
        "key": "cloud.google.com/compute-class",
        "operator": "Equal",
        "value": "aistack-l4",
        "effect": "NoSchedule",
    },
]

RELEASE = "kubernetes:helm.sh/v3:Release"
PROVIDER = "pulumi:providers:kubernetes"
AKS = "azure-native:containerservice:ManagedCluster"
AKS_COMPONENT = "urn:pulumi:test::cases::aistack:azure:Cluster::south"


def karpenter_release() -> dict[str, Any]:
    return res(
        RELEASE, "karpenter", {"chart": "oci://public.ecr.aws/karpenter/karpenter", "version": "1.14.1"}
    )


def ec2_pool(after: list[str]) -> dict[str, Any]:
    """An EKS NodePool created after the resources ``after`` (URNs)."""
    return nodepool() | {"dependencies": after}


def aks_world(mode: Any) -> list[dict[str, Any]]:
    """An AKS cluster (node provisioning ``mode``), its Kubernetes provider and one AKS NodePool."""
    provider = res(PROVIDER, "south-k8s", {"kubeconfig": "kubelogin"}, parent=AKS_COMPONENT)
    cluster = res(AKS, "south-aks", {"nodeProvisioningProfile": {"mode": mode}}, parent=AKS_COMPONENT)
    pool = res(
        NODEPOOL,
        "south-a10-nodes",
        {
            "spec": {
                "template": {
                    "spec": {
                        "nodeClassRef": {
                            "group": "karpenter.azure.com",
                            "kind": "AKSNodeClass",
                            "name": "a10",
                        }
                    }
                }
            }
        },
        provider=f"{provider['urn']}::provider-id",
    )
    return [provider, cluster, pool]


DEPLOY_CAPACITY_CASES: dict[str, Case] = {
    "deploy-provisioner-installed": Case(
        compliant=[karpenter_release(), ec2_pool([karpenter_release()["urn"]]), *aks_world("Auto")],
        # The NodePool is applied before (without) the chart that installs its CRD and controller.
        violating=[karpenter_release(), ec2_pool([])],
        unknown=aks_world(U),
        message="is created before any karpenter Helm Release",
        orphaned=[ec2_pool([])],
    ),
    "deploy-gpu-pod-capacity": Case(
        compliant=[
            gpu_pod(replicas=4),
            nodepool(),
            gpu_pod(name="gke", selector=GKE_SELECTOR, tolerations=GKE_TOLERATIONS, replicas=3),
            compute_class(),
        ],
        # Four replicas of one GPU each, but the NodePool may hold two GPUs.
        violating=[gpu_pod(replicas=4), nodepool(limit="2")],
        unknown=[gpu_pod(), nodepool(labels=U)],
        message="runs 4 replicas of 1 nvidia.com/gpu but the provisioners that can host it are limited to 2",
        orphaned=[gpu_pod()],
    ),
}
