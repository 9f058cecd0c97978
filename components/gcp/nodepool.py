"""GKE node pools: shielded, Workload-Identity-only metadata, autoscaled with the count left to GKE."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.contract import Component

# With Workload Identity, IAM (not access scopes) decides what the node service account may do.
OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def node_pool(
    owner: Component,
    suffix: str,
    *,
    cluster: pulumi.Input[str],
    location: str,
    node_locations: list[str],
    machine_type: str,
    service_account: pulumi.Input[str],
    capacity: str,
    min_nodes: int,
    max_nodes: int,
    disk_gib: int,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    guest_accelerators: list[dict[str, Any]] | None = None,
    depends_on: Sequence[pulumi.Resource] = (),
) -> gcp.container.NodePool:
    """One node pool, child of ``owner``, named ``<owner>-<suffix>``.

    ``min_nodes``/``max_nodes`` are totals over the pool's zones. The autoscaler owns the node
    count: ``nodeCount`` is ignored, and so is ``initialNodeCount``, which GKE cannot change in
    place (a new minimum would otherwise replace the whole pool).
    """
    spot = capacity == "spot"
    return gcp.container.NodePool(
        owner.child(suffix),
        cluster=cluster,
        location=location,
        node_locations=node_locations,
        # Per zone; enough to hold the minimum from the start (the autoscaler trims any excess).
        initial_node_count=math.ceil(min_nodes / len(node_locations)),
        autoscaling={
            "total_min_node_count": min_nodes,
            "total_max_node_count": max_nodes,
            # ANY lets spot capacity come from whichever zone has it; BALANCED spreads on-demand nodes.
            "location_policy": "ANY" if spot else "BALANCED",
        },
        management={"auto_repair": True, "auto_upgrade": True},
        # Surge one node at a time so upgrades never take serving capacity away.
        upgrade_settings={"strategy": "SURGE", "max_surge": 1, "max_unavailable": 0},
        node_config={
            "machine_type": machine_type,
            "disk_size_gb": disk_gib,
            "disk_type": "pd-balanced",
            "image_type": "COS_CONTAINERD",
            "service_account": service_account,
            "oauth_scopes": OAUTH_SCOPES,
            "spot": spot,
            "labels": labels,
            "taints": taints,
            "guest_accelerators": guest_accelerators or [],
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            # Pods see the GKE metadata server only: node credentials stay out of reach.
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "metadata": {"disable-legacy-endpoints": "true"},
        },
        opts=owner.opts(ignore_changes=["nodeCount", "initialNodeCount"], depends_on=list(depends_on)),
    )
