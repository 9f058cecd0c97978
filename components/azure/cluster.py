"""AKS cluster: Entra ID with Azure RBAC, workload identity, KMS-encrypted secrets, a CPU system pool."""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import yaml

from aistack.spec.clouds import AzureCloudSpec, zone_index
from aistack.spec.clusters import ClusterSpec
from components import access, contract, gpu, naming
from components.azure import keys, rbac
from components.azure.network import Network

AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
"""The Azure Kubernetes Service AAD Server application every AKS token is issued for (fixed by Azure)."""

CONTROL_PLANE_LOGS = [
    "kube-apiserver",
    "kube-audit-admin",
    "guard",
    "kube-controller-manager",
    "kube-scheduler",
]
"""AKS diagnostic categories kept: the API server, audit of every change (``kube-audit-admin``
leaves out get/list reads, the bulk of ``kube-audit``), Entra ID authentication (``guard``),
controller manager and scheduler: the counterparts of EKS's api/audit/authenticator logs."""

SYSTEM_POOL = "system"


RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
"""Azure Kubernetes Service RBAC Cluster Admin: every Kubernetes action on the cluster (Azure built-in
roles, learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers)."""

RBAC_PROPAGATION = "300s"
"""How long a new Azure RBAC role assignment may take to reach the AKS authorization server: "up to
5 minutes" (learn.microsoft.com/azure/aks/manage-azure-rbac, "Before you begin")."""


def kubeconfig(name: str, server: str, ca_data: str, login: str) -> str:
    """A kubeconfig for Entra ID sign-in through ``kubelogin`` (no static credentials, no prompt).

    Local accounts are disabled, so every request carries an Entra ID token for the AKS server
    application. ``login`` is the spec's non-interactive ``kubelogin_login`` (``azurecli``,
    ``workloadidentity``, ``spn`` or ``msi``), passed as ``--login`` because the flag wins over
    ``AAD_LOGIN_METHOD`` and kubelogin's own default is the interactive device-code flow. The
    cluster CA comes from AKS's user credentials (see :func:`cluster_ca`), the only place AKS
    publishes it.
    """
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", login, "--server-id", AKS_AAD_SERVER_APP_ID],
            "provideClusterInfo": False,
            "interactiveMode": "Never",
        }
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {"server": f"https://{server}:443", "certificate-authority-data": ca_data},
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": user}],
        }
    )


def cluster_ca(kubeconfig_b64: str) -> str:
    """The cluster CA (base64 PEM) from AKS's user kubeconfig, itself base64-encoded YAML.

    ``listClusterUserCredential`` returns a kubeconfig whose user signs in through ``kubelogin`` in
    device-code mode; only its CA is kept, the user is aistack's own (:func:`kubeconfig`).
    """
    config = yaml.safe_load(base64.b64decode(kubeconfig_b64))
    return config["clusters"][0]["cluster"]["certificate-authority-data"]


def dns_service_ip(service_cidr: str) -> str:
    """The cluster DNS service address: the ``.10`` of the Service range (the AKS convention)."""
    return str(ipaddress.ip_network(service_cidr).network_address + 10)


def api_access(spec: ClusterSpec) -> dict[str, Any]:
    """The API server access profile: public with the allow-listed CIDRs only.

    ``deployer: allow-listed`` is the one path a runner outside the VNet has to an AKS API server:
    a private one answers only inside the VNet (where aistack places no runner), and AKS cannot
    serve a private endpoint and an allow-listed public one at once without API server VNet
    integration. Both are refused before anything is declared (``components.registry.UNSUPPORTED``).
    """
    return {"enable_private_cluster": False, "authorized_ip_ranges": access.allow_list(spec.api)}


def pool_profile(
    *,
    vm_size: str,
    subnet_id: pulumi.Input[str],
    zones: list[str],
    kubernetes_version: str,
    min_nodes: int,
    max_nodes: int,
    disk_gib: int,
    encryption_at_host: bool,
) -> dict[str, Any]:
    """Agent pool settings shared by the system pool and the GPU pools (autoscaled VM scale sets)."""
    return {
        "type": "VirtualMachineScaleSets",
        "vm_size": vm_size,
        "os_type": "Linux",
        "os_sku": "Ubuntu",
        "orchestrator_version": kubernetes_version,
        "vnet_subnet_id": subnet_id,
        "availability_zones": sorted(zones, key=zone_index),
        "enable_auto_scaling": True,
        "min_count": min_nodes,
        "max_count": max_nodes,
        # The starting size; the cluster autoscaler owns the count afterwards (ignored on update).
        "count": min_nodes,
        "os_disk_size_gb": disk_gib,
        "os_disk_type": "Managed",
        "enable_encryption_at_host": encryption_at_host,
        "enable_node_public_ip": False,
    }


