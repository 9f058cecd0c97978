"""Shared fixtures: the mock runtime is owned here, installed fresh for every run.

``declare`` runs a function that declares resources under aistack's recording mock runtime
(the same one ``python -m aistack preview`` uses) and returns what was registered;
``preview`` runs a whole stack of ``stacks/`` through the CLI's code path, cached per session.

Every stack is run once per session, however it is previewed. This file sets
``AISTACK_RUN_CACHE`` to a fresh directory for the session (see ``aistack/runcache.py``): each
program run (the engine's part of a preview, and the expensive one) is stored there under a digest of
the program's and stack file's content, and reused by every later preview of the same content, in
this process, in the other ``pytest-xdist`` workers, and in ``python -m aistack`` subprocesses
(they inherit the variable). Policies, cost, diff, manifests and rendering always run afresh. So:

- to check a stack of ``stacks/``, take the ``preview`` fixture (the report) or call
  ``aistack.preview.execute(stack=...)`` (the raw run); both are cheap after the first use;
- a modified stack written to ``tmp_path`` is run once per distinct content;
- run ``python -m aistack`` as a subprocess only where the process boundary is what the test checks
  (exit code, stderr lines, ``--output``); the run cache makes those cheap too;
- use ``declare`` for a component alone: it is never cached.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate.utils as kubernetes_validate_utils
import pytest

# Kubernetes support windows are judged on this date (see policies/aistack_rules/versions.py), so
# the suite gives the same verdicts whatever day it runs; subprocess runs inherit it.
os.environ.setdefault("AISTACK_AS_OF", "2026-12-04")

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from aistack import engine, runcache  # noqa: E402
from aistack import preview as preview_mod  # noqa: E402

# kubernetes-validate reads and parses the schema files (1.4 MB of definitions) on every call, which
# made each manifest check cost 10 ms instead of 1; the files never change, so keep them parsed.
kubernetes_validate_utils.schema_contents = functools.cache(kubernetes_validate_utils.schema_contents)

_OWN_CACHE = pytest.StashKey[str]()  # set in the process that created the run cache


def pytest_configure(config: pytest.Config) -> None:
    """Point ``AISTACK_RUN_CACHE`` at a fresh directory unless it is already set.

    The first process of a session creates it (and removes it at the end); ``pytest-xdist``
    workers are started after this hook and inherit the variable, so they share the directory.
    """
    if not os.environ.get(runcache.ENV):
        folder = tempfile.mkdtemp(prefix="aistack-runs-")
        os.environ[runcache.ENV] = folder
        config.stash[_OWN_CACHE] = folder


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move what collection imported (the SDKs, hundreds of thousands of objects) out of the collector's
    reach: they live until the end anyway, and each full pass over them cost the tests' runs a good
    share of their time, and a worker's final pass was slow enough for pytest-xdist to interrupt it."""
    gc.collect()
    gc.freeze()


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_OWN_CACHE, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(runcache.ENV, None)


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
