"""The Azure cloud spec and what the registry and the family refuse before anything is declared."""

from __future__ import annotations

import pytest

from aistack.errors import InputError
from aistack.spec import spec_from_config
from components import registry
from components.azure import accelerators
from tests.components.azure.azure_config import config


def check(**changes):
    """Validate a config and run the feature checks, as the CLI and ``__main__.py`` do."""
    spec = spec_from_config(config(**changes), "s.yaml", from_file=False)
    registry.check_features(spec, "s.yaml")
    return spec


def error(**changes) -> str:
    with pytest.raises(InputError) as caught:
        check(**changes)
    return caught.value.line()


def test_valid_spec_has_visible_defaults():
    azure = check().clouds.azure
    assert (azure.nat, azure.secrets_kms, azure.encryption_at_host) == ("single", True, True)
    assert (azure.cluster_tier, azure.storage_sku, azure.pod_cidr) == (
        "Standard",
        "Standard_ZRS",
        "10.244.0.0/16",
    )
    assert azure.cidr_blocks() == {"cidr": "10.40.0.0/16", "pod_cidr": "10.244.0.0/16"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"clouds.azure.zones": ["1", "4"]},
            "s.yaml: aistack:clouds.azure.zones: Azure zones are 1, 2, 3; got ['4']",
        ),
        ({"clouds.azure.zones": ["a"]}, "aistack:clouds.azure.zones: Azure zones are 1, 2, 3; got ['a']"),
        (
            {"clouds.azure.location": "West Europe"},
            "aistack:clouds.azure.location: 'West Europe' is not an Azure location name",
        ),
        (
            {"clouds.azure.subscription_id": "1234"},
            "aistack:clouds.azure.subscription_id: '1234' is not a GUID",
        ),
        (
            {"clouds.azure.tenant_id": "not-a-guid"},
            "aistack:clouds.azure.tenant_id: 'not-a-guid' is not a GUID",
        ),
        (
            {"clouds.azure.admin_group_object_ids": ["x"]},
            "aistack:clouds.azure.admin_group_object_ids.0: 'x' is not a GUID",
        ),
        (
            {"clouds.azure.admin_group_object_ids": []},
            "aistack:clouds.azure.admin_group_object_ids: List should have at least 1 item",
        ),
        (
            {"clouds.azure.cidr": "10.244.0.0/16"},
            "aistack:clouds.azure.pod_cidr: CIDR 10.244.0.0/16 overlaps clouds.azure.cidr",
        ),
        (
            {"clusters.main.service_cidr": "10.40.0.0/20"},
            "aistack:clusters.main.service_cidr: CIDR 10.40.0.0/20 overlaps clouds.azure.cidr",
        ),
        (
            {"clusters.main.service_cidr": "10.244.8.0/24"},
            "aistack:clusters.main.service_cidr: CIDR 10.244.8.0/24 overlaps clouds.azure.pod_cidr",
        ),
        (
            {"clouds.azure.region": "westeurope"},
            "aistack:clouds.azure.region: unknown key; allowed keys: cidr, zones",
        ),
        (
            {"clusters.main.gpu_pools.a100.zones": ["1", "3"], "clouds.azure.zones": ["1", "2"]},
            "aistack:clusters.main.gpu_pools.a100.zones: zones ['3'] are not in",
        ),
    ],
)
def test_spec_errors_name_the_key(changes, expected):
    assert expected in error(**changes)


def test_guids_are_normalised_to_lowercase():
    spec = check(**{"clouds.azure.tenant_id": "ABCDEF00-0000-0000-0000-0000000000B2"})
    assert spec.clouds.azure.tenant_id == "abcdef00-0000-0000-0000-0000000000b2"


