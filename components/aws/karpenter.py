"""What Karpenter needs on the AWS side for an EKS cluster's ``provisioning: auto`` GPU pools.

Karpenter launches EC2 instances itself (``CreateFleet``), so it needs: an IAM role for the controller
(EKS Pod Identity, ``kube-system/karpenter``), a node role its instances run as, an instance profile
of that role, an EKS access entry of type ``EC2_LINUX`` so those instances may join the cluster, and
an SQS queue fed by EventBridge with spot interruption warnings, rebalance recommendations, instance
state changes, scheduled health events and capacity reservation interruptions, so it drains a node
before EC2 takes it away. This mirrors Karpenter's getting-started CloudFormation template
(aws/karpenter-provider-aws ``website/content/en/docs/getting-started/getting-started-with-karpenter/
cloudformation.yaml``) and the terraform-aws-eks ``karpenter`` module.

First-deploy breakers avoided here:

- The node role is Karpenter's own, not the managed node groups' role: EKS creates an ``EC2_LINUX``
  access entry for a managed node group's role by itself, so a second entry for that role fails
  with ``ResourceInUseException``; nodes of a role without an entry never join (Karpenter
  troubleshooting, "Node not joining: missing access entry").
- The instance profile is created here and named in the EC2NodeClass (``instanceProfile``), so the
  controller needs no ``iam:CreateInstanceProfile`` and the profile exists before the first launch.
- The queue policy lets ``events.amazonaws.com`` (and ``sqs.amazonaws.com``) send; without it the
  rules deliver nothing and interruptions go unseen. The queue uses SQS-managed encryption: EventBridge
  cannot write to a queue encrypted with a customer key unless that key's policy admits it.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components import contract
from components.aws.cluster import Cluster, node_role_with_policies
from components.aws.identity import associate, pod_identity_role

INTERRUPTION_EVENTS = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "reservation": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}
"""EventBridge rules → event pattern: what Karpenter's interruption controller reads from its queue
(getting-started template; the capacity reservation warning since Karpenter 1.3, used by capacity blocks)."""

READ_ACTIONS = (
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeCapacityReservations",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeInstanceTypeOfferings",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribePlacementGroups",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSpotPriceHistory",
    "ec2:DescribeSubnets",
)
"""Describe calls take no resource-level permissions; limited to the cluster's region by condition."""


