"""Pull-request check benchmark: one job per stack against all stacks in one job.

Run: ``python benchmarks/pr_check_bench.py [--stacks dev prod ...] [--workers 2]``

Runs, for every stack, exactly what a matrix job of ``.github/workflows/preview.yml`` runs
(:func:`aistack.ci.preview_pair`: the base preview as JSON, then the head's against it as
Markdown; this checkout serves as both base and head) and prints each stack's wall time, then:

* ``serial``: the sum, what the former single job spent previewing one stack after another;
* ``matrix``: the slowest stack, the previewing part of the check when each stack has its own
  runner (runner start-up and the install step, paid once per job in parallel, come on top);
* the wall time with ``--workers`` stacks at once on this machine, as a check that the stacks
  really are independent (on a shared machine this is bounded by its cores, not by the matrix).

Then it gathers the reports into the comment (:func:`aistack.ci.gather`) and prints its size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aistack import ci  # noqa: E402


def _pair(stack: str, out: Path) -> tuple[str, int, float]:
    start = time.perf_counter()
    rc = ci.preview_pair(
        stack, head=REPO, head_python=sys.executable, base=REPO, base_python=sys.executable, out=out
    )
    return stack, rc, time.perf_counter() - start


def main() -> int:
    """Time every stack's preview pair; print serial and matrix figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="*", help="Stacks to run (default: every stack in stacks/).")
    parser.add_argument("--workers", type=int, default=2, help="Stacks at once in the parallel run.")
    args = parser.parse_args()
    stacks = args.stacks or [ci.stack_name(p) for p in ci.stack_files(REPO / "stacks")]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        times = {}
        print(f"{'stack':<12} {'exit':>4} {'seconds':>8}")
        for stack in stacks:
            name, rc, seconds = _pair(stack, out / "serial")
            times[name] = seconds
            print(f"{name:<12} {rc:>4} {seconds:>8.1f}")
        print(f"serial (one job, one stack after another): {sum(times.values()):.1f} s")
        print(f"matrix (one job per stack, the slowest):   {max(times.values()):.1f} s")
        start = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            list(pool.map(lambda s: _pair(s, out / "parallel"), stacks))
        print(f"{args.workers} stacks at once on this machine:        {time.perf_counter() - start:.1f} s")
        comment, full, failed = ci.gather(out / "parallel", stacks, base_ref="main")
        print(
            f"comment: {len(comment):,} characters ({len(full):,} with every report in full), fails: {failed}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
