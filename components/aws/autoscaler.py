"""The Cluster Autoscaler's AWS identity: EKS Pod Identity, scoped to one cluster's node groups.

EKS has no node autoscaling of its own (short of Auto Mode or Karpenter): the Kubernetes Cluster
Autoscaler, run by the serving layer (``components/k8s/autoscaler.py``), sets the desired size of
the EC2 Auto Scaling groups behind the managed node groups. EKS tags every managed node group's
Auto Scaling group ``k8s.io/cluster-autoscaler/enabled=true`` and
``k8s.io/cluster-autoscaler/<cluster>=owned`` (plus ``eks:cluster-name`` and
``eks:nodegroup-name``), which is what the policy below and the autoscaler's auto-discovery key on.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components import contract
from components.aws.cluster import Cluster
from components.aws.identity import associate, pod_identity_role

READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
"""What the autoscaler reads to model each group (the Cluster Autoscaler's AWS README). These list
and describe calls take no resource-level permissions, so they are granted on ``*``; they change
nothing."""

SCALE_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")
"""The only changes the autoscaler makes: a group's desired size, and removing a drained node."""


def owner_tag(cluster_name: str) -> str:
    """The tag key EKS sets to ``owned`` on the Auto Scaling groups of a cluster's managed node groups."""
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


def autoscaler_policy(cluster_arn: str, cluster_name: str) -> dict[str, Any]:
    """The autoscaler's permissions for one cluster, as an IAM policy document.

    Changes are allowed only on Auto Scaling groups of the cluster's account and region that carry
    this cluster's owner tag; ``eks:DescribeNodegroup`` (labels, taints and resource tags of a
    group scaled to zero) only on this cluster's node groups.

    Args:
        cluster_arn: ``arn:<partition>:eks:<region>:<account>:cluster/<name>``.
        cluster_name: The EKS cluster's name.
    """
    _, partition, _, region, account, _ = cluster_arn.split(":", 5)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadScalingState", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
            {
                "Sid": "ReadThisClustersNodeGroups",
                "Effect": "Allow",
                "Action": ["eks:DescribeNodegroup"],
                "Resource": f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster_name}/*",
            },
            {
                "Sid": "ScaleThisClustersGroups",
                "Effect": "Allow",
                "Action": list(SCALE_ACTIONS),
                "Resource": f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{owner_tag(cluster_name)}": "owned"}},
            },
        ],
    }


class ClusterAutoscalerIdentity(contract.AddonIdentity):
    """The IAM role the Cluster Autoscaler's service account assumes through EKS Pod Identity.

    Children: ``-role`` (trusted by ``pods.eks.amazonaws.com`` only for this cluster and
    ``kube-system/cluster-autoscaler``), ``-scale`` (inline policy :func:`autoscaler_policy`: read
    actions, ``eks:DescribeNodegroup`` on this cluster's node groups, and the two scaling actions
    only on Auto Scaling groups tagged as this cluster's), ``-association``.

    Outputs: ``identity`` (role ARN), ``namespace``, ``service_account``.
    """

    CLOUD = "aws"

    def __init__(self, name: str, *, cluster: Cluster, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        namespace, service_account = contract.ADDON_SERVICE_ACCOUNTS["cluster-autoscaler"]
        role = pod_identity_role(self, cluster, namespace, service_account)
        aws.iam.RolePolicy(
            self.child("scale"),
            role=role.id,
            policy=pulumi.Output.all(cluster.arn, cluster.cluster_name).apply(
                lambda args: json.dumps(autoscaler_policy(args[0], args[1]))
            ),
            opts=self.opts(),
        )
        associate(self, cluster, namespace, service_account, role)
        self.finish(identity=role.arn, namespace=namespace, service_account=service_account)
