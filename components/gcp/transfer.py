"""Storage Transfer Service: a GCS replica kept identical to an S3 primary, with no AWS key anywhere."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components import contract
from components.aws import transfer as aws_transfer
from components.aws.store import ObjectStore as S3Store
from components.gcp.kms import enable_api
from components.gcp.store import ObjectStore as GcsStore

SINK_ROLES = ("roles/storage.legacyBucketWriter", "roles/storage.objectViewer")
"""What the service agent needs on a destination bucket: ``storage.buckets.get``, ``storage.objects.create``,
``.delete`` and ``.list`` (Legacy Bucket Writer), and ``storage.objects.get`` to compare objects already
there (Object Viewer) (Storage Transfer Service, "Configure access to a sink: Cloud Storage"). Granted on
the replica bucket only. No Cloud KMS grant: the bucket's default key is applied by the Cloud Storage
service agent, which the store already granted (``components/gcp/store.py``)."""

FIRST_DAY = {"year": 2026, "month": 12, "day": 1}
"""``scheduleStartDate``: a fixed past date (a date computed at deploy time would change on every preview).
When the start date and time of day are past at creation, the first run is the next day's start time
(TransferJob reference, ``Schedule.scheduleStartDate``)."""

START_TIME = {"hours": 3, "minutes": 17, "seconds": 0, "nanos": 0}
"""``startTimeOfDay`` (UTC), the same minute as the CronJob schedules (``aistack.replication.REFRESH``)."""


class StorageTransfer(contract.WeightsReplica):
    """A scheduled Storage Transfer Service job copying an S3 primary into a GCS replica.

    Federated identity (Storage Transfer Service, "Configure access to a source: Amazon S3", Federated
    identity): the job names an AWS role (``roleArn``); the service assumes it with a Google-signed token
    of its service agent, and the role trusts ``accounts.google.com`` only for that agent's subject id. No
    access key is created or stored.

    Children: ``-api`` (``storagetransfer.googleapis.com`` enabled, never disabled on destroy), ``-source-role`` and ``-source-read`` (AWS, :func:`components.aws.transfer.source_reader`),
    ``-sink-writer`` and ``-sink-reader`` (the agent on the replica bucket, :data:`SINK_ROLES`), ``-job``
    (every ``interval_s``, mirror: objects deleted from the primary are deleted from the replica, changed
    ones overwritten; copy and delete actions logged to Cloud Logging). The job depends on the role's
    policy and both bucket grants: a run that starts before them fails on access (the first run is hours
    later, past IAM propagation; the order still holds on every later replacement).

    Outputs: see :class:`contract.WeightsReplica`.
    """

    CLOUD = "gcp"

    def __init__(
        self,
        name: str,
        *,
        source: S3Store,
        target: GcsStore,
        project: str,
        interval_s: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args: ``opts`` must carry both the GCP and the AWS provider (``providers=[...]``)."""
        super().__init__(name, opts)
        # The Storage Transfer API is off in a new project: the agent lookup and the job need it on.
        api = enable_api(self, project=project, service="storagetransfer.googleapis.com")
        # Creates the agent where it does not exist yet (googleServiceAccounts.get), so grants to it succeed;
        # after the API is enabled (the lookup is refused before).
        agent = gcp.storage.get_transfer_project_service_account_output(
            project=project, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[api])
        )
        trust = agent.subject_id.apply(
            lambda sub: aws_transfer.web_identity_trust(
                "accounts.google.com", {"accounts.google.com:sub": sub}
            )
        )
        role, policy = aws_transfer.source_reader(self, source, trust)
        grants = [
            gcp.storage.BucketIAMMember(
                self.child(f"sink-{suffix}"),
                bucket=target.bucket_name,
                role=role_name,
                member=agent.member,
                opts=self.opts(),
            )
            for suffix, role_name in zip(("writer", "reader"), SINK_ROLES, strict=True)
        ]
        gcp.storage.TransferJob(
            self.child("job"),
            project=project,
            description=f"aistack: keep store {name.removesuffix('-replication')} identical to its primary",
            transfer_spec={
                "aws_s3_data_source": {"bucket_name": source.bucket_name, "role_arn": role.arn},
                "gcs_data_sink": {"bucket_name": target.bucket_name},
                "transfer_options": {
                    "overwrite_when": "DIFFERENT",
                    "delete_objects_unique_in_sink": True,
                },
            },
            schedule={
                "schedule_start_date": FIRST_DAY,
                "start_time_of_day": START_TIME,
                "repeat_interval": f"{interval_s}s",
            },
            logging_config={
                "log_actions": ["COPY", "DELETE"],
                "log_action_states": ["SUCCEEDED", "FAILED"],
            },
            status="ENABLED",
            opts=self.opts(depends_on=[api, policy, *grants]),
        )
        self.finish(
            source=source.bucket_uri,
            target=target.bucket_uri,
            schedule=f"every {interval_s}s from 03:17 UTC",
            mechanism="storage-transfer",
        )
