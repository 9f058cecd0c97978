"""The ``azure`` fixture: the Azure family deployed under the recording mocks."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from aistack.spec import StackSpec
from tests.components.azure.azure_config import TAGS, spec

_RUNS: dict[tuple[str, str], Any] = {}


@pytest.fixture
def azure(declare):
    """Deploy the Azure family for a spec; every component's outputs are exported by path.

    Runs are deterministic and tests only read them, so each (spec, stack) runs once per session.
    """

    def run(stack_spec: StackSpec | None = None, *, stack: str = "test"):
        stack_spec = stack_spec or spec()
        key = (stack_spec.model_dump_json(), stack)
        if key not in _RUNS:
            _RUNS[key] = deploy(stack_spec, stack)
        return _RUNS[key]

    def deploy(stack_spec: StackSpec, stack: str):
        from components import azure as family

        def body() -> None:
            deployed = family.deploy(
                stack_spec, family.provider(stack_spec.clouds.azure, TAGS), f"aistack-{stack}"
            )
            components = {
                **{f"cluster/{k}": v for k, v in deployed.clusters.items()},
                **{f"pool/{c}/{p}": v for (c, p), v in deployed.pools.items()},
                **{f"store/{k}": v for k, v in deployed.stores.items()},
                **{f"identity/{c}/{s}": v for (c, s), v in deployed.identities.items()},
            }
            for key, component in components.items():
                for output in component.OUTPUTS:
                    pulumi.export(f"{key}/{output}", getattr(component, output))

        return declare(body, stack=stack)

    return run
