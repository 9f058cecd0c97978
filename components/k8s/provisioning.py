"""GPU capacity that follows demand: the provisioners' Kubernetes objects for ``provisioning: auto`` pools.

A pool with ``provisioning: auto`` has no managed group. A node provisioner launches nodes for pending
GPU pods within what the sizing plan allows:

- EKS: Karpenter (``karpenter.sh/v1`` NodePool + ``karpenter.k8s.aws/v1`` EC2NodeClass), installed by
  aistack from its pinned chart on the system node group;
- AKS: node auto-provisioning, AKS's managed Karpenter (NodePool + ``karpenter.azure.com/v1beta1``
  AKSNodeClass), switched on by the cluster's ``nodeProvisioningProfile.mode: Auto``;
- GKE: a custom ``cloud.google.com/v1`` ComputeClass with node pool auto-creation, inside the cluster's
  node auto-provisioning resource limits.

The functions here build plain manifests (camelCase, as the API server takes them) so that tests and
``aistack.crds`` check them without a Pulumi engine; :class:`GpuProvisioner` declares them.

Disruption that respects inference (Karpenter docs, "Disruption"): consolidation removes empty or
underused nodes only after ``consolidateAfter``, one GPU node at a time (a disruption budget), and
never a node running a pod annotated ``karpenter.sh/do-not-disrupt: "true"``, which the serving layer
sets on every serving pod (GKE's autoscaler and active migration honour the pod's
``cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`` the same way). Nodes expire after
:data:`EXPIRE_AFTER` so they pick up new node images; a node whose pods still refuse to leave is
drained after :data:`TERMINATION_GRACE`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import gpu
from components.contract import Component
from components.k8s.charts import Chart, release

KARPENTER_CRD_CHART = Chart(
    name="oci://public.ecr.aws/karpenter/karpenter-crd",
    version="1.14.1",
    repo="",
    source="aws/karpenter-provider-aws release v1.14.1 (2026-08-20, the CRDs vendored in "
    "schemas/crds/karpenter-provider-aws), checked 2026-12-04",
)
"""Karpenter's CRDs as their own chart: Helm installs a chart's ``crds/`` only on first install and
never upgrades them, so Karpenter's upgrade guide installs ``karpenter-crd`` separately (docs
"Upgrade Guide", "CRD upgrades")."""

KARPENTER_CHART = Chart(
    name="oci://public.ecr.aws/karpenter/karpenter",
    version="1.14.1",
    repo="",
    source="aws/karpenter-provider-aws release v1.14.1 (2026-08-20), checked 2026-12-04",
)
"""The Karpenter controller chart (same version as its CRDs)."""

KARPENTER_NAMESPACE = "kube-system"
"""Karpenter's getting-started guide installs into ``kube-system`` so the controller keeps the API
priority and fairness level of system components."""
KARPENTER_SERVICE_ACCOUNT = "karpenter"

AL2023_ALIAS = "al2023@v20260930"
"""EC2NodeClass AMI alias, pinned (Karpenter docs, "NodeClasses": pin an alias version in
production so a new AMI release does not drift every node at once). The alias resolves to the EKS
optimized AL2023 AMI of the cluster's Kubernetes version, and to its NVIDIA variant for GPU instance
types. Source: awslabs/amazon-eks-ami release v20260930, the newest dated alias found pinned in public
EKS configurations on 2026-12-04 (the AMI release feed itself is not reachable from here: check for a
newer one at the next bump, as with every pin)."""

CONSOLIDATE_AFTER = "10m"
"""How long a node must stay empty or underused before consolidation may remove it: long enough to
ride out a dip between bursts without paying a cold start (minutes of weight download) on the next."""
EXPIRE_AFTER = "720h"
"""Nodes are replaced after 30 days, so node images and kernels stay patched."""
TERMINATION_GRACE = "2h"
"""How long a draining node waits for pods that refuse to leave (``do-not-disrupt``) before they are
evicted: bounds a node replacement without cutting short any realistic request."""
GPU_DISRUPTION_BUDGET = [{"nodes": "1"}]
"""At most one GPU node of a pool is disrupted (consolidated, drifted, expired) at a time."""
FLOOR_WEIGHT = 100
"""Weight of a pool's on-demand floor NodePool: Karpenter fills the highest-weight NodePool first,
up to its limits, so the first ``on_demand_floor`` nodes are on-demand and the rest spot."""
MIN_NODES_ANNOTATION = "aistack.io/min-nodes"
MAX_NODES_ANNOTATION = "aistack.io/max-nodes"
"""The plan's node bounds for a provisioner object, for the cost report (``aistack/cost.py``). A
provisioner keeps no minimum itself: the ``min_replicas`` serving pods keep the minimum running."""
COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
"""The node label a GKE pod selects to use a custom ComputeClass (GKE docs, "About custom ComputeClasses")."""

KARPENTER_NODEPOOL = ("karpenter.sh/v1", "NodePool")
EC2_NODECLASS = ("karpenter.k8s.aws/v1", "EC2NodeClass")
AKS_NODECLASS = ("karpenter.azure.com/v1beta1", "AKSNodeClass")
COMPUTE_CLASS = ("cloud.google.com/v1", "ComputeClass")


def capacity_types(capacity: str, reserved: bool) -> list[str]:
    """Karpenter capacity types a pool may launch: reservations first, then spot, then on-demand.

    Karpenter launches the cheapest offering that fits among the allowed types and prefers
    ``reserved`` over the others (docs, "NodePools", ``karpenter.sh/capacity-type``); a spot pool also
    allows on-demand so a spot shortage falls back instead of leaving pods pending.
    """
    kinds = ["reserved"] if reserved else []
    return [*kinds, *(["spot", "on-demand"] if capacity == "spot" else ["on-demand"])]


def node_pool(
    name: str,
    *,
    pool: str,
    accelerator: str,
    node_class: tuple[str, str, str],
    instance_types: Sequence[str],
    kinds: Sequence[str],
    zone_values: Sequence[str] | None,
    arch: str | None,
    gpu_limit: int,
    extra_labels: Mapping[str, str],
    weight: int | None = None,
    consolidation: str = "WhenEmptyOrUnderutilized",
    nodes: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """A ``karpenter.sh/v1`` NodePool for one GPU pool (the same kind on EKS and AKS).

    Args:
        name: The NodePool's name.
        pool: The spec's pool name (the ``aistack.io/pool`` label the serving pods select).
        accelerator: Canonical accelerator (the ``aistack.io/accelerator`` label).
        node_class: ``(group, kind, name)`` of the node class.
        instance_types: The machine types the sizing plan allows.
        kinds: Capacity types, in :func:`capacity_types` order.
        zone_values: ``topology.kubernetes.io/zone`` values; ``None`` for every zone of the subnets.
        arch: ``amd64`` / ``arm64``, or ``None`` to leave it to the instance types.
        gpu_limit: ``nvidia.com/gpu`` the NodePool may hold at most (max nodes × GPUs per node).
        extra_labels: The spec's extra node labels.
        weight: Priority among NodePools (higher first), or none.
        consolidation: ``WhenEmptyOrUnderutilized`` or ``WhenEmpty``.
        nodes: The plan's ``(min, max)`` nodes, recorded as annotations for the cost report.
    """
    group, kind, class_name = node_class
    capacity = kinds[0] if len(kinds) == 1 else "auto"
    requirements = [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(instance_types)},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(kinds)},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
    ]
    if arch:
        requirements.append({"key": "kubernetes.io/arch", "operator": "In", "values": [arch]})
    if zone_values:
        requirements.append(
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(zone_values)}
        )
    spec: dict[str, Any] = {
        "template": {
            "metadata": {"labels": gpu.node_labels(pool, accelerator, capacity, dict(extra_labels))},
            "spec": {
                "nodeClassRef": {"group": group, "kind": kind, "name": class_name},
                "requirements": requirements,
                "taints": [{"key": gpu.TAINT_KEY, "value": gpu.TAINT_VALUE, "effect": gpu.TAINT_EFFECT}],
                "expireAfter": EXPIRE_AFTER,
                "terminationGracePeriod": TERMINATION_GRACE,
            },
        },
        "disruption": {
            "consolidationPolicy": consolidation,
            "consolidateAfter": CONSOLIDATE_AFTER,
            "budgets": [dict(b) for b in GPU_DISRUPTION_BUDGET],
        },
        "limits": {gpu.GPU_RESOURCE: str(gpu_limit)},
    }
    if weight is not None:
        spec["weight"] = weight
    return {
        "apiVersion": KARPENTER_NODEPOOL[0],
        "kind": KARPENTER_NODEPOOL[1],
        "metadata": {"name": name, **_bounds(nodes)},
        "spec": spec,
    }


def _bounds(nodes: tuple[int, int] | None) -> dict[str, Any]:
    if nodes is None:
        return {}
    return {"annotations": {MIN_NODES_ANNOTATION: str(nodes[0]), MAX_NODES_ANNOTATION: str(nodes[1])}}


def karpenter_pools(
    base: str,
    *,
    pool: str,
    spec: Any,
    node_class: tuple[str, str, str],
    gpus_per_node: int,
    zone_values: Sequence[str] | None,
    arch: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The NodePools of one ``auto`` pool: suffix → manifest.

    A spot pool with an on-demand floor gets an ``-ondemand`` NodePool of weight :data:`FLOOR_WEIGHT`
    limited to the floor's GPUs and consolidated only when empty (never replaced by spot), and a
    ``-nodes`` NodePool for the rest; otherwise one ``-nodes`` NodePool. Limits come from the plan:
    ``max_nodes × gpus_per_node`` in all.
    """
    reserved = bool(getattr(spec, "reservations", None))
    common = {
        "pool": pool,
        "accelerator": spec.accelerator,
        "node_class": node_class,
        "instance_types": spec.instance_types,
        "zone_values": zone_values,
        "arch": arch,
        "extra_labels": spec.labels,
    }
    floor = spec.on_demand_floor if spec.capacity == "spot" else 0
    pools = {}
    if floor:
        pools["ondemand"] = node_pool(
            f"{base}-ondemand",
            kinds=capacity_types("on-demand", reserved),
            gpu_limit=floor * gpus_per_node,
            weight=FLOOR_WEIGHT,
            consolidation="WhenEmpty",
            nodes=(floor, floor),
            **common,
        )
    pools["nodes"] = node_pool(
        f"{base}-nodes",
        kinds=capacity_types(spec.capacity, reserved),
        gpu_limit=max(spec.max_nodes - floor, 1) * gpus_per_node,
        nodes=(max(spec.min_nodes - floor, 0), max(spec.max_nodes - floor, 1)),
        **common,
    )
    return pools


