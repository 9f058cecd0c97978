"""Blob object store: a private storage account reached through a private endpoint, one container."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from aistack.spec.clouds import AzureCloudSpec
from aistack.spec.stores import StoreSpec
from components import contract, naming
from components.azure import keys, rbac
from components.azure.network import Network


class ObjectStore(contract.ObjectStore):
    """A storage account and one private blob container for model weights.

    The account refuses public blob access, shared keys (Entra ID only) and plain HTTP, requires
    TLS 1.2, encrypts twice (infrastructure encryption) and, with ``customer_managed_key``, with a
    key the stack owns that Key Vault rotates yearly (the account follows the latest version). Its
    public network access is disabled: nodes reach it through a private endpoint in the network's
    endpoint subnet. The container and account settings are managed through Azure Resource
    Manager, which that setting does not govern; uploading weights needs a client inside the VNet
    (or one peered to it).

    Children: with a customer-managed key ``-key-identity`` (the account's user-assigned
    identity), ``-vault`` (firewalled Key Vault, trusted Azure services only), ``-key`` and
    ``-key-access`` (Key Vault Crypto Service Encryption User on the vault); ``-account``;
    ``-blob`` (versioning, soft delete of blobs and containers); ``-lifecycle`` (delete prior
    versions after the retention); ``-container`` (named after the store's purpose, no public
    access); ``-endpoint`` (blob private endpoint) and ``-endpoint-dns`` (its record in the
    network's private DNS zone). The account, vault and key are ``protect``-ed in production.

    Outputs: ``bucket_name`` (the storage account name), ``bucket_uri``
    (``https://<account>.blob.core.windows.net/<container>``), ``account_id``, ``container_name``,
    ``container_id`` (the scope readers are granted on).
    """

    CLOUD = "azure"
    OUTPUTS = ("bucket_name", "bucket_uri", "account_id", "container_name", "container_id")

    def __init__(
        self,
        name: str,
        spec: StoreSpec,
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
        tags = {**tags, "aistack-purpose": spec.purpose}
        where = {"resource_group_name": rg, "location": cloud.location, "tags": tags}
        encryption: dict[str, Any] = {
            "require_infrastructure_encryption": True,
            "services": {"blob": {"enabled": True, "key_type": "Account"}},
            "key_source": "Microsoft.Storage",
        }
        extra: dict[str, Any] = {}
        depends_on: list[pulumi.Resource] = []
        if spec.customer_managed_key:
            identity = azure_native.managedidentity.UserAssignedIdentity(
                self.child("key-identity"), **where, opts=self.opts()
            )
            vault, key, grant = keys.customer_key(
                self,
                ("vault", "key", "key-access"),
                cloud=cloud,
                vault_name=naming.azure_key_vault(cloud.subscription_id, prefix, name),
                resource_group_name=rg,
                firewall=True,
                key_ops=["wrapKey", "unwrapKey"],
                rotate=True,
                role=rbac.KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER,
                principal_id=identity.principal_id,
                tags=tags,
                protect=protect,
            )
            # Storage reads the key as the identity at create time: wait until the grant applies.
            depends_on.append(rbac.propagated(self, "key-access-propagation", [grant]))
            encryption.update(
                key_source="Microsoft.Keyvault",
                # No key version: the account follows Key Vault's yearly rotation.
                key_vault_properties={"key_name": key.name, "key_vault_uri": vault.properties.vault_uri},
                encryption_identity={"encryption_user_assigned_identity": identity.id},
            )
            extra["identity"] = {"type": "UserAssigned", "user_assigned_identities": [identity.id]}
        account = azure_native.storage.StorageAccount(
            self.child("account"),
            account_name=naming.azure_storage_account(cloud.subscription_id, prefix, name),
            kind="StorageV2",
            sku={"name": cloud.storage_sku},
            access_tier="Hot",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_cross_tenant_replication=False,
            is_hns_enabled=False,
            public_network_access="Disabled",
            network_rule_set={"default_action": "Deny", "bypass": "None"},
            encryption=encryption,
            **extra,
            **where,
            opts=self.opts(protect=protect, depends_on=depends_on),
        )
        on_account = {"resource_group_name": rg, "account_name": account.name}
        retention = {"enabled": True, "days": spec.noncurrent_retention_days}
        blob = azure_native.storage.BlobServiceProperties(
            self.child("blob"),
            blob_services_name="default",
            is_versioning_enabled=spec.versioning,
            delete_retention_policy=retention,
            container_delete_retention_policy=retention,
            **on_account,
            opts=self.opts(),
        )
        azure_native.storage.ManagementPolicy(
            self.child("lifecycle"),
            management_policy_name="default",
            policy={
                "rules": [
                    {
                        "name": "expire-prior-versions",
                        "enabled": True,
                        "type": "Lifecycle",
                        "definition": {
                            "filters": {"blob_types": ["blockBlob"]},
                            "actions": {
                                "version": {
                                    "delete": {
                                        "days_after_creation_greater_than": spec.noncurrent_retention_days
                                    }
                                }
                            },
                        },
                    }
                ]
            },
            **on_account,
            opts=self.opts(depends_on=[blob]),
        )
        container = azure_native.storage.BlobContainer(
            self.child("container"),
            container_name=spec.purpose,
            public_access="None",
            **on_account,
            opts=self.opts(depends_on=[blob]),
        )
        endpoint = azure_native.network.PrivateEndpoint(
            self.child("endpoint"),
            subnet={"id": network.endpoint_subnet_id},
            private_link_service_connections=[
                {"name": "blob", "private_link_service_id": account.id, "group_ids": ["blob"]}
            ],
            **where,
            opts=self.opts(),
        )
        azure_native.network.PrivateDnsZoneGroup(
            self.child("endpoint-dns"),
            resource_group_name=rg,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="default",
            private_dns_zone_configs=[{"name": "blob", "private_dns_zone_id": network.blob_dns_zone_id}],
            opts=self.opts(),
        )
        self.finish(
            bucket_name=account.name,
            bucket_uri=pulumi.Output.concat(account.primary_endpoints.blob, container.name),
            account_id=account.id,
            container_name=container.name,
            container_id=container.id,
        )
