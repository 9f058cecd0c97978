"""EKS Pod Identity: an IAM role one Kubernetes service account assumes to read one store."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import contract
from components.aws.cluster import Cluster
from components.aws.iam import document, service_trust
from components.aws.store import ObjectStore


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
        role = aws.iam.Role(self.child("role"), assume_role_policy=trust, opts=self.opts())
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
        aws.eks.PodIdentityAssociation(
            self.child("association"),
            cluster_name=cluster.cluster_name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.arn,
            opts=self.opts(),
        )
        self.finish(identity=role.arn, namespace=namespace, service_account=service_account)
