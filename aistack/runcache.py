"""A content-keyed cache of program runs, for a session that previews the same stacks many times.

Off unless the environment variable ``AISTACK_RUN_CACHE`` names a directory; the test suite sets it
to a fresh directory for one session, so each stack is run once however many tests (in-process, in
``pytest-xdist`` workers or as ``python -m aistack`` subprocesses) preview it.

Only the program run is cached (the resources and outputs the mock runtime recorded, which
validation and the engine produce deterministically from their inputs); the report, policies, cost,
diff, manifests and rendering are recomputed from it on every call. The key covers everything a run
reads: the stack file, the program directory and aistack's own source tree (every file, not only
those imported), the files the stack's sizing section names, ``PULUMI_CONFIG``, the interpreter and
its environment. A failed run is never stored, so an error is raised afresh each time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pulumi.output import UNKNOWN, Unknown

from aistack import engine
from policies.aistack_rules import versions

ENV = "AISTACK_RUN_CACHE"
REPO = Path(__file__).resolve().parent.parent
_FORMAT = "2"  # bump when ProgramRun's shape changes (2: resources record their dependencies)


def _files(root: Path) -> Iterator[Path]:
    """Every file under ``root`` in a stable order, skipping hidden folders, bytecode and virtualenvs."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d != "__pycache__"
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        )
        for name in sorted(files):
            if not name.endswith(".pyc"):
                yield Path(folder, name)


def key(program_dir: Path, stack_path: Path, stack: str, config: dict[str, Any]) -> str:
    """The cache key of one run: a digest of everything the run reads."""
    digest = hashlib.sha256()

    def add(*parts: str | bytes) -> None:
        for part in parts:
            digest.update(part if isinstance(part, bytes) else part.encode())
            digest.update(b"\0")

    add(_FORMAT, sys.version, sys.prefix, str(program_dir), stack, os.environ.get("PULUMI_CONFIG", ""))
    # The spec judges Kubernetes support at this date ($AISTACK_AS_OF or today): a run from another
    # day may have been refused, or accepted, differently.
    add(versions.today().isoformat())
    add(Path(stack_path).read_bytes())
    for root in sorted({Path(program_dir), REPO}):
        for path in _files(root):
            add(str(path.relative_to(root)), path.read_bytes())
    sizing = config.get("aistack:sizing")
    for name in ("catalog", "constraints"):
        if isinstance(sizing, dict) and isinstance(sizing.get(name), str):
            path = Path(program_dir) / sizing[name]
            add(str(path), path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()


# Pulumi's ``Unknown`` (an input not known until apply, e.g. an allow-list the operator sets before
# ``pulumi up``) is not JSON: stored as this marker and restored as ``pulumi.output.UNKNOWN``.
_UNKNOWN_MARK = {"__aistack_unknown__": True}


def _encode(value: Any) -> Any:
    if isinstance(value, Unknown):
        return _UNKNOWN_MARK
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _decode(obj: dict[str, Any]) -> Any:
    return UNKNOWN if obj == _UNKNOWN_MARK else obj


def dump(run: engine.ProgramRun) -> str:
    """A run as JSON (what the cache stores)."""
    return json.dumps(dataclasses.asdict(run), default=_encode)


def load(text: str) -> engine.ProgramRun:
    """A run stored by :func:`dump`."""
    data = json.loads(text, object_hook=_decode)
    data["resources"] = [engine.Resource(**r) for r in data["resources"]]
    return engine.ProgramRun(**data)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: one process computes a run while the others wait for it."""
    try:
        import fcntl
    except ImportError:  # no advisory locks (Windows): a run may then be computed twice, harmlessly
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(
    program_dir: Path,
    stack_path: Path,
    stack: str,
    config: dict[str, Any],
    run: Callable[[], engine.ProgramRun],
) -> engine.ProgramRun:
    """``run()``, or its stored result for the same inputs when ``AISTACK_RUN_CACHE`` is set."""
    folder = os.environ.get(ENV)
    if not folder:
        return run()
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / f"{key(program_dir, stack_path, stack, config)}.json"
    with _locked(path.with_suffix(".lock")):
        if path.is_file():
            return load(path.read_text())
        result = run()
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(dump(result))
        partial.replace(path)
        return result
