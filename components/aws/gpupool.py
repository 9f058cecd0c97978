"""EKS GPU node pools on the NVIDIA AL2023 AMI: tainted, labelled, spot or on-demand."""

from __future__ import annotations

import pulumi

from aistack.spec.clusters import GpuPoolSpec
from components import contract, gpu
from components.aws.nodegroup import is_graviton, node_group

AUTOSCALER_GPU_LABEL = "k8s.amazonaws.com/accelerator"
"""The node label by which the Cluster Autoscaler's AWS provider knows a node has GPUs (its README,
"Special note on GPU instances"): it then waits for the device plugin to advertise them instead of
adding more nodes for the same pending pods."""

NODE_TEMPLATE_RESOURCE = "k8s.io/cluster-autoscaler/node-template/resources/"
"""Prefix of node group tags that tell the autoscaler what an empty group's nodes offer (read through
``eks:DescribeNodegroup`` since Cluster Autoscaler 1.26/1.27/1.28, kubernetes/autoscaler#5596)."""


def node_template_tags(disk_gib: int) -> dict[str, str]:
    """Node group tags for scaling up from zero.

    The autoscaler builds an empty managed node group's node from the instance type (CPU, memory
    and ``nvidia.com/gpu`` from EC2's instance data) and the group's labels and taints (from
    ``eks:DescribeNodegroup``), but gives it no ephemeral storage (kubernetes/autoscaler#1869):
    serving pods request their model cache as ``ephemeral-storage`` and would never trigger a
    scale-up. The root volume is the node's ephemeral storage.
    """
    return {f"{NODE_TEMPLATE_RESOURCE}ephemeral-storage": f"{disk_gib}Gi"}


def ami_type(instance_types: list[str]) -> str:
    """The EKS-optimised NVIDIA AMI for the pool's architecture (AL2 types are deprecated).

    It ships the NVIDIA driver and container toolkit but not the device plugin, which the serving
    layer installs per cluster.
    """
    arm = {is_graviton(t) for t in instance_types}
    if len(arm) > 1:
        raise ValueError(
            f"instance types {instance_types} mix Arm and x86; a node group has one architecture"
        )
    return "AL2023_ARM_64_NVIDIA" if arm.pop() else "AL2023_x86_64_NVIDIA"


class GpuNodePool(contract.GpuNodePool):
    """One GPU pool of the spec, as one or two EKS managed node groups.

    Children: per raw pool (``nodes``, or ``ondemand`` + ``spot`` for a spot pool with an
    on-demand floor) a launch template ``-<raw>-lt`` and a node group ``-<raw>`` with the
    ``nvidia.com/gpu=present:NoSchedule`` taint, the aistack labels plus
    :data:`AUTOSCALER_GPU_LABEL`, the :func:`node_template_tags` the autoscaler needs to scale
    the group up from zero, and ``scalingConfig.desiredSize`` ignored so the cluster autoscaler
    owns the count; an autoscaled group also gets ``-<raw>-scaling``, the command that applies
    changed bounds from the live desired size (see :func:`components.aws.nodegroup.node_group`).

    Outputs: ``node_pool_names`` (raw pool suffix → node group name).
    """

    CLOUD = "aws"

    def __init__(
        self,
        name: str,
        spec: GpuPoolSpec,
        *,
        pool: str,
        cluster: contract.Cluster,
        region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        zones = spec.zones or list(cluster.node_subnet_ids)
        groups = {}
        for suffix, (capacity, low, high) in spec.split().items():
            groups[suffix] = node_group(
                self,
                suffix,
                cluster_name=cluster.cluster_name,
                node_role_arn=cluster.node_role_arn,
                subnet_ids=[cluster.node_subnet_ids[z] for z in zones],
                instance_types=spec.instance_types,
                ami_type=ami_type(spec.instance_types),
                capacity=capacity,
                min_nodes=low,
                max_nodes=high,
                region=region,
                disk_gib=spec.disk_gib,
                labels={
                    **gpu.node_labels(pool, spec.accelerator, capacity, spec.labels),
                    AUTOSCALER_GPU_LABEL: spec.accelerator,
                },
                taints=[dict(gpu.EKS_GPU_TAINT)],
                tags=node_template_tags(spec.disk_gib),
                instance_tags=getattr(cluster, "instance_tags", None),
            )
        self.finish(node_pool_names={suffix: group.node_group_name for suffix, group in groups.items()})
