"""What a cluster's GPU nodes lack for GPU pods to schedule, declared as Kubernetes objects.

Who installs what (see each cloud's row in ``components/k8s/clouds.py``):

- EKS, GPU pools on the AL2023 NVIDIA AMI: driver and container toolkit come with the AMI; the
  NVIDIA device plugin does not, so aistack runs it.
- AKS, GPU pools with ``gpu_profile.driver`` ``Install`` (the default): AKS installs the driver,
  not the device plugin, so aistack runs it. A pool that sets the driver to ``None`` would need the
  GPU Operator instead, which aistack does not install.
- GKE: the node pool's ``gpu_driver_installation_config`` installs the driver and GKE runs its own
  device plugin, so aistack adds nothing (a second plugin would fight GKE's for the same socket).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import contract, gpu
from components.k8s import clouds

DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin:v0.20.0"
"""NVIDIA device plugin v0.20.0 (github.com/NVIDIA/k8s-device-plugin/releases/tag/v0.20.0, released
August 2026; downstream bumps from 0.19.3 dated 2026-08-20/27), checked 2026-12-04. A 0.20.1 patch
was being prepared upstream (NVIDIA/k8s-device-plugin#2057, 2026-09-22); move to it once its tag is
confirmed."""
"""NVIDIA's device plugin, pinned to its newest release as of 2026-12-04: v0.20.0 (August 2026; NVIDIA/
k8s-device-plugin releases, bumped from 0.19.3 by NVIDIA/deepops#1382). v0.17.1 (early 2025) was two minor
releases behind. Its CHANGELOG names driver 384.81 as the minimum, far below what the EKS
AL2023 NVIDIA AMI and AKS install for current GPUs."""

DEVICE_PLUGIN_NAME = "nvidia-device-plugin"
DEVICE_PLUGIN_NAMESPACE = "kube-system"
KUBELET_DEVICE_PLUGINS = "/var/lib/kubelet/device-plugins"


def device_plugin_spec(extra_tolerations: tuple[dict, ...] = ()) -> dict:
    """The device plugin DaemonSet's spec, after NVIDIA's static manifest (``nvidia-device-plugin.yml``).

    It runs only on GPU nodes (those carrying aistack's accelerator label), tolerates the GPU taint
    and ``extra_tolerations`` (taints the cloud puts on GPU nodes itself, such as AKS's on spot
    nodes), and is ``system-node-critical`` so it is never evicted before the pods that need it. It
    runs as root because it registers a socket in the kubelet's root-owned device-plugin directory,
    its one host path; it is not privileged, shares no host namespace and drops every capability.
    """
    labels = {"app.kubernetes.io/name": DEVICE_PLUGIN_NAME, "app.kubernetes.io/managed-by": "aistack"}
    return {
        "selector": {"match_labels": {"app.kubernetes.io/name": DEVICE_PLUGIN_NAME}},
        "update_strategy": {"type": "RollingUpdate"},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "priority_class_name": "system-node-critical",
                "tolerations": [
                    {"key": gpu.TAINT_KEY, "operator": "Exists", "effect": gpu.TAINT_EFFECT},
                    *map(dict, extra_tolerations),
                ],
                "affinity": {
                    "node_affinity": {
                        "required_during_scheduling_ignored_during_execution": {
                            "node_selector_terms": [
                                {"match_expressions": [{"key": gpu.ACCELERATOR_LABEL, "operator": "Exists"}]}
                            ]
                        }
                    }
                },
                "automount_service_account_token": False,
                "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": DEVICE_PLUGIN_NAME,
                        "image": DEVICE_PLUGIN_IMAGE,
                        # Keep running on a node whose driver is not ready yet instead of crash-looping.
                        "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                        "security_context": {
                            "privileged": False,
                            "allow_privilege_escalation": False,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volume_mounts": [{"name": "device-plugins", "mount_path": KUBELET_DEVICE_PLUGINS}],
                    }
                ],
                "volumes": [
                    {
                        "name": "device-plugins",
                        "host_path": {"path": KUBELET_DEVICE_PLUGINS, "type": "Directory"},
                    }
                ],
            },
        },
    }


class GpuRuntime(contract.Component):
    """The GPU runtime pieces one cluster needs from aistack, per its cloud's row.

    Children: ``-device-plugin`` (the NVIDIA device plugin DaemonSet in ``kube-system``) where the
    cloud needs it (EKS, AKS); none on GKE, which runs its own.

    Outputs: ``device_plugin`` (``kube-system/nvidia-device-plugin``, or ``None`` where the cloud
    provides it).
    """

    CLOUD = "k8s"
    CONCEPT = "GpuRuntime"
    OUTPUTS = ("device_plugin",)

    def __init__(self, name: str, *, cloud: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        device_plugin = None
        row = clouds.row(cloud)
        if row.device_plugin:
            daemonset = k8s.apps.v1.DaemonSet(
                self.child("device-plugin"),
                metadata={
                    "name": DEVICE_PLUGIN_NAME,
                    "namespace": DEVICE_PLUGIN_NAMESPACE,
                    "labels": {
                        "app.kubernetes.io/name": DEVICE_PLUGIN_NAME,
                        "app.kubernetes.io/managed-by": "aistack",
                    },
                },
                spec=device_plugin_spec(row.gpu_tolerations),
                opts=self.opts(),
            )
            device_plugin = pulumi.Output.concat(DEVICE_PLUGIN_NAMESPACE, "/", daemonset.metadata.name)
        self.finish(device_plugin=device_plugin)
