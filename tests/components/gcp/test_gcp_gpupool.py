"""GKE GPU pools: accelerator and driver, spot and the on-demand floor, taint, zones, autoscaling."""

from __future__ import annotations

import pytest

from components import gpu

POOL = "aistack:gcp:GpuNodePool"
TAINT = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]


@pytest.fixture
def declared(gcp_stack):
    return gcp_stack()


def test_spot_pool_with_a_floor_becomes_an_on_demand_and_a_spot_pool(declared):
    pool = declared.named("main-l4")
    assert pool.type == POOL
    assert sorted(r.name for r in declared.children(pool)) == ["main-l4-ondemand", "main-l4-spot"]
    ondemand, spot = declared.named("main-l4-ondemand").inputs, declared.named("main-l4-spot").inputs
    assert ondemand["nodeConfig"]["spot"] is False
    assert spot["nodeConfig"]["spot"] is True
    # min 2 / max 6 with a floor of 1: one fixed on-demand node, spot between 1 and 5.
    assert (ondemand["autoscaling"]["totalMinNodeCount"], ondemand["autoscaling"]["totalMaxNodeCount"]) == (
        1,
        1,
    )
    assert (spot["autoscaling"]["totalMinNodeCount"], spot["autoscaling"]["totalMaxNodeCount"]) == (1, 5)
    assert spot["autoscaling"]["locationPolicy"] == "ANY"
    assert ondemand["autoscaling"]["locationPolicy"] == "BALANCED"


def test_accelerator_type_count_and_explicit_driver_version(declared):
    l4 = declared.named("main-l4-spot").inputs["nodeConfig"]
    assert l4["machineType"] == "g2-standard-24"
    assert l4["guestAccelerators"] == [
        {"type": "nvidia-l4", "count": 2, "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"}}
    ]
    t4 = declared.named("main-t4-nodes").inputs["nodeConfig"]
    assert t4["machineType"] == "n1-standard-8"
    assert t4["guestAccelerators"] == [
        {"type": "nvidia-tesla-t4", "count": 2, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
    ]


def test_every_gpu_node_pool_is_tainted_labelled_and_hardened(declared):
    raw = [r for r in declared.of_type("gcp:container/nodePool:NodePool") if r.name != "main-system"]
    assert len(raw) == 3
    for node_pool in raw:
        config = node_pool.inputs["nodeConfig"]
        assert config["taints"] == TAINT, node_pool.name
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert config["shieldedInstanceConfig"]["enableSecureBoot"] is True
        assert node_pool.inputs["management"]["autoRepair"] is True
        assert config["serviceAccount"] == declared.named("main-nodes-sa").outputs["email"]
        assert node_pool.inputs["cluster"] == declared.named("main-gke").outputs["id"]
    labels = declared.named("main-l4-spot").inputs["nodeConfig"]["labels"]
    assert labels == gpu.node_labels("l4", "L4-24GB", "spot")


def test_node_count_is_ignored_on_the_raw_pool_not_the_component(declared):
    assert {"nodeCount", "initialNodeCount"} <= set(declared.named("main-l4-spot").ignore_changes)
    assert declared.named("main-l4").ignore_changes == []
    assert "nodeCount" not in declared.named("main-l4-spot").inputs


def test_node_locations_are_the_pool_zones_or_the_cloud_zones(declared):
    assert declared.named("main-t4-nodes").inputs["nodeLocations"] == ["us-central1-b"]
    assert declared.named("main-l4-spot").inputs["nodeLocations"] == [
        "us-central1-a",
        "us-central1-b",
        "us-central1-c",
    ]


def test_initial_size_per_zone_covers_the_minimum(declared):
    # min 1 spot node over three zones: one per zone at creation, the autoscaler trims the rest.
    assert declared.named("main-l4-spot").inputs["initialNodeCount"] == 1
    assert declared.named("main-t4-nodes").inputs["initialNodeCount"] == 0


def test_on_demand_pool_without_floor_is_one_pool(gcp_stack):
    declared = gcp_stack(
        {
            "aistack:clusters": {
                "main": {
                    "gpu_pools": {
                        "l4": None,
                        "t4": None,
                        "h100": {
                            "accelerator": "H100-80GB",
                            "instance_types": ["a3-highgpu-8g"],
                            "min_nodes": 1,
                            "max_nodes": 2,
                            "disk_gib": 500,
                        },
                    }
                }
            }
        }
    )
    (pool,) = [r for r in declared.of_type("gcp:container/nodePool:NodePool") if r.name != "main-system"]
    assert pool.name == "main-h100-nodes"
    config = pool.inputs["nodeConfig"]
    assert config["spot"] is False
    assert config["diskSizeGb"] == 500
    assert config["guestAccelerators"][0]["type"] == "nvidia-h100-80gb"
    assert config["guestAccelerators"][0]["count"] == 8
