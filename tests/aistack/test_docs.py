"""The README stays true to the code."""

from __future__ import annotations

import re

from aistack.docs import BEGIN, END, readme_block
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_config_reference_in_readme_is_generated_from_the_spec():
    start, end = README.index(BEGIN), README.index(END) + len(END)
    assert README[start:end] == readme_block(), (
        "run: python -m aistack config-reference, and paste into README.md"
    )


def test_first_two_commands_are_the_setup_and_ci_runs_the_test_command():
    commands = re.findall(r"^(pip install .*)$", README, flags=re.M)
    assert commands[:2] == [
        "pip install -r requirements.txt && python -m aistack preview --stack dev",
        "pip install -r requirements-dev.txt && pytest",
    ]
    assert commands[1] in (REPO / ".ci" / "run").read_text()
