"""Replica stores on the graph: a transfer per replica, its inputs, identities, ordering and secrecy.

The multicloud stack (its GCS and Blob stores are replicas of the S3 store), with the Blob replica
refreshed hourly and ``chat`` naming its weights manifest, previewed once per module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from aistack import preview as preview_mod
from aistack import replication
from aistack.errors import InputError
from aistack.spec import spec_from_config

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


def replicated_config() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "stacks" / "Pulumi.multicloud.yaml").read_text())
    data["config"]["aistack:stores"]["models-azure"]["refresh"] = "hourly"
    data["config"]["aistack:endpoints"]["chat"]["weights_manifest"] = DIGEST
    return data


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("stack") / "Pulumi.replicated.yaml"
    path.write_text(yaml.safe_dump(replicated_config()))
    return preview_mod.run(stack_path=path)


def named(report: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in report["resources"] if r["name"] == name]
    return found


def test_one_transfer_per_replica_with_its_mechanism(report):
    replicas = {r["name"]: r for r in report["resources"] if r["type"].endswith(":WeightsReplica")}
    assert set(replicas) == {"models-gcp-replication", "models-azure-replication"}
    out = report["outputs"]["replicas"]
    assert out["models-gcp"]["mechanism"] == "storage-transfer"
    assert out["models-azure"] == out["models-azure"] | {
        "mechanism": "scheduled-copy",
        "schedule": "17 * * * *",
    }
    assert (
        out["models-gcp"]["source"]
        == out["models-azure"]["source"]
        == report["outputs"]["aws"]["stores"]["models-aws"]
    )


def test_storage_transfer_reads_s3_as_a_federated_role_and_mirrors_daily(report):
    job = named(report, "models-gcp-replication-job")
    spec = job["inputs"]["transferSpec"]
    role = named(report, "models-gcp-replication-source-role")
    assert f":role/{role['name']}" in spec["awsS3DataSource"]["roleArn"]
    # No access key, no secret: the role is the only credential.
    assert set(spec["awsS3DataSource"]) == {"bucketName", "roleArn"}
    assert spec["gcsDataSink"]["bucketName"] == report["outputs"]["gcp"]["stores"]["models-gcp"].removeprefix(
        "gs://"
    )
    assert spec["transferOptions"] == {"overwriteWhen": "DIFFERENT", "deleteObjectsUniqueInSink": True}
    assert job["inputs"]["schedule"]["repeatInterval"] == "86400s"
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Federated": "accounts.google.com"}]
    assert list(trust[0]["Condition"]["StringEquals"]) == ["accounts.google.com:sub"]


def test_storage_transfer_waits_for_the_role_policy_and_bucket_grants(report):
    job = named(report, "models-gcp-replication-job")
    before = set(job["dependencies"])
    for name in ("api", "source-read", "sink-writer", "sink-reader"):
        assert named(report, f"models-gcp-replication-{name}")["urn"] in before
    grants = {
        named(report, f"models-gcp-replication-sink-{k}")["inputs"]["role"] for k in ("writer", "reader")
    }
    assert grants == {"roles/storage.legacyBucketWriter", "roles/storage.objectViewer"}
    assert all(
        named(report, f"models-gcp-replication-sink-{k}")["inputs"]["member"].endswith(
            "@storage-transfer-service.iam.gserviceaccount.com"
        )
        for k in ("writer", "reader")
    )


def test_source_role_reads_only_the_primary_bucket_and_its_key(report):
    for replica in ("models-gcp", "models-azure"):
        policy = json.loads(named(report, f"{replica}-replication-source-read")["inputs"]["policy"])
        actions = sorted(a for s in policy["Statement"] for a in s["Action"])
        assert actions == [
            "kms:Decrypt",
            "kms:DescribeKey",
            "s3:GetBucketLocation",
            "s3:GetObject",
            "s3:ListBucket",
        ]
        assert all(s["Resource"] != "*" for s in policy["Statement"])


def test_scheduled_copy_runs_in_the_aks_cluster_with_both_workload_identities(report):
    cron = named(report, "models-azure-replication-job")
    assert cron["cloud"] == "azure"
    spec = cron["inputs"]["spec"]
    assert spec["schedule"] == "17 * * * *" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    account = pod["spec"]["serviceAccountName"]
    assert account == "models-azure-replication-replicator"
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RCLONE_CONFIG_SRC_TYPE"] == "s3" and env["RCLONE_CONFIG_DST_TYPE"] == "azureblob"
    assert env["AWS_WEB_IDENTITY_TOKEN_FILE"] == "/var/run/secrets/aws/token"
    # No credential in the job: every value is a name, an ARN, a region or a path.
    assert not any("SECRET" in k or k.endswith(("_KEY", "_SAS_URL")) for k in env)
    token = pod["spec"]["volumes"][1]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "sts.amazonaws.com"
    trust = json.loads(named(report, "models-azure-replication-source-role")["inputs"]["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert f"system:serviceaccount:aistack-replication:{account}" in condition.values()
    assert "sts.amazonaws.com" in condition.values()
    federation = named(report, "models-azure-replication-federation")["inputs"]
    assert federation["subject"] == f"system:serviceaccount:aistack-replication:{account}"


def test_scheduled_copy_waits_for_the_grant_to_propagate_and_the_role_policy(report):
    before = set(named(report, "models-azure-replication-job")["dependencies"])
    assert named(report, "models-azure-replication-write-propagation")["urn"] in before
    assert named(report, "models-azure-replication-source-read")["urn"] in before
    write = named(report, "models-azure-replication-write")["inputs"]
    assert write["roleDefinitionId"].endswith(
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    )  # Storage Blob Data Contributor
    assert write["scope"].endswith("/blobServices/default/containers/model-weights")


@pytest.mark.parametrize(
    ("cluster", "store", "backend"),
    [
        ("east", "models-aws", "s3"),
        ("central", "models-gcp", "google cloud storage"),
        ("south", "models-azure", "azureblob"),
    ],
)
def test_servers_check_their_own_clouds_copy_before_serving(report, cluster, store, backend):
    checked = named(report, f"{cluster}-chat-deployment")["inputs"]["spec"]["template"]["spec"]
    [init] = checked["initContainers"]
    assert init["name"] == "weights-check" and init["image"].startswith("docker.io/rclone/rclone:")
    assert DIGEST in init["args"][0] and "llama-3.1-8b-instruct/aistack-manifest.txt" in init["args"][0]
    env = {e["name"]: e.get("value") for e in init["env"]}
    assert env["RCLONE_CONFIG_SRC_TYPE"] == backend
    # It runs as the store's reader, the server's own (read-only) identity, on its cloud's copy.
    assert checked["serviceAccountName"] == f"{store}-reader"


def test_servers_without_a_manifest_digest_have_no_check(preview):
    spec = named(preview("multicloud"), "central-chat-deployment")["inputs"]["spec"]["template"]["spec"]
    assert "initContainers" not in spec


def test_gke_admits_the_check_image():
    from components import images
    from components.k8s.weights import RCLONE_IMAGE

    spec = spec_from_config(replicated_config()["config"], "replicated.yaml")
    assert f"{images.repository(RCLONE_IMAGE)}*" in images.allow_patterns(spec)


def test_no_mandatory_violation(report):
    assert [v for v in report["policy"]["violations"] if v["level"] == "mandatory"] == []


def test_plan_prices_what_it_copies():
    spec = spec_from_config(replicated_config()["config"], "replicated.yaml")
    [gcp, azure] = replication.plan(spec)
    assert (gcp.replica, gcp.source_cloud, gcp.interval_s, gcp.runs_in) == ("models-gcp", "aws", 86400, None)
    assert (azure.mechanism, azure.runs_in, azure.interval_s) == ("scheduled-copy", "south", 3600)
    # Llama-3.1-8B in BF16: 8.03 B parameters x 2 bytes.
    assert gcp.weights_gib == pytest.approx(14.96, abs=0.05)


def test_a_pair_no_transfer_can_fill_is_refused():
    config = replicated_config()["config"]
    stores = config["aistack:stores"]
    stores["models-aws"]["replica_of"] = "models-azure"
    stores["models-azure"].pop("replica_of")
    stores["models-gcp"]["replica_of"] = "models-azure"
    config["aistack:endpoints"]["chat"]["store"] = "models-azure"
    spec = spec_from_config(config, "replicated.yaml")
    with pytest.raises(InputError) as err:
        replication.check(spec, "replicated.yaml")
    assert "aistack:stores.models-aws.replica_of" in err.value.line()
    assert "public network access disabled" in err.value.line()


def test_uploaded_weights_read_from_replicas_need_their_manifest_digest():
    config = replicated_config()["config"]
    config["aistack:endpoints"]["chat"]["weights_uploaded"] = True
    config["aistack:endpoints"]["chat"].pop("weights_manifest")
    spec = spec_from_config(config, "replicated.yaml")
    with pytest.raises(InputError) as err:
        replication.check(spec, "replicated.yaml")
    assert "aistack:endpoints.chat.weights_manifest" in err.value.line()
    config["aistack:endpoints"]["chat"]["weights_manifest"] = DIGEST
    replication.check(spec_from_config(config, "replicated.yaml"), "replicated.yaml")
