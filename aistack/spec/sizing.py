"""How the stack's sized GPU pools are planned (see ``aistack/plan.py`` and ``sizing/``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aistack.spec.base import Model


class SizingSpec(Model):
    """Options of the sizing plan for pools that say `nodes: sized`."""

    catalog: str | None = Field(
        default=None,
        description="Your offerings CSV (negotiated prices, quotas as `max_nodes`), relative to the project "
        "directory; its rows override the bundled catalog's rows with the same cloud, region and type.",
    )
    constraints: str | None = Field(
        default=None,
        description="Preflight findings (`python -m aistack preflight --format json > FILE`), relative to the "
        "project directory: the plan then uses only machine types offered in the pool's zones, within the "
        "account's quota.",
    )
    target_utilization: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Fraction of a node's throughput planned to be used at peak: 0.8 scales out at 80%.",
    )
    budget_usd_month: float | None = Field(
        default=None,
        gt=0,
        description="Monthly budget (USD); the advisory policy `cost-budget` flags a preview whose estimate with "
        "every autoscaler at its maximum exceeds it.",
    )
    time_limit_s: float | None = Field(
        default=None, gt=0, description="Stop the solver after this many seconds (reports the gap)."
    )
    survive: Literal["zone", "region", "cloud"] | None = Field(
        default=None,
        description="Size sized pools so demand is still met with any one zone, region or cloud lost (spot "
        "nodes counted at their availability); a stack's pools live in one region per cloud, so `zone` is the "
        "useful choice.",
    )
