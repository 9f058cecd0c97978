"""``provisioning`` and ``reservations`` of a GPU pool: what the spec and the families refuse."""

from __future__ import annotations

import copy

import pytest
import yaml

from aistack.errors import InputError
from aistack.spec import spec_from_config
from components import registry
from tests.components.azure.azure_config import config as azure_config
from tests.conftest import REPO

DEV = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]


def _dev(**pool_changes) -> dict:
    config = copy.deepcopy(DEV)
    config["aistack:clusters"]["main"]["gpu_pools"]["l4"].update(pool_changes)
    return config


def _error(config: dict) -> InputError:
    with pytest.raises(InputError) as caught:
        registry.check_features(spec_from_config(config, "s.yaml", from_file=False), "s.yaml")
    return caught.value


def test_groups_is_the_default_and_auto_is_accepted():
    assert (
        spec_from_config(_dev(), "s.yaml", from_file=False).clusters["main"].gpu_pools["l4"].provisioning
        == "groups"
    )
    pool = (
        spec_from_config(_dev(provisioning="auto"), "s.yaml", from_file=False)
        .clusters["main"]
        .gpu_pools["l4"]
    )
    assert pool.provisioning == "auto"


def test_an_unknown_mode_lists_the_allowed_ones():
    err = _error(_dev(provisioning="karpenter"))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.provisioning"
    assert "'groups' or 'auto'" in err.message


def test_reservations_need_auto():
    err = _error(_dev(reservations=["cr-0123456789abcdef0"]))
    assert err.key == "aistack:clusters.main.gpu_pools.l4"
    assert err.message == "reservations need provisioning: auto (a managed group does not pick them)"


def test_a_reservation_id_must_be_an_ec2_id_or_a_gce_name():
    err = _error(_dev(provisioning="auto", reservations=["Capacity Block 1"]))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.reservations.0"


def test_aws_reservations_with_auto_are_accepted():
    registry.check_features(
        spec_from_config(
            _dev(provisioning="auto", reservations=["cr-0123456789abcdef0"]), "s.yaml", from_file=False
        ),
        "s.yaml",
    )


def test_azure_has_no_reservations_for_node_auto_provisioning():
    config = azure_config(**{"clusters.main.gpu_pools.a100.provisioning": "auto"})
    config["aistack:clusters"]["main"]["gpu_pools"]["a100"]["reservations"] = ["a100-block"]
    err = _error(config)
    assert err.key == "aistack:clusters.main.gpu_pools.a100.reservations"
    assert err.message.startswith("azure does not support reservations: AKS node auto-provisioning")


def test_an_aks_cluster_cannot_mix_auto_and_autoscaled_groups():
    config = azure_config(**{"clusters.main.gpu_pools.a100.provisioning": "auto"})
    config["aistack:clusters"]["main"]["gpu_pools"]["t4"] = {
        "accelerator": "T4-16GB",
        "instance_types": ["Standard_NC4as_T4_v3"],
        "min_nodes": 0,
        "max_nodes": 2,
    }
    err = _error(config)
    assert err.key == "aistack:clusters.main.gpu_pools.t4.provisioning"
    assert "cannot also autoscale agent pools" in err.message
