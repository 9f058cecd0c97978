"""The seed document's worked example, reproduced as a MILP (and its LP relaxation).

Issue 6 describes it: ten services, three providers that each price GPUs (USD per GPU-month),
storage (USD per TB-month) and bandwidth (USD per Mbps-month), and a capacity of ten per provider.
The seed document itself is not in the repository and elides services 3 to 9, so every figure
here is a **stated assumption**, chosen so the capacity binds:

* providers A, B, C: ``(per GPU, per TB, per Mbps)`` = (700, 25, 0.60), (650, 30, 0.80), (750, 20, 0.50);
* capacity: ten GPUs per provider;
* services 1, 2 and 10: ``(GPUs, TB, Mbps)`` = (2, 1, 100), (1, 4, 50), (3, 2, 400);
* services 3 to 9: linear interpolation between service 2 and service 10 at ``t = (i - 2) / 8``,
  each figure rounded half up to a whole number.

Each service runs on exactly one provider (``x[i, j]`` binary, ``sum_j x[i, j] = 1``); providers
host at most ten GPUs (``sum_i gpus_i x[i, j] <= 10``); the objective is the monthly bill. The
optimum, checked against all 3**10 assignments, is 16,452.60 USD/month; the LP relaxation is a
lower bound.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

PROVIDERS = {"A": (700.0, 25.0, 0.60), "B": (650.0, 30.0, 0.80), "C": (750.0, 20.0, 0.50)}
CAPACITY_GPUS = 10


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


def services() -> list[tuple[int, int, int]]:
    first, second, last = (2, 1, 100), (1, 4, 50), (3, 2, 400)
    middle = [
        tuple(_half_up(a + (b - a) * (i - 2) / 8) for a, b in zip(second, last, strict=True))
        for i in range(3, 10)
    ]
    return [first, second, *middle, last]


def costs() -> np.ndarray:
    return np.array(
        [[g * pg + tb * pt + mb * pm for pg, pt, pm in PROVIDERS.values()] for g, tb, mb in services()]
    )


def solve(integral: bool) -> tuple[float, np.ndarray]:
    cost = costs()
    n, m = cost.shape
    assign = np.zeros((n, n * m))
    for i in range(n):
        assign[i, i * m : (i + 1) * m] = 1
    capacity = np.zeros((m, n * m))
    gpus = [s[0] for s in services()]
    for j in range(m):
        for i in range(n):
            capacity[j, i * m + j] = gpus[i]
    result = milp(
        cost.ravel(),
        integrality=np.full(n * m, 1 if integral else 0),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(assign, 1, 1), LinearConstraint(capacity, 0, CAPACITY_GPUS)],
        options={"mip_rel_gap": 0.0},
    )
    assert result.status == 0, result.message
    return float(result.fun), result.x.reshape(n, m)


def brute_force() -> float:
    cost = costs()
    gpus = [s[0] for s in services()]
    best = math.inf
    for assignment in itertools.product(range(len(PROVIDERS)), repeat=len(gpus)):
        load = [0] * len(PROVIDERS)
        for i, j in enumerate(assignment):
            load[j] += gpus[i]
        if max(load) <= CAPACITY_GPUS:
            best = min(best, sum(cost[i, j] for i, j in enumerate(assignment)))
    return best


def test_interpolated_services() -> None:
    assert services() == [
        (2, 1, 100),
        (1, 4, 50),
        (1, 4, 94),
        (2, 4, 138),
        (2, 3, 181),
        (2, 3, 225),
        (2, 3, 269),
        (3, 3, 313),
        (3, 2, 356),
        (3, 2, 400),
    ]
    assert sum(s[0] for s in services()) == 21  # more than any one provider holds


def test_milp_optimum_matches_exhaustive_search() -> None:
    optimum, x = solve(integral=True)
    assert math.isclose(optimum, brute_force(), abs_tol=1e-6)
    assert math.isclose(optimum, 16_452.60, abs_tol=0.01)
    # Every service on exactly one provider, no provider over capacity.
    assert np.allclose(x.sum(axis=1), 1)
    gpus = np.array([s[0] for s in services()])
    assert (gpus @ np.round(x) <= CAPACITY_GPUS).all()
    # The capacity binds: the cheapest GPU provider (B) is full.
    assert gpus @ np.round(x)[:, 1] == CAPACITY_GPUS


def test_lp_relaxation_is_a_lower_bound() -> None:
    relaxed, _ = solve(integral=False)
    optimum, _ = solve(integral=True)
    assert relaxed <= optimum + 1e-6
