"""The component contract, checked over every cloud family in the registry."""

from __future__ import annotations

import pytest
import yaml

from components import contract, registry
from tests.conftest import REPO, stack_names

CONCEPTS = (
    contract.Network,
    contract.Cluster,
    contract.GpuNodePool,
    contract.ObjectStore,
    contract.WorkloadIdentity,
)
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _stack_using(cloud: str) -> str:
    for stack in stack_names():
        config = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
        if cloud in (config.get("aistack:clouds") or {}):
            return stack
    raise AssertionError(f"no stack in stacks/ uses {cloud}")


@pytest.mark.parametrize("cloud", sorted(registry.FAMILIES))
def test_family_implements_every_concept(cloud):
    family = registry.family(cloud)
    assert callable(family.provider) and callable(family.deploy)
    for base in CONCEPTS:
        cls = getattr(family, base.__name__)
        assert issubclass(cls, base)
        assert cls.type_token() == f"aistack:{cloud}:{base.CONCEPT}"
        assert set(base.OUTPUTS) <= set(cls.OUTPUTS), f"{cls.__name__} drops contract outputs"
        assert cls.__doc__ and "Outputs:" in cls.__doc__ and "Children" in cls.__doc__


@pytest.mark.parametrize("cloud", sorted(registry.FAMILIES))
def test_family_children_are_parented_named_and_use_the_cloud_provider(cloud, preview):
    report = preview(_stack_using(cloud))
    mine = [r for r in report["resources"] if r["cloud"] == cloud]
    components = {r["urn"]: r for r in mine if not r["custom"]}
    providers = {r["urn"] for r in mine if r["type"].startswith("pulumi:providers:")}
    assert {r["type"].split(":")[2] for r in components.values()} >= {b.CONCEPT for b in CONCEPTS}
    for r in mine:
        if not r["custom"] or r["type"].startswith("pulumi:providers:"):
            continue
        parent = components.get(r["parent"])
        assert parent is not None, f"{r['urn']} is not a child of an aistack component"
        assert r["name"].startswith(parent["name"] + "-"), f"{r['name']} is not named after {parent['name']}"
        assert r["provider"] in providers, f"{r['urn']} does not use the {cloud} provider"


@pytest.mark.parametrize("cloud", sorted(registry.FAMILIES))
def test_kubeconfig_outputs_are_secret(cloud):
    from aistack import preview as preview_mod

    run = preview_mod.execute(stack=_stack_using(cloud))
    clusters = run.outputs[cloud]["clusters"]
    assert clusters
    for cluster in clusters.values():
        assert cluster["kubeconfig"]["4dabf18193072939515e22adb298388d"] == SECRET_SIG