def ec2_node_class(
    name: str,
    *,
    instance_profile: str,
    subnet_ids: Sequence[str],
    security_group_id: str,
    disk_gib: int,
    reservations: Sequence[str],
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """A ``karpenter.k8s.aws/v1`` EC2NodeClass for GPU nodes.

    Subnets and the security group are selected by id (the cluster's node subnets and its cluster
    security group), not by a discovery tag: a tag added by ``aws.ec2.Tag`` to subnets that the
    network component also tags would be removed again by the next update of those subnets (the AWS
    provider owns a resource's whole tag set). The instance profile is created by aistack
    (``instanceProfile``), so the controller needs no ``iam:CreateInstanceProfile``. Root volume:
    encrypted gp3; IMDSv2 only with one hop, so pods cannot read the node role's credentials.
    """
    spec: dict[str, Any] = {
        "amiSelectorTerms": [{"alias": AL2023_ALIAS}],
        "instanceProfile": instance_profile,
        "subnetSelectorTerms": [{"id": s} for s in subnet_ids],
        "securityGroupSelectorTerms": [{"id": security_group_id}],
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "volumeSize": f"{disk_gib}Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
        "tags": dict(tags),
    }
    if reservations:
        spec["capacityReservationSelectorTerms"] = [{"id": r} for r in reservations]
    return {
        "apiVersion": EC2_NODECLASS[0],
        "kind": EC2_NODECLASS[1],
        "metadata": {"name": name},
        "spec": spec,
    }


def aks_node_class(name: str, *, disk_gib: int, tags: Mapping[str, str]) -> dict[str, Any]:
    """A ``karpenter.azure.com/v1beta1`` AKSNodeClass: Ubuntu 22.04 (AKS's GPU node image family, with
    the NVIDIA driver installed by AKS), the pool's OS disk size, the stack's tags on the VMs."""
    spec = {"imageFamily": "Ubuntu2204", "osDiskSizeGB": disk_gib, "tags": dict(tags)}
    return {
        "apiVersion": AKS_NODECLASS[0],
        "kind": AKS_NODECLASS[1],
        "metadata": {"name": name},
        "spec": spec,
    }


def compute_class(
    name: str,
    *,
    pool: str,
    spec: Any,
    machine_type: str,
    accelerator_type: str,
    gpus_per_node: int,
    driver: str,
    zones: Sequence[str],
    service_account: str,
    floor_node_pool: str | None,
) -> dict[str, Any]:
    """A ``cloud.google.com/v1`` ComputeClass for one GKE ``auto`` pool.

    Priorities, first that has capacity wins (GKE docs, "About custom ComputeClasses"): the floor's
    managed on-demand node pool when the pool has one, then each reservation, then spot (spot pools),
    then on-demand. ``activeMigration.optimizeRulePriority`` moves workloads back to a higher
    priority when it has capacity again; it drains like the cluster autoscaler, so a serving pod
    annotated ``safe-to-evict: "false"`` keeps its node. ``nodePoolAutoCreation`` lets GKE create the
    node pools within the cluster's node auto-provisioning limits; ``whenUnsatisfiable:
    DoNotScaleUp`` leaves a pod pending rather than putting it on an unplanned machine type.
    """
    gpu_spec = {"type": accelerator_type, "count": gpus_per_node, "driverVersion": driver.lower()}
    priorities: list[dict[str, Any]] = []
    if floor_node_pool:
        priorities.append({"nodepools": [floor_node_pool]})
    for reservation in getattr(spec, "reservations", None) or []:
        priorities.append(
            {
                "machineType": machine_type,
                "gpu": dict(gpu_spec),
                "reservations": {"affinity": "Specific", "specific": [{"name": reservation}]},
            }
        )
    if spec.capacity == "spot":
        priorities.append({"machineType": machine_type, "gpu": dict(gpu_spec), "spot": True})
    priorities.append({"machineType": machine_type, "gpu": dict(gpu_spec), "spot": False})
    capacity = "auto" if len(priorities) > 1 else spec.capacity
    body = {
        "description": f"aistack GPU pool {pool} ({spec.accelerator})",
        "priorities": priorities,
        "priorityDefaults": {"location": {"zones": list(zones)}},
        "activeMigration": {"optimizeRulePriority": True},
        "nodePoolAutoCreation": {"enabled": True},
        "whenUnsatisfiable": "DoNotScaleUp",
        "autoscalingPolicy": {"consolidationDelayMinutes": 10},
        "nodePoolConfig": {
            "serviceAccount": service_account,
            # No taint here: GKE taints the GPU nodes it creates nvidia.com/gpu=present:NoSchedule
            # itself, and every node of a custom class cloud.google.com/compute-class=<name>:NoSchedule
            # (GKE docs, "About custom ComputeClasses"; "Run GPUs in GKE Standard node pools").
            "nodeLabels": gpu.node_labels(pool, spec.accelerator, capacity, dict(spec.labels)),
        },
    }
    floor = spec.on_demand_floor if floor_node_pool else 0
    nodes = (max(spec.min_nodes - floor, 0), max(spec.max_nodes - floor, 1))
    return {
        "apiVersion": COMPUTE_CLASS[0],
        "kind": COMPUTE_CLASS[1],
        "metadata": {"name": name, **_bounds(nodes)},
        "spec": body,
    }


def gpus_per_node(cloud: str, instance_types: list[str]) -> int:
    """GPUs on the largest node a pool may get (its NodePool's GPU limit is counted in these)."""
    from sizing.catalog import expected_gpus

    counts = [expected_gpus(cloud, t) for t in instance_types]
    if any(c is None for c in counts):
        unknown = [t for t, c in zip(instance_types, counts, strict=True) if c is None]
        raise ValueError(f"no known GPU count for {', '.join(unknown)}")
    return max(counts)


def class_name(cluster: str, pool: str) -> str:
    """The provisioner objects' base name for a pool (DNS-1123, stable)."""
    return f"aistack-{pool}"


class GpuProvisioner(Component):
    """The provisioner objects of one cluster's ``auto`` pools (and, on EKS, Karpenter itself).

    Children: on EKS ``-karpenter-crd`` and ``-karpenter`` (Helm Releases, the controller pinned to
    the system node group), then per pool ``-<pool>-class`` (EC2NodeClass / AKSNodeClass) and
    ``-<pool>-<suffix>`` NodePools, or on GKE ``-<pool>-class`` (ComputeClass). Every custom resource
    depends on the release that installs its CRD (on AKS and GKE the CRDs are the cloud's own add-on,
    installed with the cluster).

    Outputs: ``objects`` (pool → names of its provisioner objects).
    """

    CLOUD = "k8s"
    CONCEPT = "GpuProvisioner"
    OUTPUTS = ("objects",)

    def __init__(
        self,
        name: str,
        *,
        manifests: Mapping[str, Mapping[str, pulumi.Input[dict]]],
        karpenter: Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args:
        manifests: pool → suffix → manifest (values may be Outputs).
        karpenter: the chart values when aistack installs Karpenter (EKS), else ``None``.
        """
        super().__init__(name, opts)
        after: list[pulumi.Resource] = []
        if karpenter is not None:
            crds = release(
                self.child("karpenter-crd"),
                KARPENTER_CRD_CHART,
                namespace=KARPENTER_NAMESPACE,
                values={},
                opts=self.opts(),
            )
            after = [
                release(
                    self.child("karpenter"),
                    KARPENTER_CHART,
                    namespace=KARPENTER_NAMESPACE,
                    values=karpenter,
                    opts=self.opts(depends_on=[crds]),
                )
            ]
        objects: dict[str, list[str]] = {}
        self.resources: dict[str, list[pulumi.Resource]] = {}
        for pool, docs in manifests.items():
            made = []
            for suffix, doc in docs.items():
                made.append(
                    k8s.apiextensions.CustomResource(
                        self.child(f"{pool}-{suffix}"),
                        api_version=doc["apiVersion"],
                        kind=doc["kind"],
                        metadata=doc["metadata"],
                        spec=doc["spec"],
                        opts=self.opts(depends_on=after),
                    )
                )
            self.resources[pool] = made
            objects[pool] = [doc["metadata"]["name"] for doc in docs.values()]
        self.finish(objects=objects)
