"""The Azure family's children and the inputs that carry its security and GPU meaning."""

from __future__ import annotations

import base64
import json
import re

import pytest
from pulumi.output import Unknown

from aistack import engine
from components import gpu
from components.azure import rbac
from components.azure.cluster import AKS_AAD_SERVER_APP_ID, cluster_ca
from tests.components.azure.azure_config import ADMINS, RUNNER, SUBSCRIPTION, TAGS, TENANT, spec

AKS = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
ACCOUNT = "azure-native:storage:StorageAccount"
ROLE = "azure-native:authorization:RoleAssignment"
GPU_TAINT = "nvidia.com/gpu=present:NoSchedule"


def secret(value):
    """The plain value of a secret output, failing if it is not secret."""
    assert (
        isinstance(value, dict) and value.get(engine.rpc._special_sig_key) == engine.rpc._special_secret_sig
    ), f"not a secret: {value!r}"
    return value["value"]


# --- network ---------------------------------------------------------------------------------


def test_network_children_and_private_subnets(azure):
    d = azure()
    (network,) = d.of_type("aistack:azure:Network")
    assert network.name == "azure"
    assert sorted(r.name for r in d.children(network)) == [
        "azure-blob-dns",
        "azure-blob-dns-link",
        "azure-endpoints",
        "azure-nat",
        "azure-nat-ip",
        "azure-nodes",
        "azure-nsg",
        "azure-rg",
        "azure-vault-dns",
        "azure-vault-dns-link",
        "azure-vnet",
    ]
    nodes, endpoints = d.named("azure-nodes").inputs, d.named("azure-endpoints").inputs
    assert nodes["addressPrefix"] == "10.40.0.0/17"
    assert endpoints["addressPrefix"] == "10.40.128.0/20"
    assert nodes["natGateway"]["id"] == d.named("azure-nat").outputs["id"]
    assert nodes["defaultOutboundAccess"] is False and endpoints["defaultOutboundAccess"] is False
    nsg_id = d.named("azure-nsg").outputs["id"]
    assert nodes["networkSecurityGroup"]["id"] == nsg_id == endpoints["networkSecurityGroup"]["id"]
    assert endpoints["privateEndpointNetworkPolicies"] == "Enabled"
    assert d.named("azure-vnet").inputs["addressSpace"] == {"addressPrefixes": ["10.40.0.0/16"]}


def test_nsg_allows_nothing_from_the_internet(azure):
    rules = azure().named("azure-nsg").inputs["securityRules"]
    inbound = [r for r in rules if r["direction"] == "Inbound"]
    assert all(r["access"] == "Deny" for r in inbound)
    assert {
        "sourceAddressPrefix": "Internet",
        "access": "Deny",
        "destinationPortRange": "*",
    }.items() <= inbound[0].items()


def test_single_nat_gateway_in_the_first_zone(azure):
    d = azure()
    ip, nat = d.named("azure-nat-ip").inputs, d.named("azure-nat").inputs
    assert (
        ip["sku"] == {"name": "Standard", "tier": "Regional"} and ip["publicIPAllocationMethod"] == "Static"
    )
    assert ip["zones"] == ["1"] == nat["zones"]
    assert nat["publicIpAddresses"] == [{"id": d.named("azure-nat-ip").outputs["id"]}]


@pytest.mark.parametrize(
    ("kind", "zone"),
    [("blob", "privatelink.blob.core.windows.net"), ("vault", "privatelink.vaultcore.azure.net")],
)
def test_private_dns_zones_are_linked_to_the_vnet(azure, kind, zone):
    d = azure()
    assert d.named(f"azure-{kind}-dns").inputs["privateZoneName"] == zone
    link = d.named(f"azure-{kind}-dns-link").inputs
    assert link["virtualNetwork"] == {"id": d.named("azure-vnet").outputs["id"]}
    assert link["registrationEnabled"] is False


# --- cluster ---------------------------------------------------------------------------------


def test_cluster_children(azure):
    d = azure()
    assert sorted(r.name for r in d.children(d.named("main"))) == [
        f"main-admin-{ADMINS}",
        "main-aks",
        "main-diagnostics",
        "main-grants-propagation",
        "main-identity",
        "main-kms-access",
        "main-kms-key",
        "main-kms-vault",
        "main-logs",
        "main-rbac-propagation",
        "main-subnet-access",
    ]


