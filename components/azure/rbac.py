"""Azure RBAC: built-in role ids and role assignments to managed identities (no lookups)."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native
import pulumiverse_time

from components.contract import Component

# Built-in role definition ids are the same in every tenant; source: "Azure built-in roles",
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
KEY_VAULT_CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"


def role_definition_id(subscription_id: str, role: str) -> str:
    """The full id of a built-in role definition within a subscription."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


PROPAGATION = "120s"
"""How long a new role assignment is given to take effect before it is used. Azure Resource Manager
caches authorization data, so a fresh assignment can be refused for minutes ("it can take up to 10
minutes for changes to take effect", learn.microsoft.com/azure/role-based-access-control/troubleshooting);
storage with a customer-managed key failed with KeyVaultAuthenticationFailure on the first run
without a wait. Two minutes covers the observed delay; a rerun of ``pulumi up`` covers the rest."""


def propagated(
    owner: Component,
    suffix: str,
    grants: list[azure_native.authorization.RoleAssignment],
    duration: str = PROPAGATION,
) -> pulumiverse_time.Sleep:
    """A wait of ``duration`` after ``grants`` are created; what uses them depends on it.

    Runs again when a grant is replaced (its id is a trigger), never on an unchanged stack. The
    wait runs under the family's explicit time provider, which ``owner`` passes on to its children.
    """
    return pulumiverse_time.Sleep(
        owner.child(suffix),
        create_duration=duration,
        triggers={f"grant-{i}": g.id for i, g in enumerate(grants)},
        opts=owner.opts(depends_on=list(grants)),
    )


def grant(
    owner: Component,
    suffix: str,
    *,
    subscription_id: str,
    role: str,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
) -> azure_native.authorization.RoleAssignment:
    """Assign ``role`` on exactly ``scope`` to a managed identity, as a child of ``owner``.

    ``principal_type`` is set so Azure does not look the new identity up in Entra ID, which can
    fail for a few minutes after the identity is created (replication delay).
    """
    return azure_native.authorization.RoleAssignment(
        owner.child(suffix),
        scope=scope,
        role_definition_id=role_definition_id(subscription_id, role),
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        opts=owner.opts(),
    )
