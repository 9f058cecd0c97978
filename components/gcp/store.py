"""GCS object store: private, uniform access, versioned, soft-deleted, CMEK where configured."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from aistack.spec.clouds import GcpCloudSpec
from aistack.spec.stores import StoreSpec
from components import contract
from components.gcp.kms import agent_key

SOFT_DELETE_SECONDS = 7 * 24 * 3600
"""Deleted objects stay restorable for 7 days (GCS's default soft-delete window; 7–90 allowed)."""


class ObjectStore(contract.ObjectStore):
    """A regional GCS bucket for model weights.

    Children: ``-keyring``, ``-key`` (Cloud KMS, 90-day rotation) and ``-key-agent`` (the Cloud
    Storage service agent may encrypt/decrypt with it) when ``customer_managed_key`` is set;
    ``-bucket`` (uniform bucket-level access, public access prevention enforced, versioning,
    soft delete, prior versions expired after ``noncurrent_retention_days``, stale multipart
    uploads aborted, the key as default encryption). The bucket and key are ``protect``-ed in
    production stacks. Reading is granted per service account (see ``WorkloadIdentity``); no
    one else is given access.

    Outputs: ``bucket_name``, ``bucket_uri`` (``gs://...``), ``kms_key_id`` (``None`` without a
    customer-managed key).
    """

    CLOUD = "gcp"
    OUTPUTS = ("bucket_name", "bucket_uri", "kms_key_id")

    def __init__(
        self,
        name: str,
        spec: StoreSpec,
        *,
        cloud: GcpCloudSpec,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        key = grants = None
        if spec.customer_managed_key:
            # The Cloud Storage service agent exists only once something asked for it: a grant to its
            # well-known name fails in a fresh project. This lookup (storage.projects.serviceAccount.get)
            # creates it (pulumi-gcp getProjectServiceAccount; cloud.google.com/storage/docs/projects#service-accounts).
            agent = gcp.storage.get_project_service_account_output(
                project=cloud.project, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            key, grant = agent_key(self, "key", location=cloud.region, agent=agent.member, protect=protect)
            grants = [grant]
        bucket = gcp.storage.Bucket(
            self.child("bucket"),
            location=cloud.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": spec.versioning},
            soft_delete_policy={"retention_duration_seconds": SOFT_DELETE_SECONDS},
            lifecycle_rules=[
                {
                    "action": {"type": "Delete"},
                    "condition": {
                        "days_since_noncurrent_time": spec.noncurrent_retention_days,
                        "with_state": "ARCHIVED",
                    },
                },
                {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
            ],
            encryption={"default_kms_key_name": key.id} if key else None,
            labels={"aistack-purpose": spec.purpose},
            force_destroy=False,
            opts=self.opts(protect=protect, depends_on=grants or []),
        )
        self.finish(
            bucket_name=bucket.name,
            bucket_uri=bucket.name.apply(lambda b: f"gs://{b}"),
            kms_key_id=key.id if key else None,
        )
