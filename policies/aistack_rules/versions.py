"""Kubernetes minor versions per managed service: when each went GA and when standard support ends.

The table is data (``data/kubernetes_versions.csv``: cloud, minor, ga, end_of_standard_support,
end_of_extended_support, source, as_of), shared by the stack spec (which refuses a version past
standard support), preflight and the ``deploy-kubernetes-version-supported`` policy. Past standard
support a cluster costs more (EKS extended support bills six times the control-plane price) or
cannot be created at all (AKS refuses new clusters on an end-of-life minor).

"Today" is the UTC date unless ``AISTACK_AS_OF`` (``YYYY-MM-DD``) pins it, so that previews and
tests are reproducible.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("data") / "kubernetes_versions.csv"
AS_OF_ENV = "AISTACK_AS_OF"

# Service names in messages.
SERVICES = {"aws": "EKS", "azure": "AKS", "gcp": "GKE"}


@dataclass(frozen=True)
class Support:
    """One minor version on one cloud.

    Attributes:
        cloud: ``aws``, ``azure`` or ``gcp``.
        minor: e.g. ``1.35``.
        ga: Generally available on the service.
        end_of_standard: Last day of standard support.
        end_of_extended: Last day of extended (EKS) / maintenance (GKE) support; ``None`` if none.
        source: Where the dates come from.
    """

    cloud: str
    minor: str
    ga: dt.date
    end_of_standard: dt.date
    end_of_extended: dt.date | None
    source: str


@cache
def table() -> dict[tuple[str, str], Support]:
    """Every row of the table by ``(cloud, minor)``."""
    with TABLE.open(newline="") as handle:
        return {
            (row["cloud"], row["minor"]): Support(
                cloud=row["cloud"],
                minor=row["minor"],
                ga=dt.date.fromisoformat(row["ga"]),
                end_of_standard=dt.date.fromisoformat(row["end_of_standard_support"]),
                end_of_extended=(
                    dt.date.fromisoformat(row["end_of_extended_support"])
                    if row["end_of_extended_support"]
                    else None
                ),
                source=row["source"],
            )
            for row in csv.DictReader(handle)
        }


def today(value: str | None = None) -> dt.date:
    """The date support is judged at: ``value`` or ``$AISTACK_AS_OF`` when set, else today (UTC).

    Raises:
        ValueError: the date is not ``YYYY-MM-DD``.
    """
    value = value or os.environ.get(AS_OF_ENV)
    if value:
        return dt.date.fromisoformat(value)
    return dt.datetime.now(dt.UTC).date()


def in_standard_support(cloud: str, on: dt.date) -> list[str]:
    """The minors of ``cloud`` that are GA and in standard support on ``on``, oldest first."""
    return sorted(
        (s.minor for s in table().values() if s.cloud == cloud and s.ga <= on <= s.end_of_standard),
        key=lambda m: tuple(int(p) for p in m.split(".")),
    )


def support_problem(cloud: str, minor: str, on: dt.date) -> str | None:
    """Why ``minor`` is not a version to create or keep a cluster on at ``on``; ``None`` if it is."""
    service = SERVICES.get(cloud, cloud)
    supported = ", ".join(in_standard_support(cloud, on)) or "none"
    row = table().get((cloud, minor))
    if row is None:
        return f"{service} {minor} has no support dates in the version table; in standard support on {on}: {supported}"
    if on < row.ga:
        return f"{service} {minor} is not generally available until {row.ga}; in standard support on {on}: {supported}"
    if on > row.end_of_standard:
        source = row.source.split()[0].rstrip(";")
        return (
            f"{service} {minor} left standard support on {row.end_of_standard} ({source}); "
            f"in standard support on {on}: {supported}"
        )
    return None
