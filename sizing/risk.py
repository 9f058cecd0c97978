"""Spot risk and failure domains: how much of a spot node's capacity to count, and what can fail together.

Availability. AWS publishes, per instance type and region, the *frequency of interruption*: "the
rate at which Spot has reclaimed capacity during the trailing month", in the bands ``< 5%``,
``5-10%``, ``10-15%``, ``15-20%`` and ``> 20%`` (Spot Instance Advisor data,
https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json, described at
https://pkg.go.dev/github.com/grailbio/base/cloud/spotadvisor, read 2026-12-04). Azure shows the
same five eviction-rate bands per VM size in its portal; GCP publishes no per-type figure. A plan
counts a spot node as ``1 - upper edge of its band`` of a node: the capacity still there if every
reclaim of the trailing month were lost at once, a conservative planning figure rather than a
forecast. Large GPU types sit in the top band on the advisor most of the time, so every spot
offering defaults to the ``> 20%`` band (availability 0.80) unless ``options.spot_availability``
says otherwise (put your advisor band or your own history there).

Failure domains. ``zone`` (a cloud zone; offerings with unknown zones count as one zone per
region), ``region`` (``cloud/region``) and ``cloud``. ``options.survive`` asks that demand is still
met with any one such domain lost.

Zone split. A pool's nodes spread evenly over its ``k`` zones (the serving pods' topology spread, max
skew 1, which node autoscalers follow), so the fullest zone holds ``ceil(n / k)`` of ``n`` nodes: the
most one zone loss takes (:func:`fullest_zone`). The plan's ``survive: zone`` bound and the failover
drill (``aistack/failover.py``) both count a zone loss this way.
"""

from __future__ import annotations

from collections.abc import Mapping

INTERRUPTION_BANDS = {"<5%": 0.05, "5-10%": 0.10, "10-15%": 0.15, "15-20%": 0.20, ">20%": 0.20}
"""Upper edge of each published interruption-frequency band, fraction (``>20%`` is open: its lower edge)."""

DEFAULT_BAND = ">20%"
"""Band assumed for a spot offering nobody rated (see the module docstring)."""


def band_availability(band: str) -> float:
    """Planning availability of a spot node in an interruption band: ``1 - upper edge``.

    Raises:
        ValueError: The band is not one of :data:`INTERRUPTION_BANDS`.
    """
    if band not in INTERRUPTION_BANDS:
        raise ValueError(f"unknown interruption band {band!r}; allowed: {', '.join(INTERRUPTION_BANDS)}")
    return 1.0 - INTERRUPTION_BANDS[band]


DEFAULT_AVAILABILITY = band_availability(DEFAULT_BAND)
"""Availability of a spot node without an override (0.80)."""


def availability(
    cloud: str, region: str, instance_type: str, spot: bool, overrides: Mapping[str, float]
) -> float:
    """Fraction of a node's capacity a plan counts on: 1 on-demand; for spot the most specific
    override (``cloud/region/instance_type``, ``cloud/region``, ``cloud``) or the default band."""
    if not spot:
        return 1.0
    for key in (f"{cloud}/{region}/{instance_type}", f"{cloud}/{region}", cloud):
        if key in overrides:
            return overrides[key]
    return DEFAULT_AVAILABILITY


def fullest_zone(nodes: int, zones: int) -> int:
    """Nodes in the fullest zone of ``nodes`` spread evenly over ``zones`` zones: ``ceil(nodes / zones)``,
    what losing one zone takes at most (all of them in a single zone)."""
    return -(-nodes // max(zones, 1))


def nodes_to_survive_zone(need: int, zones: int) -> int:
    """Fewest nodes spread over ``zones`` zones that keep ``need`` after the fullest zone is lost:
    the least ``m`` with ``m - fullest_zone(m, zones) >= need`` (``need + ceil(need / (zones - 1))``);
    ``need`` itself in one zone, which no spread can save."""
    if zones < 2:
        return need
    return need + -(-need // (zones - 1))
