"""Sizing: node pools from demand, solved exactly (catalog, capacity model, MILP, explanation).

Pure Python, no Pulumi. Units: USD (hourly per node; monthly = 730 h), GiB, units/s.
See sizing/README.md.
"""

from sizing import accelerators, capacity, memory
from sizing.catalog import Catalog, Offering, bundled_paths, load_catalog
from sizing.optimize import plan_for
from sizing.plan import HOURS_PER_MONTH, Plan, Pool
from sizing.workloads import DeployedPool, SizingOptions, Workload, WorkloadsFile, load_workloads

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
