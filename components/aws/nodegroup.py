"""EKS managed node groups behind a launch template (encrypted gp3 root volume, IMDSv2 only)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_command

from components.contract import Component

CAPACITY = {"on-demand": "ON_DEMAND", "spot": "SPOT"}

SCALING_IGNORED = ["scalingConfig.desiredSize", "scalingConfig.minSize", "scalingConfig.maxSize"]
"""What an autoscaled node group ignores after create: the autoscaler owns the desired size, and the
bounds are applied by the group's scaling command (:func:`scaling_command`), not by the provider."""


def scaling_command(min_nodes: int, max_nodes: int) -> str:
    """The shell command that applies new bounds to a live node group, keeping its node count.

    The provider cannot raise an autoscaled group's minimum above the live desired size: the desired
    size is ignored, so it sends the stale one with the new minimum and EKS refuses ("Minimum
    capacity N can't be greater than desired size M", terraform-aws-eks #3306, #748, #2894). The
    command reads the live desired size, clamps it into ``[min_nodes, max_nodes]`` and sends all
    three in one ``update-nodegroup-config`` (EKS API ``UpdateNodegroupConfig``), then waits until
    the group is ``ACTIVE`` again. It sends nothing when the live sizes already match (the run right
    after create), so an unchanged group starts no update. EKS itself never keeps the live desired
    size on an update (aws/containers-roadmap#1259), hence the read first. ``CLUSTER``, ``NODEGROUP`` and
    ``REGION`` come from the environment; the AWS CLI uses the runner's credentials, the ones the
    AWS provider uses (``docs/first-deploy.md``, "Changing pool bounds").
    """
    if not 0 <= min_nodes <= max_nodes:
        raise ValueError(f"bounds must satisfy 0 <= min <= max, got min={min_nodes}, max={max_nodes}")
    where = '--cluster-name "$CLUSTER" --nodegroup-name "$NODEGROUP" --region "$REGION"'
    return "\n".join(
        [
            "set -eu",
            f"MIN={min_nodes} MAX={max_nodes}",
            f"LIVE=$(aws eks describe-nodegroup {where} --output text"
            " --query '[nodegroup.scalingConfig.minSize,nodegroup.scalingConfig.maxSize,"
            "nodegroup.scalingConfig.desiredSize]')",
            "set -- $LIVE; LIVE_MIN=$1 LIVE_MAX=$2 LIVE=$3",
            'DESIRED=$LIVE; [ "$DESIRED" -lt "$MIN" ] && DESIRED=$MIN; [ "$DESIRED" -gt "$MAX" ] && DESIRED=$MAX',
            '[ "$LIVE_MIN" -eq "$MIN" ] && [ "$LIVE_MAX" -eq "$MAX" ] && [ "$LIVE" -eq "$DESIRED" ] && exit 0',
            f"aws eks update-nodegroup-config {where}"
            ' --scaling-config "minSize=$MIN,maxSize=$MAX,desiredSize=$DESIRED"',
            f"aws eks wait nodegroup-active {where}",
        ]
    )


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
    region: str,
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
    can't be greater than desired size M", terraform-aws-eks #3306). An autoscaled pool ignores its
    bounds too after create, and a ``local.Command`` child ``-<suffix>-scaling`` (after the group,
    rerun only when the bounds change) applies them from the live desired size
    (:func:`scaling_command`); ``owner``'s options must carry a ``pulumi_command`` provider.
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
    group = aws.eks.NodeGroup(
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
            ignore_changes=[] if min_nodes == max_nodes else list(SCALING_IGNORED),
            depends_on=list(depends_on),
        ),
    )
    if min_nodes != max_nodes:
        script = scaling_command(min_nodes, max_nodes)
        pulumi_command.local.Command(
            owner.child(f"{suffix}-scaling"),
            create=script,
            update=script,
            triggers=[min_nodes, max_nodes],
            environment={"CLUSTER": group.cluster_name, "NODEGROUP": group.node_group_name, "REGION": region},
            opts=owner.opts(depends_on=[group]),
        )
    return group
