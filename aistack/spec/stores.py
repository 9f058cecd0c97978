"""Object stores for model weights, datasets and checkpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aistack.spec.base import Model, Name
from aistack.spec.clusters import CloudName


class StoreSpec(Model):
    """An encrypted, private object store (S3 bucket / Blob container / GCS bucket)."""

    cloud: CloudName = Field(
        description="Cloud the store lives on; must be configured under `aistack:clouds`."
    )
    purpose: Literal["model-weights", "datasets", "checkpoints"] = Field(
        default="model-weights", description="What the store holds (a tag on every resource)."
    )
    versioning: bool = Field(
        default=True, description="Keep prior object versions (recover from overwrites)."
    )
    noncurrent_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Days prior object versions are kept before expiry."
    )
    customer_managed_key: bool = Field(
        default=True,
        description="Encrypt with a key the stack owns (KMS / Key Vault / Cloud KMS) instead of the provider's.",
    )
    replica_of: Name | None = Field(
        default=None,
        description="A copy of another store (its primary) kept identical, on another cloud: endpoints whose "
        "`store` is the primary read this copy from clusters on this store's cloud. It has the primary's "
        "purpose and no replica of its own (no chains).",
    )
    readers: list[Name] | None = Field(
        default=None,
        description="Clusters whose serving workloads may read the store; omit for every cluster on its cloud.",
    )
    refresh: Literal["hourly", "daily", "weekly"] = Field(
        default="daily",
        description="How often a replica (`replica_of`) is brought level with its primary: the transfer copies "
        "only what changed (hourly and weekly runs at minute 17, daily and weekly at 03:17 UTC). Ignored on a "
        "primary.",
    )