def test_cluster_identity_access_and_api(azure):
    d = azure()
    aks = d.named("main-aks").inputs
    assert aks["apiServerAccessProfile"] == {"enablePrivateCluster": False, "authorizedIPRanges": [RUNNER]}
    assert aks["tags"]["aistack-deployer"] == "allow-listed"
    assert aks["aadProfile"] == {
        "managed": True,
        "enableAzureRBAC": True,
        "tenantID": TENANT,
        "adminGroupObjectIDs": [ADMINS],
    }
    assert aks["disableLocalAccounts"] is True and aks["enableRBAC"] is True
    assert aks["oidcIssuerProfile"] == {"enabled": True}
    assert aks["securityProfile"]["workloadIdentity"] == {"enabled": True}
    identity = d.named("main-identity").outputs
    assert aks["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity["id"]]}
    subnet = d.named("main-subnet-access").inputs
    assert subnet["scope"] == d.named("azure-nodes").outputs["id"]
    assert subnet["roleDefinitionId"].endswith(rbac.NETWORK_CONTRIBUTOR)
    assert subnet["principalId"] == identity["principalId"] and subnet["principalType"] == "ServicePrincipal"


def test_public_api_is_allow_listed(azure):
    d = azure(
        spec(
            **{
                "clusters.main.api": {
                    "deployer": "allow-listed",
                    "private": False,
                    "public_cidrs": ["3.5.140.0/22"],
                }
            }
        )
    )
    api = d.named("main-aks").inputs["apiServerAccessProfile"]
    assert api == {"enablePrivateCluster": False, "authorizedIPRanges": ["3.5.140.0/22"]}


def test_allow_list_awaiting_the_operator_is_unknown_in_the_preview(azure):
    d = azure(spec(**{"clusters.main.api": {"deployer": "allow-listed", "private": False}}))
    ranges = d.named("main-aks").inputs["apiServerAccessProfile"]["authorizedIPRanges"]
    assert isinstance(ranges, Unknown)


def test_admin_groups_and_deployer_hold_rbac_cluster_admin_before_the_kubeconfig(azure):
    deployer = "00000000-0000-0000-0000-0000000000d4"
    d = azure(spec(**{"clouds.azure.deployer_object_id": deployer}))
    aks = d.named("main-aks")
    assignments = {r.name: r.inputs for r in d.of_type("azure-native:authorization:RoleAssignment")}
    admins = {name: a for name, a in assignments.items() if name.startswith("main-admin-")}
    assert admins == {
        "main-admin-deployer": {
            "scope": aks.outputs["id"],
            "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
            "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
            "principalId": deployer,
            "principalType": "ServicePrincipal",
        },
        f"main-admin-{ADMINS}": {
            "scope": aks.outputs["id"],
            "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
            "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b",
            "principalId": ADMINS,
            "principalType": "Group",
        },
    }
    # "New role assignments can take up to 5 minutes to propagate" (AKS docs): wait that long, under
    # the family's explicit time provider, after every assignment.
    wait = d.named("main-rbac-propagation")
    assert wait.type == "time:index/sleep:Sleep" and wait.inputs["createDuration"] == "300s"
    assert set(wait.dependencies) >= {d.named(f"main-admin-{ADMINS}").urn}
    (clock,) = d.of_type("pulumi:providers:time")
    assert wait.provider.startswith(clock.urn)


def test_secrets_encrypted_with_a_key_vault_key(azure):
    d = azure()
    kms = d.named("main-aks").inputs["securityProfile"]["azureKeyVaultKms"]
    key = d.named("main-kms-key")
    assert kms == {
        "enabled": True,
        "keyId": key.outputs["keyUriWithVersion"],
        "keyVaultNetworkAccess": "Public",
    }
    assert key.inputs["properties"]["keyOps"] == ["encrypt", "decrypt"]
    assert "rotationPolicy" not in key.inputs["properties"]
    vault = d.named("main-kms-vault").inputs["properties"]
    assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True
    assert vault["tenantId"] == TENANT
    access = d.named("main-kms-access").inputs
    assert access["scope"] == d.named("main-kms-vault").outputs["id"]
    assert access["roleDefinitionId"].endswith(rbac.KEY_VAULT_CRYPTO_USER)


def test_without_kms_no_vault_and_no_kms_profile(azure):
    d = azure(spec(**{"clouds.azure.secrets_kms": False}))
    assert "azureKeyVaultKms" not in d.named("main-aks").inputs["securityProfile"]
    assert not [r for r in d.resources if r.name.startswith("main-kms")]


def test_network_profile_policy_and_egress(azure):
    net = azure().named("main-aks").inputs["networkProfile"]
    assert net == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkDataplane": "cilium",
        "networkPolicy": "cilium",
        "outboundType": "userAssignedNATGateway",
        "loadBalancerSku": "standard",
        "podCidr": "10.244.0.0/16",
        "serviceCidr": "172.20.0.0/16",
        "dnsServiceIP": "172.20.0.10",
    }


