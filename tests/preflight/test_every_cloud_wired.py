"""Every cloud family aistack can deploy also has a preflight checker and an auditor."""

from __future__ import annotations

import importlib

from aistack.audit import AUDITORS
from aistack.preflight.checks import CHECKERS
from components import registry


def test_every_family_has_a_checker_and_an_auditor_built_from_its_spec():
    assert set(CHECKERS) == set(registry.FAMILIES)
    assert set(AUDITORS) == set(registry.FAMILIES)
    for table in (CHECKERS, AUDITORS):
        for module in table.values():
            mod = importlib.import_module(module)
            assert callable(getattr(mod, "checker", None) or getattr(mod, "auditor", None))
