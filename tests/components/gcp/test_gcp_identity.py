"""Workload Identity: one Google service account per (cluster, store), read-only on that bucket."""

from __future__ import annotations

import re

import pytest

from components import contract, naming
from tests.components.gcp.gcp_fixtures import PREFIX, PROJECT

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
    # No project-wide grant to the reader: the only project IAM member is the nodes' role.
    project_grants = declared.of_type("gcp:projects/iAMMember:IAMMember")
    assert [g.inputs["member"] for g in project_grants] == [declared.named("main-nodes-sa").outputs["member"]]


def test_identity_output_is_the_service_account_email(declared):
    email = declared.named("main-models-reader-sa").outputs["email"]
    assert declared.outputs["gcp"]["identities"] == {"main/models": email}
