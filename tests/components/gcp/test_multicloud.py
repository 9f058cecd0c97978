"""The multi-cloud stack: AWS and GCP side by side, each on its own explicit provider."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
CONCEPTS = ("Network", "Cluster", "ObjectStore", "WorkloadIdentity")
PROVIDER_PACKAGE = {"aws": "aws", "gcp": "gcp", "azure": "azure-native"}


@pytest.fixture
def report(preview):
    return preview("multicloud")


# Cloud-neutral utilities a family may use beside its cloud's provider (Azure waits for role
# assignments; EKS node groups apply changed bounds with a local command).
UTILITY = (
    "pulumi:providers:time",
    "time:",
    "pulumi:providers:command",
    "command:",
    # The API keys' generator (components/apikey.py): one per ApiKeys component, local to the engine.
    "pulumi:providers:random",
    "random:",
)


def test_each_cloud_has_one_provider_of_its_own_package(report):
    providers = {
        r["cloud"]: r
        for r in report["resources"]
        if r["type"].startswith("pulumi:providers:") and not r["type"].startswith(UTILITY)
    }
    assert {"aws", "gcp"} <= set(providers)
    for cloud, provider in providers.items():
        assert provider["type"] == f"pulumi:providers:{PROVIDER_PACKAGE[cloud]}"


def test_every_resource_carries_its_own_clouds_provider(report):
    providers = {
        r["cloud"]: r["urn"]
        for r in report["resources"]
        if r["type"].startswith("pulumi:providers:") and not r["type"].startswith(UTILITY)
    }
    custom = [
        r
        for r in report["resources"]
        if r["custom"] and not r["type"].startswith(("pulumi:providers:", "kubernetes:", *UTILITY))
    ]
    assert {r["cloud"] for r in custom} >= {"aws", "gcp"}
    for resource in custom:
        package = resource["type"].split(":")[0]
        assert PROVIDER_PACKAGE[resource["cloud"]] == package, resource["urn"]
        assert resource["provider"] == providers[resource["cloud"]], resource["urn"]


def test_both_clouds_are_complete_stacks(report):
    types = {r["type"] for r in report["resources"]}
    for cloud in ("aws", "gcp"):
        for concept in CONCEPTS:
            assert f"aistack:{cloud}:{concept}" in types, (cloud, concept)
    # Every GPU pool is provisioning: auto: AWS has Karpenter's objects instead of a GpuNodePool, GCP
    # keeps one for the L4 pool's on-demand floor (the first priority of its ComputeClass).
    assert "aistack:gcp:GpuNodePool" in types and "aistack:aws:GpuNodePool" not in types
    assert {"kubernetes:karpenter.sh/v1:NodePool", "kubernetes:cloud.google.com/v1:ComputeClass"} <= types
    assert set(report["outputs"]) >= {"aws", "gcp"}
    assert report["outputs"]["gcp"]["stores"]["models-gcp"].startswith("gs://")
    assert report["outputs"]["aws"]["stores"]["models-aws"].startswith("s3://")


def test_secure_defaults_are_visible_in_the_gcp_inputs(report):
    by_type = {}
    for r in report["resources"]:
        by_type.setdefault(r["type"], []).append(r["inputs"])
    (gke,) = by_type["gcp:container/cluster:Cluster"]
    assert gke["privateClusterConfig"]["enablePrivateNodes"] is True
    assert gke["databaseEncryption"]["state"] == "ENCRYPTED"
    (bucket,) = by_type["gcp:storage/bucket:Bucket"]
    assert bucket["publicAccessPrevention"] == "enforced"
    drivers = {
        a["gpuDriverInstallationConfig"]["gpuDriverVersion"]
        for pool in by_type["gcp:container/nodePool:NodePool"]
        for a in pool["nodeConfig"].get("guestAccelerators", [])
    }
    # The L4 floor's managed pool (LATEST); the A100 pool is auto, its driver in its ComputeClass.
    assert drivers == {"LATEST"}
    (a100,) = [r["inputs"] for r in report["resources"] if r["name"] == "central-provisioner-a100-class"]
    assert a100["spec"]["priorities"][0]["gpu"]["driverVersion"] == "default"


def test_cli_preview_lists_both_clouds_side_by_side():
    done = subprocess.run(
        [sys.executable, "-m", "aistack", "preview", "--stack", "multicloud", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["stack"] == "multicloud"
    assert {r["cloud"] for r in result["resources"]} >= {"aws", "gcp"}
