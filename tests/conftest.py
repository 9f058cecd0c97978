"""Shared fixtures: the mock runtime is owned here, installed fresh for every run.

``declare`` runs a function that declares resources under aistack's recording mock runtime
(the same one ``python -m aistack preview`` uses) and returns what was registered;
``preview`` runs a whole stack of ``stacks/`` through the CLI's code path, cached per session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from aistack import engine  # noqa: E402
from aistack import preview as preview_mod  # noqa: E402


class Declared:
    """What a ``declare`` run registered, with lookups by type and name."""

    def __init__(self, run: engine.ProgramRun) -> None:
        self.run = run
        self.resources = run.resources
        self.outputs = run.outputs

    def of_type(self, type_token: str) -> list[engine.Resource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> engine.Resource:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name!r}, found {len(matches)}"
        return matches[0]

    def children(self, parent: engine.Resource) -> list[engine.Resource]:
        return [r for r in self.resources if r.parent == parent.urn]


@pytest.fixture
def declare() -> Callable[..., Declared]:
    """Run ``fn`` under the recording mocks (fresh runtime per call) and return the registrations."""

    def run(fn: Callable[[], Any], *, stack: str = "test", config: dict[str, Any] | None = None) -> Declared:
        return Declared(
            engine.run_function(
                fn,
                project="aistack",
                stack=stack,
                config={"pulumi:disable-default-providers": ["*"], **(config or {})},
            )
        )

    return run


_PREVIEWS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def preview() -> Callable[[str], dict[str, Any]]:
    """The preview report of a stack in ``stacks/`` (run once per session, then reused)."""

    def get(stack: str) -> dict[str, Any]:
        if stack not in _PREVIEWS:
            _PREVIEWS[stack] = preview_mod.run(stack=stack)
        return _PREVIEWS[stack]

    return get


def stack_names() -> list[str]:
    """Every stack in ``stacks/``."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (REPO / "stacks").glob("Pulumi.*.yaml"))
