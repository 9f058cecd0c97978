"""Replica stores: a copy of the weights keeps the primary's protections, and its transfer can run.

A transfer links its two stores in the graph: a Storage Transfer Service job and a replication CronJob
take the primary's and the replica's names from the stores' own resources, so the engine records those
resources among the transfer's ``dependencies`` (both engines). Each store's posture is read from its
anchor (S3 bucket, GCS bucket, storage account) and the resources configuring it (the S3 bucket's
encryption, versioning, public access block and policy; the account's blob service).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import MANDATORY, Indeterminate, Rule, Subject, get, is_unknown
from .deploy import Graph
from .tokens import (
    AWS_ROLE_POLICIES,
    AZ_BLOB_SERVICE,
    AZ_STORAGE_ACCOUNT,
    GCS_BUCKET,
    GCS_BUCKET_IAM_BINDING,
    GCS_BUCKET_IAM_MEMBER,
    GCS_TRANSFER_JOB,
    K8S_CRON_JOB,
    S3_BUCKET,
    S3_POLICY,
    S3_PUBLIC_ACCESS_BLOCK,
    S3_SSE,
    S3_VERSIONING,
)

TRANSFER_JOB = GCS_TRANSFER_JOB
CRON_JOB = K8S_CRON_JOB
STS_AGENT = "@storage-transfer-service.iam.gserviceaccount.com"
PROTECTIONS = ("customer-managed key", "versioning", "private", "TLS only")

Posture = dict[str, bool]


class Unknown(Exception):
    """An input a posture needs is unknown during preview."""

    def __init__(self, path: str, urn: str) -> None:
        self.path, self.urn = path, urn


def _known(r: Subject, path: str) -> Any:
    value = get(r.inputs, path)
    if is_unknown(value):
        raise Unknown(path, r.urn)
    return value


def _companions(subjects: Sequence[Subject], anchor: Subject, *types: str) -> list[Subject]:
    return [s for s in subjects if s.type in types and anchor.urn in s.dependencies]


def _s3(subjects: Sequence[Subject], bucket: Subject) -> Posture:
    rules = [r for sse in _companions(subjects, bucket, *S3_SSE) for r in (_known(sse, "rules") or [])]
    block = _companions(subjects, bucket, *S3_PUBLIC_ACCESS_BLOCK)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    tls = False
    for policy in _companions(subjects, bucket, *S3_POLICY):
        document = _known(policy, "policy")
        statements = json.loads(document)["Statement"] if isinstance(document, str) else []
        tls |= any(
            s.get("Effect") == "Deny" and get(s, "Condition.Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        )
    return {
        "customer-managed key": any(
            get(r, "applyServerSideEncryptionByDefault.sseAlgorithm") in ("aws:kms", "aws:kms:dsse")
            and bool(get(r, "applyServerSideEncryptionByDefault.kmsMasterKeyId"))
            for r in rules
        ),
        "versioning": any(
            _known(v, "versioningConfiguration.status") == "Enabled"
            for v in _companions(subjects, bucket, *S3_VERSIONING)
        ),
        "private": any(all(_known(b, f) is True for f in flags) for b in block),
        "TLS only": tls,
    }


def _gcs(_subjects: Sequence[Subject], bucket: Subject) -> Posture:
    return {
        "customer-managed key": bool(_known(bucket, "encryption.defaultKmsKeyName")),
        "versioning": _known(bucket, "versioning.enabled") is True,
        "private": _known(bucket, "publicAccessPrevention") == "enforced",
        # Cloud Storage's JSON and XML APIs answer on HTTPS only.
        "TLS only": True,
    }


def _azure(subjects: Sequence[Subject], account: Subject) -> Posture:
    return {
        "customer-managed key": _known(account, "encryption.keySource") == "Microsoft.Keyvault",
        "versioning": any(
            _known(b, "isVersioningEnabled") is True for b in _companions(subjects, account, AZ_BLOB_SERVICE)
        ),
        "private": _known(account, "allowBlobPublicAccess") is False
        and _known(account, "publicNetworkAccess") == "Disabled",
        "TLS only": _known(account, "enableHttpsTrafficOnly") is True
        and _known(account, "minimumTlsVersion") in ("TLS1_2", "TLS1_3"),
    }


ANCHORS = {**dict.fromkeys(S3_BUCKET, _s3), GCS_BUCKET: _gcs, AZ_STORAGE_ACCOUNT: _azure}


def _stores(subjects: Sequence[Subject], by_urn: Mapping[str, Subject], transfer: Subject) -> list[Subject]:
    """The store anchors a transfer reads or writes, source first (the one its source input names)."""
    anchors = [by_urn[u] for u in transfer.dependencies if u in by_urn and by_urn[u].type in ANCHORS]
    # The source is the S3 bucket: the only primary cloud a transfer supports reads from S3.
    return sorted(anchors, key=lambda a: a.type not in S3_BUCKET)


def check_replica_inherits(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A replica store has every protection its primary has: key, versioning, private, TLS only."""
    by_urn = {s.urn: s for s in subjects}
    for transfer in (s for s in subjects if s.type in (TRANSFER_JOB, CRON_JOB)):
        anchors = _stores(subjects, by_urn, transfer)
        if len(anchors) != 2 or anchors[0].type not in S3_BUCKET:
            continue  # not a replication (another CronJob), or its stores are outside the stack
        primary, replica = anchors
        try:
            have, want = ANCHORS[replica.type](subjects, replica), ANCHORS[primary.type](subjects, primary)
        except Unknown as gap:
            yield Indeterminate(gap.path, gap.urn)
            continue
        missing = [p for p in PROTECTIONS if want[p] and not have[p]]
        if missing:
            yield (
                replica.urn,
                f"replica store {replica.name!r} (copied by {transfer.name!r}) lacks what its primary "
                f"{primary.name!r} has: {', '.join(missing)}; a copy of the weights keeps the primary's protections",
            )


