"""Weights in a store, seen through rclone: the servers' manifest check and the replication job's remotes.

rclone speaks S3, Blob and GCS with each cloud's workload identity (``env_auth``), so one small image
checks a store from any cloud and copies between clouds; its remotes are configured from the
environment (``RCLONE_CONFIG_<REMOTE>_<KEY>``, rclone docs "Config file": "Environment variables"), never
from a file with secrets in it.
"""

from __future__ import annotations

import pulumi

from aistack import weights
from aistack.spec.endpoints import EndpointSpec
from components import contract
from components.k8s import clouds
from components.k8s.pod import container_security

RCLONE_IMAGE = "docker.io/rclone/rclone:1.75.0"
"""rclone v1.75.0 (github.com/rclone/rclone tag v1.75.0, released 2026-07-31: the newest release tag in the
repository snapshot checked on 2026-12-05; Docker Hub ``rclone/rclone`` publishes each tag without the
``v``). Its Alpine base has busybox ``sh``, ``sha256sum``, ``cut``, ``sort``, ``cmp`` and ``diff``, which
the check script uses."""

CHECK_CONTAINER = "weights-check"
CHECK_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "500m", "memory": "256Mi"},
}
"""A listing and a few KiB of manifest: small and bounded."""


def remote_env(
    remote: str, row: clouds.CloudServing, store: contract.ObjectStore, region: str | None
) -> list[dict]:
    """``RCLONE_CONFIG_<REMOTE>_*`` for a store on ``row``'s cloud, authenticated as the pod's identity.

    The Azure backend needs the storage account (the store's ``bucket_name``); S3 the bucket's region.
    """
    prefix = f"RCLONE_CONFIG_{remote.upper()}_"
    env = [{"name": prefix + key.upper(), "value": value} for key, value in row.stream.rclone.items()]
    if row.stream.account_env:
        env.append({"name": prefix + "ACCOUNT", "value": store.bucket_name})
    if row.stream.scheme == "s3" and region:
        env.append({"name": prefix + "REGION", "value": region})
    return env


def store_root(row: clouds.CloudServing, store: contract.ObjectStore) -> pulumi.Output[str]:
    """What rclone's path starts with on this cloud: the bucket, or the Azure container."""
    if row.stream.root == "bucket_name":
        return pulumi.Output.from_input(store.bucket_name)
    return pulumi.Output.from_input(store.bucket_uri).apply(lambda url: url.rstrip("/").rsplit("/", 1)[-1])


def check_container(
    spec: EndpointSpec, row: clouds.CloudServing, store: contract.ObjectStore, region: str | None, uid: int
) -> dict | None:
    """The ``weights-check`` init container, or ``None`` when the endpoint names no manifest digest.

    It runs as the pod's service account, the store's reader (list and read, nothing else: what
    ``rclone lsf`` and ``rclone cat`` need), before the server: a pod whose store does not hold the
    manifest the endpoint names, or whose files differ from it, fails with the difference in its log and
    never serves (:func:`aistack.weights.check_script` says why this is exact and cheap).
    """
    if spec.weights_manifest is None:
        return None
    base = store_root(row, store).apply(lambda root: f"src:{root}/{spec.storage_uri}")
    script = base.apply(
        lambda b: weights.check_script(f"{b}/{weights.MANIFEST_NAME}", b, spec.weights_manifest)
    )
    return {
        "name": CHECK_CONTAINER,
        "image": RCLONE_IMAGE,
        "command": ["/bin/sh", "-c"],
        "args": [script],
        "env": [
            {"name": "HOME", "value": "/tmp"},
            # No config file: the remote comes from the environment (a missing file is only a notice).
            {"name": "RCLONE_CONFIG", "value": "/tmp/rclone.conf"},
            *remote_env("src", row, store, region),
        ],
        "resources": CHECK_RESOURCES,
        "security_context": container_security(uid),
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
    }
