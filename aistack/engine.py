"""The offline engine: run any Pulumi Python program under Pulumi's own mock runtime.

The program runs for real (its ``__main__.py`` executes exactly as under ``pulumi up``) but
every resource registration goes to a recording monitor instead of the Pulumi engine. What it
records per resource is what the engine and CrossGuard policies would see: type token, logical
name, parent, provider, resource options and the inputs with their wire (camelCase) names.

The program runs in preview mode, as under ``pulumi preview``: the mocks return realistic computed
outputs (ids, ARNs, names, endpoints) so that everything built from them (bucket policies,
kubeconfigs) is known and checked offline, and any output they do not return stays unknown, so a
rule reading it reports "cannot check until apply" instead of judging a made-up value.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
import runpy
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from aistack.errors import InputError

SECRET_MASK = "[secret]"
UNKNOWN_MASK = "[unknown]"

# Type-token package → the cloud a resource belongs to.
_PACKAGE_CLOUD = {"aws": "aws", "azure-native": "azure", "gcp": "gcp", "kubernetes": "k8s"}


@dataclass
class Resource:
    """One registered resource, as the engine sees it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool = False
    ignore_changes: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    cloud: str | None = None
    # What the engine waits for before creating it: ``dependsOn`` plus every resource its inputs
    # were computed from (URNs, components expanded to their resources), as ``pulumi up`` orders.
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # ``customTimeouts`` the engine would apply (create/update/delete → duration), for tests.
    custom_timeouts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The resource in the preview JSON shape (secrets masked)."""
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "cloud": self.cloud,
            "provider": self.provider,
            "protect": self.protect,
            "ignore_changes": self.ignore_changes,
            "replace_on_changes": self.replace_on_changes,
            "aliases": self.aliases,
            "dependencies": self.dependencies,
            "inputs": mask(self.inputs),
        }


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def unwrap(value: Any) -> Any:
    """Strip secret wrappers, keeping the plain values (what policies evaluate)."""
    if _is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def _one_unknown(value: Any) -> Any:
    """``value`` with every unknown as the one ``pulumi.output.UNKNOWN`` (records compare and cache alike)."""
    if isinstance(value, Unknown):
        return pulumi.output.UNKNOWN
    if isinstance(value, dict):
        return {k: _one_unknown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_one_unknown(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """Replace secret values with ``[secret]`` and unknowns with ``[unknown]`` for reports."""
    if _is_secret(value):
        return SECRET_MASK
    # The runtime records unknowns as the wire sentinel or as pulumi's Unknown (an Output whose
    # value is pulumi.output.UNKNOWN, e.g. an allow-list the operator sets before pulumi up).
    if value == rpc.UNKNOWN or isinstance(value, Unknown):
        return UNKNOWN_MASK
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def test_net_address(*parts: str) -> str:
    """A deterministic public address a cloud would assign, from TEST-NET-3 (never routable)."""
    digest = hashlib.sha1("/".join(parts).encode()).digest()
    return f"203.0.113.{digest[0] % 254 + 1}"


def _physical(name: str, length: int = 8) -> str:
    """A deterministic stand-in for Pulumi's auto-name suffix."""
    return f"{name}-{hashlib.sha1(name.encode()).hexdigest()[:length]}"


