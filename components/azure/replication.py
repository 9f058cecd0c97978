"""A Blob replica kept identical to an S3 primary by a CronJob in the replica's AKS cluster (rclone).

Why a job and not a service: the replica's storage account has public network access disabled, so only a
client in the VNet reaches it (its private endpoint); the AKS cluster is one. The job holds no secret:
Entra workload identity writes the container, and the cluster's OIDC issuer, registered in AWS IAM,
lets the same service account assume a read-only role on the bucket (``AssumeRoleWithWebIdentity``).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from aistack import weights as manifest
from components import contract
from components.aws import transfer as aws_transfer
from components.aws.store import ObjectStore as S3Store
from components.azure import rbac
from components.azure.cluster import Cluster
from components.azure.identity import federated_identity
from components.azure.store import ObjectStore as BlobStore
from components.k8s import clouds, pod, weights

NAMESPACE = "aistack-replication"
AWS_AUDIENCE = "sts.amazonaws.com"
"""The audience AWS STS expects on web identity tokens for an IAM OIDC provider's client id."""
AWS_TOKEN_DIR = "/var/run/secrets/aws"
UID = 1000
JOB_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "512Mi"},
    "limits": {"cpu": "2", "memory": "2Gi"},
}
"""rclone's default 4 transfers with 8 MiB chunks per multipart stream fit well within 2 GiB."""


