"""The Kubernetes Cluster Autoscaler, where the managed service does not scale node pools itself (EKS).

Plain Kubernetes objects after the project's own AWS example manifest and Helm chart, so the
offline preview, the policy rules and ``--manifests`` see every field. Choices:

- ``--expander=least-waste``: an on-demand floor is a fixed-size group (``GpuPoolSpec.split``:
  min = max = floor), so it never competes with its spot group, and every GPU pod selects its
  pool, so a pending GPU pod has one growable group. A ``priority`` expander would have nothing
  to order and needs a ConfigMap of regular expressions over generated Auto Scaling group names;
  where several groups do fit (several pools without a pool selector, system groups), least-waste
  picks the one leaving the least CPU and memory idle.
- ``--balance-similar-node-groups``: groups that differ only by zone (a pool split per zone)
  grow evenly.
- ``--skip-nodes-with-local-storage=false``: serving pods keep their model cache and ``/dev/shm``
  in ``emptyDir`` volumes; with the default, no GPU node would ever be scaled down. The cache is
  refilled from the store on the next node.
- ``--skip-nodes-with-system-pods=false``: GPU nodes carry only DaemonSet pods from
  ``kube-system`` (which never block scale-down), and the system pool can shrink to its minimum
  around CoreDNS (which has its own disruption budget). The autoscaler itself is marked
  ``safe-to-evict: false`` so it is never drained from under its own scale-down.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import contract
from components.k8s import clouds
from components.k8s.pod import NOBODY, SYSTEM_NODES, container_security, pod_security

IMAGES = {
    "1.31": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.31.5",
    "1.32": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.32.7",
    "1.33": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.5",
    "1.34": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.4",
    "1.35": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.1",
    # EKS 1.36 is GA since 2026-06-02; CA 1.36.1 per the kubernetes/autoscaler release notes of
    # cluster-autoscaler-1.36.1 (images on registry.k8s.io), checked 2026-12-04.
    "1.36": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.1",
}
"""Kubernetes minor → the autoscaler release for it (it simulates that minor's scheduler, so the two
must match). Patch releases as kOps pins them (kubernetes/kops ``pkg/model/components/clusterautoscaler.go``)."""

NAME = "cluster-autoscaler"
NAMESPACE, SERVICE_ACCOUNT = contract.ADDON_SERVICE_ACCOUNTS[NAME]
METRICS_PORT = 8085
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/managed-by": "aistack"}

# The Helm chart's ClusterRole (kubernetes/autoscaler charts/cluster-autoscaler), without the removed
# `extensions` group, plus `volumeattachments`, which the autoscaler watches since 1.30
# (kubernetes/autoscaler#7663, #7904).
CLUSTER_RULES = [
    {"api_groups": [""], "resources": ["events", "endpoints"], "verbs": ["create", "patch"]},
    {"api_groups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"api_groups": [""], "resources": ["pods/status"], "verbs": ["update"]},
    {"api_groups": [""], "resources": ["endpoints"], "resource_names": [NAME], "verbs": ["get", "update"]},
    {"api_groups": [""], "resources": ["nodes"], "verbs": ["watch", "list", "get", "update"]},
    {
        "api_groups": [""],
        "resources": [
            "namespaces",
            "pods",
            "services",
            "replicationcontrollers",
            "persistentvolumeclaims",
            "persistentvolumes",
        ],
        "verbs": ["watch", "list", "get"],
    },
    {"api_groups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["watch", "list", "get"]},
    {"api_groups": ["batch"], "resources": ["jobs"], "verbs": ["patch"]},
    {"api_groups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["watch", "list"]},
    {
        "api_groups": ["apps"],
        "resources": ["daemonsets", "replicasets", "statefulsets"],
        "verbs": ["watch", "list", "get"],
    },
    {
        "api_groups": ["storage.k8s.io"],
        "resources": [
            "storageclasses",
            "csinodes",
            "csidrivers",
            "csistoragecapacities",
            "volumeattachments",
        ],
        "verbs": ["watch", "list", "get"],
    },
    {"api_groups": [""], "resources": ["configmaps"], "verbs": ["list", "watch"]},
    {"api_groups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {
        "api_groups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "resource_names": [NAME],
        "verbs": ["get", "update"],
    },
]
# Its own status ConfigMap in kube-system (the project's example manifest).
NAMESPACE_RULES = [
    {"api_groups": [""], "resources": ["configmaps"], "verbs": ["create", "list", "watch"]},
    {
        "api_groups": [""],
        "resources": ["configmaps"],
        "resource_names": ["cluster-autoscaler-status"],
        "verbs": ["delete", "get", "update", "watch"],
    },
]


def image(kubernetes_version: str) -> str:
    """The pinned autoscaler image for a cluster's Kubernetes minor version."""
    if kubernetes_version not in IMAGES:
        raise ValueError(
            f"no Cluster Autoscaler release is pinned for Kubernetes {kubernetes_version}; "
            f"pinned: {', '.join(IMAGES)}"
        )
    return IMAGES[kubernetes_version]


