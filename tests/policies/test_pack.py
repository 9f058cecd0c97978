"""The pack as Pulumi runs it: import paths, the PolicyPack construction, and the rules served
through pulumi-policy's own analyzer (unknowns, remediation, stack joins, config)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies import RULES, environment_of
from policies.aistack_rules.levels import environment_from_pulumi
from policies.aistack_rules.pack import build_policies, pack_arguments
from tests.policies.cases import KMS_ADMIN, doc

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
WIRE_UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s3cr3t"}


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter whose only extra import path is ``cwd``."""
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


def test_rules_import_from_inside_the_pack_directory_without_the_repository() -> None:
    code = (
        "import importlib.util, aistack_rules.pack as p\n"
        "assert importlib.util.find_spec('aistack') is None, 'the repository must not be importable here'\n"
        "print(len(p.build_policies('prod')))"
    )
    result = run_python(code, POLICIES_DIR)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(RULES))


def test_main_builds_the_pack_and_only_then_serves() -> None:
    # Stop at the point the policy server would start: every policy passed PolicyPack's checks.
    code = (
        "import runpy, grpc, pulumi_policy.policy as pp\n"
        "class Seen(pp._PolicyAnalyzerServicer):\n"
        "    def __init__(self, name, version, policies, *rest, **kw):\n"
        "        print(name, len(policies), [p.enforcement_level.value for p in policies if p.name == 'k8s-image-pinned'][0])\n"
        "pp._PolicyAnalyzerServicer = Seen\n"
        "def server(*a, **k):\n"
        "    raise SystemExit(42)\n"
        "grpc.server = server\n"
        "runpy.run_path('.', run_name='__main__')\n"
    )
    result = run_python(code, POLICIES_DIR, PULUMI_STACK="prod")
    assert result.returncode == 42, result.stderr
    assert result.stdout.split() == ["aistack", str(len(RULES)), "mandatory"]


def test_importing_main_builds_nothing() -> None:
    result = run_python(
        "import runpy; runpy.run_path('__main__.py', run_name='policies_main'); print('ok')", POLICIES_DIR
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_pack_files_are_what_pulumi_expects() -> None:
    import yaml

    manifest = yaml.safe_load((POLICIES_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == "python"
    assert manifest["name"] == "aistack"
    requirements = [
        line.strip()
        for line in (POLICIES_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert requirements == ["pulumi-policy>=1,<2"]


def test_policies_mirror_the_rules_with_environment_levels() -> None:
    policies = build_policies("prod")
    assert [p.name for p in policies] == [rule.id for rule in RULES]
    for policy, rule in zip(policies, RULES, strict=True):
        assert isinstance(policy, StackValidationPolicy if rule.stack else ResourceValidationPolicy)
        assert policy.description == rule.description
        assert (policy.config_schema is not None) == bool(rule.config_schema)
    levels = {p.name: p.enforcement_level for p in build_policies("dev")}
    assert levels["gpu-spot-has-ondemand-floor"] == EnforcementLevel.DISABLED
    assert levels["azure-storage-https-tls12"] == EnforcementLevel.REMEDIATE
    assert {p.name: p.enforcement_level for p in policies}[
        "gpu-spot-has-ondemand-floor"
    ] == EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"PULUMI_STACK": "prod"}, "prod"),
        (
            {"PULUMI_STACK": "eu-1", "PULUMI_CONFIG": json.dumps({"aistack:environment": "staging"})},
            "staging",
        ),
        ({"PULUMI_STACK": "dev", "PULUMI_CONFIG": "not json"}, "dev"),
        ({}, None),
    ],
)
def test_environment_of_a_pulumi_process(environ: dict[str, str], expected: str | None) -> None:
    assert environment_from_pulumi(environ) == expected
    assert pack_arguments(environ)["name"] == "aistack"


def test_environment_offline_is_picked_the_same_way() -> None:
    assert environment_of("eu-1", {"aistack:environment": "prod"}) == "prod"
    assert environment_of("dev", {"aistack:tags": {"team": "ml"}}) == "dev"


# ------------------------------------------------------------------ through pulumi-policy's analyzer


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(value, message)
    return message


def analyzer(stack: str = "prod") -> _PolicyAnalyzerServicer:
    arguments = pack_arguments({"PULUMI_STACK": stack})
    return _PolicyAnalyzerServicer(
        arguments["name"], "0.1.0", arguments["policies"], arguments["enforcement_level"]
    )


def diagnostics(response: Any) -> list[tuple[str, str, str, str]]:
    return [
        (d.policyName, proto.EnforcementLevel.Name(d.enforcementLevel), d.urn, d.message.split("\n")[-1])
        for d in response.diagnostics
    ]


def analyze(
    server: _PolicyAnalyzerServicer, type_: str, props: dict[str, Any]
) -> list[tuple[str, str, str, str]]:
    request = proto.AnalyzeRequest(
        urn=f"urn:pulumi:prod::p::{type_}::r", type=type_, name="r", properties=struct(props)
    )
    return diagnostics(server.Analyze(request, None))


def test_analyze_reports_violations_at_their_level_and_unknowns_as_advisory() -> None:
    props = {
        "vpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
        "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": WIRE_UNKNOWN}},
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    }
    assert analyze(analyzer(), "aws:eks/cluster:Cluster", props) == [
        (
            "aws-eks-secrets-encryption",
            "ADVISORY",
            "",
            "can't run policy 'aws-eks-secrets-encryption' from policy pack 'aistack@v0.1.0' during preview: "
            "cannot check until apply: encryptionConfig.provider.keyArn is unknown during preview",
        ),
        (
            "aws-eks-private-endpoint",
            "MANDATORY",
            "",
            "vpcConfig.publicAccessCidrs (public endpoint on) includes 0.0.0.0/0",
        ),
    ]


