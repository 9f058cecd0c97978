"""GKE Workload Identity: a Google service account one Kubernetes service account acts as."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components import contract
from components.gcp.cluster import Cluster
from components.gcp.store import ObjectStore


class WorkloadIdentity(contract.WorkloadIdentity):
    """Read-only access to one bucket for one service account in one cluster.

    Children: ``-sa`` (the Google service account), ``-wi`` (``roles/iam.workloadIdentityUser`` on
    it for exactly ``serviceAccount:<project>.svc.id.goog[<namespace>/<service account>]``) and
    ``-read`` (``roles/storage.objectViewer`` on that bucket only). Decryption of a CMEK bucket
    is done by the Cloud Storage service agent, so no key grant is needed.

    Outputs: ``identity`` (the service account's email, for the Kubernetes service account's
    ``iam.gke.io/gcp-service-account`` annotation), ``namespace``, ``service_account``.
    """

    CLOUD = "gcp"

    def __init__(
        self,
        name: str,
        *,
        cluster: Cluster,
        store: ObjectStore,
        namespace: str,
        service_account: str,
        account_id: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        account = gcp.serviceaccount.Account(
            self.child("sa"),
            account_id=account_id,
            display_name=f"Workload identity of {namespace}/{service_account}",
            opts=self.opts(),
        )
        gcp.serviceaccount.IAMMember(
            self.child("wi"),
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=f"serviceAccount:{cluster.workload_pool}[{namespace}/{service_account}]",
            opts=self.opts(),
        )
        gcp.storage.BucketIAMMember(
            self.child("read"),
            bucket=store.bucket_name,
            role="roles/storage.objectViewer",
            member=account.member,
            opts=self.opts(),
        )
        self.finish(identity=account.email, namespace=namespace, service_account=service_account)
