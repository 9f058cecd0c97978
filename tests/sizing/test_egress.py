"""Egress rates between the clouds (sizing/data/egress.csv) and the replication lines of the cost report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aistack.errors import InputError
from sizing import egress

HEADER = ",".join(egress.COLUMNS) + "\n"


def test_every_cloud_has_a_sourced_dated_rate_to_the_internet_and_each_other_cloud():
    rates = egress.load()
    assert set(rates) == {(a, b) for a in egress.CLOUDS for b in egress.DESTINATIONS if a != b}
    for rate in rates.values():
        assert rate.source.startswith("https://") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", rate.as_of)
        assert 0.01 <= rate.usd_per_gb <= 0.2
        # Data entering a cloud is free: to another cloud costs the source's internet rate.
        assert rate.usd_per_gb == rates[(rate.from_cloud, "internet")].usd_per_gb


def test_within_one_cloud_is_free_and_across_clouds_is_priced_per_gb():
    assert egress.rate("aws", "aws") is None and egress.cost_usd(10**12, "gcp", "gcp") == 0.0
    assert egress.cost_usd(16 * egress.GB, "aws", "gcp") == pytest.approx(16 * 0.09)
    assert egress.cost_usd(egress.GB, "gcp", "azure") == pytest.approx(0.12)


@pytest.mark.parametrize(
    ("rows", "key", "phrase"),
    [
        ("aws,internet,x,t,s,2026-12-05\n", "row 2.usd_per_gb", "a number"),
        ("aws,aws,0.1,t,s,2026-12-05\n", "row 2.to", "other than from_cloud"),
        ("ibm,internet,0.1,t,s,2026-12-05\n", "row 2.from_cloud", "one of"),
        ("aws,internet,0.1,t,,2026-12-05\n", "row 2.source", "required"),
        ("aws,internet,0.1,t,s,2026-12-05\naws,internet,0.1,t,s,2026-12-05\n", "row 3.to", "a second row"),
        ("aws,internet,0.1,t,s,2026-12-05\n", "rows", "no rate for aws->azure"),
    ],
)
def test_a_bad_table_is_one_line_naming_the_row(tmp_path: Path, rows, key, phrase):
    path = tmp_path / "egress.csv"
    path.write_text(HEADER + rows)
    with pytest.raises(InputError) as caught:
        egress.load(path)
    assert caught.value.key == key and phrase in caught.value.message


def test_the_multicloud_preview_prices_each_replica_copy(preview):
    report = preview("multicloud")
    copies = {c["store"]: c for c in report["cost"]["replication"]}
    assert set(copies) == {"models-gcp", "models-azure"}
    for store, copy in copies.items():
        assert (copy["endpoint"], copy["primary"], copy["from"]) == ("chat", "models-aws", "aws")
        # Llama-3.1-8B in BF16: 8.03e9 parameters x 2 bytes.
        assert copy["weights_gb"] == pytest.approx(16.06, abs=0.01)
        assert copy["usd_per_copy"] == pytest.approx(
            copy["weights_gb"] * egress.rate("aws", copy["to"]).usd_per_gb, abs=0.01
        )
        assert copy["to"] == store.removeprefix("models-")
    # Single-cloud stacks copy nothing.
    assert preview("dev")["cost"]["replication"] == []
