"""Clusters and their node pools, the same shape on every cloud."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, model_validator

from aistack.spec.base import WORLD, Cidr, Model, Name

CloudName = Literal["aws", "azure", "gcp"]
"""Clouds a cluster or store can be placed on (each has a component family in ``components/``)."""

Accelerator = Literal[
    "H100-80GB", "A100-80GB", "A100-40GB", "L40S-48GB", "L4-24GB", "A10G-24GB", "A10-24GB", "T4-16GB"
]
"""The canonical accelerator vocabulary (memory in the name, cloud-neutral)."""


DeployerPath = Literal["allow-listed", "dns-endpoint", "in-network"]
"""How the machine running ``pulumi up`` reaches a cluster's Kubernetes API (see docs/first-deploy.md)."""


def _global_block(block: str, key: str) -> None:
    """A public allow-list entry: a globally routed block, never the whole internet.

    Documentation (TEST-NET), private, shared (CGNAT) and other reserved ranges are refused: no
    runner reaches a public endpoint from such an address, so such an entry only pretends to
    allow-list one.
    """
    network = ipaddress.ip_network(block)
    if network == WORLD:
        raise ValueError(f"{key} must not contain 0.0.0.0/0: list the networks that need access")
    if not network.is_global:
        raise ValueError(
            f"{key}: {block} is not a globally routed block (documentation, private or reserved range); "
            "list the public egress CIDRs of the machines that run pulumi up"
        )


class ApiEndpointSpec(Model):
    """Who can reach the cluster's Kubernetes API, and how ``pulumi up`` does."""

    deployer: DeployerPath = Field(
        description="How the machine running `pulumi up` reaches the API to apply the Kubernetes layer: "
        "`allow-listed` (a public endpoint open to `public_cidrs` only, which the operator must set before "
        "`pulumi up`), `dns-endpoint` (GKE's IAM-authenticated DNS endpoint, reachable from anywhere with "
        "Google credentials; GKE only) or `in-network` (private endpoint only: `pulumi up` runs inside the "
        "network, from `runner_cidrs`; EKS only, and not for a stack's first up, before its network exists). "
        "See docs/first-deploy.md."
    )
    private: bool = Field(default=True, description="Serve the API on a private endpoint inside the network.")
    public_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="Public egress CIDR blocks allowed to reach a public API endpoint (the runners' and "
        "administrators' addresses); empty means no public endpoint. Globally routed blocks only: "
        "0.0.0.0/0 (same rule as the policy `aws-eks-private-endpoint`) and documentation or private "
        "ranges are refused. With `deployer: allow-listed` it may be left empty in the file for previews, "
        "but `pulumi up` refuses to run until it is set.",
    )
    runner_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="With `deployer: in-network`: the private CIDR blocks the in-network runner (a CI runner "
        "in this VPC or a network routed to it) connects from; EKS opens the cluster security group to "
        "them on 443 (EKS only: AKS and GKE refuse in-network). Refused with the other paths.",
    )

    @model_validator(mode="after")
    def _reachable_not_open(self) -> ApiEndpointSpec:
        for block in self.public_cidrs:
            _global_block(block, "public_cidrs")
        if self.deployer == "in-network":
            if not self.private:
                raise ValueError("deployer: in-network needs the private endpoint (private: true)")
            if self.public_cidrs:
                raise ValueError(
                    "deployer: in-network reaches the API on its private endpoint only; drop public_cidrs "
                    "or use deployer: allow-listed"
                )
            if not self.runner_cidrs:
                raise ValueError(
                    "deployer: in-network needs runner_cidrs: the private CIDR blocks the runner inside "
                    "the network connects from"
                )
        elif self.runner_cidrs:
            raise ValueError(
                f"runner_cidrs applies to deployer: in-network only (deployer is {self.deployer})"
            )
        if self.deployer == "dns-endpoint" and self.public_cidrs:
            raise ValueError(
                "deployer: dns-endpoint reaches the API through the IAM-authenticated DNS endpoint; "
                "drop public_cidrs (no public IP endpoint is needed)"
            )
        if not self.private and self.deployer != "allow-listed":
            raise ValueError(
                "an API endpoint that is not private must be allow-listed (deployer: allow-listed)"
            )
        return self

    @property
    def awaits_operator_cidrs(self) -> bool:
        """Whether the allow-list is still to be set by the operator (previews only; up refuses)."""
        return self.deployer == "allow-listed" and not self.public_cidrs


