"""The command line: ``python -m aistack <command>``.

Exit codes: 0 clean; 1 a mandatory policy violation or a forbidden deletion (``failover``: a loss not
met); 2 invalid input
(config, catalog, arguments), with one line on stderr naming the file and the key.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aistack.errors import InputError


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one InputError line (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError("arguments", self.prog.split()[-1], message)


def _preview(args: argparse.Namespace) -> int:
    from aistack import preview, render

    result = preview.run(
        stack=args.stack, stack_path=args.stack_file, program_dir=args.program, baseline=args.baseline
    )
    if args.manifests:
        from aistack import manifests

        written = manifests.write(result, args.manifests)
        print(f"wrote {len(written)} Kubernetes manifests under {args.manifests}", file=sys.stderr)
    text = render.RENDERERS[args.format](result)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return preview.exit_code(result)


def _add_preview(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "preview", help="Run the program offline and report resources, policy, cost, diff."
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="Stack name: stacks/Pulumi.<NAME>.yaml.")
    where.add_argument("--stack-file", type=Path, help="Path to a stack file.")
    p.add_argument("--program", type=Path, help="Any Pulumi Python program directory (default: aistack).")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--output", type=Path, help="Write the report to FILE instead of stdout.")
    p.add_argument(
        "--manifests",
        type=Path,
        metavar="DIR",
        help="Write each Kubernetes object as a YAML manifest under DIR.",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        help="A `--format json` report of an earlier preview (e.g. the base branch): adds the diff.",
    )
    p.set_defaults(handler=_preview)


def _add_config_reference(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("config-reference", help="Print the stack config reference (Markdown).")

    def handler(_args: argparse.Namespace) -> int:
        from aistack.docs import config_reference

        print(config_reference())
        return 0

    p.set_defaults(handler=handler)


def _live_check(name: str, help_text: str, module: str) -> Callable[[argparse._SubParsersAction], None]:
    """A command that checks a stack against the live cloud (``preflight``, ``audit``).

    ``module`` provides ``run(spec, stack)``, ``render(result, fmt)`` and ``exit_code(result)``.
    """

    def add(commands: argparse._SubParsersAction) -> None:
        p = commands.add_parser(name, help=help_text)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--stack", help="Stack name: stacks/Pulumi.<NAME>.yaml.")
        where.add_argument("--stack-file", type=Path, help="Path to a stack file.")
        p.add_argument("--format", choices=("text", "json"), default="text")

        def handler(args: argparse.Namespace) -> int:
            from aistack import preflight

            check = importlib.import_module(module)
            stack, spec = preflight.load(args.stack, args.stack_file)
            result = check.run(spec, stack)
            print(check.render(result, args.format))
            return check.exit_code(result)

        p.set_defaults(handler=handler)

    return add


def _add_policies(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "policies", help="List every policy rule: id, level, resource types, description."
    )
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")

    def handler(args: argparse.Namespace) -> int:
        from policies import format_rules

        print(format_rules(args.format))
        return 0

    p.set_defaults(handler=handler)


def _add_size(commands: argparse._SubParsersAction) -> None:
    from sizing import cli as sizing_cli

    p = commands.add_parser(
        "size", help="The sizing plan: a stack's sized pools (--stack), or workloads against a catalog."
    )
    sizing_cli.add_arguments(p, workloads_required=False)
    p.add_argument("--stack", help="Size the pools of stacks/Pulumi.<NAME>.yaml that say `nodes: sized`.")
    p.add_argument("--stack-file", type=Path, help="Same, for a stack file.")

    def handler(args: argparse.Namespace) -> int:
        from aistack.plan import resolve
        from aistack.preview import REPO
        from aistack.spec import (
            project_dir,
            read_stack_config,
            read_stack_environments,
            spec_from_config,
            stack_file,
        )

        chosen = [
            flag
            for flag, value in (
                ("--stack", args.stack),
                ("--stack-file", args.stack_file),
                ("--workloads", args.workloads),
            )
            if value
        ]
        if len(chosen) != 1:
            raise InputError("arguments", "size", "name exactly one of --stack, --stack-file or --workloads")
        if args.workloads:
            return sizing_cli.run(args)
        if args.catalog:
            raise InputError("arguments", "--catalog", "a stack names its catalog in aistack:sizing.catalog")
        path = args.stack_file or stack_file(REPO, args.stack)
        spec = spec_from_config(
            read_stack_config(path), str(path), environments=read_stack_environments(path)
        )
        resolved, plan = resolve(spec, str(path), project_dir(path))
        if plan is None:
            raise InputError(
                str(path), "aistack:clusters", "no GPU pool says `nodes: sized`: nothing to size"
            )
        code = sizing_cli.report(plan, args.format, str(path))
        if args.format == "text" and any(e.serve_from for e in spec.endpoints.values()):
            print(_shares_text(resolved, plan, path))
        return code

    p.set_defaults(handler=handler)


def _shares_text(spec: Any, plan: Any, path: Path) -> str:
    """Each serving cluster's share of the endpoints served from several clusters, and what the
    weights' replication costs (the ``size --stack`` text report's tail)."""
    from aistack.cost import replication
    from aistack.plan import capacity_by_share
    from aistack.spec import project_dir

    multi = {n for n, e in spec.endpoints.items() if e.serve_from}
    lines = ["", "shares (each serving cluster's part of an endpoint, at its pool's max nodes):"]
    for (name, cluster), share in capacity_by_share(spec, plan, str(path), project_dir(path)).items():
        if name not in multi:
            continue
        tokens = "?" if share.tokens_per_s_at_max is None else f"{share.tokens_per_s_at_max:,.0f}"
        flag = " (estimated)" if share.estimated else ""
        lines.append(
            f"  {name} on {cluster} ({share.cloud} {share.region} {share.instance_type}): nodes "
            f"{share.nodes_min}-{share.nodes_max}, {tokens} tokens/s at max{flag}"
        )
    for copy in replication(spec):
        price = "?" if copy["usd_per_copy"] is None else f"{copy['usd_per_copy']:,.2f} USD"
        lines.append(
            f"replication egress: {copy['endpoint']} weights {copy['from']} -> {copy['to']} ({copy['store']}): "
            f"{price} per full copy"
        )
    return "\n".join(lines)


def _add_weights(commands: argparse._SubParsersAction) -> None:
    from aistack import weights

    weights.add_command(commands)


def _add_failover(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "failover",
        help="Offline failover drill: per endpoint, the capacity left after losing a cloud, region or zone, "
        "against its demand (exit 1 when not met).",
        description="Per endpoint: the capacity its serving clusters can reach (autoscaler maximum within the "
        "pool bounds and quotas, spot nodes at their availability), what is left after losing a cloud, a "
        "region or a zone, the demand, and whether it is still met. Without --lose: every loss the "
        "endpoint's `survive` covers. Exit 0 met, 1 not met, 2 bad input. See docs/multicloud.md, "
        '"Failover drill".',
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="Stack name: stacks/Pulumi.<NAME>.yaml.")
    where.add_argument("--stack-file", type=Path, help="Path to a stack file.")
    p.add_argument(
        "--lose",
        metavar="DOMAIN",
        help="The domain to lose: a cloud (`aws`), a region (`aws:us-east-1`) or a zone (`aws:us-east-1a`, "
        "`azure:1`); one the stack's GPU pools use.",
    )
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--output", type=Path, help="Write the drill to FILE instead of stdout.")

    def handler(args: argparse.Namespace) -> int:
        from aistack import failover

        results = failover.run(args.stack, args.stack_file, args.lose)
        text = failover.RENDERERS[args.format](results, args.lose)
        if args.output:
            Path(args.output).write_text(text + "\n")
        else:
            print(text)
        return failover.exit_code(results)

    p.set_defaults(handler=handler)


# Each entry adds one subcommand (parser + handler); a command module owns its arguments.
COMMANDS = [
    _add_preview,
    _add_size,
    _add_failover,
    _add_config_reference,
    _add_policies,
    _add_weights,
    _live_check(
        "preflight",
        "Check zones and GPU quotas in the live cloud before deploying (exit 1 with the fix).",
        "aistack.preflight",
    ),
    _live_check(
        "audit",
        "Re-check the live stateful resources against the policy pack's rules (exit 1 on drift).",
        "aistack.audit",
    ),
]


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    top = _Parser(prog="aistack", description="Multi-cloud GPU stacks on Pulumi, previewed offline.")
    commands = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code."""
    try:
        args = parser().parse_args(argv)
        return args.handler(args)
    except InputError as err:
        print(f"error: {err.line()}", file=sys.stderr)
        return err.exit_code
