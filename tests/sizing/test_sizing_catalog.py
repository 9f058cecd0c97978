"""Bundled catalog contents, row checks, and file replace/extend semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from aistack.errors import InputError
from sizing import accelerators
from sizing.catalog import COLUMNS, bundled_paths, expected_gpus, load_catalog

HEADER = ",".join(COLUMNS)
GOOD = "aws,us-east-1,g6.xlarge,L4,1,22.35,4,16,0.8048,0.4173,use1-az1;use1-az2,,test source,2025-01"


def write(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


# --------------------------------------------------------------------------- bundled data


def test_bundled_catalog_loads_with_a_source_and_date_on_every_row() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 60
    for o in catalog:
        assert o.source and o.as_of
        assert o.accelerator is None or accelerators.canonical(o.accelerator) == o.accelerator


@pytest.mark.parametrize(
    ("cloud", "region"), [("aws", "us-east-1"), ("azure", "eastus"), ("gcp", "us-central1")]
)
def test_stack_regions_offer_several_gpu_types_and_a_system_node(cloud: str, region: str) -> None:
    catalog = load_catalog()
    gpu_types = {o.accelerator for o in catalog.find(cloud, region) if o.accelerator}
    assert len(gpu_types) >= 3, gpu_types
    assert catalog.find(cloud, region, cpu_only=True), "a CPU-only offering prices the system pool"


def test_find_filters_and_sorts_cheapest_first() -> None:
    catalog = load_catalog()
    l4 = catalog.find("aws", "us-east-1", accelerator="L4")
    assert l4 and all(o.accelerator == "L4-24GB" and o.cloud == "aws" for o in l4)
    prices = [o.price_hr for o in l4]
    assert prices == sorted(prices)
    assert [o.instance_type for o in catalog.find("aws", instance_type="g6.xlarge")] == ["g6.xlarge"]
    assert catalog.find("gcp", "us-central1", accelerator="T4")[0].instance_type == "n1-standard-4"


def test_seed_flags_are_applied() -> None:
    catalog = load_catalog()
    (nd_h100,) = catalog.find("azure", instance_type="Standard_ND96isr_H100_v5")
    assert nd_h100.gpus == 8  # the snapshot says 12
    assert nd_h100.spot_price_hr is None  # the snapshot's spot column equals on-demand
    assert any(c.startswith("CORRECTED_GPU_COUNT") for c in nd_h100.caveats)
    # P4/P5 on-demand prices are re-dated after AWS's June 2025 cut; their spot figures are not.
    (p5,) = catalog.find("aws", instance_type="p5.48xlarge")
    assert p5.price_hr == pytest.approx(55.04) and p5.as_of == "2026-08-26"
    assert any(c.startswith("SPOT_PRE_2025-06") for c in p5.caveats)
    assert not any(c.startswith("STALE_AFTER_2025-06") for o in catalog for c in o.caveats)
    # GCP rows add the VM and the GPU rows of the snapshot.
    (g2,) = catalog.find("gcp", instance_type="g2-standard-4")
    assert g2.price_hr == pytest.approx(0.14679 + 0.56004)


def test_gcp_n1_gpu_counts_are_separate_offerings() -> None:
    n1 = load_catalog().find("gcp", "us-central1", instance_type="n1-standard-8")
    assert sorted(o.gpus for o in n1) == [1, 2, 4]
    assert len({o.key for o in n1}) == 3


def test_expected_gpus() -> None:
    assert expected_gpus("gcp", "a2-highgpu-4g") == 4
    assert expected_gpus("gcp", "a3-highgpu-8g") == 8
    assert expected_gpus("azure", "Standard_ND96isr_H100_v5") == 8
    assert expected_gpus("aws", "g6.12xlarge") == 4
    assert expected_gpus("gcp", "n1-standard-8") is None


# --------------------------------------------------------------------------- row checks


def test_a_good_row_parses_with_units(tmp_path: Path) -> None:
    (o,) = load_catalog([write(tmp_path, GOOD)])
    assert (o.accelerator, o.gpus, o.gpu_mem_gib, o.price_hr, o.spot_price_hr) == (
        "L4-24GB",
        1,
        22.35,
        0.8048,
        0.4173,
    )
    assert o.zones == ("use1-az1", "use1-az2") and o.max_nodes is None


def test_spot_equal_to_on_demand_means_no_spot(tmp_path: Path) -> None:
    row = GOOD.replace("0.4173", "0.8048")
    (o,) = load_catalog([write(tmp_path, row)])
    assert o.spot_price_hr is None


@pytest.mark.parametrize(
    ("row", "key", "fragment"),
    [
        (GOOD.replace("aws,", "oracle,", 1), "row 2.cloud", "unknown cloud"),
        (GOOD.replace(",L4,", ",Z9,"), "row 2.accelerator", "unknown accelerator"),
        (GOOD.replace("0.4173", "0.9"), "row 2.spot_price_hr", "exceeds on-demand"),
        (GOOD.replace("0.8048", "abc"), "row 2.price_hr", "not a number"),
        (GOOD.replace("0.8048,0.4173", "0.01,"), "row 2.price_hr", "per GPU-hour"),
        (GOOD.replace("0.8048,0.4173", "80.48,"), "row 2.price_hr", "per GPU-hour"),
        (GOOD.replace(",L4,1,", ",L4,2,").replace("0.8048", "1.6"), "row 2.gpus", "g6.xlarge has 1 GPUs"),
        (GOOD.replace("22.35", "40"), "row 2.gpu_mem_gib", "not within 10%"),
        (GOOD.replace(",L4,1,", ",L4,0,"), "row 2.gpus", "needs gpus >= 1"),
        (GOOD.replace(",L4,1,22.35,", ",,1,,"), "row 2.gpus", "CPU-only row"),
        (GOOD.replace(",test source,", ",,"), "row 2.source", "required"),
        (GOOD.replace("use1-az2", "use1-az1"), "row 2.zones", "twice"),
        (GOOD.replace(",,test", ",2.5,test"), "row 2.max_nodes", "whole number"),
        (GOOD.replace(",,test", ",-1,test"), "row 2.max_nodes", ">= 0"),
    ],
)
def test_malformed_rows_are_rejected_with_file_row_and_column(
    tmp_path: Path, row: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, row)
    with pytest.raises(InputError) as err:
        load_catalog([path])
    assert err.value.file == str(path)
    assert err.value.key == key
    assert fragment in err.value.message
    assert err.value.line().startswith(f"{path}: {key}: ")


def test_azure_12_gpu_h100_row_is_rejected(tmp_path: Path) -> None:
    row = (
        "azure,eastus,Standard_ND96isr_H100_v5,H100-80GB,12,80,96,1900,98.32,,,,"
        "SkyPilot v6 snapshot as published,snapshot"
    )
    with pytest.raises(InputError, match="has 8 GPUs, the row says 12"):
        load_catalog([write(tmp_path, row)])


def test_header_must_have_exactly_the_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_catalog([write(tmp_path, GOOD, header=HEADER.replace("as_of", "date"))])
    assert err.value.key == "header"
    assert "missing as_of" in err.value.message and "unknown date" in err.value.message


def test_duplicate_row_in_one_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_catalog([write(tmp_path, GOOD, GOOD)])
    assert err.value.key == "row 3"


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read catalog"):
        load_catalog([tmp_path / "nope.csv"])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        load_catalog([empty])


def test_wrong_cell_count(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_catalog([write(tmp_path, GOOD + ",extra")])
    assert err.value.key == "row 2" and "expected 14 cells" in err.value.message


# --------------------------------------------------------------------------- replace / extend


def test_user_file_replaces_the_bundled_catalog(tmp_path: Path) -> None:
    catalog = load_catalog([write(tmp_path, GOOD)])
    assert len(catalog) == 1


def test_extending_file_overrides_bundled_rows_by_key(tmp_path: Path) -> None:
    negotiated = GOOD.replace("0.8048,0.4173", "0.5,0.3").replace(",,test", ",10,test")
    catalog = load_catalog([*bundled_paths(), write(tmp_path, negotiated)])
    assert len(catalog) == len(load_catalog())
    (o,) = catalog.find("aws", "us-east-1", instance_type="g6.xlarge")
    assert (o.price_hr, o.max_nodes, o.source) == (0.5, 10, "test source")
