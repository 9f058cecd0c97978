"""The AWS audit destination: a key for log groups and the trail, and who read or replaced weights."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import contract
from components.aws import kms
from components.aws.iam import document, partition, rotating_key
from components.aws.s3 import private_bucket


class AuditLog(contract.Component):
    """Customer-managed encryption for the stack's logs and a record of every weight read and write.

    Children: ``-key`` (KMS, rotating; its policy keeps administrators apart from users;
    CloudWatch Logs only for log groups of this account and region, through the
    ``kms:EncryptionContext:aws:logs:arn`` condition; CloudTrail only for this trail); and, once
    :meth:`record` names the stores (none without an AWS store), ``-bucket`` with ``-sse`` (SSE-KMS with the key), ``-public-access-block``, ``-ownership``,
    ``-versioning``, ``-lifecycle`` (log files expire after the retention) and ``-policy``
    (TLS only; CloudTrail may write only for this trail); ``-trail`` (S3 data events, reads and
    writes, of the weight stores only; log file validation on). Management events stay with the
    account's own trail, if any. Bucket, key and trail are ``protect``-ed in production.

    CloudTrail data events rather than S3 server access logs: they name the IAM principal, are
    delivered within minutes rather than best-effort, and can be encrypted with this key, while an
    access-log target bucket accepts SSE-S3 only (Amazon S3 User Guide, "Enabling Amazon S3 server
    access logging").

    Outputs: ``log_key_arn``; :meth:`record` sets ``bucket_name`` and ``trail_arn``.
    """

    CLOUD = "aws"
    CONCEPT = "AuditLog"
    OUTPUTS = ("log_key_arn",)

    def __init__(
        self,
        name: str,
        *,
        physical_name: str,
        region: str,
        retention_days: int,
        key_administrators: list[str],
        key_users: list[str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        self._protect = protect
        self._trail_name = physical_name
        account = kms.deploying_account(self)
        part = partition(region)
        self._trail_arn = pulumi.Output.concat(
            "arn:", part, ":cloudtrail:", region, ":", account, ":trail/", physical_name
        )
        logs_condition = {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                    "arn:", part, ":logs:", region, ":", account, ":log-group:*"
                )
            }
        }
        statements = [
            kms.admin_statement(kms.administrators(key_administrators, region, account)),
            {
                "Sid": "CloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": logs_condition,
            },
            {
                "Sid": "CloudTrailEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": self._trail_arn}},
            },
        ]
        if key_users:
            # Reading the trail's log files needs kms:Decrypt; CloudWatch Logs decrypts for its readers.
            statements.append(kms.user_statement("AuditReaders", list(key_users), kms.DECRYPT_ACTIONS))
        # The policy is the key's own input, so a log group naming the key finds CloudWatch Logs
        # already allowed (CreateLogGroup checks it: CloudWatch Logs User Guide, "Encrypt log data
        # in CloudWatch Logs using AWS KMS").
        key = rotating_key(
            self,
            "key",
            f"Logs and access trail of {physical_name}",
            protect=protect,
            policy=document(*statements),
        )
        self.log_key_arn = key.arn
        self._key = key
        self._retention_days = retention_days
        self.trail_arn: pulumi.Output[str] | None = None
        self.bucket_name: pulumi.Output[str] | None = None
        self.finish(log_key_arn=key.arn)

    def record(self, bucket_arns: list[pulumi.Input[str]]) -> aws.cloudtrail.Trail | None:
        """The trail bucket (``-bucket`` and its settings) and the ``-trail`` child: S3 data events
        (reads and writes) of the given weight stores.

        Returns:
            The trail, or ``None`` when the stack has no AWS store.
        """
        if not bucket_arns:
            return None
        protect, retention_days, key = self._protect, self._retention_days, self._key
        made = private_bucket(
            self,
            purpose="audit-logs",
            protect=protect,
            kms_key_arn=key.arn,
            versioned=True,
            lifecycle_rule={
                "id": "expire-audit-logs",
                "expiration": {"days": retention_days},
                "noncurrent_version_expiration": {"noncurrent_days": 1},
            },
        )
        bucket, block = made.bucket, made.public_access_block
        objects = bucket.arn.apply(lambda arn: f"{arn}/*")
        trail_only = {"StringEquals": {"aws:SourceArn": self._trail_arn}}
        # CloudTrail checks at CreateTrail that it may write (InsufficientS3BucketPolicyException),
        # so the trail depends on this policy (AWS CloudTrail User Guide, "Amazon S3 bucket policy
        # for CloudTrail").
        bucket_policy = aws.s3.BucketPolicy(
            self.child("policy"),
            bucket=bucket.id,
            policy=document(
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket.arn, objects],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "CloudTrailAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:GetBucketAcl",
                    "Resource": bucket.arn,
                    "Condition": trail_only,
                },
                {
                    "Sid": "CloudTrailWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudtrail.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": trail_only,
                },
            ),
            opts=self.opts(depends_on=[block]),
        )
        prefixes = [pulumi.Output.concat(arn, "/") for arn in bucket_arns]
        trail = aws.cloudtrail.Trail(
            self.child("trail"),
            name=self._trail_name,
            s3_bucket_name=bucket.id,
            kms_key_id=self._key.arn,
            enable_log_file_validation=True,
            include_global_service_events=False,
            is_multi_region_trail=False,
            advanced_event_selectors=[
                {
                    "name": "weight-store-objects",
                    "field_selectors": [
                        {"field": "eventCategory", "equals": ["Data"]},
                        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                        {"field": "resources.ARN", "starts_withs": prefixes},
                    ],
                }
            ],
            opts=self.opts(depends_on=[bucket_policy], protect=protect),
        )
        self.trail_arn = trail.arn
        self.bucket_name = bucket.bucket
        return trail
