"""The ``azure-dev`` stack previewed offline, and the AWS ``dev`` spec moved to Azure."""

from __future__ import annotations

import copy
from collections import Counter

import yaml

from aistack import preview as preview_mod
from aistack.engine import SECRET_MASK
from tests.conftest import REPO

AZURE_DEV = {
    "aistack:azure:Network": 1,
    "aistack:azure:Cluster": 1,
    "aistack:azure:GpuNodePool": 1,
    "aistack:azure:ObjectStore": 1,
    "aistack:azure:WorkloadIdentity": 1,
    "aistack:azure:AuditLog": 1,
    "aistack:azure:ApiKeys": 1,
    "pulumi:providers:azure-native": 1,
    "azure-native:resources:ResourceGroup": 1,
    "azure-native:network:VirtualNetwork": 1,
    "azure-native:network:Subnet": 2,
    "azure-native:network:PublicIPAddress": 1,
    "azure-native:network:NatGateway": 1,
    "azure-native:network:NetworkSecurityGroup": 1,
    "azure-native:privatedns:PrivateZone": 2,
    "azure-native:privatedns:VirtualNetworkLink": 2,
    "azure-native:managedidentity:UserAssignedIdentity": 4,
    # subnet, KMS vault, store reader, RBAC Cluster Admin for the admin group, and ESO's read of the API keys.
    "azure-native:authorization:RoleAssignment": 6,
    # KMS, store key, API keys.
    "azure-native:keyvault:Vault": 3,
    "azure-native:keyvault:Secret": 1,
    "azure-native:keyvault:Key": 2,
    "azure-native:operationalinsights:Workspace": 2,
    "azure-native:containerservice:ManagedCluster": 1,
    "azure-native:monitor:DiagnosticSetting": 2,
    "azure-native:containerservice:AgentPool": 1,
    "azure-native:storage:StorageAccount": 1,
    "azure-native:storage:BlobServiceProperties": 1,
    "azure-native:storage:ManagementPolicy": 1,
    "azure-native:storage:BlobContainer": 1,
    "azure-native:network:PrivateEndpoint": 2,
    "azure-native:network:PrivateDnsZoneGroup": 2,
    "azure-native:managedidentity:FederatedIdentityCredential": 2,
}


def by_name(report):
    return {r["name"]: r for r in report["resources"] if r["type"] != "pulumi:providers:azure-native"}


def test_azure_dev_declares_the_complete_azure_stack(preview):
    report = preview("azure-dev")
    azure = Counter(
        r["type"] for r in report["resources"] if r["type"].startswith(("azure-native:", "aistack:azure:"))
    )
    azure["pulumi:providers:azure-native"] = sum(
        r["type"] == "pulumi:providers:azure-native" for r in report["resources"]
    )
    assert azure == AZURE_DEV
    assert {r["cloud"] for r in report["resources"]} == {"azure"}
    # The serving layer reaches the AKS cluster through its kubeconfig: the device plugin and the model.
    kinds = {r["type"] for r in report["resources"] if r["type"].startswith("kubernetes:")}
    assert {"kubernetes:apps/v1:DaemonSet", "kubernetes:apps/v1:Deployment"} <= kinds
    assert preview_mod.exit_code(report) == 0


def test_azure_dev_shows_its_defaults_in_the_inputs(preview):
    r = by_name(preview("azure-dev"))
    aks = r["main-aks"]["inputs"]
    assert aks["sku"] == {"name": "Base", "tier": "Free"}
    # Allow-listed public API server; the runner CIDRs are the operator's, unknown until set.
    assert aks["apiServerAccessProfile"] == {"enablePrivateCluster": False, "authorizedIPRanges": "[unknown]"}
    assert aks["securityProfile"]["azureKeyVaultKms"]["enabled"] is True
    assert aks["networkProfile"]["networkPolicy"] == "cilium"
    assert aks["agentPoolProfiles"][0]["vmSize"] == "Standard_D4ds_v5"
    pool = r["main-a10-nodes"]["inputs"]
    assert (pool["vmSize"], pool["scaleSetPriority"], pool["spotMaxPrice"]) == (
        "Standard_NV36ads_A10_v5",
        "Spot",
        -1,
    )
    assert pool["gpuProfile"] == {"driver": "Install"} and pool["availabilityZones"] == ["1"]
    assert r["main-a10-nodes"]["ignore_changes"] == ["count"]
    account = r["models-account"]["inputs"]
    assert account["sku"] == {"name": "Standard_LRS"} and account["publicNetworkAccess"] == "Disabled"
    assert r["models-blob"]["inputs"]["deleteRetentionPolicy"] == {"enabled": True, "days": 7}
    assert not any(res["protect"] for res in r.values()), "dev protects nothing"


def test_azure_dev_outputs(preview):
    outputs = preview("azure-dev")["outputs"]["azure"]
    assert outputs["clusters"]["main"]["kubeconfig"] == SECRET_MASK
    assert outputs["clusters"]["main"]["name"] == "aistack-azure-dev-main"
    assert outputs["stores"]["models"].endswith(".blob.core.windows.net/model-weights")
    assert set(outputs["identities"]) == {"main/models"}
    assert set(outputs["endpoints"]) == {"chat"}