def namespace(name: str, opts: pulumi.ResourceOptions) -> k8s.core.v1.Namespace:
    """The cluster's replication namespace (restricted Pod Security Standard enforced)."""
    return k8s.core.v1.Namespace(
        name,
        metadata={
            "name": NAMESPACE,
            "labels": {
                "app.kubernetes.io/managed-by": "aistack",
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
        opts=opts,
    )


def oidc_provider(name: str, cluster: Cluster, opts: pulumi.ResourceOptions) -> aws.iam.OpenIdConnectProvider:
    """The AKS cluster's OIDC issuer registered in AWS IAM (one per issuer and account: IAM refuses a second).

    No thumbprint: IAM verifies the issuer's JWKS endpoint with its library of trusted root CAs and the
    parameter is optional (IAM API, CreateOpenIDConnectProvider, ``ThumbprintList``).
    """
    return aws.iam.OpenIdConnectProvider(
        name, url=cluster.oidc_issuer_url, client_id_lists=[AWS_AUDIENCE], opts=opts
    )


def copy_script() -> str:
    """Mirror the bucket into the container, the manifests last.

    A server that checks its replica mid-copy then sees the previous manifest beside new files, or a
    manifest naming files not there yet, and refuses to serve (fail safe) until the run completes.
    """
    return "\n".join(
        [
            "set -eu",
            f'rclone sync "src:$SOURCE" "dst:$TARGET" --exclude "{manifest.MANIFEST_NAME}" --stats-one-line -v',
            f'rclone sync "src:$SOURCE" "dst:$TARGET" --include "{manifest.MANIFEST_NAME}" --stats-one-line -v',
        ]
    )


class ScheduledCopy(contract.WeightsReplica):
    """A CronJob copying an S3 primary into a Blob replica from inside the replica's AKS cluster.

    Children: ``-identity``, ``-federation`` (Entra workload identity for the job's service account),
    ``-write`` (Storage Blob Data Contributor on the replica's container only) and ``-write-propagation``
    (the wait for it); ``-source-role`` (trusts the cluster's OIDC issuer for this service account and the
    ``sts.amazonaws.com`` audience only) and ``-source-read`` (read-only on the bucket and its key);
    ``-service-account`` and ``-job`` (``concurrencyPolicy: Forbid``: a slow run is never overlapped).

    Outputs: see :class:`contract.WeightsReplica`.
    """

    CLOUD = "azure"

    def __init__(
        self,
        name: str,
        *,
        source: S3Store,
        source_region: str,
        target: BlobStore,
        cluster: Cluster,
        oidc: aws.iam.OpenIdConnectProvider,
        namespace: pulumi.Input[str],
        subscription_id: str,
        location: str,
        tags: dict[str, str],
        cron: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args: ``opts`` must carry the AWS, Azure, time and the cluster's Kubernetes providers."""
        super().__init__(name, opts)
        account = f"{name}-replicator"
        identity, federation = federated_identity(
            self, cluster=cluster, namespace=NAMESPACE, service_account=account, location=location, tags=tags
        )
        write = rbac.grant(
            self,
            "write",
            subscription_id=subscription_id,
            role=rbac.STORAGE_BLOB_DATA_CONTRIBUTOR,
            scope=target.container_id,
            principal_id=identity.principal_id,
        )
        waited = rbac.propagated(self, "write-propagation", [write])
        issuer = pulumi.Output.from_input(cluster.oidc_issuer_url).apply(
            lambda url: url.removeprefix("https://").rstrip("/")
        )
        trust = pulumi.Output.all(oidc.arn, issuer).apply(
            lambda a: aws_transfer.web_identity_trust(
                a[0],
                {f"{a[1]}:sub": f"system:serviceaccount:{NAMESPACE}:{account}", f"{a[1]}:aud": AWS_AUDIENCE},
            )
        )
        role, read = aws_transfer.source_reader(self, source, trust)
        azure_row, aws_row = clouds.row("azure"), clouds.row("aws")
        sa = k8s.core.v1.ServiceAccount(
            self.child("service-account"),
            metadata={
                "name": account,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "aistack", "aistack.io/store": name},
                "annotations": identity.client_id.apply(azure_row.service_account_annotations),
            },
            automount_service_account_token=False,
            opts=self.opts(depends_on=[federation]),
        )
        container = {
            "name": "copy",
            "image": weights.RCLONE_IMAGE,
            "command": ["/bin/sh", "-c"],
            "args": [copy_script()],
            "env": [
                {"name": "HOME", "value": "/tmp"},
                {"name": "RCLONE_CONFIG", "value": "/tmp/rclone.conf"},
                {"name": "SOURCE", "value": weights.store_root(aws_row, source)},
                {"name": "TARGET", "value": weights.store_root(azure_row, target)},
                *weights.remote_env("src", aws_row, source, source_region),
                *weights.remote_env("dst", azure_row, target, None),
                # The container exists (the program made it); the identity may not create containers anyway.
                {"name": "RCLONE_CONFIG_DST_NO_CHECK_CONTAINER", "value": "true"},
                # The AWS SDK's web identity provider (rclone's S3 backend with env_auth).
                {"name": "AWS_ROLE_ARN", "value": role.arn},
                {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": f"{AWS_TOKEN_DIR}/token"},
                {"name": "AWS_ROLE_SESSION_NAME", "value": account},
                {"name": "AWS_REGION", "value": source_region},
            ],
            "resources": JOB_RESOURCES,
            "security_context": pod.container_security(UID),
            "volume_mounts": [
                {"name": "tmp", "mount_path": "/tmp"},
                {"name": "aws-token", "mount_path": AWS_TOKEN_DIR, "read_only": True},
            ],
        }
        k8s.batch.v1.CronJob(
            self.child("job"),
            metadata={
                "name": account,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "aistack"},
            },
            spec={
                "schedule": cron,
                "time_zone": "Etc/UTC",
                "concurrency_policy": "Forbid",
                # A run missed by more than an hour (cluster down) waits for the next slot.
                "starting_deadline_seconds": 3600,
                "successful_jobs_history_limit": 3,
                "failed_jobs_history_limit": 3,
                "job_template": {
                    "spec": {
                        "backoff_limit": 2,
                        "ttl_seconds_after_finished": 7 * 24 * 3600,
                        "template": {
                            "metadata": {
                                "labels": {**azure_row.pod_labels, "app.kubernetes.io/name": account}
                            },
                            "spec": {
                                "service_account_name": account,
                                "automount_service_account_token": False,
                                "restart_policy": "Never",
                                "security_context": pod.pod_security(UID),
                                # The system pool: the copy never holds a GPU node.
                                "node_selector": dict(pod.SYSTEM_NODES),
                                "containers": [container],
                                "volumes": [
                                    {"name": "tmp", "empty_dir": {"size_limit": "1Gi"}},
                                    {
                                        # A token for AWS STS only (its audience), refreshed by the kubelet.
                                        "name": "aws-token",
                                        "projected": {
                                            "sources": [
                                                {
                                                    "service_account_token": {
                                                        "audience": AWS_AUDIENCE,
                                                        "expiration_seconds": 3600,
                                                        "path": "token",
                                                    }
                                                }
                                            ]
                                        },
                                    },
                                ],
                            },
                        },
                    }
                },
            },
            # The first run must find both identities usable: the Blob grant propagated, the AWS role's policy.
            opts=self.opts(depends_on=[sa, waited, read]),
        )
        self.finish(
            source=source.bucket_uri, target=target.bucket_uri, schedule=cron, mechanism="scheduled-copy"
        )
