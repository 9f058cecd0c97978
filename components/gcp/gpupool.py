"""GKE GPU node pools: tainted, labelled, spot or on-demand, with the NVIDIA driver pinned explicitly."""

from __future__ import annotations

import pulumi

from aistack.spec.clusters import GpuPoolSpec
from components import contract, gpu
from components.gcp.accelerators import guest_accelerator
from components.gcp.cluster import Cluster
from components.gcp.nodepool import node_pool
from components.k8s.provisioning import COMPUTE_CLASS_LABEL


class GpuNodePool(contract.GpuNodePool):
    """One GPU pool of the spec, as one or two GKE node pools.

    Children: per raw pool (``nodes``, or ``ondemand`` + ``spot`` for a spot pool with an
    on-demand floor) a node pool ``-<raw>`` on the pool's zones only, with the accelerator type
    and count of its machine type, GKE-managed driver installation at an explicit version
    (``DEFAULT`` unless overridden; never left unset), the ``nvidia.com/gpu=present:NoSchedule``
    taint, the aistack labels, auto-repair, and ``nodeCount`` ignored so the autoscaler owns it.

    Outputs: ``node_pool_names`` (raw pool suffix → node pool name).
    """

    CLOUD = "gcp"

    def __init__(
        self,
        name: str,
        spec: GpuPoolSpec,
        *,
        pool: str,
        cluster: Cluster,
        region: str,
        compute_class: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args:
        compute_class: For a ``provisioning: auto`` pool, its ComputeClass: only the on-demand floor
            is a managed node pool, labelled and tainted for that class (GKE docs, "About custom
            ComputeClasses": manually created node pools join a class through its label and taint).
        """
        super().__init__(name, opts)
        machine_type = spec.instance_types[0]  # one per pool on GKE (registry: several_instance_types)
        overrides = spec.overrides
        accelerator_type, count = guest_accelerator(
            spec.accelerator, machine_type, overrides.gpus_per_node if overrides else None
        )
        driver = overrides.gpu_driver_version if overrides else "DEFAULT"
        pools = {}
        raw = spec.split()
        extra_labels: dict[str, str] = {}
        extra_taints: list[dict[str, str]] = []
        if compute_class is not None:
            raw = {"ondemand": raw["ondemand"]}
            extra_labels = {COMPUTE_CLASS_LABEL: compute_class}
            extra_taints = [{"key": COMPUTE_CLASS_LABEL, "value": compute_class, "effect": "NO_SCHEDULE"}]
        for suffix, (capacity, low, high) in raw.items():
            pools[suffix] = node_pool(
                self,
                suffix,
                cluster=cluster.cluster_id,
                location=region,
                node_locations=list(spec.zones or cluster.node_locations),
                machine_type=machine_type,
                service_account=cluster.node_service_account,
                capacity=capacity,
                min_nodes=low,
                max_nodes=high,
                disk_gib=spec.disk_gib,
                labels={**gpu.node_labels(pool, spec.accelerator, capacity, spec.labels), **extra_labels},
                taints=[dict(gpu.GKE_GPU_TAINT), *extra_taints],
                guest_accelerators=[
                    {
                        "type": accelerator_type,
                        "count": count,
                        "gpu_driver_installation_config": {"gpu_driver_version": driver},
                    }
                ],
            )
        self.finish(node_pool_names={suffix: p.name for suffix, p in pools.items()})


def provisioning(
    cluster_name: str,
    pools: dict[str, GpuPoolSpec],
    *,
    cluster: Cluster,
    floors: dict[str, GpuNodePool],
) -> contract.Provisioning:
    """The GKE cluster's ComputeClasses: one per ``auto`` pool, selected by the pool's pods.

    GKE runs the provisioner itself (node pool auto-creation, within the cluster's node
    auto-provisioning limits set on :class:`~components.gcp.cluster.Cluster`); the ComputeClass CRD
    is part of every GKE cluster. Pods use a class by selecting ``cloud.google.com/compute-class``;
    the nodes GKE creates for it carry that label and a ``NoSchedule`` taint of the same key, which
    the pods tolerate (so does the floor's managed pool, see :class:`GpuNodePool`).
    """
    from components.k8s import provisioning as prov

    result = contract.Provisioning()
    for pool_name, spec in pools.items():
        base = prov.class_name(cluster_name, pool_name)
        machine_type = spec.instance_types[0]
        overrides = spec.overrides
        accelerator_type, count = guest_accelerator(
            spec.accelerator, machine_type, overrides.gpus_per_node if overrides else None
        )
        floor = floors.get(pool_name)
        result.manifests[pool_name] = {
            "class": prov.compute_class(
                base,
                pool=pool_name,
                spec=spec,
                machine_type=machine_type,
                accelerator_type=accelerator_type,
                gpus_per_node=count,
                driver=overrides.gpu_driver_version if overrides else "DEFAULT",
                zones=list(spec.zones or cluster.node_locations),
                service_account=cluster.node_service_account,
                floor_node_pool=floor.node_pool_names["ondemand"] if floor else None,
            )
        }
        result.selectors[pool_name] = {prov.COMPUTE_CLASS_LABEL: base}
        result.tolerations[pool_name] = [
            {"key": prov.COMPUTE_CLASS_LABEL, "operator": "Equal", "value": base, "effect": "NoSchedule"}
        ]
    return result
