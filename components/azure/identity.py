"""Workload identity: a managed identity one Kubernetes service account federates with to read one store."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from components import contract
from components.azure import rbac
from components.azure.cluster import Cluster
from components.azure.store import ObjectStore

TOKEN_AUDIENCE = "api://AzureADTokenExchange"
"""The audience Entra ID requires on federated Kubernetes service-account tokens."""


def federated_identity(
    owner: contract.Component,
    *,
    cluster: Cluster,
    namespace: str,
    service_account: str,
    location: str,
    tags: dict[str, str],
) -> tuple[
    azure_native.managedidentity.UserAssignedIdentity,
    azure_native.managedidentity.FederatedIdentityCredential,
]:
    """``-identity`` (a user-assigned managed identity) and ``-federation``, trusting only ``cluster``'s
    OIDC issuer and ``system:serviceaccount:<namespace>:<service_account>`` (Entra workload identity)."""
    identity = azure_native.managedidentity.UserAssignedIdentity(
        owner.child("identity"),
        resource_group_name=cluster.resource_group_name,
        location=location,
        tags=tags,
        opts=owner.opts(),
    )
    federation = azure_native.managedidentity.FederatedIdentityCredential(
        owner.child("federation"),
        resource_group_name=cluster.resource_group_name,
        resource_name_=identity.name,
        issuer=cluster.oidc_issuer_url,
        subject=f"system:serviceaccount:{namespace}:{service_account}",
        audiences=[TOKEN_AUDIENCE],
        opts=owner.opts(),
    )
    return identity, federation


class WorkloadIdentity(contract.WorkloadIdentity):
    """Read-only access to one blob container for one service account in one cluster.

    The serving layer annotates the service account with ``azure.workload.identity/client-id:
    <identity>`` and labels its pods ``azure.workload.identity/use: "true"``; the cluster's
    workload identity webhook then injects a token Entra ID exchanges for this identity.

    Children: ``-identity`` (user-assigned managed identity), ``-federation`` (trusts only this
    cluster's OIDC issuer and ``system:serviceaccount:<namespace>:<service account>``), ``-read``
    (Storage Blob Data Reader scoped to the store's container, not the account).

    Outputs: ``identity`` (the identity's client id), ``namespace``, ``service_account``,
    ``principal_id``.
    """

    CLOUD = "azure"
    OUTPUTS = ("identity", "namespace", "service_account", "principal_id")

    def __init__(
        self,
        name: str,
        *,
        cluster: Cluster,
        store: ObjectStore,
        namespace: str,
        service_account: str,
        subscription_id: str,
        location: str,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        identity, _ = federated_identity(
            self,
            cluster=cluster,
            namespace=namespace,
            service_account=service_account,
            location=location,
            tags=tags,
        )
        rbac.grant(
            self,
            "read",
            subscription_id=subscription_id,
            role=rbac.STORAGE_BLOB_DATA_READER,
            scope=store.container_id,
            principal_id=identity.principal_id,
        )
        self.finish(
            identity=identity.client_id,
            namespace=namespace,
            service_account=service_account,
            principal_id=identity.principal_id,
        )
