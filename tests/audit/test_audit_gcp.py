"""GCS audit through the real google-cloud-storage client, against a fake JSON API on 127.0.0.1."""

from __future__ import annotations

import copy

import pytest
from google.auth.credentials import AnonymousCredentials

from aistack.audit.gcp import GcpAuditor
from aistack.errors import InputError
from aistack.spec import StoreSpec
from tests.fakehttp import serve

PROJECT = "ml-prod"
LABELS = {"managed-by": "aistack", "aistack-stack": "dev", "team": "ml"}
COMPLIANT = {
    "kind": "storage#bucket",
    "name": "models-bucket-5f3e2aa",
    "location": "US-CENTRAL1",
    "labels": LABELS,
    "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}, "publicAccessPrevention": "enforced"},
    "versioning": {"enabled": True},
}
READER = {
    "role": "roles/storage.objectViewer",
    "members": ["serviceAccount:reader@ml-prod.iam.gserviceaccount.com"],
}


def gcs(buckets, bindings):
    """The two GCS reads audit makes: the project's buckets and one bucket's IAM policy."""

    def route(method, path, query):
        if path == "/storage/v1/b" and query.get("project") == [PROJECT]:
            return 200, {"kind": "storage#buckets", "items": buckets}
        for bucket in buckets:
            if path == f"/storage/v1/b/{bucket['name']}/iam":
                return 200, {
                    "kind": "storage#policy",
                    "version": 3,
                    "etag": "CAE=",
                    "bindings": bindings[bucket["name"]],
                }
        return 404, {"error": {"code": 404, "message": "Not Found"}}

    return route


def audit(buckets, bindings, stores=None):
    with serve(gcs(buckets, bindings)) as fake:
        auditor = GcpAuditor(
            PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": fake.url}
        )
        return auditor.audit("dev", stores or {"models": StoreSpec(cloud="aws")})


def test_compliant_bucket_passes_and_other_stacks_are_ignored():
    other = {
        **copy.deepcopy(COMPLIANT),
        "name": "models-bucket-0000000",
        "labels": {**LABELS, "aistack-stack": "prod"},
    }
    [entry] = audit([COMPLIANT, other], {COMPLIANT["name"]: [READER]})
    assert (entry["id"], entry["store"]) == ("models-bucket-5f3e2aa", "models")
    assert {c["rule"]: c["status"] for c in entry["checks"]} == {
        "gcp-gcs-no-public": "pass",
        "gcp-gcs-uniform-access": "pass",
        "gcp-gcs-versioning": "pass",
    }


def test_bucket_made_public_by_hand_fails():
    drifted = copy.deepcopy(COMPLIANT)
    drifted["iamConfiguration"] = {
        "uniformBucketLevelAccess": {"enabled": False},
        "publicAccessPrevention": "inherited",
    }
    public = {"role": "roles/storage.objectViewer", "members": ["allUsers"]}
    [entry] = audit([drifted], {drifted["name"]: [READER, public]})
    failed = {c["rule"]: c["detail"] for c in entry["checks"] if c["status"] == "fail"}
    assert failed == {
        "gcp-gcs-no-public": "publicAccessPrevention inherited; public members: allUsers",
        "gcp-gcs-uniform-access": "uniform bucket-level access off",
    }


def test_missing_credentials_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(InputError) as err:
        GcpAuditor(PROJECT)
    assert err.value.line().startswith("credentials: gcp: no Google credentials: DefaultCredentialsError: ")
