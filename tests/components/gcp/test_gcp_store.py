"""The GCS store: private, uniform access, versioned, soft-deleted, CMEK, protected in prod."""

from __future__ import annotations

import pytest

from aistack import engine
from tests.components.gcp.gcp_fixtures import PROJECT

STORE = "aistack:gcp:ObjectStore"


@pytest.fixture
def declared(gcp_stack):
    return gcp_stack()


def test_children_with_a_customer_managed_key(declared):
    store = declared.named("models")
    assert store.type == STORE
    assert sorted((r.type, r.name) for r in declared.children(store)) == [
        ("gcp:kms/cryptoKey:CryptoKey", "models-key"),
        ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "models-key-agent"),
        ("gcp:kms/keyRing:KeyRing", "models-keyring"),
        ("gcp:storage/bucket:Bucket", "models-bucket"),
    ]


def test_bucket_is_private_uniform_versioned_and_soft_deleted(declared):
    bucket = declared.named("models-bucket").inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["softDeletePolicy"] == {"retentionDurationSeconds": 7 * 24 * 3600}
    assert bucket["forceDestroy"] is False
    assert bucket["location"] == "US-CENTRAL1"
    expire = [r for r in bucket["lifecycleRules"] if r["action"]["type"] == "Delete"]
    assert expire == [
        {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 21, "withState": "ARCHIVED"}}
    ]


def test_bucket_is_encrypted_with_its_key_and_the_gcs_agent_may_use_it(declared):
    key = declared.named("models-key")
    assert key.inputs["rotationPeriod"] == "7776000s"
    assert declared.named("models-bucket").inputs["encryption"] == {"defaultKmsKeyName": key.outputs["id"]}
    grant = declared.named("models-key-agent")
    # The agent comes from the storage API lookup that creates it, not from its well-known name.
    assert grant.inputs == {
        "cryptoKeyId": key.outputs["id"],
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": engine.KNOWN_INVOKES["gcp:storage/getProjectServiceAccount:getProjectServiceAccount"](
            {"project": PROJECT}
        )["member"],
    }
    assert grant.urn in declared.named("models-bucket").dependencies


def test_without_a_customer_managed_key_there_is_no_key(gcp_stack):
    declared = gcp_stack({"aistack:stores": {"models": {"customer_managed_key": False}}})
    assert [r.name for r in declared.children(declared.named("models"))] == ["models-bucket"]
    assert "encryption" not in declared.named("models-bucket").inputs


def test_bucket_uri_is_the_gs_url(declared):
    name = declared.named("models-bucket").outputs["name"]
    assert declared.outputs["gcp"]["stores"]["models"] == f"gs://{name}"


def test_prod_protects_bucket_and_key(gcp_stack):
    declared = gcp_stack({"aistack:environment": "prod"})
    for name in ("models-bucket", "models-key", "models-keyring"):
        assert declared.named(name).protect, name
    assert not declared.named("models-key-agent").protect


def test_dev_protects_nothing(declared):
    assert not declared.named("models-bucket").protect
