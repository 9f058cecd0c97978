"""Which transfer keeps each replica store identical to its primary, on which schedule: a plan from the spec.

No Pulumi here: the program (``components/replication.py``) declares what this plans, and the cost
report reads the same plan (egress per refresh, refresh interval) to price replication.

Mechanisms, per (primary cloud → replica cloud), with why (sources in docs/multicloud.md):

- **aws → gcp: Storage Transfer Service** (``storage-transfer``), agentless, scheduled by Google. It reads
  S3 as an AWS role it assumes with its own Google identity (federated identity: the role trusts
  ``accounts.google.com`` for the service agent's subject id only), so no AWS key exists anywhere.
- **aws → azure: a CronJob in the replica's AKS cluster** (``scheduled-copy``), rclone with the cluster's
  workload identities on both sides: Entra workload identity for the Blob container (write), and the
  cluster's OIDC issuer federated into an AWS role (``AssumeRoleWithWebIdentity``) for the bucket (read).
  Azure's own service does not fit: the replica's storage account has public network access disabled
  (only its private endpoint in the VNet reaches it) and Storage Mover's cloud-to-cloud migration
  copies from its Azure-side service through an Azure Arc multicloud connector, a one-time migration
  tool ("purpose-built for large-scale, one-time migrations").
- Other pairs are refused (:func:`check`): a private Azure account as a *source* is reachable from no
  other cloud's service or cluster, and S3 as a *target* would need DataSync's object-storage location
  for GCS, which authenticates with HMAC keys (long-lived secrets), or a job in EKS federated into GCP
  (not built yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aistack.errors import InputError

Mechanism = Literal["storage-transfer", "scheduled-copy"]

REFRESH: dict[str, tuple[int, str]] = {
    # interval (s) for Storage Transfer Service's repeatInterval, and the CronJob's schedule (UTC).
    "hourly": (3600, "17 * * * *"),
    "daily": (86400, "17 3 * * *"),
    "weekly": (604800, "17 3 * * 0"),
}
"""Refresh schedules a replica may ask for. Minute 17, 03:17 UTC: off the hour, when many jobs start."""

SUPPORTED: dict[tuple[str, str], Mechanism] = {
    ("aws", "gcp"): "storage-transfer",
    ("aws", "azure"): "scheduled-copy",
}

UNSUPPORTED_REASON: dict[tuple[str, str], str] = {
    ("azure", "aws"): "the primary's storage account has public network access disabled: no transfer from "
    "another cloud reaches it (make the primary an S3 store)",
    ("azure", "gcp"): "the primary's storage account has public network access disabled: Storage Transfer "
    "Service cannot reach it (make the primary an S3 store)",
    ("gcp", "aws"): "DataSync reads GCS only with HMAC keys (long-lived secrets), and no federated job into "
    "GCP is built yet (make the primary an S3 store)",
    ("gcp", "azure"): "no job federating an AKS cluster into GCP is built yet (make the primary an S3 store)",
}


@dataclass(frozen=True)
class Transfer:
    """One replica kept identical to its primary.

    Attributes:
        primary: The primary store's name.
        replica: The replica store's name.
        source_cloud: The primary's cloud (where egress is charged).
        target_cloud: The replica's cloud.
        mechanism: How it is copied (see the module docstring).
        runs_in: The cluster whose CronJob copies (``scheduled-copy``), else ``None``.
        refresh: The replica's refresh schedule name (:data:`REFRESH`).
        interval_s: Seconds between runs.
        cron: The CronJob schedule (UTC) for the same interval.
        weights_gib: The weights the endpoints read from the primary, GiB (distinct ``storage_uri``; only
            models the sizing module knows), copied in full when they change; ``None`` when none is known.
            A refresh with unchanged weights copies nothing (both services copy only changed objects).
    """

    primary: str
    replica: str
    source_cloud: str
    target_cloud: str
    mechanism: Mechanism
    runs_in: str | None
    refresh: str
    interval_s: int
    cron: str
    weights_gib: float | None


def _weights_gib(spec: Any, primary: str) -> float | None:
    from sizing import memory

    sizes: dict[str, float] = {}
    for endpoint in spec.endpoints.values():
        if endpoint.store != primary:
            continue
        arch = memory.architecture(endpoint.model)
        if arch is not None:
            sizes[endpoint.storage_uri] = memory.weight_bytes(arch, endpoint.precision) / memory.GIB
    return round(sum(sizes.values()), 2) if sizes else None


def _copy_cluster(spec: Any, name: str, store: Any) -> str | None:
    """The cluster a scheduled copy runs in: the first reader of the replica (on its cloud), else ``None``."""
    readers = [c for c in spec.readers(name) if spec.clusters[c].cloud == store.cloud]
    return readers[0] if readers else None


def plan(spec: Any) -> list[Transfer]:
    """Every replica store's transfer (spec validated, :func:`check` passed), in store order."""
    found = []
    for name, store in spec.stores.items():
        primary = store.replica_of
        if primary is None:
            continue
        source = spec.stores[primary].cloud
        mechanism = SUPPORTED[(source, store.cloud)]
        interval, cron = REFRESH[store.refresh]
        found.append(
            Transfer(
                primary=primary,
                replica=name,
                source_cloud=source,
                target_cloud=store.cloud,
                mechanism=mechanism,
                runs_in=_copy_cluster(spec, name, store) if mechanism == "scheduled-copy" else None,
                refresh=store.refresh,
                interval_s=interval,
                cron=cron,
                weights_gib=_weights_gib(spec, primary),
            )
        )
    return found


def check(spec: Any, file: str) -> None:
    """Refuse a replica no supported transfer can fill, before anything is declared.

    Also: an endpoint whose store has replicas and whose weights are uploaded must name the manifest
    digest, or its servers on the replicas could not tell the primary's weights from any other.

    Raises:
        InputError: naming ``aistack:stores.<replica>.replica_of`` (or ``.readers``, or the endpoint's
            ``weights_manifest``) and why.
    """
    replicated = {s.replica_of for s in spec.stores.values()} - {None}
    for ename, endpoint in spec.endpoints.items():
        if endpoint.store in replicated and endpoint.weights_uploaded and endpoint.weights_manifest is None:
            raise InputError(
                file,
                f"aistack:endpoints.{ename}.weights_manifest",
                f"store {endpoint.store!r} has replicas: name the digest of its weights manifest (sha256:..., "
                "printed by `python -m aistack weights manifest DIR`) so every replica serves the primary's weights",
            )
    for name, store in spec.stores.items():
        primary = store.replica_of
        if primary is None:
            continue
        pair = (spec.stores[primary].cloud, store.cloud)
        if pair not in SUPPORTED:
            raise InputError(
                file,
                f"aistack:stores.{name}.replica_of",
                f"no transfer from {pair[0]} to {pair[1]}: {UNSUPPORTED_REASON[pair]}",
            )
        if SUPPORTED[pair] == "scheduled-copy" and _copy_cluster(spec, name, store) is None:
            raise InputError(
                file,
                f"aistack:stores.{name}.readers",
                f"the copy into {store.cloud} runs in a cluster on {store.cloud} that reads the store (its private "
                "endpoint is reachable only there); declare one, or list it in readers",
            )
