"""Bad GCP input fails before anything is declared, with one line naming the file and key."""

from __future__ import annotations

import pytest

from aistack.errors import InputError
from tests.components.gcp.gcp_fixtures import gcp_spec

POOLS = "aistack:clusters.main.gpu_pools"


def error(changes) -> InputError:
    with pytest.raises(InputError) as caught:
        gcp_spec(changes)
    return caught.value


def test_the_base_spec_is_valid():
    spec = gcp_spec()
    assert spec.clouds.gcp.project == "acme-ml-test"
    assert spec.clusters["main"].gpu_pools["t4"].overrides.gpu_driver_version == "LATEST"


def test_an_accelerator_gcp_lacks():
    err = error({"aistack:clusters": {"main": {"gpu_pools": {"l4": {"accelerator": "A10G-24GB"}}}}})
    assert err.line() == (
        f"test.yaml: {POOLS}.l4.accelerator: gcp does not support accelerator A10G-24GB: "
        "the A10G is an AWS-only part (EC2 G5)"
    )


def test_several_machine_types_in_one_pool():
    err = error(
        {
            "aistack:clusters": {
                "main": {"gpu_pools": {"l4": {"instance_types": ["g2-standard-8", "g2-standard-12"]}}}
            }
        }
    )
    assert err.key == f"{POOLS}.l4.instance_types"
    assert "gcp does not support several_instance_types: a GKE node pool has one machine type" in err.message


def test_a_second_gke_cluster():
    second = {
        "cloud": "gcp",
        "api": {"deployer": "dns-endpoint"},
        "gpu_pools": {
            "l4": {
                "accelerator": "L4-24GB",
                "instance_types": ["g2-standard-8"],
                "min_nodes": 0,
                "max_nodes": 1,
            }
        },
    }
    err = error({"aistack:clusters": {"second": second}})
    assert err.key == "aistack:clusters.second.cloud"
    assert "gcp does not support several_clusters" in err.message


def test_a_machine_type_without_the_accelerator():
    err = error({"aistack:clusters": {"main": {"gpu_pools": {"l4": {"instance_types": ["n1-standard-8"]}}}}})
    assert err.key == f"{POOLS}.l4.instance_types"
    assert err.message.startswith("machine type 'n1-standard-8' does not carry L4-24GB")


def test_a_gpu_count_on_a_fixed_count_machine():
    err = error(
        {
            "aistack:clusters": {
                "main": {"gpu_pools": {"l4": {"overrides": {"cloud": "gcp", "gpus_per_node": 2}}}}
            }
        }
    )
    assert err.key == f"{POOLS}.l4.overrides.gpus_per_node"


def test_a_driver_version_gke_does_not_know():
    err = error(
        {"aistack:clusters": {"main": {"gpu_pools": {"t4": {"overrides": {"gpu_driver_version": "R535"}}}}}}
    )
    assert err.key == f"{POOLS}.t4.overrides.gpu_driver_version"
    assert "'DEFAULT' or 'LATEST'" in err.message


def test_an_unknown_override_key_lists_the_allowed_ones():
    err = error({"aistack:clusters": {"main": {"gpu_pools": {"t4": {"overrides": {"spot_max_price": 1}}}}}})
    assert err.key == f"{POOLS}.t4.overrides.spot_max_price"
    assert err.message == "unknown key; allowed keys: cloud, gpu_driver_version, gpus_per_node"


def test_log_retention_beyond_cloud_logging():
    err = error({"aistack:clusters": {"main": {"log_retention_days": 3653}}})
    assert (
        err.line()
        == "test.yaml: aistack:clusters.main.log_retention_days: Cloud Logging keeps logs at most 3650 days"
    )


def test_a_pod_range_too_small_for_the_pools():
    # A /20 pod range holds 16 nodes' /24s; system (3) + l4 (6) + t4 (2) = 11 fit, 20 more l4 nodes do not.
    assert gcp_spec({"aistack:clouds": {"gcp": {"pods_cidr": "10.52.0.0/20"}}})
    err = error(
        {
            "aistack:clouds": {"gcp": {"pods_cidr": "10.52.0.0/20"}},
            "aistack:clusters": {"main": {"gpu_pools": {"l4": {"max_nodes": 26}}}},
        }
    )
    assert err.key == "aistack:clouds.gcp.pods_cidr"
    assert "holds pod addresses for 16 nodes but the GKE pools may reach 31" in err.message