class RealisticMocks(pulumi_mocks.Mocks):
    """Mocks that answer like the providers would, deterministically.

    Computed outputs that later inputs depend on (ARNs, ids, names, endpoints) are filled in so
    the whole graph is known. Invokes are strict: an unknown token raises, so a program that
    starts depending on a cloud lookup fails loudly here instead of silently passing.
    """

    ACCOUNT = "111122223333"

    def __init__(self) -> None:
        super().__init__()
        # GCP ids embed the project and region, which live on the explicit provider: id → (project, region).
        self._gcp_providers: dict[str, tuple[str, str]] = {}
        # Azure provider id → its config, so ids and tenants are the ones the stack set.
        self._azure_providers: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:
            return (None, {})
        state = dict(args.inputs)
        name = args.name
        typ = args.typ
        package = typ.split(":")[0]
        physical = _physical(name)
        resource_id = physical
        if typ == "pulumi:providers:gcp":
            self._gcp_providers[resource_id] = (args.inputs.get("project"), args.inputs.get("region"))
        if typ == "pulumi:providers:azure-native":
            self._azure_providers[resource_id] = dict(args.inputs)
        if package == "aws":
            region = "us-east-1"
            module, kind = typ.split(":")[1].split("/")[0], typ.split(":")[-1]
            state.setdefault("name", physical)
            if typ == "aws:s3/bucket:Bucket":
                state.setdefault("bucket", physical)
                resource_id = state["bucket"]
                state.setdefault("arn", f"arn:aws:s3:::{state['bucket']}")
            elif typ == "aws:kms/key:Key":
                state.setdefault("keyId", physical)
                state.setdefault("arn", f"arn:aws:kms:{region}:{self.ACCOUNT}:key/{physical}")
            elif typ == "aws:eks/cluster:Cluster":
                state["name"] = args.inputs.get("name", physical)
                resource_id = state["name"]
                state.setdefault("endpoint", f"https://{physical}.gr7.{region}.eks.amazonaws.com")
                state.setdefault("certificateAuthority", {"data": MOCK_CA})
                # EKS creates the cluster security group (output only).
                state["vpcConfig"] = {
                    **(state.get("vpcConfig") or {}),
                    "clusterSecurityGroupId": f"sg-{hashlib.sha1(physical.encode()).hexdigest()[:17]}",
                }
                state.setdefault(
                    "identities",
                    [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{physical}"}]}],
                )
            elif typ == "aws:ec2/subnet:Subnet":
                # EC2's id shape: selectors that match ids by pattern (Karpenter's subnetSelectorTerms) see a real one.
                resource_id = f"subnet-{hashlib.sha1(physical.encode()).hexdigest()[:17]}"
            elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
                state.setdefault("latestVersion", 1)
                state.setdefault("defaultVersion", 1)
            elif typ == "aws:ec2/vpnConnection:VpnConnection":
                # Each tunnel's public endpoint, assigned by AWS.
                state.setdefault("tunnel1Address", test_net_address(physical, "1"))
                state.setdefault("tunnel2Address", test_net_address(physical, "2"))
            elif typ == "aws:eks/nodeGroup:NodeGroup":
                state.setdefault("nodeGroupName", physical)
            elif module == "iam":
                state.setdefault("arn", f"arn:aws:iam::{self.ACCOUNT}:{kind.lower()}/{state['name']}")
            state.setdefault("arn", f"arn:aws:{module}:{region}:{self.ACCOUNT}:{kind.lower()}/{physical}")
            state.setdefault("id", resource_id)
        elif package == "azure-native":
            config = self._azure_providers.get(_provider_id(args.provider), {})
            resource_id = _azure_state(
                typ,
                physical,
                state,
                subscription=config.get("subscriptionId", AZURE_SUBSCRIPTION),
                tenant=config.get("tenantId", AZURE_TENANT),
            )
        elif package == "gcp":
            context = self._gcp_providers.get(_provider_id(args.provider), ())
            resource_id = _gcp_state(typ, state, physical, *context)
        elif package == "kubernetes":
            meta = dict(state.get("metadata") or {})
            meta.setdefault("name", physical)
            state["metadata"] = meta
            resource_id = meta["name"]
        return (resource_id, state)

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:
        """Answer the few invokes a program may rely on, as the cloud would; refuse any other."""
        if args.token in KNOWN_INVOKES:
            return KNOWN_INVOKES[args.token](args.args)
        raise InputError(
            "program",
            args.token,
            "the offline engine does not answer provider lookups (invokes); "
            "derive the value from config or resource outputs instead",
        )


def _aks_user_credentials(args: Mapping[str, Any]) -> dict[str, Any]:
    """``listManagedClusterUserCredentials``: the AKS user kubeconfig (base64 YAML), CA included."""
    name = args.get("resourceName", "aks")
    server = f"https://{name}.hcp.mock.azmk8s.io:443"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": MOCK_CA}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": "clusterUser"}}],
        "current-context": name,
        "users": [{"name": "clusterUser", "user": {"exec": {"command": "kubelogin", "args": ["get-token"]}}}],
    }
    value = base64.b64encode(json.dumps(config).encode()).decode()
    return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}


MOCK_CA = "bW9jay1jYQ=="
"""The cluster CA every mock cluster presents (base64 of ``mock-ca``)."""