def test_gpu_workloads_tolerate_the_spot_taint_aks_adds(preview):
    r = by_name(preview("azure-dev"))
    assert (
        "kubernetes.azure.com/scalesetpriority=spot:NoSchedule" in r["main-a10-nodes"]["inputs"]["nodeTaints"]
    )
    spot = {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    for workload in ("chat-deployment", "main-gpu-runtime-device-plugin"):
        assert spot in r[workload]["inputs"]["spec"]["template"]["spec"]["tolerations"], workload


# The AWS dev stack's pools, on Azure: Azure offers no L4 VM, so the pool takes Azure's 24 GB
# inference GPU (a whole A10) under the same pool name, and serves the same model.
AZURE_POOLS = {"l4": {"accelerator": "A10-24GB", "instance_types": ["Standard_NV36ads_A10_v5"]}}


def moved_to_azure(aws_config: dict) -> dict:
    """The AWS dev config with only the cloud placement changed to Azure."""
    azure_dev = yaml.safe_load((REPO / "stacks" / "Pulumi.azure-dev.yaml").read_text())["config"]
    config = copy.deepcopy(aws_config)
    config["aistack:clouds"] = {"azure": azure_dev["aistack:clouds"]["azure"]}
    for cluster in config["aistack:clusters"].values():
        cluster["cloud"] = "azure"
        # AKS serves a private or an allow-listed public API server, not both (EKS does both).
        cluster["api"]["private"] = False
        for name, pool in cluster["gpu_pools"].items():
            pool.update(AZURE_POOLS[name])
    for store in config["aistack:stores"].values():
        store["cloud"] = "azure"
    return config


def components(report, cloud):
    """(concept, name) of every component; each family names its network and audit log after its cloud.

    Add-on identities are left out: they exist only where a cloud lacks a managed add-on (EKS runs
    the Cluster Autoscaler with its own identity; AKS scales its pools itself).
    """
    return sorted(
        (
            r["type"].replace(f"aistack:{cloud}:", ""),
            r["name"].replace(cloud, "<cloud>", 1) if r["name"].startswith(cloud) else r["name"],
        )
        for r in report["resources"]
        if r["type"].startswith("aistack:") and r["type"].split(":")[-1] not in EKS_ONLY
    )


# What EKS needs and AKS provides itself: the Cluster Autoscaler and its cloud identity.
EKS_ONLY = {"AddonIdentity", "ClusterAutoscaler"}


def test_the_dev_spec_moved_to_azure_previews_the_equivalent_stack(preview, tmp_path):
    aws_file = REPO / "stacks" / "Pulumi.dev.yaml"
    config = yaml.safe_load(aws_file.read_text())["config"]
    moved = tmp_path / "Pulumi.dev.yaml"
    moved.write_text(yaml.safe_dump({"config": moved_to_azure(config)}))
    aws, azure = preview("dev"), preview_mod.run(stack_path=moved)
    assert components(azure, "azure") == components(aws, "aws")
    aws_only = {r["type"].split(":")[-1] for r in aws["resources"] if r["type"].startswith("aistack:")}
    azure_all = {r["type"].split(":")[-1] for r in azure["resources"] if r["type"].startswith("aistack:")}
    assert aws_only - azure_all == EKS_ONLY
    assert {r["cloud"] for r in azure["resources"]} == {"azure"}
    assert set(azure["outputs"]) == {"azure"}
    for section in ("clusters", "stores", "identities", "endpoints"):
        assert set(azure["outputs"]["azure"][section]) == set(aws["outputs"]["aws"][section])
    pools = [r for r in azure["resources"] if r["type"] == "azure-native:containerservice:AgentPool"]
    assert [(p["name"], p["inputs"]["scaleSetPriority"]) for p in pools] == [("main-l4-nodes", "Spot")]
    assert by_name(azure)["main-aks"]["inputs"]["resourceName"] == "aistack-dev-main"


def test_multicloud_azure_share_is_complete_and_on_its_own_provider(preview):
    report = preview("multicloud")
    azure = [r for r in report["resources"] if r["cloud"] == "azure"]
    (provider,) = [r for r in azure if r["type"] == "pulumi:providers:azure-native"]
    assert provider["inputs"]["location"] == "southcentralus"
    for r in azure:
        if r["type"].startswith("azure-native:"):
            assert r["provider"] == provider["urn"], r["urn"]
    # The A10 pool is provisioning: auto (node auto-provisioning): NodePools, no agent pools.
    assert not [r for r in azure if r["type"] == "azure-native:containerservice:AgentPool"]
    nodepools = {
        r["name"]
        for r in report["resources"]
        if r["type"] == "kubernetes:karpenter.sh/v1:NodePool" and r["cloud"] == "azure"
    }
    assert nodepools == {"south-provisioner-a10-ondemand", "south-provisioner-a10-nodes"}
    aks = next(r["inputs"] for r in azure if r["type"] == "azure-native:containerservice:ManagedCluster")
    assert aks["networkProfile"]["serviceCidr"] == "172.21.0.0/16"
    assert report["outputs"]["azure"]["stores"]["models-azure"].endswith(
        ".blob.core.windows.net/model-weights"
    )
    assert set(report["outputs"]["azure"]["identities"]) == {"south/models-azure"}
    assert set(report["outputs"]["azure"]["endpoints"]) == {"chat"}