class Cluster(contract.Cluster):
    """An AKS cluster secure by default.

    Children: ``-identity`` (the control plane's user-assigned identity) with ``-subnet-access``
    (Network Contributor on the node subnet only); with ``secrets_kms`` the ``-kms-vault`` Key
    Vault, its ``-kms-key`` and ``-kms-access`` (Key Vault Crypto User on that vault);
    ``-logs`` (Log Analytics workspace with the spec's retention); ``-aks`` (the managed cluster:
    public API server open to `api.public_cidrs` only, managed Entra ID with Azure RBAC, local accounts off,
    OIDC issuer and workload identity, Key Vault KMS, Azure CNI overlay with Cilium network
    policy, egress through the network's NAT gateway, the ``system`` pool in System mode whose
    node count the autoscaler owns); ``-diagnostics`` (control-plane logs to the workspace);
    ``-admin-deployer`` (with ``deployer_object_id``) and ``-admin-<group id>`` per admin group
    (Azure Kubernetes Service RBAC Cluster Admin on the cluster), then ``-rbac-propagation`` (a
    five-minute wait, under its own ``-time`` provider) before the kubeconfig is handed out.

    Outputs: ``cluster_name``, ``kubeconfig`` (secret), ``resource_group_name``, ``cluster_id``,
    ``oidc_issuer_url``, ``node_subnet_ids`` (zone → subnet id), ``kubernetes_version``.
    """

    CLOUD = "azure"
    SYSTEM_INSTANCE_TYPE = "Standard_D4ds_v5"
    """System pool default: 4 vCPUs, 16 GiB, the size AKS recommends as the minimum for system pools."""
    OUTPUTS = (
        "cluster_name",
        "kubeconfig",
        "resource_group_name",
        "cluster_id",
        "oidc_issuer_url",
        "node_subnet_ids",
        "kubernetes_version",
    )

    def __init__(
        self,
        name: str,
        spec: ClusterSpec,
        *,
        cloud: AzureCloudSpec,
        network: Network,
        prefix: str,
        tags: dict[str, str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        rg = network.resource_group_name
        where = {"resource_group_name": rg, "location": cloud.location, "tags": tags}
        subnet_id = next(iter(network.node_subnet_ids.values()))
        identity = azure_native.managedidentity.UserAssignedIdentity(
            self.child("identity"), **where, opts=self.opts()
        )
        grants = [
            rbac.grant(
                self,
                "subnet-access",
                subscription_id=cloud.subscription_id,
                role=rbac.NETWORK_CONTRIBUTOR,
                scope=subnet_id,
                principal_id=identity.principal_id,
            )
        ]
        security: dict[str, Any] = {"workload_identity": {"enabled": True}}
        if cloud.secrets_kms:
            # The KMS plugin pins one key version, so Key Vault must not rotate it underneath.
            vault, key, grant = keys.customer_key(
                self,
                ("kms-vault", "kms-key", "kms-access"),
                cloud=cloud,
                vault_name=naming.azure_key_vault(cloud.subscription_id, prefix, f"{name}-kms"),
                resource_group_name=rg,
                firewall=False,
                key_ops=["encrypt", "decrypt"],
                rotate=False,
                role=rbac.KEY_VAULT_CRYPTO_USER,
                principal_id=identity.principal_id,
                tags=tags,
                protect=protect,
            )
            grants.append(grant)
            security["azure_key_vault_kms"] = {
                "enabled": True,
                "key_id": key.key_uri_with_version,
                "key_vault_network_access": "Public",
            }
        workspace = azure_native.operationalinsights.Workspace(
            self.child("logs"),
            sku={"name": "PerGB2018"},
            retention_in_days=spec.log_retention_days,
            features={"disable_local_auth": True},
            **where,
            opts=self.opts(),
        )
        physical = naming.aks_cluster(prefix, name)
        system = {
            "name": SYSTEM_POOL,
            "mode": "System",
            **pool_profile(
                vm_size=spec.system_pool.instance_type or self.SYSTEM_INSTANCE_TYPE,
                subnet_id=subnet_id,
                zones=cloud.zones,
                kubernetes_version=spec.kubernetes_version,
                min_nodes=spec.system_pool.min_nodes,
                max_nodes=spec.system_pool.max_nodes,
                disk_gib=spec.system_pool.disk_gib,
                encryption_at_host=cloud.encryption_at_host,
            ),
            "node_labels": {gpu.POOL_LABEL: SYSTEM_POOL},
        }
        # Node auto-provisioning (AKS's managed Karpenter) for provisioning: auto pools. With it on,
        # AKS refuses autoscaled agent pools ("Fixed size Node Pools can still be created, but
        # autoscaling Node Pools cannot be": NodeProvisioningMode.Auto, Azure REST API 2025-09-01,
        # aka.ms/aks/nap), so the system pool keeps a fixed size, and every GPU pool of the cluster
        # must be auto (components.azure.check). Its network prerequisite, Azure CNI overlay with the
        # Cilium dataplane, is what every aistack AKS cluster already runs (network_profile below).
        # No default NodePools: AKS's own "default" NodePool would launch general-purpose nodes for
        # any pending pod; only the GPU pools' NodePools (serving layer) may launch nodes.
        nap = any(p.provisioning == "auto" for p in spec.gpu_pools.values())
        if nap:
            system.update(enable_auto_scaling=False, count=spec.system_pool.max_nodes)
            system.pop("min_count")
            system.pop("max_count")
        cluster = azure_native.containerservice.ManagedCluster(
            self.child("aks"),
            resource_name_=physical,
            dns_prefix=naming.aks_dns_prefix(prefix, name),
            node_resource_group=naming.azure_resource_group(prefix, f"{name}-nodes"),
            kubernetes_version=spec.kubernetes_version,
            sku={"name": "Base", "tier": cloud.cluster_tier},
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "tenant_id": cloud.tenant_id,
                "admin_group_object_ids": list(cloud.admin_group_object_ids),
            },
            api_server_access_profile=api_access(spec),
            oidc_issuer_profile={"enabled": True},
            security_profile=security,
            network_profile={
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "network_dataplane": "cilium",
                "network_policy": "cilium",
                "outbound_type": "userAssignedNATGateway",
                "load_balancer_sku": "standard",
                "pod_cidr": cloud.pod_cidr,
                "service_cidr": spec.service_cidr,
                "dns_service_ip": dns_service_ip(spec.service_cidr),
            },
            auto_upgrade_profile={"upgrade_channel": "patch", "node_os_upgrade_channel": "SecurityPatch"},
            agent_pool_profiles=[system],
            **({"node_provisioning_profile": {"mode": "Auto", "default_node_pools": "None"}} if nap else {}),
            **{**where, "tags": {**tags, access.DEPLOYER_TAG: spec.api.deployer}},
            opts=self.opts(
                depends_on=[rbac.propagated(self, "grants-propagation", grants)],
                protect=protect,
                # The autoscaler owns the system pool's node count (pulumi-azure-native#2943).
                ignore_changes=["agentPoolProfiles[0].count"],
            ),
        )
        azure_native.monitor.DiagnosticSetting(
            self.child("diagnostics"),
            resource_uri=cluster.id,
            workspace_id=workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category": category, "enabled": True} for category in CONTROL_PLANE_LOGS],
            opts=self.opts(),
        )
        propagated = self._admins(cluster, cloud)
        server = cluster.fqdn
        credentials = azure_native.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=rg, resource_name=cluster.name, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        ca = credentials.kubeconfigs.apply(lambda configs: cluster_ca(configs[0].value))
        # The kubeconfig (and so the Kubernetes provider) waits until the admins' roles have had
        # time to reach the cluster's authorization server; before that every request gets a 403.
        config = pulumi.Output.all(cluster.name, server, ca, propagated).apply(
            lambda args: kubeconfig(args[0], args[1], args[2], cloud.kubelogin_login)
        )
        self.finish(
            cluster_name=cluster.name,
            kubeconfig=pulumi.Output.secret(config),
            resource_group_name=rg,
            cluster_id=cluster.id,
            oidc_issuer_url=cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None),
            node_subnet_ids=dict(network.node_subnet_ids),
            kubernetes_version=spec.kubernetes_version,
        )

    def _admins(
        self, cluster: azure_native.containerservice.ManagedCluster, cloud: AzureCloudSpec
    ) -> pulumi.Output[str]:
        """RBAC Cluster Admin for the deployer and each admin group, and the wait for it to apply.

        Azure RBAC authorizes every Kubernetes request; ``admin_group_object_ids`` on the AAD
        profile alone grants nothing under it. Returns the wait's id.
        """
        principals = [(group, group, "Group") for group in cloud.admin_group_object_ids]
        if cloud.deployer_object_id:
            principals.insert(0, ("deployer", cloud.deployer_object_id, cloud.deployer_principal_type))
        assignments = [
            azure_native.authorization.RoleAssignment(
                self.child(f"admin-{key}"),
                scope=cluster.id,
                role_definition_id=rbac.role_definition_id(cloud.subscription_id, RBAC_CLUSTER_ADMIN),
                principal_id=principal,
                principal_type=kind,
                opts=self.opts(),
            )
            for key, principal, kind in principals
        ]
        return rbac.propagated(self, "rbac-propagation", assignments, RBAC_PROPAGATION).id