def _gcs_service_agent(args: Mapping[str, Any]) -> dict[str, Any]:
    """``storage.getProjectServiceAccount``: the project's Cloud Storage service agent (a stand-in number)."""
    project = args.get("project") or "mock-project"
    number = int(hashlib.sha1(project.encode()).hexdigest()[:10], 16) % 10**12
    email = f"service-{number}@gs-project-accounts.iam.gserviceaccount.com"
    return {"emailAddress": email, "member": f"serviceAccount:{email}", "project": project, "id": project}


def _transfer_service_agent(args: Mapping[str, Any]) -> dict[str, Any]:
    """``storage.getTransferProjectServiceAccount``: Storage Transfer Service's agent (stand-in number and
    subject id), created by this very call (googleServiceAccounts.get) where it does not exist yet."""
    project = args.get("project") or "mock-project"
    number = int(hashlib.sha1(project.encode()).hexdigest()[:10], 16) % 10**12
    email = f"project-{number}@storage-transfer-service.iam.gserviceaccount.com"
    subject = str(int(hashlib.sha1(email.encode()).hexdigest()[:15], 16))
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "subjectId": subject,
        "project": project,
        "id": project,
    }


def _aws_caller_identity(_args: Mapping[str, Any]) -> dict[str, Any]:
    """``getCallerIdentity``: the account the credentials belong to (key policies name its root)."""
    account = RealisticMocks.ACCOUNT
    return {
        "accountId": account,
        "arn": f"arn:aws:sts::{account}:assumed-role/aistack-deployer/preview",
        "userId": "AROAMOCKDEPLOYER:preview",
        "id": account,
    }


KNOWN_INVOKES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    # Key policies name the deploying account; STS answers this for any valid credentials.
    "aws:index/getCallerIdentity:getCallerIdentity": _aws_caller_identity,
    # AKS publishes the cluster CA only through this action (no ManagedCluster output carries it).
    "azure-native:containerservice:listManagedClusterUserCredentials": _aks_user_credentials,
    # Creates the Cloud Storage service agent if it does not exist yet, so CMEK grants to it succeed.
    "gcp:storage/getProjectServiceAccount:getProjectServiceAccount": _gcs_service_agent,
    # Creates Storage Transfer Service's agent if need be; replication grants it the replica bucket.
    "gcp:storage/getTransferProjectServiceAccount:getTransferProjectServiceAccount": _transfer_service_agent,
}


def _provider_id(reference: str | None) -> str:
    """The provider id from a provider reference (``<urn>::<id>``)."""
    return (reference or "").rsplit("::", 1)[-1]


def _gcp_state(
    typ: str, state: dict[str, Any], physical: str, project: str | None = None, region: str | None = None
) -> str:
    """Fill a GCP resource's computed outputs the way the provider reports them; return its id."""
    project = state.get("project") or project or "mock-project"
    region = state.get("region") or state.get("location") or region or "us-central1"
    kind = typ.split(":")[-1]
    if typ == "gcp:serviceaccount/account:Account":
        email = f"{state['accountId']}@{project}.iam.gserviceaccount.com"
        name = f"projects/{project}/serviceAccounts/{email}"
        state.update(email=email, member=f"serviceAccount:{email}", name=name)
        state.setdefault("uniqueId", str(int(hashlib.sha1(email.encode()).hexdigest()[:15], 16)))
        return name
    if typ == "gcp:logging/projectBucketConfig:ProjectBucketConfig":
        state["name"] = f"projects/{project}/locations/{region}/buckets/{state['bucketId']}"
        return state["name"]
    state.setdefault("name", physical)
    name = state["name"]
    paths = {
        "gcp:compute/network:Network": f"projects/{project}/global/networks/{name}",
        "gcp:compute/subnetwork:Subnetwork": f"projects/{project}/regions/{region}/subnetworks/{name}",
        "gcp:compute/router:Router": f"projects/{project}/regions/{region}/routers/{name}",
        "gcp:compute/firewall:Firewall": f"projects/{project}/global/firewalls/{name}",
        "gcp:container/cluster:Cluster": f"projects/{project}/locations/{region}/clusters/{name}",
        "gcp:container/nodePool:NodePool": f"{state.get('cluster')}/nodePools/{name}",
        "gcp:kms/keyRing:KeyRing": f"projects/{project}/locations/{region}/keyRings/{name}",
        "gcp:kms/cryptoKey:CryptoKey": f"{state.get('keyRing')}/cryptoKeys/{name}",
    }
    resource_id = paths.get(typ, name)
    if typ == "gcp:container/cluster:Cluster":
        digest = hashlib.sha1(name.encode()).digest()
        # TEST-NET-3 addresses: realistic, never routable.
        state.setdefault("endpoint", f"203.0.113.{digest[0] % 254 + 1}")
        state["masterAuth"] = {**(state.get("masterAuth") or {}), "clusterCaCertificate": MOCK_CA}
        endpoints = state.get("controlPlaneEndpointsConfig") or {}
        if endpoints.get("dnsEndpointConfig"):
            # GKE's DNS endpoint name: gke-<hash>.<region>.gke.goog (output only).
            dns = {**endpoints["dnsEndpointConfig"], "endpoint": f"gke-{digest.hex()[:32]}.{region}.gke.goog"}
            state["controlPlaneEndpointsConfig"] = {**endpoints, "dnsEndpointConfig": dns}
    elif typ == "gcp:compute/haVpnGateway:HaVpnGateway":
        # The two interfaces' Google-assigned public addresses.
        state.setdefault(
            "vpnInterfaces", [{"id": i, "ipAddress": test_net_address(name, str(i))} for i in (0, 1)]
        )
    elif typ == "gcp:storage/bucket:Bucket":
        state.setdefault("url", f"gs://{name}")
    api = "compute/v1" if typ.startswith("gcp:compute/") else f"mock/{kind.lower()}"
    state.setdefault("selfLink", f"https://www.googleapis.com/{api}/{resource_id}")
    state.setdefault("id", resource_id)
    return resource_id


