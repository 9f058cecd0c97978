"""Canonical accelerator names, per-cloud aliases and GCP device names."""

from __future__ import annotations

import pytest

from sizing import accelerators


@pytest.mark.parametrize(
    ("name", "cloud", "expected"),
    [
        ("A10G", "aws", "A10G-24GB"),
        ("a10g", None, "A10G-24GB"),
        ("nvidia-l4", "gcp", "L4-24GB"),
        ("L4", None, "L4-24GB"),
        ("A100-80GB", "azure", "A100-80GB"),
        ("A100-SXM-80GB", None, "A100-80GB"),
        ("A100", "gcp", "A100-40GB"),
        ("nvidia-tesla-a100", None, "A100-40GB"),
        ("H100-SXM-80GB", None, "H100-80GB"),
        ("H100", "aws", "H100-80GB"),
        ("H100-NVL", "azure", "H100-NVL-94GB"),
        ("T4", "azure", "T4-16GB"),
        (" L40S ", None, "L40S-48GB"),
    ],
)
def test_canonical(name: str, cloud: str | None, expected: str) -> None:
    assert accelerators.canonical(name, cloud) == expected


def test_short_h100_is_ambiguous_on_azure() -> None:
    # Azure sells both the 80 GB SXM and the 94 GB NVL part as "H100".
    with pytest.raises(ValueError, match="unknown accelerator 'H100'"):
        accelerators.canonical("H100", "azure")


def test_unknown_name_lists_the_vocabulary() -> None:
    with pytest.raises(ValueError) as err:
        accelerators.canonical("Z9000")
    assert "L4-24GB" in str(err.value) and "A10G-24GB" in str(err.value)


def test_unknown_cloud() -> None:
    with pytest.raises(ValueError, match="unknown cloud"):
        accelerators.canonical("L4", "oracle")


@pytest.mark.parametrize(
    ("name", "device"),
    [
        ("L4-24GB", "nvidia-l4"),
        ("A100-40GB", "nvidia-tesla-a100"),
        ("A100-80GB", "nvidia-a100-80gb"),
        ("H100-80GB", "nvidia-h100-80gb"),
        ("T4", "nvidia-tesla-t4"),
    ],
)
def test_gcp_accelerator_type(name: str, device: str) -> None:
    assert accelerators.gcp_accelerator_type(name) == device
    # The device name is itself an alias of the canonical name.
    assert accelerators.canonical(device, "gcp") == accelerators.canonical(name)


def test_gcp_accelerator_type_rejects_parts_gcp_does_not_sell() -> None:
    with pytest.raises(ValueError, match="not offered on GCP"):
        accelerators.gcp_accelerator_type("A10G-24GB")


def test_names_embed_the_nominal_memory() -> None:
    for acc in accelerators.ACCELERATORS:
        assert acc.name.endswith(f"-{acc.memory_gib:g}GB")
