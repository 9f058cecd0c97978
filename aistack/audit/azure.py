"""Azure Storage audit: the live flags of the stack's storage accounts and their containers.

Accounts are found by their tags (``managed-by=aistack``, ``aistack-stack=<stack>``) and read with
azure-mgmt-storage. The rules are those of the policy pack for ``storage.StorageAccount`` and
``storage.BlobContainer``.
"""

from __future__ import annotations

from typing import Any

from aistack.audit import check, resource, tagged
from aistack.preflight.azure import call
from aistack.spec import StoreSpec
from aistack.spec.clouds import AzureCloudSpec

TLS_OK = ("TLS1_2", "TLS1_3")


def account_checks(account: Any, containers: list[Any]) -> list[dict[str, str]]:
    """Every rule on one live storage account and its blob containers."""
    public = [c.name for c in containers if c.public_access not in (None, "None")]
    blob = account.encryption.services.blob if account.encryption and account.encryption.services else None
    network = account.network_rule_set.default_action if account.network_rule_set else None
    return [
        check(
            "azure-storage-no-public",
            account.allow_blob_public_access is False and not public,
            f"allowBlobPublicAccess {account.allow_blob_public_access}"
            + (f"; public containers: {', '.join(public)}" if public else ""),
        ),
        check(
            "azure-storage-https-tls12",
            account.enable_https_traffic_only is True and account.minimum_tls_version in TLS_OK,
            f"httpsOnly {account.enable_https_traffic_only}, minimumTlsVersion {account.minimum_tls_version}",
        ),
        check(
            "azure-storage-no-shared-key",
            account.allow_shared_key_access is False,
            f"allowSharedKeyAccess {account.allow_shared_key_access}",
        ),
        check(
            "azure-storage-encryption",
            bool(blob and blob.enabled),
            f"blob encryption {'on' if blob and blob.enabled else 'off'}, keySource "
            f"{account.encryption.key_source if account.encryption else None}",
        ),
        check(
            "azure-storage-network",
            account.public_network_access == "Disabled" or network == "Deny",
            f"publicNetworkAccess {account.public_network_access}, default network action {network}",
        ),
    ]


class AzureAuditor:
    """Audits the stack's storage accounts in one subscription.

    Args:
        subscription_id: Azure subscription id.
        credential: An azure-identity token credential; default: ``DefaultAzureCredential``.
        base_url: Resource Manager endpoint; default: the public cloud's.
        client_kwargs: Passed to ``StorageManagementClient`` (pipeline options).
    """

    cloud = "azure"

    def __init__(
        self,
        subscription_id: str,
        *,
        credential: Any = None,
        base_url: str | None = None,
        **client_kwargs: Any,
    ) -> None:
        from azure.mgmt.storage import StorageManagementClient

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        extra = {"base_url": base_url} if base_url else {}
        self._client = StorageManagementClient(credential, subscription_id, **extra, **client_kwargs)

    def audit(self, stack: str, stores: dict[str, StoreSpec]) -> list[dict[str, Any]]:
        """Every tagged storage account's checks (accounts are not mapped to spec stores by name)."""
        accounts = call("Microsoft.Storage/storageAccounts/read", self._client.storage_accounts.list)
        found = []
        for account in sorted((a for a in accounts if tagged(a.tags, stack)), key=lambda a: a.name):
            group = account.id.split("/resourceGroups/", 1)[1].split("/", 1)[0]
            containers = call(
                "Microsoft.Storage/storageAccounts/blobServices/containers/read",
                self._client.blob_containers.list,
                resource_group_name=group,
                account_name=account.name,
            )
            found.append(
                resource("azure", "storage-account", account.id, None, account_checks(account, containers))
            )
        return found


def auditor(spec: AzureCloudSpec) -> AzureAuditor:
    """The Azure Storage auditor for a stack's Azure placement (its subscription; default credentials)."""
    return AzureAuditor(spec.subscription_id)