AZURE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
AZURE_TENANT = "00000000-0000-0000-0000-000000000000"

# Azure type token → (input holding the resource's own name, ARM path under the resource group).
# ``{name}`` is the resource's name; other fields are the resource's inputs (its parents' names).
_AZURE_ARM = {
    "network:VirtualNetwork": ("virtualNetworkName", "Microsoft.Network/virtualNetworks/{name}"),
    "network:Subnet": ("subnetName", "Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{name}"),
    "network:NatGateway": ("natGatewayName", "Microsoft.Network/natGateways/{name}"),
    "network:PublicIPAddress": ("publicIpAddressName", "Microsoft.Network/publicIPAddresses/{name}"),
    "network:NetworkSecurityGroup": (
        "networkSecurityGroupName",
        "Microsoft.Network/networkSecurityGroups/{name}",
    ),
    "network:PrivateEndpoint": ("privateEndpointName", "Microsoft.Network/privateEndpoints/{name}"),
    "network:PrivateDnsZoneGroup": (
        "privateDnsZoneGroupName",
        "Microsoft.Network/privateEndpoints/{privateEndpointName}/privateDnsZoneGroups/{name}",
    ),
    "privatedns:PrivateZone": ("privateZoneName", "Microsoft.Network/privateDnsZones/{name}"),
    "network:VirtualNetworkGateway": (
        "virtualNetworkGatewayName",
        "Microsoft.Network/virtualNetworkGateways/{name}",
    ),
    "network:LocalNetworkGateway": (
        "localNetworkGatewayName",
        "Microsoft.Network/localNetworkGateways/{name}",
    ),
    "network:VirtualNetworkGatewayConnection": (
        "virtualNetworkGatewayConnectionName",
        "Microsoft.Network/connections/{name}",
    ),
    "privatedns:VirtualNetworkLink": (
        "virtualNetworkLinkName",
        "Microsoft.Network/privateDnsZones/{privateZoneName}/virtualNetworkLinks/{name}",
    ),
    "containerservice:ManagedCluster": ("resourceName", "Microsoft.ContainerService/managedClusters/{name}"),
    "containerservice:AgentPool": (
        "agentPoolName",
        "Microsoft.ContainerService/managedClusters/{resourceName}/agentPools/{name}",
    ),
    "storage:StorageAccount": ("accountName", "Microsoft.Storage/storageAccounts/{name}"),
    "storage:BlobServiceProperties": (
        "blobServicesName",
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/{name}",
    ),
    "storage:BlobContainer": (
        "containerName",
        "Microsoft.Storage/storageAccounts/{accountName}/blobServices/default/containers/{name}",
    ),
    "managedidentity:UserAssignedIdentity": (
        "resourceName",
        "Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
    ),
    "managedidentity:FederatedIdentityCredential": (
        "federatedIdentityCredentialResourceName",
        "Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}/federatedIdentityCredentials/{name}",
    ),
    "keyvault:Vault": ("vaultName", "Microsoft.KeyVault/vaults/{name}"),
    "keyvault:Key": ("keyName", "Microsoft.KeyVault/vaults/{vaultName}/keys/{name}"),
    "operationalinsights:Workspace": ("workspaceName", "Microsoft.OperationalInsights/workspaces/{name}"),
}


