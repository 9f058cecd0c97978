"""Preview resources in the JSON shape, built by hand for cost, diff and report tests."""

from __future__ import annotations

from typing import Any

from sizing.catalog import Catalog, Offering

STACK = "urn:pulumi:test::aistack::"


def resource(
    type_: str,
    name: str,
    *,
    cloud: str | None,
    inputs: dict[str, Any] | None = None,
    parent: dict[str, Any] | None = None,
    provider: dict[str, Any] | None = None,
    custom: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """One resource as ``preview --format json`` reports it (URN formed like the engine's)."""
    qualified = f"{parent['urn'].split('::')[2].split('$')[-1]}${type_}" if parent else type_
    return {
        "urn": f"{STACK}{qualified}::{name}",
        "type": type_,
        "name": name,
        "parent": parent["urn"] if parent else None,
        "custom": custom,
        "cloud": cloud,
        "provider": provider["urn"] if provider else None,
        "protect": False,
        "ignore_changes": [],
        "replace_on_changes": [],
        "aliases": [],
        "inputs": inputs or {},
        **extra,
    }


def provider(cloud: str, region: str) -> dict[str, Any]:
    """The cloud's explicit provider, carrying its region the way each SDK names it."""
    package = {"aws": "aws", "azure": "azure-native", "gcp": "gcp"}[cloud]
    key = "location" if cloud == "azure" else "region"
    return resource(f"pulumi:providers:{package}", cloud, cloud=cloud, inputs={key: region})


def component(cloud: str, concept: str, name: str, parent: dict[str, Any] | None = None) -> dict[str, Any]:
    return resource(f"aistack:{cloud}:{concept}", name, cloud=cloud, custom=False, parent=parent)


def offering(
    cloud: str,
    region: str,
    instance_type: str,
    price: float,
    spot: float | None = None,
    *,
    accelerator: str | None = None,
    gpus: int = 0,
) -> Offering:
    return Offering(
        cloud=cloud,
        region=region,
        instance_type=instance_type,
        accelerator=accelerator,
        gpus=gpus,
        gpu_mem_gib=24.0 if gpus else 0.0,
        vcpus=8,
        mem_gib=32,
        price_hr=price,
        spot_price_hr=spot,
        zones=(),
        max_nodes=None,
        source="test catalog",
        as_of="test",
    )


CATALOG = Catalog(
    [
        offering("aws", "us-east-1", "g6.xlarge", 0.80, 0.40, accelerator="L4-24GB", gpus=1),
        offering("aws", "us-east-1", "g6.2xlarge", 1.00, 0.50, accelerator="L4-24GB", gpus=1),
        offering("aws", "us-east-1", "m6i.large", 0.10),
        offering("aws", "us-west-2", "p5.48xlarge", 90.0, accelerator="H100-80GB", gpus=8),
        offering("azure", "eastus", "Standard_NC24ads_A100_v4", 3.50, 0.50, accelerator="A100-80GB", gpus=1),
        offering("azure", "eastus", "Standard_D4s_v5", 0.20),
        offering("gcp", "us-central1", "n1-standard-8", 0.70, 0.20, accelerator="T4-16GB", gpus=1),
        offering("gcp", "us-central1", "n1-standard-8", 1.10, 0.40, accelerator="T4-16GB", gpus=2),
        offering("gcp", "us-central1", "g2-standard-8", 0.85, 0.34, accelerator="L4-24GB", gpus=1),
        offering("gcp", "us-central1", "e2-standard-4", 0.13, 0.05),
    ]
)
"""A small catalog whose prices make the arithmetic in the tests easy to follow."""