POOL = "aistack:clusters.main.gpu_pools.a100"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {
                "clusters.main.api": {
                    "deployer": "allow-listed",
                    "private": True,
                    "public_cidrs": ["52.94.0.0/22"],
                }
            },
            "aistack:clusters.main.api.private: azure does not support private_and_public_api",
        ),
        ({"clouds.azure.nat": "per_zone"}, "aistack:clouds.azure.nat: azure does not support per_zone_nat"),
        (
            {
                "clusters.main.gpu_pools.a100.instance_types": [
                    "Standard_NC24ads_A100_v4",
                    "Standard_NC48ads_A100_v4",
                ]
            },
            f"{POOL}.instance_types: azure does not support several_instance_types",
        ),
        (
            {"clusters.main.gpu_pools.a100.accelerator": "L4-24GB"},
            f"{POOL}.accelerator: azure does not support accelerator L4-24GB: Azure offers no L4 GPUs",
        ),
        (
            {"clusters.main.gpu_pools.a100.instance_types": ["Standard_D4ds_v5"]},
            f"{POOL}.instance_types: Azure VM size 'Standard_D4ds_v5' does not carry whole A100-80GB GPUs",
        ),
        (
            # A100 40GB, not the 80GB the pool names.
            {"clusters.main.gpu_pools.a100.instance_types": ["Standard_ND96asr_v4"]},
            f"{POOL}.instance_types: Azure VM size 'Standard_ND96asr_v4' does not carry whole A100-80GB GPUs",
        ),
        (
            {"clusters.main.log_retention_days": 7},
            "aistack:clusters.main.log_retention_days: Azure Log Analytics keeps logs 30 to 730 days, got 7",
        ),
        (
            {"stores.models.noncurrent_retention_days": 400},
            "aistack:stores.models.noncurrent_retention_days: Azure blob soft delete keeps deleted blobs 1 to 365",
        ),
    ],
)
def test_what_azure_cannot_do_fails_before_declaring(changes, expected):
    assert expected in error(**changes)


@pytest.mark.parametrize(
    ("accelerator", "vm_size", "carried"),
    [
        ("T4-16GB", "Standard_NC4as_T4_v3", True),
        ("A100-80GB", "Standard_NC24ads_A100_v4", True),
        ("A100-80GB", "Standard_ND96amsr_A100_v4", True),
        ("A100-40GB", "Standard_ND96asr_v4", True),
        ("H100-80GB", "Standard_ND96isr_H100_v5", True),
        ("H100-80GB", "Standard_NC40ads_H100_v5", False),  # H100 NVL, 94 GB
        ("A10-24GB", "Standard_NV36ads_A10_v5", True),
        ("A10-24GB", "Standard_NV6ads_A10_v5", False),  # a sixth of a GPU
        ("L4-24GB", "Standard_NC4as_T4_v3", False),
    ],
)
def test_vm_sizes_carry_their_accelerators(accelerator, vm_size, carried):
    assert accelerators.carries(accelerator, vm_size) is carried


def test_every_canonical_accelerator_is_mapped_or_declared_unsupported():
    from typing import get_args

    from aistack.spec.clusters import Accelerator

    for accelerator in get_args(Accelerator):
        declared = f"accelerator {accelerator}" in registry.UNSUPPORTED["azure"]
        assert (accelerator in accelerators.VM_SIZES) != declared, accelerator


def test_aws_keeps_per_zone_nat_and_several_instance_types():
    aws = {
        "aistack:environment": "dev",
        "aistack:clouds": {
            "aws": {"region": "us-east-1", "zones": ["us-east-1a", "us-east-1b"], "cidr": "10.10.0.0/16"}
        },
        "aistack:clusters": {
            "main": {
                "cloud": "aws",
                "api": {"deployer": "allow-listed"},
                "gpu_pools": {
                    "l4": {
                        "accelerator": "L4-24GB",
                        "instance_types": ["g6.xlarge", "g6.2xlarge"],
                        "min_nodes": 0,
                        "max_nodes": 1,
                    }
                },
            }
        },
    }
    spec = spec_from_config(aws, "a.yaml", from_file=False)
    assert spec.clouds.aws.nat == "per_zone"
    registry.check_features(spec, "a.yaml")


def test_preflight_and_audit_are_built_from_the_azure_spec():
    from aistack.audit.azure import auditor
    from aistack.preflight.azure import checker

    azure = check().clouds.azure
    built = checker(azure)
    assert (built.subscription_id, built.region) == (azure.subscription_id, "westeurope")
    assert auditor(azure)._client._config.subscription_id == azure.subscription_id