def command(settings: clouds.ClusterAutoscalerSettings, cluster_name: str) -> list[str]:
    """The autoscaler's command line for one cluster (see the module docstring for each choice)."""
    return [
        "./cluster-autoscaler",
        f"--cloud-provider={settings.cloud_provider}",
        f"--node-group-auto-discovery={settings.discovery.format(cluster=cluster_name)}",
        "--expander=least-waste",
        "--balance-similar-node-groups=true",
        "--skip-nodes-with-local-storage=false",
        "--skip-nodes-with-system-pods=false",
    ]


class ClusterAutoscaler(contract.Component):
    """The Kubernetes Cluster Autoscaler for one cluster, in ``kube-system`` on the system pool.

    Children: ``-service-account`` (``kube-system/cluster-autoscaler``, which the cloud's
    AddonIdentity names), ``-cluster-role`` and ``-cluster-role-binding`` (:data:`CLUSTER_RULES`),
    ``-role`` and ``-role-binding`` (its status ConfigMap), ``-deployment`` (one replica of the
    image pinned for the cluster's Kubernetes minor, :func:`command`, non-root with a read-only
    root filesystem, on the system pool, tolerating nothing).

    Outputs: ``deployment`` (``kube-system/cluster-autoscaler``), ``service_account``.
    """

    CLOUD = "k8s"
    CONCEPT = "ClusterAutoscaler"
    OUTPUTS = ("deployment", "service_account")

    def __init__(
        self,
        name: str,
        *,
        cloud: str,
        cluster_name: pulumi.Input[str],
        kubernetes_version: str,
        identity: contract.AddonIdentity,
        region: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        row = clouds.row(cloud)
        if row.cluster_autoscaler is None:
            raise ValueError(f"{cloud} scales its node pools itself; it needs no Cluster Autoscaler")
        metadata = {"name": NAME, "namespace": NAMESPACE, "labels": LABELS}
        account = k8s.core.v1.ServiceAccount(
            self.child("service-account"),
            metadata=metadata,
            # The AddonIdentity names this namespace and service account itself (an EKS Pod Identity
            # association), which acts at pod creation: it must exist before the pod.
            opts=self.opts(depends_on=[identity]),
        )
        subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]
        cluster_role = k8s.rbac.v1.ClusterRole(
            self.child("cluster-role"),
            metadata={"name": NAME, "labels": LABELS},
            rules=CLUSTER_RULES,
            opts=self.opts(),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            self.child("cluster-role-binding"),
            metadata={"name": NAME, "labels": LABELS},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role.metadata.name,
            },
            subjects=subject,
            opts=self.opts(),
        )
        role = k8s.rbac.v1.Role(
            self.child("role"), metadata=metadata, rules=NAMESPACE_RULES, opts=self.opts()
        )
        k8s.rbac.v1.RoleBinding(
            self.child("role-binding"),
            metadata=metadata,
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=subject,
            opts=self.opts(),
        )
        env = [{"name": row.region_env, "value": region}] if row.region_env and region else []
        deployment = k8s.apps.v1.Deployment(
            self.child("deployment"),
            metadata=metadata,
            spec={
                # One active autoscaler per cluster; a second replica would only wait on the lease.
                "replicas": 1,
                "selector": {"match_labels": {"app.kubernetes.io/name": NAME}},
                "template": {
                    "metadata": {
                        "labels": LABELS,
                        "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
                    },
                    "spec": {
                        "priority_class_name": "system-cluster-critical",
                        "service_account_name": account.metadata.name,
                        "node_selector": SYSTEM_NODES,
                        "security_context": pod_security(NOBODY),
                        "containers": [
                            {
                                "name": NAME,
                                "image": image(kubernetes_version),
                                "command": pulumi.Output.from_input(cluster_name).apply(
                                    lambda cname: command(row.cluster_autoscaler, cname)
                                ),
                                "env": env,
                                "ports": [
                                    {"name": "metrics", "container_port": METRICS_PORT, "protocol": "TCP"}
                                ],
                                "liveness_probe": {
                                    "http_get": {"path": "/health-check", "port": "metrics"},
                                    "period_seconds": 10,
                                },
                                # The project's example manifest sizes it at 100m and 600Mi.
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "600Mi"},
                                    "limits": {"cpu": "100m", "memory": "600Mi"},
                                },
                                "security_context": container_security(NOBODY),
                            }
                        ],
                    },
                },
            },
            opts=self.opts(),
        )
        self.finish(
            deployment=pulumi.Output.concat(NAMESPACE, "/", deployment.metadata.name),
            service_account=account.metadata.name,
        )
