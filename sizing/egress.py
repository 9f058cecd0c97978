"""Per-GB data-transfer rates between the clouds and to the internet (``sizing/data/egress.csv``).

A cloud bills what leaves it; what enters a cloud is free on all three. Traffic from one cloud to
another therefore costs the source cloud's *internet* egress rate: each row names its tier (the
first paid tier of North American regions, an upper figure for larger volumes), its source and the
date it was read. Traffic that stays in one cloud's region (a cluster reading the store on its own
cloud, which the spec requires) is free and has no row.

Used by the cost report (``aistack/cost.py``: replication of the weights into each replica store)
and by the sizing plan (``aistack/plan.py``: the replication cost of each cloud an endpoint is
served from). Imports no Pulumi.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

from aistack.errors import InputError, csv_rows

EGRESS_FILE = Path(__file__).parent / "data" / "egress.csv"
COLUMNS = ("from_cloud", "to", "usd_per_gb", "tier", "source", "as_of")
CLOUDS = ("aws", "azure", "gcp")
DESTINATIONS = (*CLOUDS, "internet")

GB = 10**9
"""Bytes of the gigabyte the rates are per (AWS and Azure bill decimal GB; GCP bills GiB, 7% more bytes,
so GCP figures here are slightly high)."""


@dataclass(frozen=True)
class EgressRate:
    """One row of the egress table.

    Attributes:
        from_cloud: The cloud the data leaves.
        to: ``internet`` or the cloud it enters.
        usd_per_gb: USD per GB.
        tier: Which tier and regions the figure is for.
        source: Where it comes from.
        as_of: When it was read.
    """

    from_cloud: str
    to: str
    usd_per_gb: float
    tier: str
    source: str
    as_of: str


def load(path: Path = EGRESS_FILE) -> dict[tuple[str, str], EgressRate]:
    """Read and check the egress table: every (from_cloud, to) pair between different places, once.

    Raises:
        InputError: a missing file, wrong columns, a bad or duplicate row (key ``row N.column``).
    """
    rates: dict[tuple[str, str], EgressRate] = {}
    for line, row in csv_rows(path, COLUMNS, "the egress table"):
        for column in ("tier", "source", "as_of"):
            if not row[column]:
                raise InputError(str(path), f"row {line}.{column}", "required")
        if row["from_cloud"] not in CLOUDS:
            raise InputError(str(path), f"row {line}.from_cloud", f"one of {', '.join(CLOUDS)}")
        if row["to"] not in DESTINATIONS or row["to"] == row["from_cloud"]:
            raise InputError(
                str(path), f"row {line}.to", f"one of {', '.join(DESTINATIONS)}, other than from_cloud"
            )
        try:
            usd = float(row["usd_per_gb"])
        except ValueError:
            usd = math.nan
        if not math.isfinite(usd) or usd < 0:
            raise InputError(str(path), f"row {line}.usd_per_gb", f"a number >= 0, got {row['usd_per_gb']!r}")
        key = (row["from_cloud"], row["to"])
        if key in rates:
            raise InputError(str(path), f"row {line}.to", f"a second row from {key[0]} to {key[1]}")
        rates[key] = EgressRate(row["from_cloud"], row["to"], usd, row["tier"], row["source"], row["as_of"])
    missing = [f"{a}->{b}" for a in CLOUDS for b in DESTINATIONS if a != b and (a, b) not in rates]
    if missing:
        raise InputError(str(path), "rows", f"no rate for {', '.join(missing)}")
    return rates


@functools.cache
def bundled() -> dict[tuple[str, str], EgressRate]:
    """The bundled table (read once)."""
    return load()


def rate(from_cloud: str, to: str) -> EgressRate | None:
    """The rate from a cloud to another cloud or the internet; None within one cloud (free in-region)."""
    return None if from_cloud == to else bundled()[(from_cloud, to)]


def cost_usd(size_bytes: float, from_cloud: str, to: str) -> float:
    """USD to move ``size_bytes`` from a cloud to another (0 within one cloud)."""
    found = rate(from_cloud, to)
    return 0.0 if found is None else size_bytes / GB * found.usd_per_gb
