"""Every stack in stacks/, run by the offline engine, passes the pack with no finding at all."""

from __future__ import annotations

import dataclasses

import pytest

from aistack import preview
from aistack.spec import read_stack_config, stack_file
from policies import environment_of, evaluate
from tests.conftest import REPO, stack_names


@pytest.mark.parametrize("stack", stack_names())
def test_stack_passes_every_policy(stack: str) -> None:
    run = preview.execute(stack=stack)
    environment = environment_of(stack, read_stack_config(stack_file(REPO, stack)))
    assert evaluate([dataclasses.asdict(r) for r in run.resources], environment=environment) == []