def _guid(*parts: str) -> str:
    """A deterministic GUID standing in for one Azure assigns (object ids, client ids)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


def _azure_state(typ: str, physical: str, state: dict[str, Any], *, subscription: str, tenant: str) -> str:
    """Fill an Azure resource's name, ARM id and the computed outputs others consume; return the id.

    A resource without an explicit name gets the auto-name (as azure-native would), so its id and
    every path built from it are known.
    """
    kind = typ.split(":", 1)[1]
    group = f"/subscriptions/{subscription}/resourceGroups/{state.get('resourceGroupName', '')}"
    if kind == "resources:ResourceGroup":
        state.setdefault("resourceGroupName", physical)
        state["name"] = state["resourceGroupName"]
        resource_id = f"/subscriptions/{subscription}/resourceGroups/{state['name']}"
    elif kind == "authorization:RoleAssignment":
        state.setdefault("roleAssignmentName", _guid(physical))
        state["name"] = state["roleAssignmentName"]
        resource_id = (
            f"{state.get('scope', '')}/providers/Microsoft.Authorization/roleAssignments/{state['name']}"
        )
    elif kind == "monitor:DiagnosticSetting":
        state.setdefault("name", physical)
        resource_id = (
            f"{state.get('resourceUri', '')}/providers/Microsoft.Insights/diagnosticSettings/{state['name']}"
        )
    elif kind in _AZURE_ARM:
        key, path = _AZURE_ARM[kind]
        state.setdefault(key, physical)
        state["name"] = state[key]
        resource_id = f"{group}/providers/" + path.format_map({**state, "name": state["name"]})
    else:
        state.setdefault("name", physical)
        resource_id = f"{group}/providers/mock/{kind}/{state['name']}"
    state.setdefault("id", resource_id)
    name = state["name"]
    identity = state.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # Inputs list the identity ids; the resource answers with a map of id → identity details.
        state["identity"] = {
            **identity,
            "userAssignedIdentities": {
                uid: {"clientId": _guid(uid, "client"), "principalId": _guid(uid, "principal")}
                for uid in identity["userAssignedIdentities"]
            },
        }
    if kind == "managedidentity:UserAssignedIdentity":
        state.setdefault("clientId", _guid(resource_id, "client"))
        state.setdefault("principalId", _guid(resource_id, "principal"))
        state.setdefault("tenantId", tenant)
    elif kind == "containerservice:ManagedCluster":
        location = state.get("location", "eastus")
        prefix = state.get("dnsPrefix", name)
        host = hashlib.sha1(resource_id.encode()).hexdigest()[:8]
        tenant = (state.get("aadProfile") or {}).get("tenantID", tenant)
        state.setdefault("fqdn", f"{prefix}-{host}.hcp.{location}.azmk8s.io")
        if (state.get("apiServerAccessProfile") or {}).get("enablePrivateCluster"):
            state.setdefault(
                "privateFQDN", f"{prefix}-{host}.{_guid(resource_id, 'dns')}.privatelink.{location}.azmk8s.io"
            )
        issuer = f"https://{location}.oic.prod-aks.azure.com/{tenant}/{_guid(resource_id, 'oidc')}/"
        state["oidcIssuerProfile"] = {**(state.get("oidcIssuerProfile") or {}), "issuerURL": issuer}
        state.setdefault("nodeResourceGroup", f"MC_{state.get('resourceGroupName', '')}_{name}_{location}")
    elif kind == "storage:StorageAccount":
        state.setdefault("primaryEndpoints", {"blob": f"https://{name}.blob.core.windows.net/"})
    elif kind == "keyvault:Vault":
        state["properties"] = {
            **(state.get("properties") or {}),
            "vaultUri": f"https://{name}.vault.azure.net/",
        }
    elif kind == "keyvault:Key":
        key_uri = f"https://{state.get('vaultName', '')}.vault.azure.net/keys/{name}"
        state.setdefault("keyUri", key_uri)
        state.setdefault("keyUriWithVersion", f"{key_uri}/{hashlib.sha1(key_uri.encode()).hexdigest()[:32]}")
    elif kind == "operationalinsights:Workspace":
        state.setdefault("customerId", _guid(resource_id, "workspace"))
    elif kind == "network:PublicIPAddress":
        state.setdefault("ipAddress", test_net_address(resource_id))
    return resource_id


def _is_stack(urn: str) -> bool:
    """Whether a parent URN is empty or the root stack's (top-level resources get no parent)."""
    return not urn or urn.split("::")[2] == "pulumi:pulumi:Stack"


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also records what the real engine would act on."""

    def __init__(self, mocks: pulumi_mocks.Mocks, disabled_default_providers: set[str]):
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        self.errors: list[str] = []
        self._disabled = disabled_default_providers
        self._aliases: dict[str, list[str]] = {}

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the real engine forms them: top-level resources carry no Stack type prefix."""
        if _is_stack(parent):
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        package = request.type.split(":")[0]
        if (
            request.custom
            and not request.provider
            and package != "pulumi"
            and ("*" in self._disabled or package in self._disabled)
        ):
            self.errors.append(
                f"{request.type} '{request.name}': default provider for '{package}' is disabled "
                "(pulumi:disable-default-providers); pass an explicit provider"
            )
        pulumi_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        state = self.resources[response.urn].state
        self.recorded.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=None if _is_stack(request.parent) else request.parent,
                custom=bool(request.custom),
                # A provider reference is "<provider urn>::<provider id>".
                provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
                inputs=_one_unknown(dict(inputs)),
                outputs=_one_unknown(dict(state)),
                protect=bool(request.protect),
                ignore_changes=list(request.ignoreChanges),
                replace_on_changes=list(request.replaceOnChanges),
                aliases=self._alias_urns(request, response.urn),
                dependencies=sorted(set(request.dependencies)),
                custom_timeouts={
                    k: getattr(request.customTimeouts, k)
                    for k in ("create", "update", "delete")
                    if request.HasField("customTimeouts") and getattr(request.customTimeouts, k)
                },
                property_dependencies={
                    k: sorted(set(v.urns)) for k, v in request.propertyDependencies.items() if v.urns
                },
            )
        )
        return response

    def _alias_urns(self, request, urn: str) -> list[str]:
        """The earlier URNs a resource answers to: its own aliases and those inherited from its parent.

        As the engine does: an alias spec defaults to the resource's current name, type and parent;
        a parent's alias also aliases each child, with the parent's name prefix of the child's name
        swapped for the parent's old name (so a renamed component keeps its children).
        """
        parent = "" if _is_stack(request.parent) else request.parent
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.HasField("urn"):
                urns.append(alias.urn)
                continue
            spec = alias.spec
            old_parent = "" if spec.noParent else (spec.parentUrn or parent)
            old = self.make_urn(old_parent, spec.type or request.type, spec.name or request.name)
            stack, project, rest = old.removeprefix("urn:pulumi:").split("::", 2)
            urns.append(f"urn:pulumi:{spec.stack or stack}::{spec.project or project}::{rest}")
        parent_name = parent.rsplit("::", 1)[-1]
        for old_parent in self._aliases.get(parent, []):
            name = request.name
            if parent_name and name.startswith(parent_name):
                name = old_parent.rsplit("::", 1)[-1] + name[len(parent_name) :]
            urns.append(self.make_urn(old_parent, request.type, name))
        urns = list(dict.fromkeys(u for u in urns if u != urn))
        self._aliases[urn] = urns
        return urns


