"""GKE accelerator names and GPU counts per machine type."""

from __future__ import annotations

import typing

import pytest

from aistack.spec.clusters import Accelerator
from components import registry
from components.gcp.accelerators import ACCELERATORS, guest_accelerator


@pytest.mark.parametrize(
    ("accelerator", "machine", "expected"),
    [
        ("L4-24GB", "g2-standard-4", ("nvidia-l4", 1)),
        ("L4-24GB", "g2-standard-24", ("nvidia-l4", 2)),
        ("L4-24GB", "g2-standard-48", ("nvidia-l4", 4)),
        ("L4-24GB", "g2-standard-96", ("nvidia-l4", 8)),
        ("A100-40GB", "a2-highgpu-4g", ("nvidia-tesla-a100", 4)),
        ("A100-40GB", "a2-megagpu-16g", ("nvidia-tesla-a100", 16)),
        ("A100-80GB", "a2-ultragpu-1g", ("nvidia-a100-80gb", 1)),
        ("H100-80GB", "a3-highgpu-8g", ("nvidia-h100-80gb", 8)),
        ("T4-16GB", "n1-standard-8", ("nvidia-tesla-t4", 1)),
    ],
)
def test_type_and_count(accelerator, machine, expected):
    assert guest_accelerator(accelerator, machine) == expected


def test_n1_takes_the_pool_gpu_count():
    assert guest_accelerator("T4-16GB", "n1-highmem-16", 4) == ("nvidia-tesla-t4", 4)


def test_a_fixed_count_machine_refuses_a_gpu_count():
    with pytest.raises(ValueError, match="gpus_per_node applies to N1 machine types only"):
        guest_accelerator("L4-24GB", "g2-standard-8", 2)


def test_a_machine_without_the_accelerator_is_refused():
    with pytest.raises(ValueError, match=r"'a2-highgpu-1g' does not carry A100-80GB; use .*a2-ultragpu-"):
        guest_accelerator("A100-80GB", "a2-highgpu-1g")


def test_an_unknown_g2_size_is_refused():
    with pytest.raises(ValueError, match="unknown L4-24GB machine type 'g2-standard-2'"):
        guest_accelerator("L4-24GB", "g2-standard-2")


def test_an_accelerator_gcp_lacks_is_refused():
    with pytest.raises(ValueError, match="A10G-24GB is not offered on GCP"):
        guest_accelerator("A10G-24GB", "g2-standard-8")


def test_registry_declares_exactly_the_accelerators_gke_lacks():
    vocabulary = set(typing.get_args(Accelerator))
    assert set(ACCELERATORS) <= vocabulary
    missing = {f"accelerator {a}" for a in vocabulary - set(ACCELERATORS)}
    declared = {f for f in registry.UNSUPPORTED["gcp"] if f.startswith("accelerator ")}
    assert declared == missing
