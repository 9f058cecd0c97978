"""Sizing: node pools from demand, solved exactly (catalog, capacity model, MILP, explanation).

Pure Python, no Pulumi. Units: USD (hourly per node; monthly = 730 h), GiB, units/s.
See sizing/README.md.

The public names below are loaded on first use (PEP 562): the optimiser pulls in SciPy (over a
second to import), which a caller that only reads the catalog or prices (``preview``, ``cost``)
must not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sizing import accelerators, capacity, memory
    from sizing.catalog import Catalog, Offering, bundled_paths, load_catalog
    from sizing.optimize import plan_for
    from sizing.plan import HOURS_PER_MONTH, Plan, Pool
    from sizing.workloads import DeployedPool, SizingOptions, Workload, WorkloadsFile, load_workloads

# Public name → the submodule that defines it.
_HOMES = {
    "accelerators": "sizing.accelerators",
    "capacity": "sizing.capacity",
    "memory": "sizing.memory",
    "Catalog": "sizing.catalog",
    "Offering": "sizing.catalog",
    "bundled_paths": "sizing.catalog",
    "load_catalog": "sizing.catalog",
    "plan_for": "sizing.optimize",
    "HOURS_PER_MONTH": "sizing.plan",
    "Plan": "sizing.plan",
    "Pool": "sizing.plan",
    "DeployedPool": "sizing.workloads",
    "SizingOptions": "sizing.workloads",
    "Workload": "sizing.workloads",
    "WorkloadsFile": "sizing.workloads",
    "load_workloads": "sizing.workloads",
}

__all__ = [
    "HOURS_PER_MONTH",
    "Catalog",
    "DeployedPool",
    "Offering",
    "Plan",
    "Pool",
    "SizingOptions",
    "Workload",
    "WorkloadsFile",
    "accelerators",
    "bundled_paths",
    "capacity",
    "load_catalog",
    "load_workloads",
    "memory",
    "plan_for",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sizing' has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if home == f"sizing.{name}" else getattr(module, name)
    globals()[name] = value
    return value