@dataclass
class ProgramRun:
    """What one run of a program declared."""

    project: str
    stack: str
    resources: list[Resource]
    outputs: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    environments: list[str] = field(default_factory=list)
    """The Pulumi ESC environments the stack file imports (opened only by a real deploy)."""


def _attach_clouds(resources: list[Resource]) -> None:
    """Attribute each resource to a cloud: by its own type, else its parents', else its provider's.

    Kubernetes objects thus belong to the cloud of the cluster whose provider they use.
    """
    by_urn = {r.urn: r for r in resources}

    def own(r: Resource) -> str | None:
        parts = r.type.split(":")
        if parts[0] == "aistack":
            return parts[1] if parts[1] in ("aws", "azure", "gcp") else None
        package = parts[2] if parts[:2] == ["pulumi", "providers"] else parts[0]
        return None if package == "kubernetes" else _PACKAGE_CLOUD.get(package)

    def resolve(r: Resource, seen: set[str]) -> str | None:
        if r.urn in seen:
            return None
        seen.add(r.urn)
        if (cloud := own(r)) is not None:
            return cloud
        for nxt in (r.parent, r.provider):
            if nxt in by_urn and (cloud := resolve(by_urn[nxt], seen)):
                return cloud
        return None

    for r in resources:
        r.cloud = resolve(r, set()) or ("k8s" if "kubernetes" in r.type else None)


