"""Fixtures for the GCP family's tests: the family deployed under the recording mocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components import registry
from tests.components.gcp.gcp_fixtures import PREFIX, gcp_spec


@pytest.fixture
def gcp_stack(declare) -> Callable[..., Any]:
    """Deploy the GCP family for a spec under the mocks; stack outputs are exported as ``gcp``."""

    def run(changes: dict[str, Any] | None = None):
        spec = gcp_spec(changes)
        family = registry.family("gcp")

        def body() -> None:
            deployed = family.deploy(spec, family.provider(spec.clouds.gcp, {"team": "ml"}), PREFIX)
            pulumi.export("gcp", deployed.outputs())

        return declare(body)

    return run
