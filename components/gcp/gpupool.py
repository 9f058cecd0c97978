"""GKE GPU node pools: tainted, labelled, spot or on-demand, with the NVIDIA driver pinned explicitly."""

from __future__ import annotations

import pulumi

from aistack.spec.clusters import GpuPoolSpec
from components import contract, gpu
from components.gcp.accelerators import guest_accelerator
from components.gcp.cluster import Cluster
from components.gcp.nodepool import node_pool


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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        machine_type = spec.instance_types[0]  # one per pool on GKE (registry: several_instance_types)
        overrides = spec.overrides
        accelerator_type, count = guest_accelerator(
            spec.accelerator, machine_type, overrides.gpus_per_node if overrides else None
        )
        driver = overrides.gpu_driver_version if overrides else "DEFAULT"
        pools = {}
        for suffix, (capacity, low, high) in spec.split().items():
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
                labels=gpu.node_labels(pool, spec.accelerator, capacity, spec.labels),
                taints=[dict(gpu.GKE_GPU_TAINT)],
                guest_accelerators=[
                    {
                        "type": accelerator_type,
                        "count": count,
                        "gpu_driver_installation_config": {"gpu_driver_version": driver},
                    }
                ],
            )
        self.finish(node_pool_names={suffix: p.name for suffix, p in pools.items()})
