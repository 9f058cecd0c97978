"""The Azure audit destination: who read, wrote or deleted blobs in the weight stores."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components import contract

BLOB_CATEGORIES = ("StorageRead", "StorageWrite", "StorageDelete")
"""The blob service's resource-log categories (Azure Monitor, "Monitoring Azure Blob Storage data
reference"): every data-plane request, with the caller's identity for Entra ID requests."""


class AuditLog(contract.Component):
    """A Log Analytics workspace that keeps the stores' blob access logs ``retention_days``.

    Children: ``-workspace`` (local authentication off, so only Entra ID principals with a
    Log Analytics role read it) and, per store (:meth:`record`), ``<store>-access-logs``: the
    blob service's diagnostic setting sending reads, writes and deletes there.

    The workspace is encrypted with Microsoft-managed keys: customer-managed keys for Log
    Analytics need a dedicated cluster (a commitment tier of at least 100 GB a day), out of scale
    for one stack's access logs; see ``docs/security.md``.

    Outputs: ``workspace_id``.
    """

    CLOUD = "azure"
    CONCEPT = "AuditLog"
    OUTPUTS = ("workspace_id",)

    def __init__(
        self,
        name: str,
        *,
        resource_group_name: pulumi.Input[str],
        location: str,
        retention_days: int,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        self._workspace = azure_native.operationalinsights.Workspace(
            self.child("workspace"),
            resource_group_name=resource_group_name,
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=retention_days,
            features={"disable_local_auth": True},
            tags=tags,
            opts=self.opts(),
        )
        self.finish(workspace_id=self._workspace.id)

    def record(self, store: str, account_id: pulumi.Input[str]) -> azure_native.monitor.DiagnosticSetting:
        """The ``<store>-access-logs`` child: the store's blob reads, writes and deletes to the workspace."""
        return azure_native.monitor.DiagnosticSetting(
            self.child(f"{store}-access-logs"),
            name="aistack-blob-access",
            resource_uri=pulumi.Output.concat(account_id, "/blobServices/default"),
            workspace_id=self._workspace.id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category": category, "enabled": True} for category in BLOB_CATEGORIES],
            opts=self.opts(),
        )
