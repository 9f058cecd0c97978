"""Offline preview time against its floor, per stack: ``python benchmarks/preview_bench.py [STACK ...]``.

The floor is ``mock_floor.py`` (default ``../shared/bench/mock_floor.py``; ``--floor PATH``): a bare
Pulumi program that imports the same SDK classes and registers the same resources (read from this
stack's own ``--format json`` preview) through the mock runtime, with no aistack logic. Both are
timed the same way, as a user waits for them: wall time of a fresh ``python`` process, from spawn to
exit, the two alternating so that load on the machine hits both alike. Prints the median of
``--runs`` per stack, the ratio of the medians (the goal: at most 1.3 for ``dev`` and ``multicloud``),
the ratio of median CPU seconds (user + system: steadier than wall time on a busy machine) and each
process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# ``../shared/bench/mock_floor.py`` from the repository (or from a worktree nested one level deeper).
FLOOR = next(
    (p for p in (d / "shared" / "bench" / "mock_floor.py" for d in REPO.parents) if p.is_file()),
    REPO.parent / "shared" / "bench" / "mock_floor.py",
)
GOAL = 1.3


# The packages mock_floor.py maps to an SDK; it stops with a KeyError on any other (e.g. pulumiverse
# ``time``), which would time a partial floor. Such resources (a few ``time:index/sleep:Sleep`` waits)
# are left out of the floor's input, and the count is printed.
FLOOR_PACKAGES = {"aws", "gcp", "azure-native", "kubernetes", "aistack", "pulumi"}


def floor_input(report: Path) -> int:
    """Drop from ``report`` the resources of packages the floor cannot import; return how many."""
    doc = json.loads(report.read_text())
    kept = [r for r in doc["resources"] if r["type"].split(":")[0] in FLOOR_PACKAGES]
    dropped = len(doc["resources"]) - len(kept)
    doc["resources"] = kept
    report.write_text(json.dumps(doc))
    return dropped


def timed(argv: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, float, float]:
    """Run ``argv`` from the repository root; return its wall seconds, CPU seconds and peak RSS (MiB).

    Exit codes other than ``ok`` stop the benchmark (a crashed run is no time).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own rusage, not all children's
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.read().decode()}")
    proc.stderr.close()
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux reports KiB


def bench(stack: str, floor: Path, runs: int) -> dict[str, float]:
    """Median preview and floor times of one stack, and the peak RSS of each."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / f"{stack}.json"
        preview = [sys.executable, "-m", "aistack", "preview", "--stack", stack]
        timed(
            [*preview, "--format", "json", "--output", str(report)]
        )  # the floor's input; warms the disk cache
        dropped = floor_input(report)
        times: dict[str, list[float]] = {"preview": [], "floor": []}
        cpu: dict[str, list[float]] = {"preview": [], "floor": []}
        peaks: dict[str, float] = {"preview": 0.0, "floor": 0.0}
        for _ in range(runs):
            # A preview may exit 1 (a policy violation, still a complete preview); the floor must exit 0.
            for kind, argv, ok in (
                ("preview", preview, (0, 1)),
                ("floor", [sys.executable, str(floor), str(report)], (0,)),
            ):
                seconds, cpu_s, rss = timed(argv, ok)
                times[kind].append(seconds)
                cpu[kind].append(cpu_s)
                peaks[kind] = max(peaks[kind], rss)
    preview_s, floor_s = (statistics.median(times[k]) for k in ("preview", "floor"))
    preview_cpu, floor_cpu = (statistics.median(cpu[k]) for k in ("preview", "floor"))
    return {
        "preview_s": preview_s,
        "floor_s": floor_s,
        "ratio": preview_s / floor_s,
        "cpu_ratio": preview_cpu / floor_cpu,
        "preview_mib": peaks["preview"],
        "floor_mib": peaks["floor"],
        "dropped": dropped,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stacks", nargs="*", default=["dev", "multicloud"], help="default: dev multicloud")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, alternating (default 3)")
    parser.add_argument("--floor", type=Path, default=FLOOR, help=f"mock_floor.py (default {FLOOR})")
    args = parser.parse_args()
    if not args.floor.is_file():
        parser.error(f"no floor script at {args.floor}; pass --floor PATH")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, median of {args.runs} runs")
    print(
        f"{'stack':<12} {'preview s':>9} {'floor s':>8} {'ratio':>6} {'CPU ratio':>9}"
        f" {'preview MiB':>12} {'floor MiB':>10}"
    )
    worst = 0.0
    for stack in args.stacks:
        r = bench(stack, args.floor, args.runs)
        worst = max(worst, r["ratio"])
        print(
            f"{stack:<12} {r['preview_s']:>9.2f} {r['floor_s']:>8.2f} {r['ratio']:>6.2f} {r['cpu_ratio']:>9.2f}"
            f" {r['preview_mib']:>12.0f} {r['floor_mib']:>10.0f}"
            + (
                f"  (floor without {r['dropped']} resources of packages it cannot import)"
                if r["dropped"]
                else ""
            )
        )
    print(f"worst ratio {worst:.2f} (goal ≤ {GOAL})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
