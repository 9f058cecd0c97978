"""S3 audit: the live settings of the stack's buckets against the rules ``components/aws/store.py`` declares.

Buckets are found with the Resource Groups Tagging API (the provider's default tags
``managed-by=aistack``, ``aistack-stack=<stack>``), then each is read with the S3 API.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.exceptions

from aistack.audit import MANAGED_BY, STACK_TAG, check, missing, resource, store_of
from aistack.preflight.aws import call
from aistack.spec import StoreSpec
from aistack.spec.clouds import AwsCloudSpec

PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _read(client: Any, operation: str, action: str, absent: str, **params: Any) -> dict[str, Any] | None:
    """One S3 read; None when S3 answers that the setting does not exist (error code ``absent``)."""
    try:
        return call(client, operation, action, **params)
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") == absent:
            return None
        raise


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _everyone(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS")))


def public_statements(policy: dict[str, Any]) -> list[str]:
    """Sids (or positions) of the statements that allow every principal, unconditionally."""
    return [
        str(statement.get("Sid", i))
        for i, statement in enumerate(_as_list(policy.get("Statement", [])))
        if statement.get("Effect") == "Allow" and _everyone(statement) and not statement.get("Condition")
    ]


def denies_insecure_transport(policy: dict[str, Any]) -> bool:
    """Whether a bucket policy denies every principal any S3 action without TLS (``aws:SecureTransport=false``)."""
    for statement in _as_list(policy.get("Statement", [])):
        actions = _as_list(statement.get("Action", []))
        secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if (
            statement.get("Effect") == "Deny"
            and _everyone(statement)
            and ("s3:*" in actions or "*" in actions)
            and [str(v).lower() for v in _as_list(secure)] == ["false"]
        ):
            return True
    return False


def bucket_checks(s3: Any, bucket: str, spec: StoreSpec | None) -> list[dict[str, str]]:
    """Every rule on one live bucket (versioning expected per its store's spec, on when unknown)."""
    sse = _read(
        s3, "get_bucket_encryption", "s3:GetEncryptionConfiguration", "ServerSideEncryptionConfigurationNotFoundError",
        Bucket=bucket,
    )  # fmt: skip
    rules = (sse or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    algorithms = [str(r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")) for r in rules]

    block = _read(
        s3, "get_public_access_block", "s3:GetBucketPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration",
        Bucket=bucket,
    )  # fmt: skip
    flags = (block or {}).get("PublicAccessBlockConfiguration", {})
    off = [f for f in BLOCK_FLAGS if not flags.get(f)]

    versioning = call(s3, "get_bucket_versioning", "s3:GetBucketVersioning", Bucket=bucket).get(
        "Status", "never enabled"
    )
    wanted = spec is None or spec.versioning

    policy = _read(s3, "get_bucket_policy", "s3:GetBucketPolicy", "NoSuchBucketPolicy", Bucket=bucket)
    document = json.loads(policy["Policy"]) if policy else {}
    tls_only = denies_insecure_transport(document)
    open_to_all = public_statements(document)

    owner = _read(
        s3, "get_bucket_ownership_controls", "s3:GetBucketOwnershipControls", "OwnershipControlsNotFoundError",
        Bucket=bucket,
    )  # fmt: skip
    ownership = [
        str(r.get("ObjectOwnership")) for r in (owner or {}).get("OwnershipControls", {}).get("Rules", [])
    ]

    grants = call(s3, "get_bucket_acl", "s3:GetBucketAcl", Bucket=bucket).get("Grants", [])
    grantees = sorted(
        {
            g["Grantee"]["URI"].rsplit("/", 1)[-1]
            for g in grants
            if g.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES
        }
    )
    return [
        check(
            "aws-s3-sse-kms",
            "aws:kms" in algorithms,
            f"default encryption: {', '.join(algorithms) or 'none'}",
        ),
        check(
            "aws-s3-public-access-block",
            block is not None and not off,
            "no public access block"
            if block is None
            else f"off: {', '.join(off)}"
            if off
            else "all four flags on",
        ),
        check(
            "aws-s3-versioning",
            (versioning == "Enabled") == wanted,
            f"versioning {versioning}, spec wants it {'on' if wanted else 'off'}",
        ),
        check(
            "aws-s3-deny-insecure-transport",
            tls_only,
            "no bucket policy"
            if policy is None
            else "denies non-TLS requests"
            if tls_only
            else "no statement denies non-TLS requests",
        ),
        check(
            "aws-s3-no-public-policy",
            not open_to_all,
            f"allows everyone: {', '.join(open_to_all)}" if open_to_all else "no statement allows everyone",
        ),
        check(
            "aws-s3-ownership-enforced",
            ownership == ["BucketOwnerEnforced"],
            f"object ownership: {', '.join(ownership) or 'none'}",
        ),
        check(
            "aws-s3-no-public-acl",
            not grantees,
            f"public grants: {', '.join(grantees)}" if grantees else "no public grants",
        ),
    ]


class AwsAuditor:
    """Audits the stack's S3 buckets in one region.

    Args:
        region: The stack's AWS region (the tagging API is regional).
        session: The boto3 session whose credentials are used; default: the environment's.
    """

    cloud = "aws"

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        session = session or boto3.Session()
        self.region = region
        self._tagging = session.client("resourcegroupstaggingapi", region_name=region)
        self._s3 = session.client("s3", region_name=region)

    def buckets(self, stack: str) -> list[str]:
        """Names of the buckets tagged as the stack's."""
        params: dict[str, Any] = {
            "TagFilters": [
                {"Key": MANAGED_BY[0], "Values": [MANAGED_BY[1]]},
                {"Key": STACK_TAG, "Values": [stack]},
            ],
            "ResourceTypeFilters": ["s3"],
        }
        names = []
        while True:
            page = call(self._tagging, "get_resources", "tag:GetResources", **params)
            names += [m["ResourceARN"].split(":::", 1)[1] for m in page.get("ResourceTagMappingList", [])]
            if not page.get("PaginationToken"):
                return sorted(names)
            params["PaginationToken"] = page["PaginationToken"]

    def audit(self, stack: str, stores: dict[str, StoreSpec]) -> list[dict[str, Any]]:
        """Every tagged bucket's checks, plus a failure for each spec store with no bucket."""
        found = []
        for bucket in self.buckets(stack):
            store = store_of(bucket, stores, "bucket")
            found.append(
                resource(
                    "aws",
                    "s3-bucket",
                    bucket,
                    store,
                    bucket_checks(self._s3, bucket, stores.get(store or "")),
                )
            )
        return found + missing("aws", "s3-bucket", stores, found)


def auditor(spec: AwsCloudSpec) -> AwsAuditor:
    """The S3 auditor for a stack's AWS placement (credentials from the environment)."""
    return AwsAuditor(spec.region)
