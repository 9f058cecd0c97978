"""Key Vaults holding the stack's customer-managed keys (RBAC only, purge-protected)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from components.contract import Component

SOFT_DELETE_DAYS = 90
"""Days a deleted vault or key stays recoverable (Key Vault's maximum, 7–90)."""

KEY_SIZE = 2048
"""RSA key size (bits): the size the AKS KMS and Storage CMK guides create; both accept it."""


def vault(
    owner: Component,
    suffix: str,
    *,
    vault_name: str,
    tenant_id: str,
    resource_group_name: pulumi.Input[str],
    location: str,
    firewall: bool,
    tags: dict[str, str],
    protect: bool,
    private: bool = False,
) -> azure_native.keyvault.Vault:
    """A Key Vault that grants access through Azure RBAC only (no access policies).

    Soft delete and purge protection keep a deleted key recoverable, so data it encrypts is
    never lost to a mistaken delete.

    Args:
        firewall: Deny every network except trusted Azure services (Storage CMK works through
            that bypass). AKS KMS with a public-mode vault cannot pass a vault firewall, so its
            vault relies on RBAC alone.
        private: No public network access at all: the vault is reached through a private endpoint
            (the caller declares it). Secrets written through Azure Resource Manager
            (``Microsoft.KeyVault/vaults/secrets``) still pass: ARM writes through the resource
            provider, not the vault's network (MicrosoftDocs/azure-docs#68668).
    """
    acls: dict[str, Any] = {
        "default_action": "Deny" if firewall or private else "Allow",
        "bypass": "None" if private else "AzureServices",
    }
    return azure_native.keyvault.Vault(
        owner.child(suffix),
        vault_name=vault_name,
        resource_group_name=resource_group_name,
        location=location,
        properties={
            "tenant_id": tenant_id,
            "sku": {"family": "A", "name": "standard"},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": SOFT_DELETE_DAYS,
            "enable_purge_protection": True,
            "enabled_for_deployment": False,
            "enabled_for_disk_encryption": False,
            "enabled_for_template_deployment": False,
            "public_network_access": "Disabled" if private else "Enabled",
            "network_acls": acls,
        },
        tags=tags,
        opts=owner.opts(protect=protect),
    )


def rsa_key(
    owner: Component,
    suffix: str,
    *,
    key_vault: azure_native.keyvault.Vault,
    resource_group_name: pulumi.Input[str],
    key_ops: list[str],
    rotate: bool,
    tags: dict[str, str],
    protect: bool,
) -> azure_native.keyvault.Key:
    """An RSA key limited to the operations its one consumer performs, optionally rotated yearly.

    Args:
        key_ops: The key's permitted operations (Storage wraps data keys; the AKS KMS plugin
            encrypts and decrypts them).
        rotate: Let Key Vault rotate the key every year (a new version; the old ones stay
            usable for decryption). Only for consumers that follow the latest version.
    """
    properties: dict[str, Any] = {"kty": "RSA", "key_size": KEY_SIZE, "key_ops": key_ops}
    if rotate:
        properties["rotation_policy"] = {
            "attributes": {"expiry_time": "P2Y"},
            "lifetime_actions": [{"trigger": {"time_after_create": "P1Y"}, "action": {"type": "rotate"}}],
        }
    return azure_native.keyvault.Key(
        owner.child(suffix),
        vault_name=key_vault.name,
        resource_group_name=resource_group_name,
        properties=properties,
        tags=tags,
        opts=owner.opts(protect=protect),
    )


def customer_key(
    owner: Component,
    names: tuple[str, str, str],
    *,
    cloud: Any,
    vault_name: str,
    resource_group_name: pulumi.Input[str],
    firewall: bool,
    key_ops: list[str],
    rotate: bool,
    role: str,
    principal_id: pulumi.Input[str],
    tags: dict[str, str],
    protect: bool,
) -> tuple[azure_native.keyvault.Vault, azure_native.keyvault.Key, pulumi.Resource]:
    """A vault, its one key and the role grant that lets one identity use it.

    Args:
        names: The three children's suffixes (vault, key, grant); fixed per caller, since a
            changed logical name would replace the vault and its key.
        cloud: The stack's Azure placement (subscription, tenant, location).
        role: The Key Vault data-plane role the identity gets on the vault (see ``rbac``).
        principal_id: The identity using the key.
    """
    from components.azure import rbac

    vault_ = vault(
        owner,
        names[0],
        vault_name=vault_name,
        tenant_id=cloud.tenant_id,
        resource_group_name=resource_group_name,
        location=cloud.location,
        firewall=firewall,
        tags=tags,
        protect=protect,
    )
    key = rsa_key(
        owner,
        names[1],
        key_vault=vault_,
        resource_group_name=resource_group_name,
        key_ops=key_ops,
        rotate=rotate,
        tags=tags,
        protect=protect,
    )
    grant = rbac.grant(
        owner,
        names[2],
        subscription_id=cloud.subscription_id,
        role=role,
        scope=vault_.id,
        principal_id=principal_id,
    )
    return vault_, key, grant