def check_transfer_after_grants(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A Storage Transfer Service job is created after its agent's grant on the sink bucket and its AWS role's policy."""
    graph = Graph(subjects)
    for job in (s for s in subjects if s.type == TRANSFER_JOB):
        before = graph.before(job.urn)
        sink = get(job.inputs, "transferSpec.gcsDataSink.bucketName")
        if sink is None:
            continue
        grants = graph.of_type(before, GCS_BUCKET_IAM_MEMBER, GCS_BUCKET_IAM_BINDING)
        members = [m for g in grants for m in (g.inputs.get("members") or [g.inputs.get("member")])]
        if is_unknown(sink) or any(is_unknown(m) for m in members):
            yield Indeterminate(
                "transferSpec.gcsDataSink.bucketName" if is_unknown(sink) else "member", job.urn
            )
            continue
        agent = [
            g
            for g in grants
            if g.inputs.get("bucket") == sink
            and any(
                isinstance(m, str) and m.endswith(STS_AGENT)
                for m in (g.inputs.get("members") or [g.inputs.get("member")])
            )
        ]
        if not agent:
            yield (
                job.urn,
                f"does not wait for a grant to the Storage Transfer Service agent on its sink bucket {sink}: its "
                "runs fail with PERMISSION_DENIED until one exists",
            )
        if get(job.inputs, "transferSpec.awsS3DataSource.roleArn") and not graph.of_type(
            before, *AWS_ROLE_POLICIES
        ):
            yield (
                job.urn,
                "reads S3 as an AWS role (roleArn) but does not wait for the role's policy: runs fail with AccessDenied",
            )


RULES = (
    Rule(
        "replica-inherits-primary",
        MANDATORY,
        "A replica store (the target of a weights transfer) has every protection of its primary: a "
        "customer-managed key, versioning, no public access, TLS-only access.",
        (
            TRANSFER_JOB,
            CRON_JOB,
            *ANCHORS,
            *S3_SSE,
            *S3_VERSIONING,
            *S3_PUBLIC_ACCESS_BLOCK,
            *S3_POLICY,
            AZ_BLOB_SERVICE,
        ),
        check_replica_inherits,
        stack=True,
    ),
)

DEPLOY_RULES = (
    Rule(
        "deploy-transfer-after-grants",
        MANDATORY,
        "A Storage Transfer Service job depends on its service agent's grant on the sink bucket and, reading S3 "
        "by federation, on its AWS role's policy (Storage Transfer Service, 'Configure access to a sink: Cloud "
        "Storage' and 'Configure access to a source: Amazon S3').",
        (TRANSFER_JOB, GCS_BUCKET_IAM_MEMBER, GCS_BUCKET_IAM_BINDING, *AWS_ROLE_POLICIES),
        check_transfer_after_grants,
        stack=True,
    ),
)