def run_function(
    body: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any],
    secret_keys: list[str] | None = None,
    source: str = "program",
) -> ProgramRun:
    """Run ``body`` (which declares resources) under the recording mock runtime.

    Args:
        body: Declares resources, as a program's ``__main__.py`` would.
        project: Project name (as in the program's ``Pulumi.yaml``).
        stack: Stack name.
        config: Stack config, keys namespaced (``aistack:clusters``); values plain or structured.
        secret_keys: Config keys to treat as secret.
        source: Named in error messages (the program's entry file).

    Returns:
        Every registered resource, sorted by URN, and the stack outputs (secrets kept wrapped).

    Raises:
        InputError: the program failed, or made a registration the real engine would reject.
    """
    disabled = config.get("pulumi:disable-default-providers") or []
    if isinstance(disabled, str):
        disabled = json.loads(disabled)
    monitor = RecordingMonitor(RealisticMocks(), set(disabled))
    pulumi.runtime.settings.reset_options(project=project, stack=stack, preview=True)
    pulumi_mocks.set_mocks(RealisticMocks(), project=project, stack=stack, preview=True, monitor=monitor)
    pulumi.runtime.set_all_config(
        {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, secret_keys or []
    )
    root = pulumi.runtime.get_root_resource()
    # A run allocates hundreds of thousands of objects (outputs, futures, tasks, and the SDK modules
    # it imports), so the cyclic collector's full passes over them all took half of a warm run; it
    # stays off until the run is over, and the garbage the run leaves is collected after it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        pulumi.runtime.settings.SETTINGS.rpc_manager.clear()

        async def run_body() -> None:
            body()

        _sync_await(pulumi.runtime.stack.run_pulumi_func(lambda: _sync_await(run_body())))
        outputs = {k: _resolve(v) for k, v in root.outputs.items()}
    except InputError:
        raise
    except pulumi.RunError as err:
        raise InputError(source, "", str(err)) from None
    except Exception as err:  # any crash of a foreign program is reported in one line
        raise InputError(source, "", f"program failed: {type(err).__name__}: {err}") from None
    finally:
        if collecting:
            gc.enable()
    if monitor.errors:
        raise InputError(source, "", monitor.errors[0])
    _attach_clouds(monitor.recorded)
    resources = sorted(monitor.recorded, key=lambda r: r.urn)
    return ProgramRun(project=project, stack=stack, resources=resources, outputs=outputs, config=dict(config))


def run_program(program_dir: Path, **kwargs: Any) -> ProgramRun:
    """Run a Pulumi Python program directory's ``__main__.py`` (see :func:`run_function`)."""
    program_dir = Path(program_dir).resolve()
    entry = program_dir / "__main__.py"
    if not entry.is_file():
        raise InputError(str(program_dir), "", "no __main__.py: not a Pulumi Python program directory")
    old_cwd, old_path = Path.cwd(), list(sys.path)
    os.chdir(program_dir)
    sys.path.insert(0, str(program_dir))
    try:
        return run_function(
            lambda: runpy.run_path(str(entry), run_name="__main__"), source=str(entry), **kwargs
        )
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def _resolve(value: Any) -> Any:
    """Resolve an exported value; secret outputs stay wrapped so reports can mask them."""
    if isinstance(value, pulumi.Output):
        is_secret = _sync_await(value.is_secret())
        resolved = _resolve(_sync_await(value.future()))
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": resolved} if is_secret else resolved
    if isinstance(value, dict):
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v) for v in value]
    return value