class SystemPoolSpec(Model):
    """The small CPU pool that keeps system pods off GPU nodes."""

    instance_type: str | None = Field(
        default=None,
        description="Machine type; omit for the cloud's default (AWS `m6i.large`, Azure `Standard_D4ds_v5`, "
        "GCP `e2-standard-2`).",
    )
    min_nodes: int = Field(default=2, ge=1, le=100, description="Fewest nodes (count).")
    max_nodes: int = Field(default=3, ge=1, le=100, description="Most nodes the autoscaler may add (count).")
    disk_gib: int = Field(default=50, ge=20, le=2048, description="Root volume size (GiB).")

    @model_validator(mode="after")
    def _bounds(self) -> SystemPoolSpec:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        return self


class GcpPoolOverrides(Model):
    """GKE-only settings of a GPU pool."""

    cloud: Literal["gcp"] = Field(description="Marks these overrides as GCP's; the cluster must be on GCP.")
    gpu_driver_version: Literal["DEFAULT", "LATEST"] = Field(
        default="DEFAULT",
        description="NVIDIA driver GKE installs: the GKE version's default or the latest it supports. Always "
        "sent explicitly: leaving it unset made GKE pools perma-diff (terraform-provider-google#23248).",
    )
    gpus_per_node: Literal[1, 2, 4] | None = Field(
        default=None,
        description="GPUs attached to each N1 node (T4 pools only; 1 when omitted). Accelerator-optimized "
        "machine types (A2, A3, G2) carry a fixed count, taken from the machine type.",
    )


PoolOverrides = Annotated[GcpPoolOverrides, Field(discriminator="cloud")]

Provisioning = Literal["groups", "auto"]
"""How a GPU pool's nodes come to exist: managed groups sized by an autoscaler, or a node provisioner."""

RESERVATION_ID = r"^(cr-[0-9a-f]{17}|[a-z]([-a-z0-9]{0,61}[a-z0-9])?)$"
"""An EC2 capacity reservation id (``cr-`` and 17 hex digits, also capacity blocks) or a Compute Engine
reservation name (RFC 1035, at most 63 characters)."""
"""Per-cloud pool extras, discriminated by ``cloud`` (a union of one model per cloud that has any)."""


