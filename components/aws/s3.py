"""The S3 bucket every aistack bucket is: KMS-encrypted, private, owner-enforced, versioned, with a lifecycle.

S3 settings are separate resources in pulumi-aws v7; the weight stores and the audit-log bucket
declare the same set through :func:`private_bucket`, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components import contract


@dataclass(frozen=True)
class PrivateBucket:
    """The children a bucket policy or a dependant needs to wait for."""

    bucket: aws.s3.Bucket
    public_access_block: aws.s3.BucketPublicAccessBlock
    versioning: aws.s3.BucketVersioning


def private_bucket(
    owner: contract.Component,
    *,
    purpose: str,
    protect: bool,
    kms_key_arn: pulumi.Input[str] | None,
    versioned: bool,
    lifecycle_rule: dict[str, Any],
) -> PrivateBucket:
    """Declare ``-bucket``, ``-sse``, ``-public-access-block``, ``-ownership``, ``-versioning`` and ``-lifecycle``.

    Args:
        owner: The component the children belong to (their logical names are ``<owner>-<suffix>``).
        purpose: The bucket's ``aistack-purpose`` tag.
        protect: Protect the bucket from deletion (production stacks).
        kms_key_arn: The customer-managed key; ``None`` for the AWS-managed ``aws/s3`` key.
        versioned: Versioning ``Enabled`` (else ``Suspended``).
        lifecycle_rule: The one lifecycle rule (``id``, expirations); it applies to every object
            (``filter: {}``) and always aborts multipart uploads left for 7 days.
    """
    bucket = aws.s3.Bucket(
        owner.child("bucket"),
        force_destroy=False,
        tags={"aistack-purpose": purpose},
        opts=owner.opts(protect=protect),
    )
    by_default = {"sse_algorithm": "aws:kms", **({"kms_master_key_id": kms_key_arn} if kms_key_arn else {})}
    aws.s3.BucketServerSideEncryptionConfiguration(
        owner.child("sse"),
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": by_default, "bucket_key_enabled": True}],
        opts=owner.opts(),
    )
    block = aws.s3.BucketPublicAccessBlock(
        owner.child("public-access-block"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=owner.opts(),
    )
    aws.s3.BucketOwnershipControls(
        owner.child("ownership"),
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=owner.opts(),
    )
    versioning = aws.s3.BucketVersioning(
        owner.child("versioning"),
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled" if versioned else "Suspended"},
        opts=owner.opts(),
    )
    aws.s3.BucketLifecycleConfiguration(
        owner.child("lifecycle"),
        bucket=bucket.id,
        rules=[
            {
                "status": "Enabled",
                "filter": {},
                **lifecycle_rule,
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
        # Lifecycle rules on noncurrent versions need versioning configured first.
        opts=owner.opts(depends_on=[versioning]),
    )
    return PrivateBucket(bucket, block, versioning)
