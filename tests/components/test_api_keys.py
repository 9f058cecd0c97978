"""Endpoint API keys: generated, kept in each cloud's secret manager, synced by ESO, read from a secretKeyRef."""

from __future__ import annotations

import pytest

from aistack import crds
from components import contract
from components.k8s import secrets
from tests.components.k8s.k8s_world import stack_run

CLOUD_STACKS = {"aws": "dev", "gcp": "gcp-dev", "azure": "azure-dev"}
ESO_NAMESPACE, ESO_ACCOUNT = contract.ADDON_SERVICE_ACCOUNTS["external-secrets"]


def by_type(run, type_):
    return [r for r in run.resources if r.type == type_]


def one(run, type_, name):
    (found,) = [r for r in run.resources if r.type == type_ and r.name == name]
    return found


def server_env(run, endpoint):
    deployment = one(run, "kubernetes:apps/v1:Deployment", f"{endpoint}-deployment")
    (server,) = [
        c for c in deployment.inputs["spec"]["template"]["spec"]["containers"] if c["name"] == "server"
    ]
    return deployment, {e["name"]: e for e in server["env"]}


@pytest.mark.parametrize("cloud", CLOUD_STACKS)
def test_every_server_takes_its_key_from_the_secret_eso_syncs(cloud):
    spec, run = stack_run(CLOUD_STACKS[cloud])
    store = one(run, "kubernetes:external-secrets.io/v1:SecretStore", "main-api-keys-sync-store")
    release = one(run, "kubernetes:helm.sh/v3:Release", "main-api-keys-sync-release")
    assert (release.inputs["chart"], release.inputs["version"]) == ("external-secrets", secrets.CHART.version)
    # The CRDs come with the release: the store waits for it, each ExternalSecret for the store.
    assert release.urn in store.dependencies
    crds.validate({k: store.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")})
    for endpoint in spec.endpoints:
        synced = one(
            run, "kubernetes:external-secrets.io/v1:ExternalSecret", f"main-api-keys-sync-{endpoint}"
        )
        crds.validate({k: synced.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")})
        assert store.urn in synced.dependencies
        assert synced.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
        target = synced.inputs["spec"]["target"]["name"]
        deployment, env = server_env(run, endpoint)
        key = env["VLLM_API_KEY"]
        assert "value" not in key
        assert key["valueFrom"]["secretKeyRef"] == {"name": target, "key": contract.API_KEY_FIELD}
        assert synced.inputs["spec"]["data"] == [
            {
                "secretKey": contract.API_KEY_FIELD,
                "remoteRef": {"key": synced.inputs["spec"]["data"][0]["remoteRef"]["key"]},
            }
        ]
        # The pod is created only once the Secret is synced (no CreateContainerConfigError on a first up).
        assert synced.urn in deployment.dependencies
    # The remote keys are exactly the family's secrets, and the output naming them is secret.
    assert run.outputs[cloud]["api_keys"]["4dabf18193072939515e22adb298388d"]
    assert set(run.outputs[cloud]["api_keys"]["value"]) == set(spec.endpoints)


@pytest.mark.parametrize("cloud", CLOUD_STACKS)
def test_eso_is_scoped_to_the_serving_namespace_and_waits_for_its_identity(cloud):
    _, run = stack_run(CLOUD_STACKS[cloud])
    release = one(run, "kubernetes:helm.sh/v3:Release", "main-api-keys-sync-release")
    values = release.inputs["values"]
    assert values["scopedNamespace"] == contract.READER_NAMESPACE and values["scopedRBAC"] is True
    assert values["processClusterStore"] is False and values["crds"]["createClusterSecretStore"] is False
    assert values["serviceAccount"]["name"] == ESO_ACCOUNT and release.inputs["namespace"] == ESO_NAMESPACE
    namespace = one(run, "kubernetes:core/v1:Namespace", "main-api-keys-sync-namespace")
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    binding = {
        "aws": ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "main-api-keys-association"),
        "gcp": ("gcp:secretmanager/secretIamMember:SecretIamMember", "main-api-keys-chat-reader"),
        "azure": ("time:index/sleep:Sleep", "main-api-keys-read-propagated"),
    }[cloud]
    assert one(run, *binding).urn in release.dependencies
    if cloud == "azure":
        client_id = one(run, "azure-native:managedidentity:UserAssignedIdentity", "main-api-keys-identity")
        assert values["serviceAccount"]["annotations"] == {
            "azure.workload.identity/client-id": client_id.outputs["clientId"]
        }
        assert values["podLabels"] == {"azure.workload.identity/use": "true"}
    else:
        assert values["serviceAccount"]["annotations"] == {}


def test_aws_keys_are_encrypted_with_the_stack_key_and_readable_by_eso_only():
    _, run = stack_run("dev")
    key = one(run, "aws:kms/key:Key", "main-api-keys-secrets-key")
    secret = one(run, "aws:secretsmanager/secret:Secret", "main-api-keys-chat")
    assert secret.inputs["kmsKeyId"] == key.outputs["arn"]
    association = one(
        run, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "main-api-keys-association"
    )
    assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (
        ESO_NAMESPACE,
        ESO_ACCOUNT,
    )
    import json

    policy = json.loads(one(run, "aws:iam/rolePolicy:RolePolicy", "main-api-keys-read").inputs["policy"])
    read, decrypt = policy["Statement"]
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert read["Resource"] == [secret.outputs["arn"]]
    assert decrypt["Resource"] == key.outputs["arn"]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "secretsmanager.us-east-1.amazonaws.com"
    version = one(run, "aws:secretsmanager/secretVersion:SecretVersion", "main-api-keys-chat-value")
    password = one(run, "random:index/randomPassword:RandomPassword", "main-api-keys-chat-key")
    assert password.urn in version.dependencies
    synced = one(run, "kubernetes:external-secrets.io/v1:ExternalSecret", "main-api-keys-sync-chat")
    assert synced.inputs["spec"]["data"][0]["remoteRef"]["key"] == secret.outputs["arn"]


def test_gcp_keys_use_cmek_in_the_region_after_the_api_and_the_agents_grant():
    spec, run = stack_run("gcp-dev")
    secret = one(run, "gcp:secretmanager/secret:Secret", "main-api-keys-chat")
    (replica,) = secret.inputs["replication"]["userManaged"]["replicas"]
    key = one(run, "gcp:kms/cryptoKey:CryptoKey", "main-api-keys-key")
    assert replica == {
        "location": spec.clouds.gcp.region,
        "customerManagedEncryption": {"kmsKeyName": key.outputs["id"]},
    }
    grant = one(run, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "main-api-keys-key-agent")
    agent = one(run, "gcp:projects/serviceIdentity:ServiceIdentity", "main-api-keys-agent")
    api = one(run, "gcp:projects/service:Service", "main-api-keys-api")
    assert api.inputs["service"] == "secretmanager.googleapis.com"
    assert {grant.urn, api.urn} <= set(secret.dependencies) and agent.urn in grant.dependencies
    assert grant.inputs["member"] == (
        f"serviceAccount:service-{spec.clouds.gcp.project_number}@gcp-sa-secretmanager.iam.gserviceaccount.com"
    )
    reader = one(run, "gcp:secretmanager/secretIamMember:SecretIamMember", "main-api-keys-chat-reader")
    assert reader.inputs["role"] == "roles/secretmanager.secretAccessor"
    assert reader.inputs["member"].endswith(f"/subject/ns/{ESO_NAMESPACE}/sa/{ESO_ACCOUNT}")


def test_azure_keys_live_in_an_rbac_purge_protected_vault_read_after_propagation():
    _, run = stack_run("azure-dev")
    vault = one(run, "azure-native:keyvault:Vault", "main-api-keys-vault")
    props = vault.inputs["properties"]
    assert props["enableRbacAuthorization"] is True and props["enablePurgeProtection"] is True
    secret = one(run, "azure-native:keyvault:Secret", "main-api-keys-chat")
    assert secret.inputs["secretName"] == contract.api_key_secret("chat")
    federation = one(
        run, "azure-native:managedidentity:FederatedIdentityCredential", "main-api-keys-federation"
    )
    assert federation.inputs["subject"] == f"system:serviceaccount:{ESO_NAMESPACE}:{ESO_ACCOUNT}"
    read = one(run, "azure-native:authorization:RoleAssignment", "main-api-keys-read")
    assert read.inputs["scope"] == vault.outputs["id"]
    assert read.inputs["roleDefinitionId"].endswith("4633458b-17de-408a-b874-0445c86b69e6")
    wait = one(run, "time:index/sleep:Sleep", "main-api-keys-read-propagated")
    assert read.urn in wait.dependencies
    store = one(run, "kubernetes:external-secrets.io/v1:SecretStore", "main-api-keys-sync-store")
    assert store.inputs["spec"]["provider"]["azurekv"]["authType"] == "WorkloadIdentity"


def test_azure_key_vault_is_private_and_eso_starts_once_its_name_resolves_inside_the_vnet():
    _, run = stack_run("azure-dev")
    vault = one(run, "azure-native:keyvault:Vault", "main-api-keys-vault")
    props = vault.inputs["properties"]
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "None"}
    endpoint = one(run, "azure-native:network:PrivateEndpoint", "main-api-keys-vault-endpoint")
    assert endpoint.inputs["subnet"] == {
        "id": one(run, "azure-native:network:Subnet", "azure-endpoints").outputs["id"]
    }
    (connection,) = endpoint.inputs["privateLinkServiceConnections"]
    assert connection["privateLinkServiceId"] == vault.outputs["id"] and connection["groupIds"] == ["vault"]
    dns = one(run, "azure-native:network:PrivateDnsZoneGroup", "main-api-keys-vault-endpoint-dns")
    zone = one(run, "azure-native:privatedns:PrivateZone", "azure-vault-dns")
    assert zone.inputs["privateZoneName"] == "privatelink.vaultcore.azure.net"
    assert dns.inputs["privateDnsZoneConfigs"] == [{"name": "vault", "privateDnsZoneId": zone.outputs["id"]}]
    # ESO's first sync needs the private record: its release waits for it.
    release = one(run, "kubernetes:helm.sh/v3:Release", "main-api-keys-sync-release")
    assert dns.urn in release.dependencies


# Each cloud's secret holding an endpoint's key: (type, logical name of the resource carrying the value).
KEY_VALUES = {
    "aws": ("aws:secretsmanager/secretVersion:SecretVersion", "east-api-keys-chat-value"),
    "gcp": ("gcp:secretmanager/secretVersion:SecretVersion", "central-api-keys-chat-value"),
    "azure": ("azure-native:keyvault:Secret", "south-api-keys-chat"),
}


def test_an_endpoint_served_from_three_clouds_has_one_key_in_each_clouds_secret_manager():
    spec, run = stack_run("multicloud")
    assert [s.cluster for s in spec.shares_of("chat")] == ["east", "central", "south"]
    # The stack's other generated secrets are its VPN tunnels' pre-shared keys (components/psk.py).
    keys = [
        k for k in by_type(run, "random:index/randomPassword:RandomPassword") if not k.name.endswith("-psk")
    ]
    # One key for the endpoint (the SharedApiKeys child), none generated per cluster.
    (key,) = keys
    assert key.name == "api-keys-chat-key" and key.inputs["special"] is False
    for type_, name in KEY_VALUES.values():
        holder = one(run, type_, name)
        # The value is the shared key's result (a data dependency), never a per-cloud key.
        assert key.urn in holder.dependencies, name
    # Each serving cluster's ESO syncs that secret for its share of the endpoint.
    for cluster in ("east", "central", "south"):
        one(run, "kubernetes:external-secrets.io/v1:ExternalSecret", f"{cluster}-api-keys-sync-chat")


def test_single_cluster_endpoints_keep_their_own_key():
    _, run = stack_run("prod")
    names = sorted(r.name for r in by_type(run, "random:index/randomPassword:RandomPassword"))
    assert names == ["main-api-keys-chat-70b-key", "main-api-keys-chat-key"]
