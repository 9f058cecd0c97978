"""S3 object store: KMS-encrypted, private, versioned, TLS-only."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from aistack.spec.stores import StoreSpec
from components import contract
from components.aws import kms
from components.aws.iam import document, rotating_key
from components.aws.s3 import private_bucket


class ObjectStore(contract.ObjectStore):
    """An S3 bucket for model weights with every v7 split setting declared.

    Children: ``-key`` (KMS, rotating; only with ``customer_managed_key``; its policy separates
    administrators from users, who reach it only through S3: :func:`weights_key_policy`), ``-bucket``,
    ``-sse`` (``aws:kms`` with bucket keys), ``-public-access-block`` (all four flags),
    ``-ownership`` (``BucketOwnerEnforced``: ACLs off), ``-versioning``, ``-lifecycle``
    (expire prior versions, abort stale multipart uploads) and ``-tls-only`` (a bucket policy
    denying non-TLS and pre-1.2 TLS requests). The bucket and key are ``protect``-ed in
    production stacks.

    Outputs: ``bucket_name``, ``bucket_uri`` (``s3://...``), ``bucket_arn``, ``kms_key_arn``
    (``None`` without a customer-managed key).
    """

    CLOUD = "aws"
    OUTPUTS = ("bucket_name", "bucket_uri", "bucket_arn", "kms_key_arn")

    def __init__(
        self,
        name: str,
        spec: StoreSpec,
        *,
        protect: bool,
        region: str,
        key_administrators: list[str] | None = None,
        key_users: list[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the spec: the AWS ``region`` and the spec's ``key_administrators`` and
        ``key_users`` (see ``AwsCloudSpec``), which the key policy names."""
        super().__init__(name, opts)
        key = None
        if spec.customer_managed_key:
            key = rotating_key(
                self,
                "key",
                f"Encryption of object store {name}",
                protect=protect,
                policy=weights_key_policy(self, region, key_administrators or [], key_users or []),
            )
        made = private_bucket(
            self,
            purpose=spec.purpose,
            protect=protect,
            kms_key_arn=key.arn if key else None,
            versioned=spec.versioning,
            lifecycle_rule={
                "id": "expire-prior-versions",
                "noncurrent_version_expiration": {"noncurrent_days": spec.noncurrent_retention_days},
            },
        )
        bucket, block = made.bucket, made.public_access_block
        resources = [bucket.arn, bucket.arn.apply(lambda arn: f"{arn}/*")]
        aws.s3.BucketPolicy(
            self.child("tls-only"),
            bucket=bucket.id,
            policy=document(
                _deny("DenyInsecureTransport", resources, {"Bool": {"aws:SecureTransport": "false"}}),
                _deny("DenyOutdatedTls", resources, {"NumericLessThan": {"s3:TlsVersion": "1.2"}}),
            ),
            # The public access block must exist first, or a policy change can briefly race it.
            opts=self.opts(depends_on=[block]),
        )
        self.finish(
            bucket_name=bucket.bucket,
            bucket_uri=bucket.bucket.apply(lambda b: f"s3://{b}"),
            bucket_arn=bucket.arn,
            kms_key_arn=key.arn if key else None,
        )


def weights_key_policy(
    owner: contract.Component, region: str, administrators: list[str], users: list[str]
) -> pulumi.Output[str]:
    """Who may manage the weights key, and who may use it (only in requests S3 makes in ``region``).

    Readers' roles are created after the store (their policies name the key), so the key policy
    delegates decryption to IAM, but only through S3 (``kms:ViaService``) and only for principals
    of this account (``kms:CallerAccount``): a reader needs ``kms:Decrypt`` in its own policy (see
    ``WorkloadIdentity``) and gets nothing else from the key. The spec's ``key_users`` (uploaders)
    are named and may encrypt as well, still only through S3.
    """
    account = kms.deploying_account(owner)
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account}}
    root = kms.administrators([], region, account)
    statements = [
        kms.admin_statement(kms.administrators(administrators, region, account)),
        kms.user_statement("ReadThroughS3", root, kms.DECRYPT_ACTIONS, via_s3),
    ]
    if users:
        statements.append(kms.user_statement("WriteThroughS3", list(users), kms.USE_ACTIONS, via_s3))
    return document(*statements)


def _deny(sid: str, resources: list, condition: dict) -> dict:
    """A bucket-policy statement denying every S3 action on the bucket when ``condition`` holds."""
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": resources,
        "Condition": condition,
    }
