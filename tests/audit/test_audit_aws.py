"""S3 audit on moto: a bucket configured as components/aws/store.py declares it, then drifted by hand."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml
from moto import mock_aws

from aistack import audit, cli, preflight
from aistack.audit.aws import AwsAuditor

REGION = "us-east-1"
TAGS = [{"Key": "managed-by", "Value": "aistack"}, {"Key": "aistack-stack", "Value": "dev"}]


def deploy_bucket(s3, name: str, tags=TAGS) -> None:
    """What ObjectStore declares, applied with the S3 API (KMS key, SSE, block, ownership, versioning, TLS-only)."""
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    flags = dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=flags)
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    arn = f"arn:aws:s3:::{name}"
    tls_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(tls_only))


@pytest.fixture
def s3():
    with mock_aws():
        yield boto3.client("s3", region_name=REGION)


def _stores(**over):
    from aistack.spec import StoreSpec

    return {"models": StoreSpec(cloud="aws", **over)}


def _status(entry):
    return {c["rule"]: c["status"] for c in entry["checks"]}


def test_compliant_bucket_is_clean(s3):
    deploy_bucket(s3, "models-bucket-a1b2c3d")
    [entry] = AwsAuditor(REGION).audit("dev", _stores())
    assert (entry["id"], entry["store"]) == ("models-bucket-a1b2c3d", "models")
    assert _status(entry) == dict.fromkeys(
        [
            "aws-s3-sse-kms",
            "aws-s3-public-access-block",
            "aws-s3-versioning",
            "aws-s3-deny-insecure-transport",
            "aws-s3-no-public-policy",
            "aws-s3-ownership-enforced",
            "aws-s3-no-public-acl",
        ],
        "pass",
    )


def test_bucket_drifted_by_hand_fails_each_rule_it_broke(s3):
    deploy_bucket(s3, "models-bucket-a1b2c3d")
    s3.delete_public_access_block(Bucket="models-bucket-a1b2c3d")
    s3.delete_bucket_encryption(Bucket="models-bucket-a1b2c3d")
    s3.delete_bucket_policy(Bucket="models-bucket-a1b2c3d")
    [entry] = AwsAuditor(REGION).audit("dev", _stores())
    failed = {c["rule"]: c["detail"] for c in entry["checks"] if c["status"] == "fail"}
    assert failed == {
        "aws-s3-sse-kms": "default encryption: none",
        "aws-s3-public-access-block": "no public access block",
        "aws-s3-deny-insecure-transport": "no bucket policy",
    }


def test_bucket_made_public_fails(s3):
    deploy_bucket(s3, "models-bucket-a1b2c3d")
    s3.put_public_access_block(
        Bucket="models-bucket-a1b2c3d",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": False,
        },
    )  # fmt: skip
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::models-bucket-a1b2c3d/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="models-bucket-a1b2c3d", Policy=json.dumps(public))
    [entry] = AwsAuditor(REGION).audit("dev", _stores())
    failed = {c["rule"]: c["detail"] for c in entry["checks"] if c["status"] == "fail"}
    assert failed == {
        "aws-s3-public-access-block": "off: BlockPublicPolicy, RestrictPublicBuckets",
        "aws-s3-deny-insecure-transport": "no statement denies non-TLS requests",
        "aws-s3-no-public-policy": "allows everyone: PublicRead",
    }


def test_versioning_follows_the_store_spec(s3):
    deploy_bucket(s3, "models-bucket-a1b2c3d")
    s3.put_bucket_versioning(Bucket="models-bucket-a1b2c3d", VersioningConfiguration={"Status": "Suspended"})
    [entry] = AwsAuditor(REGION).audit("dev", _stores())
    assert _status(entry)["aws-s3-versioning"] == "fail"
    [entry] = AwsAuditor(REGION).audit("dev", _stores(versioning=False))
    assert _status(entry)["aws-s3-versioning"] == "pass"


def test_only_the_stacks_buckets_are_found_and_a_missing_store_is_drift(s3):
    deploy_bucket(s3, "other-stack-bucket", tags=[TAGS[0], {"Key": "aistack-stack", "Value": "prod"}])
    s3.create_bucket(Bucket="untagged-bucket")
    entries = AwsAuditor(REGION).audit("dev", _stores())
    assert [(e["id"], e["checks"]) for e in entries] == [
        (
            "models (not found)",
            [{"rule": "exists", "status": "fail", "detail": "no s3-bucket tagged for store models"}],
        )
    ]


def test_cli_reports_drift_with_exit_1(s3, tmp_path, capsys):
    deploy_bucket(s3, "models-bucket-a1b2c3d")
    s3.delete_bucket_encryption(Bucket="models-bucket-a1b2c3d")
    config = {
        "pulumi:disable-default-providers": ["*"],
        "aistack:environment": "dev",
        "aistack:clouds": {"aws": {"region": REGION, "zones": ["us-east-1a"], "cidr": "10.10.0.0/16"}},
        "aistack:stores": {"models": {"cloud": "aws"}},
    }
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    assert cli.main(["audit", "--stack-file", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "audit dev: drift (1 resource(s))"
    assert out[1] == "aws s3-bucket models-bucket-a1b2c3d (store models)"
    assert "  FAIL  aws-s3-sse-kms: default encryption: none" in out
    s3.put_bucket_encryption(
        Bucket="models-bucket-a1b2c3d",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    _, spec = preflight.load(None, path)
    report = audit.run(spec, "dev")
    assert (report["status"], audit.exit_code(report)) == ("clean", 0)


def test_missing_credentials_is_exit_2(tmp_path, monkeypatch, capsys):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    assert cli.main(["audit", "--stack", "dev"]) == 2
    assert capsys.readouterr().err == (
        "error: credentials: aws: Unable to locate credentials (tag:GetResources): "
        "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n"
    )
