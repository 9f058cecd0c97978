"""GCS audit: public access prevention, uniform access, IAM and versioning of the stack's buckets.

Buckets are found by their labels (``managed-by=aistack``, ``aistack-stack=<stack>``) and read
with google-cloud-storage. The rules are the policy pack's ``gcp-gcs-no-public``.
"""

from __future__ import annotations

from typing import Any

from aistack.audit import check, resource, store_of, tagged
from aistack.preflight.gcp import call, credentials_error
from aistack.spec import StoreSpec
from aistack.spec.clouds import GcpCloudSpec

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def bucket_checks(bucket: Any, spec: StoreSpec | None) -> list[dict[str, str]]:
    """Every rule on one live bucket (versioning expected per its store's spec, on when unknown)."""
    iam = bucket.iam_configuration
    policy = call("storage.buckets.getIamPolicy", bucket.get_iam_policy, requested_policy_version=3)
    public = sorted({m for b in policy.bindings for m in b["members"] if m in PUBLIC_MEMBERS})
    wanted = spec is None or spec.versioning
    return [
        check(
            "gcp-gcs-no-public",
            iam.public_access_prevention == "enforced" and not public,
            f"publicAccessPrevention {iam.public_access_prevention}"
            + (f"; public members: {', '.join(public)}" if public else ""),
        ),
        check(
            "gcp-gcs-uniform-access",
            iam.uniform_bucket_level_access_enabled is True,
            f"uniform bucket-level access {'on' if iam.uniform_bucket_level_access_enabled else 'off'}",
        ),
        check(
            "gcp-gcs-versioning",
            bool(bucket.versioning_enabled) == wanted,
            f"versioning {'on' if bucket.versioning_enabled else 'off'}, spec wants it {'on' if wanted else 'off'}",
        ),
    ]


class GcpAuditor:
    """Audits the stack's GCS buckets in one project.

    Args:
        project: GCP project id.
        credentials: google-auth credentials; default: Application Default Credentials.
        client_options: Passed to the storage client (e.g. ``{"api_endpoint": ...}``).
    """

    cloud = "gcp"

    def __init__(
        self, project: str, *, credentials: Any = None, client_options: dict[str, Any] | None = None
    ) -> None:
        import google.auth.exceptions
        from google.cloud import storage

        self.project = project
        try:
            self._client = storage.Client(
                project=project, credentials=credentials, client_options=client_options
            )
        except google.auth.exceptions.DefaultCredentialsError as err:
            raise credentials_error(err, "no Google credentials") from None

    def audit(self, stack: str, stores: dict[str, StoreSpec]) -> list[dict[str, Any]]:
        """Every labelled bucket's checks; a bucket named ``<store>-bucket-…`` is held to its store's spec."""
        buckets = call("storage.buckets.list", lambda: list(self._client.list_buckets(project=self.project)))
        found = []
        for bucket in sorted((b for b in buckets if tagged(b.labels, stack)), key=lambda b: b.name):
            store = store_of(bucket.name, stores, "bucket")
            found.append(
                resource(
                    "gcp", "gcs-bucket", bucket.name, store, bucket_checks(bucket, stores.get(store or ""))
                )
            )
        return found


def auditor(spec: GcpCloudSpec) -> GcpAuditor:
    """The GCS auditor for a stack's GCP placement (its project; ADC credentials)."""
    return GcpAuditor(spec.project)
