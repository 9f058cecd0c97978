"""``size``: the sizing plan alone, from a catalog and a workloads file.

Mounted by ``python -m aistack size`` (through :func:`add_arguments` and :func:`run`) and by
``python -m sizing``. Exit codes: 0 optimal plan, 1 infeasible (reason on stderr), 2 invalid
input (one ``file: key: message`` line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from aistack.errors import InputError
from sizing.catalog import bundled_paths, load_catalog
from sizing.plan import Plan
from sizing.workloads import load_workloads

EXIT_OK = 0
EXIT_INFEASIBLE = 1
EXIT_INVALID = InputError.exit_code


def add_arguments(parser: argparse.ArgumentParser, *, workloads_required: bool = True) -> None:
    """Add the ``size`` options to a parser (or subparser).

    Args:
        parser: The parser.
        workloads_required: ``python -m aistack size`` also sizes a stack instead (``--stack``).
    """
    parser.add_argument(
        "--catalog",
        action="append",
        metavar="FILE.csv",
        help="catalog CSV (repeatable; later files override rows with the same key); "
        "default: the bundled catalog. Your files replace the bundled one unless you also pass --bundled.",
    )
    parser.add_argument(
        "--bundled",
        action="store_true",
        help="read the bundled catalog first, then the --catalog files on top of it",
    )
    parser.add_argument(
        "--workloads", required=workloads_required, metavar="FILE.yaml", help="workloads YAML file"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default text)"
    )
    parser.add_argument(
        "--no-explain", action="store_true", help="skip the runner-up solves (one extra solve per workload)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``size`` with parsed arguments; print the plan; return the exit code.

    Invalid input is reported as one line on stderr with exit code 2 (no traceback).
    """
    try:
        spec = load_workloads(args.workloads)
        paths = list(args.catalog or [])
        if args.bundled or not paths:
            paths = [*bundled_paths(), *paths]
        catalog = load_catalog(paths)
    except InputError as exc:
        print(exc.line(), file=sys.stderr)
        return EXIT_INVALID
    from sizing.optimize import plan_for  # SciPy: imported only when a plan is solved

    plan = plan_for(spec.workloads, catalog, spec.options, explain=not args.no_explain)
    return report(plan, args.format, args.workloads)


def report(plan: Plan, fmt: str, source: str) -> int:
    """Print a plan as text or JSON; return 1 (with the reason on stderr) when it is infeasible."""
    if fmt == "json":
        print(json.dumps(plan.to_json(), indent=2))
    else:
        print(plan.to_text(), end="")
    if plan.reason is not None:
        print(f"{source}: infeasible [{plan.reason.code}]: {plan.reason.message}", file=sys.stderr)
        return EXIT_INFEASIBLE
    return EXIT_OK


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors as one ``arguments: message`` line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError("arguments", "", message)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sizing [size] ...``.

    The leading ``size`` word is optional so the same command line works here and, once mounted,
    under ``python -m aistack size``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["size"]:
        argv = argv[1:]
    parser = _OneLineParser(prog="python -m sizing", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except InputError as exc:
        print(exc.line(), file=sys.stderr)
        return EXIT_INVALID
    return run(args)