class GpuPoolSpec(Model):
    """A GPU node pool: tainted so only GPU workloads land on it, autoscaled between min and max."""

    accelerator: Accelerator = Field(description="GPU model in the canonical vocabulary, e.g. `A10G-24GB`.")
    instance_types: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="Machine types carrying that accelerator; several let spot capacity fill from more pools. "
        "Omit to take them from the sizing plan (sized pools) or the cheapest catalog offering that fits.",
    )
    capacity: Literal["on-demand", "spot"] = Field(
        default="on-demand", description="Purchase option for the nodes."
    )
    on_demand_floor: int = Field(
        default=0,
        ge=0,
        le=1000,
        description="For spot pools: this many nodes run on-demand in a companion pool so serving never "
        "drops to zero when spot capacity is reclaimed (count). Required (≥1) for spot pools in prod.",
    )
    nodes: Literal["sized"] | None = Field(
        default=None,
        description="`sized`: node counts (and, when `instance_types` is omitted, the machine type) come from "
        "the sizing plan for the endpoints served on this pool. Omitting `min_nodes`/`max_nodes` means the same.",
    )
    min_nodes: int | None = Field(
        default=None, ge=0, le=1000, description="Fewest nodes, including the on-demand floor (count)."
    )
    max_nodes: int | None = Field(
        default=None, ge=1, le=1000, description="Most nodes, including the on-demand floor (count)."
    )
    zones: list[str] | None = Field(
        default=None,
        description="Zones for this pool, a subset of the cloud's zones; omit for all of them. "
        "Name only zones that offer the instance type (`python -m aistack preflight` checks).",
    )
    disk_gib: int = Field(
        default=200, ge=50, le=16384, description="Root volume size (GiB); model images are large."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Extra Kubernetes node labels.")
    provisioning: Provisioning = Field(
        default="groups",
        description="`groups`: managed node groups (EKS node group, AKS agent pool, GKE node pool) of the "
        "pool's machine types, grown by the cluster autoscaler between min and max. `auto`: a node "
        "provisioner launches nodes for pending GPU pods, choosing among the pool's machine types and "
        "capacity types (spot first, on-demand when spot runs out) up to a GPU limit of max_nodes x GPUs "
        "per node: Karpenter (NodePool + EC2NodeClass) on EKS, node auto-provisioning (NodePool + "
        "AKSNodeClass) on AKS, a custom ComputeClass with node pool auto-creation on GKE. See README, "
        '"GPU capacity: groups or auto".',
    )
    reservations: list[Annotated[str, Field(pattern=RESERVATION_ID)]] = Field(
        default_factory=list,
        max_length=10,
        description="With `provisioning: auto`: capacity reserved ahead, used before spot and on-demand. "
        "AWS: EC2 on-demand capacity reservation or capacity block ids (`cr-...`), selected by the "
        "EC2NodeClass and launched as capacity type `reserved`; GCP: Compute Engine reservation names "
        "(specific reservations in the cluster's project), the ComputeClass's first priorities. The "
        "reserved nodes are priced in the cost report at the on-demand rate (what a reservation bills, "
        "used or not). Not on Azure.",
    )
    overrides: PoolOverrides | None = Field(
        default=None,
        description="Settings only one cloud has, tagged with the cluster's cloud (`cloud: gcp`).",
    )

    @property
    def sized(self) -> bool:
        """Whether the node counts come from the sizing plan."""
        return self.nodes == "sized" or (self.min_nodes is None and self.max_nodes is None)

    @model_validator(mode="after")
    def _bounds(self) -> GpuPoolSpec:
        if self.reservations and self.provisioning != "auto":
            raise ValueError("reservations need provisioning: auto (a managed group does not pick them)")
        if self.nodes == "sized" and (self.min_nodes is not None or self.max_nodes is not None):
            raise ValueError(
                "a pool with `nodes: sized` takes min_nodes and max_nodes from the plan; remove them"
            )
        if (self.min_nodes is None) != (self.max_nodes is None):
            raise ValueError("give both min_nodes and max_nodes, or neither (then the pool is sized)")
        if self.sized:
            return self
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        if self.on_demand_floor and self.capacity != "spot":
            raise ValueError("on_demand_floor applies to spot pools only (capacity: spot)")
        if self.on_demand_floor > self.max_nodes:
            raise ValueError(
                f"on_demand_floor ({self.on_demand_floor}) is above max_nodes ({self.max_nodes})"
            )
        return self

    def split(self) -> dict[str, tuple[str, int, int]]:
        """The raw pools this pool becomes: suffix → (capacity, min, max).

        A spot pool with an on-demand floor becomes a fixed-size on-demand pool of the floor
        plus a spot pool for the rest, both carrying the same taint and labels.
        """
        if self.capacity == "spot" and self.on_demand_floor:
            floor = self.on_demand_floor
            return {
                "ondemand": ("on-demand", floor, floor),
                "spot": ("spot", max(self.min_nodes - floor, 0), max(self.max_nodes - floor, 1)),
            }
        return {"nodes": (self.capacity, self.min_nodes, self.max_nodes)}


class ClusterSpec(Model):
    """A Kubernetes cluster (EKS / AKS / GKE) with a system pool and GPU pools."""

    cloud: CloudName = Field(
        description="Cloud the cluster runs on; must be configured under `aistack:clouds`."
    )
    kubernetes_version: str = Field(
        default="1.35",
        pattern=r"^1\.\d{2}$",
        description="Kubernetes minor version, e.g. `1.35`; must be in the cloud's standard support on the stack's date (see `docs/first-deploy.md`).",
    )
    service_cidr: Cidr = Field(
        default="172.20.0.0/16",
        description="Kubernetes Service address range; must not overlap any network of the stack.",
    )
    api: ApiEndpointSpec = Field(
        description="Who can reach the Kubernetes API, and how `pulumi up` does (`deployer`)."
    )
    system_pool: SystemPoolSpec = Field(default_factory=SystemPoolSpec, description="The CPU system pool.")
    gpu_pools: dict[Name, GpuPoolSpec] = Field(
        min_length=1, description="GPU pools by name; the name is part of every pool resource's logical name."
    )
    log_retention_days: int = Field(
        default=90, ge=1, le=3653, description="Days to keep control-plane logs (api, audit, authenticator)."
    )
