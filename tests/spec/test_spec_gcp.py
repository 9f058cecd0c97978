"""The GCP placement in the stack spec: project id rules, zones in region, overlap-free ranges."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from aistack.errors import InputError
from aistack.spec import spec_from_config

GCP = {
    "project": "acme-ml-prod",
    "project_number": "123456789012",
    "region": "europe-west4",
    "zones": ["europe-west4-a", "europe-west4-b"],
    "cidr": "10.50.0.0/20",
    "pods_cidr": "10.52.0.0/14",
}


def load(gcp: dict[str, Any], **extra: Any):
    config = {"aistack:environment": "dev", "aistack:clouds": {"gcp": gcp}, **extra}
    return spec_from_config(config, "stack.yaml", from_file=False)


def error(gcp: dict[str, Any], **extra: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        load(gcp, **extra)
    return caught.value


def test_a_valid_placement():
    spec = load(GCP)
    assert spec.clouds.configured() == {"gcp": spec.clouds.gcp}
    assert spec.clouds.gcp.cidr_blocks() == {"cidr": "10.50.0.0/20", "pods_cidr": "10.52.0.0/14"}


@pytest.mark.parametrize(
    "project",
    ["short", "Acme-ml-prod", "acme-ml-prod-", "1acme-ml-prod", "acme_ml_prod", "a" * 31],
)
def test_project_ids_outside_gcp_rules(project):
    err = error({**GCP, "project": project})
    assert err.key == "aistack:clouds.gcp.project"


@pytest.mark.parametrize("word", ["google", "ssl", "null", "undefined"])
def test_project_ids_with_restricted_strings(word):
    err = error({**GCP, "project": f"acme-{word}-ml"})
    assert (
        err.line()
        == f"stack.yaml: aistack:clouds.gcp.project: project id 'acme-{word}-ml' must not contain '{word}'"
    )


def test_project_number_is_digits():
    assert error({**GCP, "project_number": "acme"}).key == "aistack:clouds.gcp.project_number"


def test_zones_must_be_in_the_region():
    err = error({**GCP, "zones": ["europe-west4-a", "us-central1-b"]})
    assert err.key == "aistack:clouds.gcp"
    assert err.message == "zone 'us-central1-b' is not a zone of region europe-west4 (e.g. europe-west4-a)"


def test_aws_style_zones_are_refused():
    assert "is not a zone of region" in error({**GCP, "zones": ["europe-west4a"]}).message


def test_the_pod_range_must_not_overlap_the_node_range():
    err = error({**GCP, "pods_cidr": "10.50.8.0/22"})
    assert err.key == "aistack:clouds.gcp.pods_cidr"
    assert "overlaps clouds.gcp.cidr (10.50.0.0/20)" in err.message


def test_the_gke_service_range_must_not_overlap_the_pod_range():
    pool = {"accelerator": "L4-24GB", "instance_types": ["g2-standard-8"], "min_nodes": 0, "max_nodes": 1}
    cluster = {
        "cloud": "gcp",
        "api": {"deployer": "dns-endpoint"},
        "service_cidr": "10.53.0.0/20",
        "gpu_pools": {"l4": pool},
    }
    err = error(GCP, **{"aistack:clusters": {"main": cluster}})
    assert err.key == "aistack:clusters.main.service_cidr"
    assert "overlaps clouds.gcp.pods_cidr (10.52.0.0/14)" in err.message


def test_gcp_ranges_must_not_overlap_other_clouds():
    aws = {"region": "us-east-1", "zones": ["us-east-1a"], "cidr": "10.52.0.0/16"}
    with pytest.raises(InputError) as caught:
        spec_from_config(
            {"aistack:environment": "dev", "aistack:clouds": {"aws": aws, "gcp": GCP}},
            "stack.yaml",
            from_file=False,
        )
    assert caught.value.key == "aistack:clouds.gcp.pods_cidr"
    assert "overlaps clouds.aws.cidr (10.52.0.0/16)" in caught.value.message


def test_pool_overrides_must_match_the_cluster_cloud():
    aws = {"region": "us-east-1", "zones": ["us-east-1a", "us-east-1b"], "cidr": "10.40.0.0/16"}
    pool = {
        "accelerator": "A10G-24GB",
        "instance_types": ["g5.xlarge"],
        "min_nodes": 0,
        "max_nodes": 1,
        "overrides": {"cloud": "gcp", "gpu_driver_version": "LATEST"},
    }
    with pytest.raises(InputError) as caught:
        spec_from_config(
            {
                "aistack:environment": "dev",
                "aistack:clouds": {"aws": aws, "gcp": GCP},
                "aistack:clusters": {
                    "main": {"cloud": "aws", "api": {"deployer": "allow-listed"}, "gpu_pools": {"a10g": pool}}
                },
            },
            "stack.yaml",
            from_file=False,
        )
    assert caught.value.line() == (
        "stack.yaml: aistack:clusters.main.gpu_pools.a10g.overrides.cloud: overrides for gcp on a cluster placed on aws"
    )


def test_unknown_override_cloud_is_refused():
    pool = {
        "accelerator": "L4-24GB",
        "instance_types": ["g2-standard-8"],
        "min_nodes": 0,
        "max_nodes": 1,
        "overrides": {"cloud": "aws"},
    }
    cluster = {"cloud": "gcp", "api": {"deployer": "dns-endpoint"}, "gpu_pools": {"l4": pool}}
    err = error(GCP, **{"aistack:clusters": {"main": cluster}})
    assert err.key == "aistack:clusters.main.gpu_pools.l4.overrides"
    assert "does not match any of the expected tags: 'gcp'" in err.message


def test_the_proxy_only_range_is_a_block_of_its_own():
    spec = load({**GCP, "proxy_only_cidr": "10.50.16.0/23"})
    assert spec.clouds.gcp.cidr_blocks()["proxy_only_cidr"] == "10.50.16.0/23"
    err = error({**GCP, "proxy_only_cidr": "10.50.8.0/23"})
    assert err.key.startswith("aistack:clouds.gcp") and "overlap" in err.line()


def _multicloud(gcp_changes: dict[str, Any]) -> dict[str, Any]:
    from aistack.preview import REPO

    config = yaml.safe_load((REPO / "stacks" / "Pulumi.multicloud.yaml").read_text())["config"]
    config = {k: v for k, v in config.items() if k.startswith("aistack:")}
    config["aistack:clouds"]["gcp"] = {**config["aistack:clouds"]["gcp"], **gcp_changes}
    return config


def test_a_gke_internal_lb_endpoint_needs_the_proxy_only_range():
    config = _multicloud({})
    # The endpoint is served from GKE among others (serve_from): its GKE share needs the range.
    config["aistack:endpoints"]["chat"]["expose"] = "internal-lb"
    # Its name would live in aistack:interconnect.private_zone, which this stack does not set.
    config["aistack:endpoints"]["chat"].pop("hostname", None)
    spec_from_config(config, "stack.yaml", from_file=False)
    del config["aistack:clouds"]["gcp"]["proxy_only_cidr"]
    with pytest.raises(InputError) as caught:
        spec_from_config(config, "stack.yaml", from_file=False)
    assert caught.value.key == "aistack:endpoints.chat.expose"
    assert "set clouds.gcp.proxy_only_cidr" in caught.value.line()
    # In-cluster endpoints on GKE need none (and publish no name).
    config["aistack:endpoints"]["chat"]["expose"] = "cluster"
    config["aistack:endpoints"]["chat"].pop("hostname", None)
    spec_from_config(config, "stack.yaml", from_file=False)