def test_system_pool_is_small_system_mode_and_autoscaled(azure):
    d = azure()
    aks = d.named("main-aks")
    (system,) = aks.inputs["agentPoolProfiles"]
    assert system["name"] == "system" and system["mode"] == "System"
    assert system["vmSize"] == "Standard_D4ds_v5"
    assert (system["enableAutoScaling"], system["minCount"], system["maxCount"]) == (True, 2, 3)
    assert system["availabilityZones"] == ["1", "2", "3"]
    assert system["vnetSubnetID"] == d.named("azure-nodes").outputs["id"]
    assert system["enableNodePublicIP"] is False and system["enableEncryptionAtHost"] is True
    assert "nodeTaints" not in system
    assert aks.ignore_changes == ["agentPoolProfiles[0].count"]


def test_control_plane_logs_kept_for_the_spec_retention(azure):
    d = azure(spec(**{"clusters.main.log_retention_days": 180}))
    assert d.named("main-logs").inputs["retentionInDays"] == 180
    assert d.named("main-logs").inputs["features"] == {"disableLocalAuth": True}
    diag = d.named("main-diagnostics").inputs
    assert diag["resourceUri"] == d.named("main-aks").outputs["id"]
    assert diag["workspaceId"] == d.named("main-logs").outputs["id"]
    assert {"kube-audit-admin", "kube-apiserver", "guard"} <= {log["category"] for log in diag["logs"]}