def controller_policy(
    cluster_arn: str, cluster_name: str, queue_arn: str, node_role_arn: str
) -> dict[str, Any]:
    """The Karpenter controller's permissions for one cluster (Karpenter v1 controller policy, scoped).

    Launches and tags only resources that carry this cluster's ``kubernetes.io/cluster/<name>=owned``
    request tag and a ``karpenter.sh/nodepool`` tag; terminates and deletes only what carries the
    cluster tag; passes only the node role, only to EC2.
    """
    _, partition, _, region, account, _ = cluster_arn.split(":", 5)
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = f"kubernetes.io/cluster/{cluster_name}"
    launched = [
        f"{ec2}:*:{kind}/*"
        for kind in (
            "fleet",
            "instance",
            "volume",
            "network-interface",
            "launch-template",
            "spot-instances-request",
        )
    ]
    tagged_request = {
        "StringEquals": {
            f"aws:RequestTag/{owned}": "owned",
            "aws:RequestTag/eks:eks-cluster-name": cluster_name,
        },
        "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowScopedEC2InstanceAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": [
                    f"{ec2}::image/*",
                    f"{ec2}::snapshot/*",
                    f"{ec2}:*:security-group/*",
                    f"{ec2}:*:subnet/*",
                    f"{ec2}:*:capacity-reservation/*",
                ],
            },
            {
                "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
                "Resource": f"{ec2}:*:launch-template/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowScopedEC2InstanceActionsWithTags",
                "Effect": "Allow",
                "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
                "Resource": launched,
                "Condition": tagged_request,
            },
            {
                "Sid": "AllowScopedResourceCreationTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": launched,
                "Condition": {
                    **tagged_request,
                    "StringEquals": {
                        **tagged_request["StringEquals"],
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                    },
                },
            },
            {
                "Sid": "AllowScopedResourceTagging",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": f"{ec2}:*:instance/*",
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                    "ForAllValues:StringEquals": {
                        "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                    },
                },
            },
            {
                "Sid": "AllowScopedDeletion",
                "Effect": "Allow",
                "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
                "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
                "Condition": {
                    "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                    "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                },
            },
            {
                "Sid": "AllowRegionalReadActions",
                "Effect": "Allow",
                "Action": list(READ_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            },
            {
                "Sid": "AllowSSMReadActions",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            },
            {
                "Sid": "AllowPricingReadActions",
                "Effect": "Allow",
                "Action": "pricing:GetProducts",
                "Resource": "*",
            },
            {
                "Sid": "AllowInterruptionQueueActions",
                "Effect": "Allow",
                "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
                "Resource": queue_arn,
            },
            {
                "Sid": "AllowPassingInstanceRole",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": node_role_arn,
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            {
                "Sid": "AllowInstanceProfileReadActions",
                "Effect": "Allow",
                "Action": "iam:GetInstanceProfile",
                "Resource": f"arn:{partition}:iam::{account}:instance-profile/*",
            },
            {
                "Sid": "AllowAPIServerEndpointDiscovery",
                "Effect": "Allow",
                "Action": "eks:DescribeCluster",
                "Resource": cluster_arn,
            },
        ],
    }


def queue_policy(queue_arn: str) -> dict[str, Any]:
    """Who may write to the interruption queue: EventBridge (and SQS itself), over TLS only."""
    return {
        "Version": "2012-10-17",
        "Id": "EC2InterruptionPolicy",
        "Statement": [
            {
                "Sid": "EventBridgeWrite",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


class KarpenterIdentity(contract.AddonIdentity):
    """Karpenter's AWS side for one EKS cluster.

    Children: ``-role`` (trusted by ``pods.eks.amazonaws.com`` only for this cluster and
    ``kube-system/karpenter``) with ``-controller`` (inline :func:`controller_policy`) and
    ``-association``; ``-node-role`` (EC2 trust) with one attachment per managed node policy of the
    cluster's nodes, ``-node-profile`` (its instance profile), ``-node-access`` (EKS access entry,
    type ``EC2_LINUX``); ``-queue`` (SQS, SQS-managed encryption, 5-minute retention as in Karpenter's
    template: an interruption warning is stale after two minutes) with ``-queue-policy``; per event
    in :data:`INTERRUPTION_EVENTS` a rule ``-<event>`` and its target ``-<event>-target``.

    Outputs: ``identity`` (controller role ARN), ``namespace``, ``service_account``. Attributes for
    the serving layer: ``queue_name``, ``instance_profile``, ``cluster_endpoint``.
    """

    CLOUD = "aws"

    def __init__(
        self, name: str, *, cluster: Cluster, region: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(name, opts)
        namespace, service_account = contract.ADDON_SERVICE_ACCOUNTS["karpenter"]
        queue = aws.sqs.Queue(
            self.child("queue"),
            message_retention_seconds=300,
            sqs_managed_sse_enabled=True,
            opts=self.opts(),
        )
        aws.sqs.QueuePolicy(
            self.child("queue-policy"),
            queue_url=queue.id,
            policy=queue.arn.apply(lambda arn: json.dumps(queue_policy(arn))),
            opts=self.opts(),
        )
        for event, pattern in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                self.child(event),
                description=f"Karpenter interruption handling: {pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern),
                opts=self.opts(),
            )
            aws.cloudwatch.EventTarget(
                self.child(f"{event}-target"),
                rule=rule.name,
                arn=queue.arn,
                target_id="KarpenterInterruptionQueueTarget",
                opts=self.opts(),
            )
        node_role, attachments = node_role_with_policies(self, region)
        profile = aws.iam.InstanceProfile(self.child("node-profile"), role=node_role.name, opts=self.opts())
        access = aws.eks.AccessEntry(
            self.child("node-access"),
            cluster_name=cluster.cluster_name,
            principal_arn=node_role.arn,
            type="EC2_LINUX",
            opts=self.opts(depends_on=attachments),
        )
        role = pod_identity_role(self, cluster, namespace, service_account)
        aws.iam.RolePolicy(
            self.child("controller"),
            role=role.id,
            policy=pulumi.Output.all(cluster.arn, cluster.cluster_name, queue.arn, node_role.arn).apply(
                lambda args: json.dumps(controller_policy(*args))
            ),
            opts=self.opts(),
        )
        association = associate(self, cluster, namespace, service_account, role)
        self.queue_name = queue.name
        self.instance_profile = profile.name
        # The chart's pods need the association and the nodes their access entry before the first launch.
        self.ready = [association, access, profile]
        self.finish(identity=role.arn, namespace=namespace, service_account=service_account)


def provisioning(
    cluster_name: str,
    cluster: Cluster,
    pools: dict[str, Any],
    *,
    identity: KarpenterIdentity,
    tags: dict[str, str],
) -> contract.Provisioning:
    """The EKS cluster's Karpenter: chart values and, per ``auto`` pool, an EC2NodeClass and NodePools.

    The controller runs on the system node group (``aistack.io/pool: system``), never on nodes it
    launches itself: a controller on its own node could consolidate that node away and leave
    nobody to launch a replacement (Karpenter docs, "Getting Started": run the controller on a
    managed node group or Fargate). Two replicas, one per system node (the chart's default
    anti-affinity spreads them).
    """
    from components.aws.gpupool import ami_type
    from components.aws.nodegroup import is_graviton
    from components.k8s import provisioning as prov

    result = contract.Provisioning(after=list(identity.ready))
    result.karpenter = {
        "settings": {"clusterName": cluster.cluster_name, "interruptionQueue": identity.queue_name},
        "nodeSelector": {"aistack.io/pool": "system"},
        "replicas": 2,
        "controller": {
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
        },
    }
    for pool_name, spec in pools.items():
        base = prov.class_name(cluster_name, pool_name)
        ami_type(spec.instance_types)  # refuses a pool that mixes Arm and x86
        zones = spec.zones or list(cluster.node_subnet_ids)
        docs = {
            "class": prov.ec2_node_class(
                base,
                instance_profile=identity.instance_profile,
                subnet_ids=[cluster.node_subnet_ids[z] for z in zones],
                security_group_id=cluster.security_group_id,
                disk_gib=spec.disk_gib,
                reservations=spec.reservations,
                tags={**tags, "aistack.io/pool": pool_name},
            )
        }
        docs |= prov.karpenter_pools(
            base,
            pool=pool_name,
            spec=spec,
            node_class=("karpenter.k8s.aws", "EC2NodeClass", base),
            gpus_per_node=prov.gpus_per_node("aws", spec.instance_types),
            zone_values=zones,
            arch="arm64" if is_graviton(spec.instance_types[0]) else "amd64",
        )
        result.manifests[pool_name] = docs
    return result
