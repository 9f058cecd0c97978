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
            # The workload pool exists once the project's first GKE cluster does; IAM rejects a member
            # in it before ("Identity Pool does not exist"). Wait through the cluster id (depending on
            # the cluster component would also wait on the Kubernetes objects under it).
            member=pulumi.Output.from_input(cluster.cluster_id).apply(
                lambda _: f"serviceAccount:{cluster.workload_pool}[{namespace}/{service_account}]"
            ),
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


def workload_principal(project_number: str, workload_pool: str, namespace: str, service_account: str) -> str:
    """The IAM principal of one Kubernetes service account in a project's workload pool."""
    return (
        f"principal://iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/"
        f"{workload_pool}/subject/ns/{namespace}/sa/{service_account}"
    )


class MetricsReaderIdentity(contract.AddonIdentity):
    """Read access to Cloud Monitoring for KEDA's operator.

    KEDA's Prometheus triggers query the vLLM gauges and the endpoint pickers' queue that Managed
    Service for Prometheus collects, through its Prometheus API. The role is granted to the KEDA
    operator's Kubernetes service account directly (Workload Identity Federation principal), with
    no Google service account to impersonate (Google's "Use KEDA" for Managed Service for Prometheus
    grants ``roles/monitoring.viewer`` the same way).

    Children: ``-monitoring-viewer`` (``roles/monitoring.viewer`` on the project for exactly
    ``keda/keda-operator`` in the cluster's workload pool).

    Outputs: ``identity`` (the principal), ``namespace``, ``service_account``.
    """

    CLOUD = "gcp"
    ROLE = "roles/monitoring.viewer"

    def __init__(
        self,
        name: str,
        *,
        cluster: Cluster,
        project: str,
        project_number: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        namespace, service_account = contract.ADDON_SERVICE_ACCOUNTS["keda-operator"]
        principal = workload_principal(project_number, cluster.workload_pool, namespace, service_account)
        gcp.projects.IAMMember(
            self.child("monitoring-viewer"),
            project=project,
            role=self.ROLE,
            # The workload pool exists once the GKE cluster does: wait for it through its id (depending
            # on the cluster component would wait on the Kubernetes objects under it, which wait on this).
            member=pulumi.Output.from_input(cluster.cluster_id).apply(lambda _: principal),
            opts=self.opts(),
        )
        self.finish(identity=principal, namespace=namespace, service_account=service_account)
