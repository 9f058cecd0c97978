"""AKS GPU agent pools: User mode, NVIDIA driver installed by AKS, tainted, labelled, spot or regular."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from aistack.spec.clusters import GpuPoolSpec
from components import contract, gpu, naming
from components.azure.accelerators import carries
from components.azure.cluster import Cluster, pool_profile

# AKS adds its spot label and taint to every spot node; declared here too so the pool does not diff.
SPOT_TAINT = f"{gpu.AKS_SPOT_LABEL}=spot:{gpu.TAINT_EFFECT}"


class GpuNodePool(contract.GpuNodePool):
    """One GPU pool of the spec, as one or two AKS agent pools.

    AKS installs the NVIDIA driver on the nodes (``gpuProfile.driver: Install``); the NVIDIA
    device plugin is not part of AKS and is installed by the serving layer as a DaemonSet that
    tolerates the GPU taint. An agent pool has a single VM size, so the spec lists one per pool.

    Children: per raw pool (``nodes``, or ``ondemand`` + ``spot`` for a spot pool with an
    on-demand floor) an agent pool ``-<raw>`` in User mode with the ``nvidia.com/gpu=present:
    NoSchedule`` taint, the aistack labels, autoscaling between the raw pool's bounds with
    ``count`` ignored after create (the cluster autoscaler owns it), in the spec's zones; spot
    pools use ``Spot`` priority, ``Delete`` eviction and pay at most the on-demand price
    (``spotMaxPrice: -1``), and carry AKS's own spot taint and label.

    Outputs: ``node_pool_names`` (raw pool suffix → agent pool name), ``node_taints`` (raw pool
    suffix → every taint its nodes carry, which GPU pods must tolerate).
    """

    CLOUD = "azure"
    OUTPUTS = ("node_pool_names", "node_taints")

    def __init__(
        self,
        name: str,
        spec: GpuPoolSpec,
        *,
        pool: str,
        cluster: Cluster,
        encryption_at_host: bool,
        tags: dict[str, str],
        after: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        if len(spec.instance_types) != 1 or not carries(spec.accelerator, spec.instance_types[0]):
            raise ValueError(
                f"an AKS {spec.accelerator} pool takes one VM size carrying it, got {spec.instance_types}"
            )
        zones = spec.zones or list(cluster.node_subnet_ids)
        names, taints = {}, {}
        # AKS refuses a second agent pool operation while one runs ("OperationNotAllowed: Another
        # agentpool operation (... - Creating) is in progress", cilium/cilium#25944, Azure/AKS#2720;
        # Azure's own AVM module serialises them, terraform-azurerm-avm-res-containerservice-managedcluster
        # #160): the pools of a cluster are created one after the other (policy deploy-aks-pools-serial).
        previous = after
        for suffix, (capacity, low, high) in spec.split().items():
            spot = capacity == "spot"
            labels = gpu.node_labels(pool, spec.accelerator, capacity, spec.labels)
            taints[suffix] = [gpu.AKS_GPU_TAINT, SPOT_TAINT] if spot else [gpu.AKS_GPU_TAINT]
            agent_pool = azure_native.containerservice.AgentPool(
                self.child(suffix),
                agent_pool_name=naming.aks_agent_pool(pool, suffix),
                resource_name_=cluster.cluster_name,
                resource_group_name=cluster.resource_group_name,
                mode="User",
                **pool_profile(
                    vm_size=spec.instance_types[0],
                    subnet_id=cluster.node_subnet_ids[zones[0]],
                    zones=zones,
                    kubernetes_version=cluster.kubernetes_version,
                    min_nodes=low,
                    max_nodes=high,
                    disk_gib=spec.disk_gib,
                    encryption_at_host=encryption_at_host,
                ),
                gpu_profile={"driver": "Install"},
                node_taints=taints[suffix],
                node_labels={**labels, gpu.AKS_SPOT_LABEL: "spot"} if spot else labels,
                scale_set_priority="Spot" if spot else "Regular",
                **({"scale_set_eviction_policy": "Delete", "spot_max_price": -1} if spot else {}),
                tags=tags,
                # The autoscaler owns the node count; ignore_changes on the component would not reach here.
                opts=self.opts(ignore_changes=["count"], depends_on=[previous] if previous else []),
            )
            previous = agent_pool
            names[suffix] = agent_pool.name
        self.last_agent_pool = previous
        self.finish(node_pool_names=names, node_taints=taints)


def provisioning(
    cluster_name: str, pools: dict[str, GpuPoolSpec], *, location: str, tags: dict[str, str]
) -> contract.Provisioning:
    """The AKS cluster's node auto-provisioning objects: per ``auto`` pool an AKSNodeClass and NodePools.

    AKS runs Karpenter itself once the cluster's ``nodeProvisioningProfile.mode`` is ``Auto``
    (:class:`~components.azure.cluster.Cluster`); its CRDs come with it, so nothing is installed
    here. Zones are Karpenter's ``topology.kubernetes.io/zone`` values on AKS, ``<location>-<n>``.
    """
    from components.k8s import provisioning as prov

    result = contract.Provisioning()
    region = location.lower().replace(" ", "")
    for pool_name, spec in pools.items():
        base = prov.class_name(cluster_name, pool_name)
        docs = {
            "class": prov.aks_node_class(
                base, disk_gib=spec.disk_gib, tags={**tags, "aistack.io/pool": pool_name}
            )
        }
        docs |= prov.karpenter_pools(
            base,
            pool=pool_name,
            spec=spec,
            node_class=("karpenter.azure.com", "AKSNodeClass", base),
            gpus_per_node=prov.gpus_per_node("azure", spec.instance_types),
            zone_values=[f"{region}-{z}" for z in spec.zones] if spec.zones else None,
        )
        result.manifests[pool_name] = docs
    return result
