"""Workload Identity: one Google service account per (cluster, store), read-only on that bucket."""

from __future__ import annotations

import re

import pytest

from components import contract, naming
from tests.components.gcp.gcp_fixtures import PREFIX, PROJECT, PROJECT_NUMBER

IDENTITY = "aistack:gcp:WorkloadIdentity"


@pytest.fixture
def declared(gcp_stack):
    return gcp_stack()


def test_children(declared):
    identity = declared.named("main-models-reader")
    assert identity.type == IDENTITY
    assert sorted((r.type, r.name) for r in declared.children(identity)) == [
        ("gcp:serviceaccount/account:Account", "main-models-reader-sa"),
        ("gcp:serviceaccount/iAMMember:IAMMember", "main-models-reader-wi"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "main-models-reader-read"),
    ]


def test_only_the_serving_service_account_may_act_as_it(declared):
    account = declared.named("main-models-reader-sa")
    assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account.inputs["accountId"])
    assert account.inputs["accountId"] == naming.gcp_service_account(PREFIX, "main-models-read")
    ksa = f"{contract.READER_NAMESPACE}/{contract.reader_service_account('models')}"
    assert declared.named("main-models-reader-wi").inputs == {
        "serviceAccountId": account.outputs["name"],
        "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:{PROJECT}.svc.id.goog[{ksa}]",
    }


def test_it_may_read_that_bucket_only(declared):
    account = declared.named("main-models-reader-sa")
    bucket_grants = declared.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    assert [g.inputs for g in bucket_grants] == [
        {
            "bucket": declared.named("models-bucket").outputs["name"],
            "role": "roles/storage.objectViewer",
            "member": account.outputs["member"],
        }
    ]
    # No project-wide grant to the reader: the project IAM members are the nodes' role and KEDA's
    # Cloud Monitoring read.
    project_grants = declared.of_type("gcp:projects/iAMMember:IAMMember")
    assert account.outputs["member"] not in {g.inputs["member"] for g in project_grants}
    assert sorted(g.name for g in project_grants) == [
        "main-metrics-reader-monitoring-viewer",
        "main-nodes-sa-role",
    ]


def test_keda_reads_monitoring_as_its_operator_service_account(declared):
    identity = declared.named("main-metrics-reader")
    assert identity.type == "aistack:gcp:AddonIdentity"
    (grant,) = declared.children(identity)
    namespace, account = contract.ADDON_SERVICE_ACCOUNTS["keda-operator"]
    principal = (
        f"principal://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
        f"{PROJECT}.svc.id.goog/subject/ns/{namespace}/sa/{account}"
    )
    assert (grant.type, grant.name) == (
        "gcp:projects/iAMMember:IAMMember",
        "main-metrics-reader-monitoring-viewer",
    )
    assert grant.inputs == {"project": PROJECT, "role": "roles/monitoring.viewer", "member": principal}
    assert (namespace, account) == ("keda", "keda-operator")


def test_identity_output_is_the_service_account_email(declared):
    email = declared.named("main-models-reader-sa").outputs["email"]
    assert declared.outputs["gcp"]["identities"] == {"main/models": email}
