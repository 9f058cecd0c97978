"""The run cache (``AISTACK_RUN_CACHE``): a stored run is the run, and any change of input is a new key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.output import UNKNOWN, Unknown

from aistack import preview, runcache
from aistack.errors import InputError
from tests.conftest import REPO


def test_a_stored_run_is_the_run_and_reports_alike(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(runcache.ENV, raising=False)
    fresh = preview.execute(stack="dev")
    stored = runcache.load(runcache.dump(fresh))
    assert stored == fresh
    assert preview.report(stored) == preview.report(fresh)


def test_an_input_unknown_until_apply_is_stored_as_unknown(monkeypatch: pytest.MonkeyPatch):
    # dev's allow-list is left to the operator: previews see it as Pulumi's Unknown.
    monkeypatch.delenv(runcache.ENV, raising=False)
    fresh = preview.execute(stack="dev")
    unknowns = [r for r in fresh.resources if any(isinstance(v, Unknown) for v in _leaves(r.inputs))]
    assert unknowns, "dev has no input unknown until apply any more; pick another stack for this test"
    stored = runcache.load(runcache.dump(fresh))
    assert stored == fresh
    assert all(v is UNKNOWN for r in stored.resources for v in _leaves(r.inputs) if isinstance(v, Unknown))


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _program(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "Pulumi.yaml").write_text("name: other\nruntime: python\n")
    (folder / "__main__.py").write_text(body)
    (folder / "Pulumi.dev.yaml").write_text('config:\n  pulumi:disable-default-providers: ["*"]\n')
    return folder


def test_the_key_changes_with_the_stack_file_the_program_and_named_files(tmp_path: Path):
    program = _program(tmp_path / "p", "import pulumi\npulumi.export('x', 1)\n")
    stack = program / "Pulumi.dev.yaml"
    config = {"aistack:sizing": {"catalog": "extra.csv"}}

    def key() -> str:
        return runcache.key(program, stack, "dev", config)

    first = key()
    assert key() == first  # nothing changed
    keys = {first}
    for change in (
        lambda: stack.write_text(stack.read_text() + "  other:x: 1\n"),
        lambda: (program / "__main__.py").write_text("import pulumi\npulumi.export('x', 2)\n"),
        lambda: (program / "helper.py").write_text("VALUE = 1\n"),
        lambda: (program / "extra.csv").write_text("cloud,region\n"),
    ):
        change()
        keys.add(key())
    assert len(keys) == 5
    assert runcache.key(program, stack, "other", config) not in keys


def test_bytecode_and_hidden_folders_do_not_change_the_key(tmp_path: Path):
    program = _program(tmp_path / "p", "import pulumi\n")
    stack = program / "Pulumi.dev.yaml"
    before = runcache.key(program, stack, "dev", {})
    (program / "__pycache__").mkdir()
    (program / "__pycache__" / "__main__.cpython-311.pyc").write_bytes(b"\0")
    (program / ".git").mkdir()
    (program / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (program / "venv").mkdir()
    (program / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert runcache.key(program, stack, "dev", {}) == before


def test_a_run_is_stored_once_and_a_failed_run_never(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(runcache.ENV, str(folder))
    good = _program(tmp_path / "good", "import pulumi\npulumi.export('x', 1)\n")
    first = preview.execute(program_dir=good, stack_path=good / "Pulumi.dev.yaml")
    assert len(list(folder.glob("*.json"))) == 1
    assert preview.execute(program_dir=good, stack_path=good / "Pulumi.dev.yaml") == first
    assert len(list(folder.glob("*.json"))) == 1

    bad = _program(tmp_path / "bad", "raise KeyError('region')\n")
    for _ in range(2):  # raised afresh each time, not replayed from the cache
        with pytest.raises(InputError, match="program failed: KeyError"):
            preview.execute(program_dir=bad, stack_path=bad / "Pulumi.dev.yaml")
    assert len(list(folder.glob("*.json"))) == 1


def test_the_suite_shares_one_cache_directory():
    import os

    assert os.environ.get(runcache.ENV), "tests/conftest.py sets AISTACK_RUN_CACHE for the session"
    assert not Path(os.environ[runcache.ENV]).resolve().is_relative_to(REPO)
