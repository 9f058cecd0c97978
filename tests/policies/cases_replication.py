"""Cases for the replica rules: a replica keeps its primary's protections; its transfer waits for its grants."""

from __future__ import annotations

import json
from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import Case, res
from tests.policies.cases_deploy import after

S3 = "aws:s3/bucket:Bucket"
GCS = "gcp:storage/bucket:Bucket"
JOB = "gcp:storage/transferJob:TransferJob"
STS_AGENT = "serviceAccount:project-123@storage-transfer-service.iam.gserviceaccount.com"

PRIMARY = res(S3, "models-aws-bucket", {"tags": {"aistack-purpose": "model-weights"}})
TLS_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
PRIMARY_SET = [
    PRIMARY,
    after(
        res(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "models-aws-sse",
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefault": {
                            "sseAlgorithm": "aws:kms",
                            "kmsMasterKeyId": "arn:k",
                        }
                    }
                ]
            },
        ),
        PRIMARY,
    ),
    after(
        res(
            "aws:s3/bucketVersioning:BucketVersioning",
            "models-aws-versioning",
            {"versioningConfiguration": {"status": "Enabled"}},
        ),
        PRIMARY,
    ),
    after(
        res(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "models-aws-pab",
            dict.fromkeys(
                ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True
            ),
        ),
        PRIMARY,
    ),
    after(res("aws:s3/bucketPolicy:BucketPolicy", "models-aws-tls-only", {"policy": TLS_ONLY}), PRIMARY),
]


def replica(key: Any = "projects/p/locations/l/keyRings/r/cryptoKeys/k") -> dict[str, Any]:
    inputs: dict[str, Any] = {"versioning": {"enabled": True}, "publicAccessPrevention": "enforced"}
    if key is not None:
        inputs["encryption"] = {"defaultKmsKeyName": key}
    return res(GCS, "models-gcp-bucket", inputs)


def transfer(bucket: dict[str, Any]) -> dict[str, Any]:
    return after(res(JOB, "models-gcp-replication-job", {}), PRIMARY, bucket)


def sink_grant(member: Any = STS_AGENT) -> dict[str, Any]:
    return res(
        "gcp:storage/bucketIAMMember:BucketIAMMember",
        "sink-writer",
        {"bucket": "models-gcp-bucket-1", "role": "roles/storage.legacyBucketWriter", "member": member},
    )


ROLE_POLICY = res("aws:iam/rolePolicy:RolePolicy", "source-read", {"role": "source-role"})
JOB_INPUTS = {
    "transferSpec": {
        "awsS3DataSource": {
            "bucketName": "models-aws-bucket-1",
            "roleArn": "arn:aws:iam::1:role/source-role",
        },
        "gcsDataSink": {"bucketName": "models-gcp-bucket-1"},
    }
}
SCHEDULED = res(JOB, "job", JOB_INPUTS)

REPLICATION_CASES = {
    "replica-inherits-primary": Case(
        compliant=[*PRIMARY_SET, replica(), transfer(replica())],
        violating=[*PRIMARY_SET, replica(key=None), transfer(replica(key=None))],
        unknown=[*PRIMARY_SET, replica(key=U), transfer(replica(key=U))],
        orphaned=[transfer(replica())],
        orphan_passes=True,
        message="lacks what its primary 'models-aws-bucket' has: customer-managed key",
    ),
    "deploy-transfer-after-grants": Case(
        compliant=[sink_grant(), ROLE_POLICY, after(SCHEDULED, sink_grant(), ROLE_POLICY)],
        violating=[sink_grant(), ROLE_POLICY, after(SCHEDULED, ROLE_POLICY)],
        unknown=[sink_grant(member=U), ROLE_POLICY, after(SCHEDULED, sink_grant(member=U), ROLE_POLICY)],
        orphaned=[SCHEDULED],
        message="does not wait for a grant to the Storage Transfer Service agent on its sink bucket",
    ),
}