def test_analyze_reads_secrets_by_value_and_skips_other_types() -> None:
    server = analyzer()
    key = {"enableKeyRotation": True, "description": SECRET, "policy": doc(KMS_ADMIN)}
    assert analyze(server, "aws:kms/key:Key", key) == []
    assert analyze(server, "random:index/randomId:RandomId", {"byteLength": 8}) == []


def test_remediation_sets_tls12_and_keeps_unknown_and_secret_values() -> None:
    props = {
        "minimumTlsVersion": "TLS1_0",
        "kind": "StorageV2",
        "accountName": WIRE_UNKNOWN,
        "tags": {"owner": SECRET},
    }
    request = proto.AnalyzeRequest(
        urn="urn:pulumi:prod::p::azure-native:storage:StorageAccount::sa",
        type="azure-native:storage:StorageAccount",
        name="sa",
        properties=struct(props),
    )
    (remediation,) = analyzer().Remediate(request, None).remediations
    assert remediation.policyName == "azure-storage-https-tls12"
    assert json_format.MessageToDict(remediation.properties) == props | {"minimumTlsVersion": "TLS1_2"}


def test_analyze_stack_joins_by_property_dependency_and_reports_orphans() -> None:
    bucket = proto.AnalyzerResource(
        urn="urn:b", type="aws:s3/bucket:Bucket", name="b", properties=struct({"bucket": "b-1a2b"})
    )
    sse = proto.AnalyzerResource(
        urn="urn:sse",
        type="aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        name="sse",
        properties=struct({"bucket": WIRE_UNKNOWN, "rules": []}),
        propertyDependencies={"bucket": proto.AnalyzerPropertyDependencies(urns=["urn:b"])},
    )
    orphan = proto.AnalyzerResource(
        urn="urn:o", type="aws:s3/bucket:Bucket", name="o", properties=struct({"bucket": "o-9z"})
    )
    found = diagnostics(
        analyzer().AnalyzeStack(proto.AnalyzeStackRequest(resources=[bucket, sse, orphan]), None)
    )
    assert [d for d in found if d[0] == "aws-s3-bucket-has-sse"] == [
        (
            "aws-s3-bucket-has-sse",
            "MANDATORY",
            "urn:o",
            "bucket 'o' has no BucketServerSideEncryptionConfiguration",
        )
    ]


def test_analyze_stack_unknown_join_is_advisory() -> None:
    bucket = proto.AnalyzerResource(
        urn="urn:b", type="aws:s3/bucket:Bucket", name="b", properties=struct({"bucket": "b-1"})
    )
    block = proto.AnalyzerResource(
        urn="urn:pab",
        type="aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        name="pab",
        properties=struct({"bucket": WIRE_UNKNOWN, "blockPublicAcls": True, "blockPublicPolicy": False}),
    )
    found = diagnostics(analyzer().AnalyzeStack(proto.AnalyzeStackRequest(resources=[bucket, block]), None))
    public = [d for d in found if d[0] == "aws-s3-public-access-block"]
    assert [(level, message) for _, level, _, message in public] == [
        ("MANDATORY", "blockPublicPolicy is not true"),
        ("MANDATORY", "ignorePublicAcls is not true"),
        ("MANDATORY", "restrictPublicBuckets is not true"),
        (
            "ADVISORY",
            "can't run policy 'aws-s3-public-access-block' from policy pack 'aistack@v0.1.0' during preview: "
            "cannot check until apply: bucket (of BucketPublicAccessBlock 'pab') is unknown during preview (b)",
        ),
    ]


def test_policy_config_reaches_the_rules() -> None:
    server = analyzer()
    open_https = {
        "ingress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["0.0.0.0/0"]}]
    }
    assert [d[0] for d in analyze(server, "aws:ec2/securityGroup:SecurityGroup", open_https)] == [
        "aws-sg-no-world-ingress"
    ]
    config = proto.PolicyConfig(enforcementLevel=proto.MANDATORY, properties=struct({"allowedPorts": [443]}))
    server.Configure(proto.ConfigureAnalyzerRequest(policyConfig={"aws-sg-no-world-ingress": config}), None)
    assert analyze(server, "aws:ec2/securityGroup:SecurityGroup", open_https) == []


def test_analyzer_info_lists_every_policy_with_level_and_schema() -> None:
    info = analyzer("dev").GetAnalyzerInfo(None, None)
    assert info.name == "aistack"
    policies = {p.name: p for p in info.policies}
    assert list(policies) == [rule.id for rule in RULES]
    assert proto.EnforcementLevel.Name(policies["gpu-spot-has-ondemand-floor"].enforcementLevel) == "DISABLED"
    assert "allowedPorts" in json_format.MessageToDict(
        policies["gcp-firewall-no-world-ingress"].configSchema.properties
    )
