"""``preview``: run a program offline and build the preview report.

The report is one JSON-able dict (shape in DESIGN.md): the resource graph, the stack outputs,
and the sizing, cost, policy and diff sections.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from aistack import cost, diff, engine, runcache
from aistack.errors import InputError
from aistack.spec import StackSpec, read_stack_config, read_stack_environments, spec_from_config, stack_file

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


def run(*, baseline: Path | None = None, **kwargs: Any) -> dict[str, Any]:
    """Validate the stack, run the program under the mock runtime and build the report.

    Args:
        baseline: A ``--format json`` report of an earlier preview (the base branch's); fills
            the ``diff`` section.
        **kwargs: Where the program and stack are (see :func:`execute`).

    Raises:
        InputError: invalid config, baseline or program.
    """
    old = diff.load_baseline(baseline) if baseline is not None else None
    run_ = execute(**kwargs)
    result = report(run_)
    if old is not None:
        for key in ("project", "stack"):
            if old.get(key, result[key]) != result[key]:
                # Every URN embeds both: the diff would be one big deletion and creation.
                raise InputError(
                    str(baseline), key, f"the baseline previews {key} {old[key]!r}, not {result[key]!r}"
                )
        result["diff"] = diff.compare(old, result, allow_replace=allowed_replacements(run_.config))
    return result


def allowed_replacements(config: dict[str, Any]) -> list[str]:
    """The logical names a stack allows to be deleted or replaced (``aistack:allow_replace``)."""
    value = config.get("aistack:allow_replace") or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError("stack config", "aistack:allow_replace", "must be a list of logical names")
    return value


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
    environments = read_stack_environments(stack_path)

    def validate_and_run() -> engine.ProgramRun:
        if project == "aistack":
            # Our own program: the whole spec is validated before anything is declared.
            from aistack.plan import resolve
            from components import registry

            spec = spec_from_config(config, str(stack_path), environments=environments)
            spec, _ = resolve(spec, str(stack_path), program_dir)
            registry.check_features(spec, str(stack_path))
        return engine.run_program(program_dir, project=project, stack=name, config=config)

    run_ = runcache.cached(program_dir, stack_path, name, config, validate_and_run)
    return dataclasses.replace(run_, environments=environments)


ESC_CREDENTIALS = {
    # What each cloud's ESC login provider exports for the Pulumi providers (and the CLIs the
    # kubeconfigs call), per the ESC docs: aws-login (accessKeyId, secretAccessKey, sessionToken),
    # azure-login ("ARM_* ... consumed by the Pulumi Azure providers", OIDC token included) and
    # gcp-login (GOOGLE_OAUTH_ACCESS_TOKEN for the provider, CLOUDSDK_* for gcloud):
    # https://www.pulumi.com/docs/esc/providers/login/ (aws-login, azure-login, gcp-login).
    "aws": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"],
    "azure": ["ARM_USE_OIDC", "ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID", "ARM_OIDC_TOKEN"],
    "gcp": ["GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN"],
}
"""Environment variables a stack's ESC environments supply per cloud, resolved at deploy time."""


def esc_section(run_: engine.ProgramRun) -> dict[str, Any]:
    """What a real deploy would take from the stack's Pulumi ESC environments, which offline is unknown.

    The offline preview never opens an environment. It reports the environments imported, the
    credentials they are to supply for each cloud the stack uses, every ``aistack:`` key the
    stack file leaves unset (``config``: the preview used its default, while an environment's
    ``pulumiConfig`` may set it) and every key the file sets to a mapping (``merged``): a key in
    the stack file wins over an environment's, but mappings are merged key by key, so an
    environment may add keys inside them (pulumi/docs#19695, "objects deep-merge via JSON merge
    patch with stack keys winning"). At deploy time the program validates the merged config like
    any other. Nothing an environment could change is thus left out of the report silently.
    """
    if not run_.environments:
        return {"environments": [], "deploy_time": {"credentials": {}, "config": [], "merged": []}}
    clouds = run_.config.get("aistack:clouds")
    clouds = [c for c in ESC_CREDENTIALS if isinstance(clouds, dict) and clouds.get(c) is not None]
    keys = [f"aistack:{k}" for k in StackSpec.model_fields] if run_.project == "aistack" else []
    return {
        "environments": list(run_.environments),
        "deploy_time": {
            "credentials": {c: ESC_CREDENTIALS[c] for c in clouds},
            "config": [k for k in keys if k not in run_.config],
            "merged": [k for k in keys if isinstance(run_.config.get(k), dict)],
        },
    }


def report(run_: engine.ProgramRun) -> dict[str, Any]:
    """The preview report for a program run: the graph, every policy of the pack on it, its cost.

    The ``diff`` stays empty without a baseline (see :func:`run`).
    """
    from policies import environment_of, evaluate

    resources = [r.to_json() for r in run_.resources]
    estimate = cost.estimate(resources)
    # The program's replication egress (one full copy of the weights per replica store and weights version).
    estimate["replication"] = engine.unwrap(run_.outputs.get("replication")) or []
    budget = (run_.config.get("aistack:sizing") or {}).get("budget_usd_month")
    # The rules read raw inputs and outputs (secrets unwrapped by the pack), never the masked report.
    violations = evaluate(
        [dataclasses.asdict(r) for r in run_.resources],
        environment=environment_of(run_.stack, run_.config) or "dev",
        config={"budget_usd": budget, "monthly_usd": estimate["monthly_usd_max"]} if budget else None,
    )
    return {
        "project": run_.project,
        "stack": run_.stack,
        "resources": resources,
        "outputs": engine.mask(run_.outputs),
        "sizing": engine.unwrap(run_.outputs.get("sizing")) or {},
        "cost": estimate,
        "policy": {"violations": violations},
        "diff": {"create": [], "update": [], "delete": [], "replace_risk": [], "forbidden": []},
        "esc": esc_section(run_),
    }


def exit_code(result: dict[str, Any]) -> int:
    """1 when a mandatory policy is violated or a forbidden deletion would happen, else 0."""
    mandatory = any(v["level"] == "mandatory" for v in result["policy"]["violations"])
    return 1 if mandatory or result["diff"].get("forbidden") else 0
