"""The sizing vocabulary and catalog agree with the conventions the stack spec and components use."""

from __future__ import annotations

import typing

from aistack.spec.clusters import Accelerator
from components.azure.accelerators import VM_SIZES, carries
from components.gpu import GKE_ACCELERATORS
from sizing import accelerators
from sizing.catalog import load_catalog


def test_spec_vocabulary_is_part_of_the_sizing_vocabulary() -> None:
    assert set(typing.get_args(Accelerator)) <= set(accelerators.names())


def test_gke_accelerator_types_match_the_gcp_component() -> None:
    for name, gke_type in GKE_ACCELERATORS.items():
        assert accelerators.gcp_accelerator_type(name) == gke_type


def test_bundled_azure_rows_match_the_azure_component() -> None:
    rows = [o for o in load_catalog().find("azure") if o.accelerator in VM_SIZES]
    assert rows
    for offering in rows:
        assert carries(offering.accelerator, offering.instance_type), offering.instance_type
