"""The GCP audit destination: CMEK-encrypted log buckets, and who read or replaced weights."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components import contract, naming
from components.gcp.kms import agent_key, service_agent


class AuditLog(contract.Component):
    """A Cloud KMS key for the stack's log buckets and the Data Access audit trail of its stores.

    Children: ``-keyring``, ``-key`` (Cloud KMS, 90-day rotation) and ``-key-agent`` (the Cloud
    Logging service agent may encrypt/decrypt with it; nobody else is granted use);
    ``-storage-data-access`` (Data Access audit logs, reads and writes, for Cloud Storage in the
    project: they name the principal of every object read or write); ``-logs`` (a log bucket with
    the key, keeping them ``retention_days``) and ``-logs-sink`` (routes the stack's stores'
    entries there).

    Data Access audit logs rather than GCS usage logs: usage logs carry no principal and land in
    a bucket of their own; audit logs name the caller and stay in Cloud Logging under the key.

    The Cloud Logging service agent (``service-<number>@gcp-sa-logging``) exists only once Cloud
    Logging's CMEK settings were read for the project (``gcloud logging settings describe
    --project P``); the grant fails before that (Cloud Logging, "Configure CMEK for log storage").

    Outputs: ``key_id`` (for the project's other log buckets), ``key_grant`` (what they depend
    on), ``bucket_id``.
    """

    CLOUD = "gcp"
    CONCEPT = "AuditLog"
    OUTPUTS = ("key_id", "key_grant", "bucket_id")

    def __init__(
        self,
        name: str,
        *,
        project: str,
        project_number: str,
        region: str,
        prefix: str,
        retention_days: int,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        self._project = project
        key, grant = agent_key(
            self,
            "key",
            location=region,
            agent=service_agent(project_number, "gcp-sa-logging"),
            protect=protect,
        )
        self._audit = gcp.projects.IAMAuditConfig(
            self.child("storage-data-access"),
            project=project,
            service="storage.googleapis.com",
            audit_log_configs=[{"log_type": "DATA_READ"}, {"log_type": "DATA_WRITE"}],
            opts=self.opts(),
        )
        self._bucket = gcp.logging.ProjectBucketConfig(
            self.child("logs"),
            project=project,
            location=region,
            bucket_id=naming.gcp_log_bucket(prefix, "storage-access"),
            retention_days=retention_days,
            description="Who read or replaced model weights (Cloud Storage Data Access audit logs)",
            cmek_settings={"kms_key_name": key.id},
            opts=self.opts(depends_on=[grant]),
        )
        self.finish(key_id=key.id, key_grant=grant, bucket_id=self._bucket.id)

    def record(self, bucket_names: list[pulumi.Input[str]]) -> gcp.logging.ProjectSink | None:
        """The ``-logs-sink`` child: routes the given buckets' Data Access entries to the log bucket.

        Returns:
            The sink, or ``None`` when the stack has no GCS store.
        """
        if not bucket_names:
            return None
        names = pulumi.Output.all(*bucket_names).apply(lambda ns: " OR ".join(f'"{n}"' for n in ns))
        # A sink into a log bucket of the same project needs no grant for its writer identity.
        return gcp.logging.ProjectSink(
            self.child("logs-sink"),
            project=self._project,
            destination=self._bucket.name.apply(lambda bucket: f"logging.googleapis.com/{bucket}"),
            filter=names.apply(
                lambda ns: (
                    'logName:"cloudaudit.googleapis.com%2Fdata_access" '
                    'AND protoPayload.serviceName="storage.googleapis.com" '
                    f"AND resource.labels.bucket_name=({ns})"
                )
            ),
            unique_writer_identity=True,
            opts=self.opts(depends_on=[self._audit]),
        )
