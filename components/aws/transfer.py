"""The AWS side of a replication from S3: a role another cloud assumes by federation, reading one bucket."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components import contract
from components.aws import kms
from components.aws.iam import document
from components.aws.store import ObjectStore


def web_identity_trust(provider: str, conditions: dict[str, Any]) -> str:
    """A trust policy: ``sts:AssumeRoleWithWebIdentity`` from one federated provider, on ``conditions`` only."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {"StringEquals": conditions},
                }
            ],
        }
    )


def source_reader(
    owner: contract.Component, store: ObjectStore, trust: pulumi.Input[str]
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """``-source-role`` (assumed by federation, see ``trust``) and ``-source-read``: read-only on one bucket.

    What Storage Transfer Service and rclone need to copy from S3: ``s3:ListBucket`` and
    ``s3:GetBucketLocation`` on the bucket, ``s3:GetObject`` on its objects (Storage Transfer Service,
    "Configure access to a source: Amazon S3", Required permissions), and ``kms:Decrypt`` on the bucket's key:
    the key policy lets account principals decrypt through S3 only (``weights_key_policy``), and the role
    needs it in its own policy. No wildcard actions, no write.
    """
    role = aws.iam.Role(owner.child("source-role"), assume_role_policy=trust, opts=owner.opts())
    statements: list[dict[str, Any]] = [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": store.bucket_arn,
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": store.bucket_arn.apply(lambda a: f"{a}/*"),
        },
    ]
    if store.kms_key_arn is not None:
        statements.append({"Effect": "Allow", "Action": kms.DECRYPT_ACTIONS, "Resource": store.kms_key_arn})
    policy = aws.iam.RolePolicy(
        owner.child("source-read"), role=role.id, policy=document(*statements), opts=owner.opts()
    )
    return role, policy
