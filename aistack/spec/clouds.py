"""Per-cloud placement: where each cloud's share of the stack lives and its network."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from aistack.spec.base import Cidr, Model


class NetworkSpec(Model):
    """The cloud-neutral network every cloud family builds (VPC / VNet)."""

    cidr: Cidr = Field(
        description="Address space of the network (VPC / VNet), an IPv4 CIDR from /16 to /20. "
        "Node subnets are carved from it per zone, deterministically by zone letter or number."
    )
    zones: list[str] = Field(
        min_length=1,
        max_length=6,
        description="Availability zones the stack uses (AWS `us-east-1a`, Azure `1`, GCP `us-central1-a`). "
        "Dev uses one; production three.",
    )
    nat: Literal["single", "per_zone"] = Field(
        default="per_zone",
        description="Egress NAT layout: `per_zone` survives a zone outage (production), `single` is cheaper (dev).",
    )

    @field_validator("cidr")
    @classmethod
    def _prefix(cls, value: str) -> str:
        prefix = ipaddress.ip_network(value).prefixlen
        if not 16 <= prefix <= 20:
            raise ValueError(f"prefix /{prefix} is outside the allowed /16 to /20")
        return value

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, zones: list[str]) -> list[str]:
        if len(set(zones)) != len(zones):
            raise ValueError(f"zones must be unique, got {zones}")
        return zones


class AwsCloudSpec(NetworkSpec):
    """Where the AWS share of the stack lives."""

    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", description="AWS region, e.g. `us-east-1`.")
    account_id: str | None = Field(
        default=None,
        pattern=r"^\d{12}$",
        description="The 12-digit account the stack must deploy into; the provider refuses any other "
        "(`allowedAccountIds`). Omit to deploy into whatever account the credentials name.",
    )
    flow_log_retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653
    ] = Field(
        default=90,
        description="Days to keep VPC flow logs in CloudWatch (one of CloudWatch's allowed values).",
    )

    @model_validator(mode="after")
    def _zones_in_region(self) -> AwsCloudSpec:
        for zone in self.zones:
            if not (
                zone.startswith(self.region) and len(zone) == len(self.region) + 1 and zone[-1].isalpha()
            ):
                raise ValueError(f"zone {zone!r} is not a zone of region {self.region} (e.g. {self.region}a)")
        return self


class Clouds(Model):
    """The clouds this stack places resources on, each with its region and network."""

    aws: AwsCloudSpec | None = Field(default=None, description="AWS placement; omit to use no AWS.")

    def configured(self) -> dict[str, NetworkSpec]:
        """The clouds that are set, by name."""
        return {
            name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None
        }


def zone_index(zone: str) -> int:
    """A zone's stable index (its letter or number), used to carve its subnet.

    Indexing by the zone's own letter instead of its list position keeps every subnet's
    address block stable when zones are added, removed or reordered.
    """
    last = zone[-1]
    return ord(last) - ord("a") if last.isalpha() else int(last) - 1
