"""Access logging: every object store records who read or wrote its objects.

Stack rules, because the record is another resource: a CloudTrail trail's data-event selectors
(or an S3 server access logging configuration), a project's Data Access audit config (or a
bucket's usage logging), a storage account's blob diagnostic setting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import _aws
from .core import MANDATORY, CannotCheck, Indeterminate, Rule, Subject, as_bool, as_list, get, is_unknown
from .tokens import (
    AZ_DIAGNOSTIC_SETTING,
    AZ_STORAGE_ACCOUNT,
    CLOUDTRAIL,
    GCP_AUDIT_CONFIG,
    GCS_BUCKET,
    S3_BUCKET,
    S3_LOGGING,
)

_S3_ARN = "arn:aws:s3:::"
_BLOB_CATEGORIES = ("StorageRead", "StorageWrite")


def _trail_buckets(trail: Subject) -> tuple[set[str], set[str]]:
    """``(buckets whose object events the trail records, the trail's own destination)``.

    Raises:
        CannotCheck: A selector the answer depends on is unknown.
    """
    covered: set[str] = set()
    for i, selector in enumerate(get(trail.inputs, "advancedEventSelectors", [])):
        fields = {
            get(fs, "field", where=f"advancedEventSelectors.{i}"): fs
            for fs in get(selector, "fieldSelectors", [], where=f"advancedEventSelectors.{i}")
        }
        if "AWS::S3::Object" not in as_list(get(fields.get("resources.type", {}), "equals", [])):
            continue
        arn_selector = fields.get("resources.ARN", {})
        prefixes = as_list(
            get(arn_selector, "startsWiths", [], where=f"advancedEventSelectors.{i}")
        ) + as_list(get(arn_selector, "equals", [], where=f"advancedEventSelectors.{i}"))
        covered |= {p[len(_S3_ARN) :].split("/", 1)[0] for p in prefixes if str(p).startswith(_S3_ARN)}
        if not prefixes:
            covered.add("*")
    for i, selector in enumerate(get(trail.inputs, "eventSelectors", [])):
        for j, data in enumerate(get(selector, "dataResources", [], where=f"eventSelectors.{i}")):
            if get(data, "type", where=f"eventSelectors.{i}.dataResources.{j}") != "AWS::S3::Object":
                continue
            for value in as_list(get(data, "values", [], where=f"eventSelectors.{i}.dataResources.{j}")):
                name = str(value)[len(_S3_ARN) :].split("/", 1)[0]
                covered.add(name or "*")
    destination = get(trail.inputs, "s3BucketName")
    return covered, {destination} if isinstance(destination, str) and destination else set()


def check_s3_access_recorded(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every S3 bucket's object reads and writes are recorded (CloudTrail data events or access logs).

    A trail's own destination bucket is exempt: recording its writes would record itself.
    """
    covered: set[str] = set()
    destinations: set[str] = set()
    unknown: list[Indeterminate] = []
    for trail in (s for s in subjects if s.type == CLOUDTRAIL):
        try:
            names, own = _trail_buckets(trail)
        except CannotCheck as exc:
            unknown.append(Indeterminate(exc.path, trail.urn))
            continue
        covered |= names
        destinations |= own
    logged = _aws.join(subjects, S3_LOGGING)
    for bucket in (s for s in subjects if s.type in S3_BUCKET):
        keys = _aws.bucket_keys(bucket)
        if keys & destinations or keys & covered or "*" in covered or logged.children[bucket.urn]:
            continue
        if unknown:
            yield unknown[0]
        elif logged.unplaced:
            yield Indeterminate(_aws.unplaced_path(logged), bucket.urn)
        else:
            yield (
                bucket.urn,
                f"bucket {bucket.name!r}: no CloudTrail data-event selector or server access logging records "
                "who reads or writes its objects",
            )


def _records_storage_data_access(config: Subject) -> bool:
    """Whether an audit config logs Cloud Storage data reads and writes.

    Raises:
        CannotCheck: The service or log types are unknown.
    """
    if get(config.inputs, "service") not in ("storage.googleapis.com", "allServices"):
        return False
    types = {get(c, "logType", where="auditLogConfigs") for c in get(config.inputs, "auditLogConfigs", [])}
    return {"DATA_READ", "DATA_WRITE"} <= types


def check_gcs_access_recorded(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every GCS bucket's object reads and writes are recorded (Data Access audit logs or usage logs)."""
    project_wide = False
    unknown: list[Indeterminate] = []
    for config in (s for s in subjects if s.type == GCP_AUDIT_CONFIG):
        try:
            project_wide |= _records_storage_data_access(config)
        except CannotCheck as exc:
            unknown.append(Indeterminate(exc.path, config.urn))
    for bucket in (s for s in subjects if s.type == GCS_BUCKET):
        if project_wide:
            return
        try:
            usage_logs = get(bucket.inputs, "logging.logBucket")
        except CannotCheck as exc:
            yield Indeterminate(exc.path, bucket.urn)
            continue
        if usage_logs:
            continue
        if unknown:
            yield unknown[0]
        else:
            yield (
                bucket.urn,
                f"bucket {bucket.name!r}: no Data Access audit config (DATA_READ, DATA_WRITE for "
                "storage.googleapis.com) or usage logging records who reads or writes its objects",
            )


def _account_of_setting(setting: Subject, accounts: Mapping[str, Subject]) -> str | None:
    """The URN of the storage account a blob diagnostic setting watches, or ``None``.

    Raises:
        CannotCheck: Its resource URI is unknown and no dependency names the account.
    """
    for urn in setting.property_dependencies.get("resourceUri", ()):
        if urn in accounts:
            return urn
    uri = get(setting.inputs, "resourceUri")
    if is_unknown(uri) or not isinstance(uri, str):
        raise CannotCheck("resourceUri")
    if not uri.lower().endswith("/blobservices/default"):
        return None
    account_id = uri[: -len("/blobServices/default")].lower()
    for urn, account in accounts.items():
        ids = {str(account.outputs.get("id", "")).lower(), str(account.inputs.get("id", "")).lower()}
        if account_id in ids:
            return urn
    return None


def check_blob_access_recorded(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every storage account's blob service sends read and write logs to a diagnostic destination."""
    accounts = {s.urn: s for s in subjects if s.type == AZ_STORAGE_ACCOUNT}
    recorded: set[str] = set()
    unknown: list[Indeterminate] = []
    for setting in (s for s in subjects if s.type == AZ_DIAGNOSTIC_SETTING):
        try:
            urn = _account_of_setting(setting, accounts)
            logs = get(setting.inputs, "logs", [])
            enabled = {
                get(log, "category", where="logs")
                for log in logs
                if as_bool(get(log, "enabled", where="logs")) is True
            }
        except CannotCheck as exc:
            unknown.append(Indeterminate(exc.path, setting.urn))
            continue
        if urn and set(_BLOB_CATEGORIES) <= enabled:
            recorded.add(urn)
    for urn, account in accounts.items():
        if urn in recorded:
            continue
        if unknown:
            yield unknown[0]
        else:
            yield (
                urn,
                f"storage account {account.name!r}: no diagnostic setting on its blob service sends "
                f"{' and '.join(_BLOB_CATEGORIES)} logs anywhere",
            )


RULES = (
    Rule(
        "aws-s3-access-recorded",
        MANDATORY,
        "Every S3 bucket's object reads and writes are recorded by CloudTrail data events or server access "
        "logging (a trail's own bucket exempt).",
        (*S3_BUCKET, CLOUDTRAIL, *S3_LOGGING),
        check_s3_access_recorded,
        stack=True,
    ),
    Rule(
        "gcp-gcs-access-recorded",
        MANDATORY,
        "Every GCS bucket's object reads and writes are recorded by Data Access audit logs or usage logs.",
        (GCS_BUCKET, GCP_AUDIT_CONFIG),
        check_gcs_access_recorded,
        stack=True,
    ),
    Rule(
        "azure-blob-access-recorded",
        MANDATORY,
        "Every storage account's blob service sends StorageRead and StorageWrite logs to a diagnostic setting.",
        (AZ_STORAGE_ACCOUNT, AZ_DIAGNOSTIC_SETTING),
        check_blob_access_recorded,
        stack=True,
    ),
)