def test_kubeconfig_is_secret_and_signs_in_with_entra_id(azure):
    d = azure()
    config = json.loads(secret(d.outputs["cluster/main/kubeconfig"]))
    fqdn = d.named("main-aks").outputs["fqdn"]
    assert config["clusters"][0]["cluster"]["server"] == f"https://{fqdn}:443"
    user = config["users"][0]["user"]
    assert set(user) == {"exec"}, "no static credentials"
    assert user["exec"]["command"] == "kubelogin" and user["exec"]["interactiveMode"] == "Never"
    # --login always given: kubelogin's own default is the interactive device-code flow.
    assert user["exec"]["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_AAD_SERVER_APP_ID]
    # The CA is read from AKS's user credentials (the engine answers that invoke like AKS would).
    assert config["clusters"][0]["cluster"]["certificate-authority-data"] == engine.MOCK_CA


def test_cluster_ca_is_taken_from_the_aks_user_kubeconfig():
    listed = base64.b64encode(
        b"apiVersion: v1\nclusters:\n- name: c\n  cluster:\n    server: https://x:443\n"
        b"    certificate-authority-data: Q0FDRVJU\n"
    ).decode()
    assert cluster_ca(listed) == "Q0FDRVJU"


def test_kubeconfig_login_follows_the_ci_sign_in(azure):
    d = azure(spec(**{"clouds.azure.kubelogin_login": "workloadidentity"}))
    config = json.loads(secret(d.outputs["cluster/main/kubeconfig"]))
    args = config["users"][0]["user"]["exec"]["args"]
    assert args[args.index("--login") + 1] == "workloadidentity"


def test_cluster_outputs(azure):
    d = azure()
    aks = d.named("main-aks").outputs
    assert d.outputs["cluster/main/cluster_name"] == "aistack-test-main" == aks["resourceName"]
    assert d.outputs["cluster/main/oidc_issuer_url"] == aks["oidcIssuerProfile"]["issuerURL"]
    assert d.outputs["cluster/main/oidc_issuer_url"].startswith(
        f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/"
    )
    assert d.outputs["cluster/main/resource_group_name"] == "aistack-test-rg"


# --- GPU pools -------------------------------------------------------------------------------


def test_gpu_pool_is_tainted_labelled_user_mode_with_driver(azure):
    d = azure()
    (pool,) = d.of_type(POOL)
    assert pool.name == "main-a100-nodes" and pool.parent == d.named("main-a100").urn
    i = pool.inputs
    assert i["mode"] == "User" and i["vmSize"] == "Standard_NC24ads_A100_v4"
    assert i["nodeTaints"] == [GPU_TAINT]
    assert i["nodeLabels"] == {
        gpu.POOL_LABEL: "a100",
        gpu.ACCELERATOR_LABEL: "A100-80GB",
        gpu.CAPACITY_LABEL: "on-demand",
    }
    assert i["gpuProfile"] == {"driver": "Install"}
    assert i["scaleSetPriority"] == "Regular" and "spotMaxPrice" not in i
    assert (i["enableAutoScaling"], i["minCount"], i["maxCount"], i["count"]) == (True, 1, 4, 1)
    assert i["availabilityZones"] == ["2", "3"]
    assert i["resourceName"] == "aistack-test-main" and i["agentPoolName"] == "a100nodes"
    assert i["vnetSubnetID"] == d.named("azure-nodes").outputs["id"]
    assert pool.ignore_changes == ["count"]
    assert d.outputs["pool/main/a100/node_taints"] == {"nodes": [GPU_TAINT]}


def test_gpu_taint_matches_the_shared_convention():
    assert gpu.AKS_GPU_TAINT == f"{gpu.TAINT_KEY}={gpu.TAINT_VALUE}:{gpu.TAINT_EFFECT}" == GPU_TAINT


def test_spot_with_floor_becomes_an_on_demand_and_a_spot_pool(azure):
    pool = {
        "accelerator": "T4-16GB",
        "instance_types": ["Standard_NC4as_T4_v3"],
        "capacity": "spot",
        "on_demand_floor": 1,
        "min_nodes": 2,
        "max_nodes": 6,
    }
    d = azure(spec(**{"clusters.main.gpu_pools": {"t4": pool}}))
    ondemand, spot = d.named("main-t4-ondemand").inputs, d.named("main-t4-spot").inputs
    assert (ondemand["scaleSetPriority"], ondemand["minCount"], ondemand["maxCount"]) == ("Regular", 1, 1)
    assert "scaleSetEvictionPolicy" not in ondemand and ondemand["nodeTaints"] == [GPU_TAINT]
    assert (spot["scaleSetPriority"], spot["scaleSetEvictionPolicy"], spot["spotMaxPrice"]) == (
        "Spot",
        "Delete",
        -1,
    )
    assert (spot["minCount"], spot["maxCount"]) == (1, 5)
    assert spot["nodeTaints"] == [GPU_TAINT, "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"]
    assert spot["nodeLabels"]["kubernetes.azure.com/scalesetpriority"] == "spot"
    assert (
        spot["nodeLabels"][gpu.CAPACITY_LABEL] == "spot"
        and ondemand["nodeLabels"][gpu.CAPACITY_LABEL] == "on-demand"
    )
    assert {ondemand["agentPoolName"], spot["agentPoolName"]} == {"t4ondemand", "t4spot"}
    assert all(r.ignore_changes == ["count"] for r in d.of_type(POOL))
    assert d.outputs["pool/main/t4/node_pool_names"] == {"ondemand": "t4ondemand", "spot": "t4spot"}


def test_pool_without_zones_uses_every_cloud_zone(azure):
    pool = {
        "accelerator": "A100-80GB",
        "instance_types": ["Standard_NC24ads_A100_v4"],
        "min_nodes": 0,
        "max_nodes": 1,
    }
    d = azure(spec(**{"clusters.main.gpu_pools": {"a100": pool}}))
    assert d.named("main-a100-nodes").inputs["availabilityZones"] == ["1", "2", "3"]


# --- object store ----------------------------------------------------------------------------


def test_store_children(azure):
    d = azure()
    assert sorted(r.name for r in d.children(d.named("models"))) == [
        "models-account",
        "models-blob",
        "models-container",
        "models-endpoint",
        "models-endpoint-dns",
        "models-key",
        "models-key-access",
        "models-key-access-propagation",
        "models-key-identity",
        "models-lifecycle",
        "models-vault",
    ]


def test_storage_account_is_private_tls_and_entra_only(azure):
    d = azure()
    account = d.named("models-account").inputs
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "None"}
    assert account["sku"] == {"name": "Standard_ZRS"} and account["kind"] == "StorageV2"
    assert re.fullmatch(r"[a-z0-9]{3,24}", account["accountName"])


