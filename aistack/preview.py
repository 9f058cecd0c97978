"""``preview``: run a program offline and build the preview report.

The report is one JSON-able dict (shape in DESIGN.md): the resource graph, the stack outputs,
and the sizing, cost, policy and diff sections.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from aistack import engine
from aistack.errors import InputError
from aistack.spec import read_stack_config, spec_from_config, stack_file

REPO = Path(__file__).resolve().parent.parent


def project_name(program_dir: Path) -> str:
    """The project name from a program's ``Pulumi.yaml``."""
    path = Path(program_dir) / "Pulumi.yaml"
    try:
        return str(yaml.safe_load(path.read_text())["name"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        raise InputError(
            str(path), "name", "a Pulumi program needs a Pulumi.yaml with a project name"
        ) from None


def run(**kwargs: Any) -> dict[str, Any]:
    """Validate the stack, run the program under the mock runtime and build the report (see :func:`execute`)."""
    return report(execute(**kwargs))


def execute(
    *,
    stack: str | None = None,
    stack_path: Path | None = None,
    program_dir: Path | None = None,
) -> engine.ProgramRun:
    """Validate the stack and run the program under the mock runtime.

    Args:
        stack: Stack name, resolved through the program's ``stackConfigDir``.
        stack_path: An explicit stack file instead of a name.
        program_dir: Any Pulumi Python program; defaults to aistack's own.

    Raises:
        InputError: invalid config, unknown stack or a program that cannot run.
    """
    program_dir = Path(program_dir or REPO).resolve()
    project = project_name(program_dir)
    if stack_path is None:
        if stack is None:
            raise InputError(
                "arguments", "--stack", "name a stack (--stack NAME) or a file (--stack-file PATH)"
            )
        stack_path = stack_file(program_dir, stack)
    stack_path = Path(stack_path)
    name = stack_path.name.removeprefix("Pulumi.").removesuffix(".yaml") if stack is None else stack
    config = read_stack_config(stack_path)
    if project == "aistack":
        # Our own program: the whole spec is validated before anything is declared.
        from aistack.plan import resolve
        from components import registry

        spec, _ = resolve(spec_from_config(config, str(stack_path)), str(stack_path), program_dir)
        registry.check_features(spec, str(stack_path))
    return engine.run_program(program_dir, project=project, stack=name, config=config)


def report(run_: engine.ProgramRun) -> dict[str, Any]:
    """The preview report for a program run: the graph, then every policy of the pack on it."""
    from policies import environment_of, evaluate

    # The rules read raw inputs and outputs (secrets unwrapped by the pack), never the masked report.
    violations = evaluate(
        [dataclasses.asdict(r) for r in run_.resources],
        environment=environment_of(run_.stack, run_.config) or "dev",
    )
    return {
        "project": run_.project,
        "stack": run_.stack,
        "resources": [r.to_json() for r in run_.resources],
        "outputs": engine.mask(run_.outputs),
        "sizing": engine.unwrap(run_.outputs.get("sizing")) or {},
        "cost": {"monthly_usd": 0.0, "by_cloud": {}, "lines": []},
        "policy": {"violations": violations},
        "diff": {"create": [], "update": [], "delete": [], "replace_risk": []},
    }


def exit_code(result: dict[str, Any]) -> int:
    """1 when a mandatory policy is violated or a forbidden deletion would happen, else 0."""
    mandatory = any(v["level"] == "mandatory" for v in result["policy"]["violations"])
    return 1 if mandatory or result["diff"].get("forbidden") else 0
