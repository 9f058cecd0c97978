"""EKS managed node groups behind a launch template (encrypted gp3 root volume, IMDSv2 only)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.contract import Component

CAPACITY = {"on-demand": "ON_DEMAND", "spot": "SPOT"}


def is_graviton(instance_type: str) -> bool:
    """Whether an instance type is Arm (Graviton): a ``g`` among the family's suffix letters (g5g, m7g)."""
    match = re.match(r"^[a-z]+\d+([a-z-]*)\.", instance_type)
    return bool(match and "g" in match.group(1))


def node_group(
    owner: Component,
    suffix: str,
    *,
    cluster_name: pulumi.Input[str],
    node_role_arn: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    instance_types: list[str],
    ami_type: str,
    capacity: str,
    min_nodes: int,
    max_nodes: int,
    disk_gib: int,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    tags: dict[str, str] | None = None,
    instance_tags: dict[str, str] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> aws.eks.NodeGroup:
    """One launch template and one managed node group, children of ``owner``.

    The autoscaler owns the node count of a pool that can scale: ``scalingConfig.desiredSize`` is
    ignored after create, on the node group itself (``ignore_changes`` on a component does not reach
    its children). A fixed-size pool (``min_nodes == max_nodes``, e.g. an on-demand floor) has no
    count to own, so its desired size follows the bounds: ignoring it there made raising the floor
    fail, since the provider sent the stale desired size with the new minimum ("Minimum capacity N
    can't be greater than desired size M", terraform-aws-eks #3306).
    """
    template = aws.ec2.LaunchTemplate(
        owner.child(f"{suffix}-lt"),
        block_device_mappings=[
            {
                "device_name": "/dev/xvda",
                "ebs": {
                    "volume_size": disk_gib,
                    "volume_type": "gp3",
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }
        ],
        # IMDSv2 only, one hop: pods cannot reach node credentials; they use EKS Pod Identity.
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
        },
        # EKS does not pass node group tags (nor the provider's default tags) on to the instances it
        # launches: the nodes, their volumes and interfaces, where the GPU cost is, carry the stack's
        # tags only through the launch template's tag specifications.
        **(
            {
                "tag_specifications": [
                    {"resource_type": kind, "tags": dict(instance_tags)}
                    for kind in ("instance", "volume", "network-interface")
                ]
            }
            if instance_tags
            else {}
        ),
        update_default_version=True,
        opts=owner.opts(),
    )
    return aws.eks.NodeGroup(
        owner.child(suffix),
        cluster_name=cluster_name,
        node_role_arn=node_role_arn,
        subnet_ids=list(subnet_ids),
        instance_types=instance_types,
        ami_type=ami_type,
        capacity_type=CAPACITY[capacity],
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        scaling_config={"min_size": min_nodes, "max_size": max_nodes, "desired_size": min_nodes},
        update_config={"max_unavailable": 1},
        node_repair_config={"enabled": True},
        labels=labels,
        taints=taints,
        **({"tags": tags} if tags else {}),
        opts=owner.opts(
            ignore_changes=[] if min_nodes == max_nodes else ["scalingConfig.desiredSize"],
            depends_on=list(depends_on),
        ),
    )