def test_storage_account_encrypted_twice_with_the_stacks_rotating_key(azure):
    d = azure()
    encryption = d.named("models-account").inputs["encryption"]
    identity_id = d.named("models-key-identity").outputs["id"]
    vault = d.named("models-vault")
    assert encryption["requireInfrastructureEncryption"] is True
    assert encryption["keySource"] == "Microsoft.Keyvault"
    assert encryption["keyVaultProperties"] == {
        "keyName": d.named("models-key").outputs["name"],
        "keyVaultUri": vault.outputs["properties"]["vaultUri"],
    }
    assert encryption["encryptionIdentity"] == {"encryptionUserAssignedIdentity": identity_id}
    assert d.named("models-account").inputs["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": [identity_id],
    }
    assert vault.inputs["properties"]["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    key = d.named("models-key").inputs["properties"]
    assert key["keyOps"] == ["wrapKey", "unwrapKey"]
    assert key["rotationPolicy"]["lifetimeActions"] == [
        {"trigger": {"timeAfterCreate": "P1Y"}, "action": {"type": "rotate"}}
    ]
    access = d.named("models-key-access").inputs
    assert access["roleDefinitionId"].endswith(rbac.KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER)
    assert access["principalId"] == d.named("models-key-identity").outputs["principalId"]


def test_without_customer_key_storage_keys_and_no_vault(azure):
    d = azure(spec(**{"stores.models.customer_managed_key": False}))
    account = d.named("models-account").inputs
    assert account["encryption"]["keySource"] == "Microsoft.Storage"
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    assert "identity" not in account
    assert not [r for r in d.children(d.named("models")) if "key" in r.name or "vault" in r.name]


def test_blob_versioning_soft_delete_and_version_expiry(azure):
    d = azure(spec(**{"stores.models.noncurrent_retention_days": 14}))
    blob = d.named("models-blob").inputs
    assert blob["isVersioningEnabled"] is True and blob["blobServicesName"] == "default"
    assert blob["deleteRetentionPolicy"] == {"enabled": True, "days": 14}
    assert blob["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 14}
    (rule,) = d.named("models-lifecycle").inputs["policy"]["rules"]
    assert rule["definition"]["actions"] == {"version": {"delete": {"daysAfterCreationGreaterThan": 14}}}


def test_private_container_and_private_endpoint(azure):
    d = azure()
    container = d.named("models-container").inputs
    assert container["publicAccess"] == "None" and container["containerName"] == "model-weights"
    endpoint = d.named("models-endpoint").inputs
    assert endpoint["subnet"] == {"id": d.named("azure-endpoints").outputs["id"]}
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["privateLinkServiceId"] == d.named("models-account").outputs["id"]
    assert connection["groupIds"] == ["blob"]
    zone_group = d.named("models-endpoint-dns").inputs
    assert zone_group["privateDnsZoneConfigs"] == [
        {"name": "blob", "privateDnsZoneId": d.named("azure-blob-dns").outputs["id"]}
    ]


def test_store_outputs(azure):
    d = azure()
    account = d.named("models-account").outputs["accountName"]
    assert d.outputs["store/models/bucket_name"] == account
    assert d.outputs["store/models/bucket_uri"] == f"https://{account}.blob.core.windows.net/model-weights"
    assert d.outputs["store/models/container_id"] == d.named("models-container").outputs["id"]


# --- workload identity -----------------------------------------------------------------------


def test_identity_federated_with_the_reader_service_account_only(azure):
    d = azure()
    assert sorted(r.name for r in d.children(d.named("main-models-reader"))) == [
        "main-models-reader-federation",
        "main-models-reader-identity",
        "main-models-reader-read",
    ]
    federation = d.named("main-models-reader-federation").inputs
    assert federation["issuer"] == d.named("main-aks").outputs["oidcIssuerProfile"]["issuerURL"]
    assert federation["subject"] == "system:serviceaccount:aistack-serving:models-reader"
    assert federation["audiences"] == ["api://AzureADTokenExchange"]
    assert federation["resourceName"] == d.named("main-models-reader-identity").outputs["name"]


def test_identity_reads_the_container_and_nothing_else(azure):
    d = azure()
    read = d.named("main-models-reader-read").inputs
    assert read["scope"] == d.named("models-container").outputs["id"]
    assert read["scope"].endswith("/blobServices/default/containers/model-weights")
    assert read["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{rbac.STORAGE_BLOB_DATA_READER}"
    )
    identity = d.named("main-models-reader-identity").outputs
    assert read["principalId"] == identity["principalId"]
    assert d.outputs["identity/main/models/identity"] == identity["clientId"]
    assert d.outputs["identity/main/models/namespace"] == "aistack-serving"
    assert d.outputs["identity/main/models/service_account"] == "models-reader"


def test_no_role_is_granted_wider_than_a_resource(azure):
    for role in azure().of_type(ROLE):
        assert "/providers/" in role.inputs["scope"], (
            f"{role.name} is scoped to a whole group or subscription"
        )


# --- whole family ----------------------------------------------------------------------------


def test_every_custom_resource_is_parented_and_uses_the_provider(azure):
    d = azure()
    components = {r.urn: r for r in d.resources if r.type.startswith("aistack:azure:")}
    (provider,) = d.of_type("pulumi:providers:azure-native")
    assert provider.inputs["subscriptionId"] == SUBSCRIPTION and provider.inputs["location"] == "westeurope"
    # The role propagation waits run under the family's one time provider (parented to the Azure provider).
    clocks = {c.urn for c in d.of_type("pulumi:providers:time")}
    for r in d.resources:
        if r.custom and r is not provider and r.urn not in clocks:
            assert r.parent in components and r.name.startswith(f"{components[r.parent].name}-")
            if r.type.startswith("time:"):
                assert r.provider in clocks
            else:
                assert r.provider == provider.urn


def test_every_taggable_resource_carries_the_stack_tags(azure):
    import pulumi_azure_native as azure_native

    d = azure()
    tagged = [r for r in d.resources if r.custom and "tags" in r.inputs]
    assert len(tagged) >= 15
    for r in tagged:
        assert TAGS.items() <= r.inputs["tags"].items(), r.name
    # Every resource type whose SDK class takes tags received them.
    for r in d.resources:
        if r.custom and r.type.startswith("azure-native:"):
            _, module, kind = r.type.split(":")
            init = getattr(getattr(azure_native, module), kind)._internal_init.__code__
            if "tags" in init.co_varnames[: init.co_argcount + init.co_kwonlyargcount]:
                assert "tags" in r.inputs, f"{r.name} takes tags but got none"


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_stateful_resources_protected_in_prod_only(azure, environment):
    d = azure(spec(environment=environment))
    stateful = [
        "azure-rg",
        "main-aks",
        "main-kms-vault",
        "main-kms-key",
        "models-account",
        "models-vault",
        "models-key",
    ]
    assert {r.name: r.protect for r in d.resources if r.name in stateful} == dict.fromkeys(
        stateful, environment == "prod"
    )
    assert not any(r.protect for r in d.resources if r.name not in stateful)


def test_role_assignments_propagate_before_the_cluster_and_the_account_use_them(azure):
    # A fresh assignment takes minutes to apply: the consumer waits on a time.Sleep after it
    # (policy deploy-azure-role-propagated).
    d = azure()
    for consumer, wait, grants in (
        ("main-aks", "main-grants-propagation", {"main-subnet-access", "main-kms-access"}),
        ("models-account", "models-key-access-propagation", {"models-key-access"}),
    ):
        sleep = d.named(wait)
        assert sleep.type == "time:index/sleep:Sleep" and sleep.inputs["createDuration"] == "120s"
        assert {d.named(g).urn for g in grants} <= set(sleep.dependencies)
        deps = set(d.named(consumer).dependencies)
        assert sleep.urn in deps and not deps & {d.named(g).urn for g in grants}
