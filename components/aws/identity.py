"""EKS Pod Identity: an IAM role one Kubernetes service account assumes to read one store."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import contract
from components.aws.cluster import Cluster
from components.aws.iam import document, service_trust
from components.aws.store import ObjectStore


def pod_identity_role(
    owner: contract.Component, cluster: Cluster, namespace: str, service_account: str
) -> aws.iam.Role:
    """The ``-role`` child of ``owner``: assumable by ``pods.eks.amazonaws.com`` only for one service account.

    EKS Pod Identity sets the cluster ARN, namespace and service account as session tags; the trust
    requires all three, so no other pod of this or any other cluster can assume the role.
    """
    trust = cluster.arn.apply(
        lambda arn: service_trust(
            "pods.eks.amazonaws.com",
            ("sts:AssumeRole", "sts:TagSession"),
            StringEquals={
                "aws:RequestTag/eks-cluster-arn": arn,
                "aws:RequestTag/kubernetes-namespace": namespace,
                "aws:RequestTag/kubernetes-service-account": service_account,
            },
        )
    )
    return aws.iam.Role(owner.child("role"), assume_role_policy=trust, opts=owner.opts())


def associate(
    owner: contract.Component, cluster: Cluster, namespace: str, service_account: str, role: aws.iam.Role
) -> aws.eks.PodIdentityAssociation:
    """The ``-association`` child of ``owner``: pods of that service account get the role's credentials."""
    return aws.eks.PodIdentityAssociation(
        owner.child("association"),
        cluster_name=cluster.cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        opts=owner.opts(),
    )


class WorkloadIdentity(contract.WorkloadIdentity):
    """Read-only access to one bucket for one service account in one cluster.

    Children: ``-role`` (trusted by ``pods.eks.amazonaws.com`` only for this cluster, namespace
    and service account, through the session tags EKS Pod Identity sets), ``-read`` (inline
    policy: ``s3:ListBucket`` on the bucket, ``s3:GetObject`` on its objects, ``kms:Decrypt`` on
    its key; no wildcards), ``-association`` (the pod identity association).

    Outputs: ``identity`` (role ARN), ``namespace``, ``service_account``.
    """

    CLOUD = "aws"

    def __init__(
        self,
        name: str,
        *,
        cluster: Cluster,
        store: ObjectStore,
        namespace: str,
        service_account: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        role = pod_identity_role(self, cluster, namespace, service_account)
        statements = [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": store.bucket_arn},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": store.bucket_arn.apply(lambda a: f"{a}/*"),
            },
        ]
        if store.kms_key_arn is not None:
            statements.append({"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": store.kms_key_arn})
        aws.iam.RolePolicy(self.child("read"), role=role.id, policy=document(*statements), opts=self.opts())
        associate(self, cluster, namespace, service_account, role)
        self.finish(identity=role.arn, namespace=namespace, service_account=service_account)
