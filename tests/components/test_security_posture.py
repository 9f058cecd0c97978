"""The security controls of issue 19 as every stack declares them: key policies, log encryption,
access records, image admission, health-check ports (through the cached stack previews)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aistack.spec import load_stack_file
from components import images
from components.gcp.admission import ENFORCEMENT
from components.gcp.network import probe_ports
from policies.aistack_rules.workloads import ALLOWED_REGISTRIES, image_registry
from tests.conftest import REPO, stack_names


def _resources(report: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in report["resources"] if r["type"] == type_]


def _statements(key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(key["inputs"]["policy"])["Statement"]}


CRYPTO = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:*")


@pytest.mark.parametrize("stack", ["dev", "prod", "multicloud"])
def test_every_kms_key_separates_administrators_from_users(preview, stack):
    keys = _resources(preview(stack), "aws:kms/key:Key")
    assert keys
    for key in keys:
        statements = _statements(key)
        admins = statements["KeyAdministrators"]
        assert admins["Principal"] == {"AWS": ["arn:aws:iam::111122223333:root"]}
        assert not set(admins["Action"]) & set(CRYPTO), key["name"]
        for sid, statement in statements.items():
            assert "kms:*" not in statement["Action"], (key["name"], sid)


def test_key_users_are_the_cluster_role_the_log_services_and_readers_through_s3(preview):
    keys = {k["name"]: _statements(k) for k in _resources(preview("dev"), "aws:kms/key:Key")}
    cluster = keys["main-secrets-key"]["ClusterRole"]
    (role,) = cluster["Principal"]["AWS"]
    assert role.startswith("arn:aws:iam::111122223333:role/main-role-")
    logs = keys["aws-audit-key"]["CloudWatchLogs"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111122223333:log-group:*"}
    }
    trail = keys["aws-audit-key"]["CloudTrailEncrypt"]
    assert trail["Condition"]["StringEquals"]["aws:SourceArn"].endswith(":trail/aistack-dev-weights-access")
    readers = keys["models-key"]["ReadThroughS3"]
    assert readers["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert readers["Condition"]["StringEquals"]["kms:ViaService"] == "s3.us-east-1.amazonaws.com"


def test_named_key_administrators_replace_the_account_root(declare):
    import pulumi
    import pulumi_aws as aws

    from aistack.spec.stores import StoreSpec
    from components.aws.store import ObjectStore

    admin = "arn:aws:iam::111122223333:role/platform-admin"
    uploader = "arn:aws:iam::111122223333:role/ci-upload"

    def body():
        provider = aws.Provider("aws", region="eu-west-1")
        ObjectStore(
            "models",
            StoreSpec(cloud="aws"),
            protect=False,
            region="eu-west-1",
            key_administrators=[admin],
            key_users=[uploader],
            opts=pulumi.ResourceOptions(provider=provider),
        )

    statements = _statements({"inputs": declare(body).named("models-key").inputs})
    assert statements["KeyAdministrators"]["Principal"] == {"AWS": [admin]}
    assert statements["WriteThroughS3"]["Principal"] == {"AWS": [uploader]}
    assert (
        statements["WriteThroughS3"]["Condition"]["StringEquals"]["kms:ViaService"]
        == "s3.eu-west-1.amazonaws.com"
    )


@pytest.mark.parametrize("stack", ["dev", "prod", "multicloud"])
def test_log_groups_use_the_audit_key_and_the_trail_records_every_store(preview, stack):
    report = preview(stack)
    key = "arn:aws:kms:us-east-1:111122223333:key/aws-audit-key-"
    for group in _resources(report, "aws:cloudwatch/logGroup:LogGroup"):
        assert group["inputs"]["kmsKeyId"].startswith(key), group["name"]
    (trail,) = _resources(report, "aws:cloudtrail/trail:Trail")
    selectors = {f["field"]: f for f in trail["inputs"]["advancedEventSelectors"][0]["fieldSelectors"]}
    stores = [
        b["name"] for b in _resources(report, "aws:s3/bucket:Bucket") if b["name"] != "aws-audit-bucket"
    ]
    prefixes = selectors["resources.ARN"]["startsWiths"]
    assert len(prefixes) == len(stores)
    for store, prefix in zip(stores, prefixes, strict=True):
        assert prefix.startswith(f"arn:aws:s3:::{store}-") and prefix.endswith("/")
    assert selectors["eventCategory"]["equals"] == ["Data"]
    assert trail["inputs"]["kmsKeyId"].startswith(key)
    assert trail["inputs"]["enableLogFileValidation"] is True


def test_audit_retention_follows_the_environment(preview):
    for stack, days in (("dev", 30), ("staging", 90), ("prod", 365)):
        (lifecycle,) = [
            r
            for r in _resources(
                preview(stack), "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
            )
            if r["name"] == "aws-audit-lifecycle"
        ]
        assert lifecycle["inputs"]["rules"][0]["expiration"] == {"days": days}


def test_gke_admits_only_the_declared_repositories(preview):
    report = preview("multicloud")
    (cluster,) = _resources(report, "gcp:container/cluster:Cluster")
    assert cluster["inputs"]["binaryAuthorization"] == {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"}
    assert cluster["inputs"]["enableIntranodeVisibility"] is True
    (policy,) = _resources(report, "gcp:binaryauthorization/policy:Policy")
    _, spec = load_stack_file(REPO / "stacks" / "Pulumi.multicloud.yaml")
    assert [
        p["namePattern"] for p in policy["inputs"]["admissionWhitelistPatterns"]
    ] == images.allow_patterns(spec)
    assert policy["inputs"]["defaultAdmissionRule"]["evaluationMode"] == "ALWAYS_DENY"
    assert policy["inputs"]["defaultAdmissionRule"]["enforcementMode"] == ENFORCEMENT[spec.environment]
    assert ENFORCEMENT == {
        "dev": "DRYRUN_AUDIT_LOG_ONLY",
        "staging": "ENFORCED_BLOCK_AND_AUDIT_LOG",
        "prod": "ENFORCED_BLOCK_AND_AUDIT_LOG",
    }


@pytest.mark.parametrize("stack", stack_names())
def test_every_image_a_stack_runs_is_allow_listed(preview, stack):
    _, spec = load_stack_file(REPO / "stacks" / f"Pulumi.{stack}.yaml")
    patterns = images.allow_patterns(spec)
    run = set()
    for r in preview(stack)["resources"]:
        if r["type"].startswith("kubernetes:apps/v1:") or r["type"] == "kubernetes:core/v1:Pod":
            text = json.dumps(r["inputs"])
            run |= {c["image"] for c in _containers(r["inputs"])}
            assert '"image"' in text
    assert run
    for image in run:
        assert any(image.startswith(p[:-1]) and "/" not in image[len(p) - 1 :] for p in patterns), image
        assert image_registry(image) in ALLOWED_REGISTRIES, image
    assert set(images.allowed_registries(spec)) <= set(ALLOWED_REGISTRIES)


def _containers(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    spec = inputs.get("spec", {})
    pod = spec.get("template", {}).get("spec", spec)
    return [*pod.get("containers", []), *pod.get("initContainers", [])]


def test_gcp_health_checks_reach_the_serving_ports_only(preview):
    (rule,) = [
        r
        for r in _resources(preview("multicloud"), "gcp:compute/firewall:Firewall")
        if r["name"].endswith("health-checks")
    ]
    assert rule["inputs"]["allows"] == [{"protocol": "tcp", "ports": ["8000", "10256"]}]
    assert probe_ports([9000, 8000, 9000]) == ["8000", "9000", "10256"]


def test_gcs_reads_and_writes_land_in_a_cmek_log_bucket(preview):
    report = preview("multicloud")
    (audit,) = _resources(report, "gcp:projects/iAMAuditConfig:IAMAuditConfig")
    assert audit["inputs"]["service"] == "storage.googleapis.com"
    assert [c["logType"] for c in audit["inputs"]["auditLogConfigs"]] == ["DATA_READ", "DATA_WRITE"]
    buckets = {
        b["name"]: b for b in _resources(report, "gcp:logging/projectBucketConfig:ProjectBucketConfig")
    }
    assert set(buckets) == {"gcp-audit-logs", "central-logs"}
    for bucket in buckets.values():
        assert bucket["inputs"]["cmekSettings"]["kmsKeyName"]
    (grant,) = [
        g
        for g in _resources(report, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
        if g["name"] == "gcp-audit-key-agent"
    ]
    assert grant["inputs"]["member"].endswith("@gcp-sa-logging.iam.gserviceaccount.com")
    sinks = {s["name"]: s for s in _resources(report, "gcp:logging/projectSink:ProjectSink")}
    (store,) = _resources(report, "gcp:storage/bucket:Bucket")
    sink = sinks["gcp-audit-logs-sink"]["inputs"]["filter"]
    assert f'resource.labels.bucket_name=("{store["name"]}-' in sink
    assert 'protoPayload.serviceName="storage.googleapis.com"' in sink


def test_azure_blob_reads_and_writes_go_to_the_workspace(preview):
    report = preview("azure-dev")
    settings = {s["name"]: s for s in _resources(report, "azure-native:monitor:DiagnosticSetting")}
    blob = settings["azure-audit-models-access-logs"]["inputs"]
    assert blob["resourceUri"].endswith("/blobServices/default")
    assert [log["category"] for log in blob["logs"]] == ["StorageRead", "StorageWrite", "StorageDelete"]
    (workspace,) = [
        w
        for w in _resources(report, "azure-native:operationalinsights:Workspace")
        if w["name"] == "azure-audit-workspace"
    ]
    assert workspace["inputs"]["retentionInDays"] == 30
    assert "/workspaces/azure-audit-workspace-" in blob["workspaceId"]
