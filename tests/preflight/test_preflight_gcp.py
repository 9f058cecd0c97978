"""GCP preflight through the real google-cloud-compute REST client, against a fake Compute API on 127.0.0.1."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from google.auth.credentials import AnonymousCredentials

from aistack.errors import InputError
from aistack.preflight.checks import Pool, constraints, evaluate
from aistack.preflight.gcp import GcpChecker
from tests.fakehttp import serve

PROJECT, REGION = "ml-prod", "us-central1"
ZONES = ["us-central1-a", "us-central1-b", "us-central1-c"]
L4 = [{"guestAcceleratorType": "nvidia-l4", "guestAcceleratorCount": 1}]
H100 = [{"guestAcceleratorType": "nvidia-h100-80gb", "guestAcceleratorCount": 8}]
# What the fake Compute API knows: zone → machine types / accelerator types, and the region's quotas.
MACHINES = {
    "us-central1-a": {"g2-standard-8": L4, "n1-standard-8": [], "a3-highgpu-8g": H100},
    "us-central1-b": {"g2-standard-8": L4, "n1-standard-8": []},
    "us-central1-c": {"n1-standard-8": []},
    "europe-west4-a": {"g2-standard-8": L4},  # another region: never counted for us-central1
}
ACCELERATORS = {
    "us-central1-a": ["nvidia-l4", "nvidia-tesla-t4", "nvidia-h100-80gb"],
    "us-central1-b": ["nvidia-l4"],
}
QUOTAS = [
    {"metric": "CPUS", "limit": 2400, "usage": 10},
    {"metric": "NVIDIA_L4_GPUS", "limit": 8, "usage": 0},
    {"metric": "PREEMPTIBLE_NVIDIA_L4_GPUS", "limit": 2, "usage": 0},
    {"metric": "NVIDIA_T4_GPUS", "limit": 4, "usage": 0},
]  # no NVIDIA_H100_GPUS: the region grants none


def _url(kind: str, zone: str, name: str) -> str:
    return f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{zone}/{kind}/{name}"


def compute_api(method: str, path: str, query: dict) -> tuple[int, object]:
    """The three Compute API reads preflight makes, answered like the service (aggregated lists filtered)."""
    wanted = re.fullmatch(r'name = "(.+)"', query.get("filter", [""])[0])
    if path == f"/compute/v1/projects/{PROJECT}/regions/{REGION}":
        zones = [f"https://www.googleapis.com/compute/v1/projects/{PROJECT}/zones/{z}" for z in ZONES]
        return 200, {
            "kind": "compute#region",
            "name": REGION,
            "status": "UP",
            "zones": zones,
            "quotas": QUOTAS,
        }
    if path == f"/compute/v1/projects/{PROJECT}/aggregated/machineTypes" and wanted:
        items = {}
        for zone, types in MACHINES.items():
            found = [
                {
                    "name": n,
                    "guestCpus": 8,
                    "zone": zone,
                    "selfLink": _url("machineTypes", zone, n),
                    **({"accelerators": a} if a else {}),
                }
                for n, a in types.items()
                if n == wanted.group(1)
            ]
            items[f"zones/{zone}"] = (
                {"machineTypes": found}
                if found
                else {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "none"}}
            )
        return 200, {"kind": "compute#machineTypeAggregatedList", "items": items}
    if path == f"/compute/v1/projects/{PROJECT}/aggregated/acceleratorTypes" and wanted:
        items = {
            f"zones/{zone}": {"acceleratorTypes": [{"name": n, "zone": zone, "maximumCardsPerInstance": 8}]}
            for zone, names in ACCELERATORS.items()
            for n in names
            if n == wanted.group(1)
        }
        return 200, {"kind": "compute#acceleratorTypeAggregatedList", "items": items}
    return 404, {"error": {"code": 404, "message": f"The resource '{path}' was not found", "errors": []}}


@contextmanager
def gcp(route=compute_api, **kwargs):
    with serve(route) as fake:
        yield (
            GcpChecker(
                PROJECT,
                REGION,
                credentials=AnonymousCredentials(),
                client_options={"api_endpoint": fake.url},
                **kwargs,
            ),
            fake,
        )


def pool(name, types, zones, accelerator="L4-24GB", **max_nodes):
    return Pool(
        "gcp",
        "main",
        name,
        f"aistack:clusters.main.gpu_pools.{name}",
        accelerator,
        tuple(types),
        tuple(zones),
        max_nodes,
    )


def _check(rows, name, check):
    row = next(r for r in rows if r["pool"] == name)
    return next(c for c in row["checks"] if c["check"] == check)


def test_offered_zones_need_machine_and_accelerator():
    with gcp() as (checker, fake):
        assert checker.offered_zones("g2-standard-8", "L4-24GB") == ["us-central1-a", "us-central1-b"]
        # N1 is in every zone, but the T4 it gets attached only in -a.
        assert checker.offered_zones("n1-standard-8", "T4-16GB") == ["us-central1-a"]
        assert checker.offered_zones("n1-standard-8", None) == ZONES
        assert checker.offered_zones("g2-standard-96", "L4-24GB") == []
    # The real client sent the filter the Compute API expects.
    assert ("GET", f"/compute/v1/projects/{PROJECT}/aggregated/machineTypes") in [
        (m, p) for m, p, *_ in fake.requests
    ]
    assert {"filter": ['name = "g2-standard-8"']} in [q for _, _, q, _ in fake.requests]


def test_zone_without_the_type_fails_with_the_zones_that_offer_it():
    with gcp() as (checker, _):
        rows, _ = evaluate(checker, [pool("l4", ["g2-standard-8"], ZONES, **{"on-demand": 2})])
    zones = _check(rows, "l4", "zones")
    assert zones["status"] == "fail"
    assert zones["detail"] == "g2-standard-8 not offered in us-central1-c"
    assert zones["fixes"] == [
        "g2-standard-8 is offered in us-central1-a, us-central1-b: name only those zones for aistack:clusters.main.gpu_pools.l4"
    ]


def test_quota_within_and_above_need():
    with gcp() as (checker, _):
        rows, offerings = evaluate(
            checker,
            [
                pool("l4", ["g2-standard-8"], ZONES[:2], **{"on-demand": 8, "spot": 3}),
                pool("h100", ["a3-highgpu-8g"], ZONES[:1], accelerator="H100-80GB", **{"on-demand": 2}),
            ],
        )
    l4 = _check(rows, "l4", "quota")
    assert l4["status"] == "fail"  # on-demand 8 GPUs fit 8; spot needs 3 of 2
    assert l4["detail"] == (
        "NVIDIA_L4_GPUS on-demand: need 8 GPUs (8 × g2-standard-8 (1 GPUs)), limit 8; "
        "PREEMPTIBLE_NVIDIA_L4_GPUS spot: need 3 GPUs (3 × g2-standard-8 (1 GPUs)), limit 2"
    )
    assert l4["fixes"] == [
        "request 3 GPUs of PREEMPTIBLE_NVIDIA_L4_GPUS (Preemptible nvidia-l4 GPUs in us-central1) in us-central1: "
        "Console → IAM & Admin → Quotas, project ml-prod, metric PREEMPTIBLE_NVIDIA_L4_GPUS, region us-central1: request 3"
    ]
    h100 = _check(rows, "h100", "quota")
    assert h100["status"] == "fail"
    assert h100["detail"] == "NVIDIA_H100_GPUS on-demand: need 16 GPUs (2 × a3-highgpu-8g (8 GPUs)), limit 0"
    limits = constraints({"offerings": offerings})
    assert limits[("gcp", REGION, "g2-standard-8")] == {
        "zones": ["us-central1-a", "us-central1-b"],
        "max_nodes": 2,
        "max_nodes_by_capacity": {"on-demand": 8, "spot": 2},
    }
    assert limits[("gcp", REGION, "a3-highgpu-8g")]["max_nodes"] == 0


def test_attached_gpus_count_against_the_accelerator_quota():
    with gcp(attached_gpus=2) as (checker, _):
        rows, _ = evaluate(
            checker, [pool("t4", ["n1-standard-8"], ZONES[:1], accelerator="T4-16GB", **{"on-demand": 2})]
        )
    quota = _check(rows, "t4", "quota")
    assert (quota["status"], quota["detail"]) == (
        "pass",
        "NVIDIA_T4_GPUS on-demand: need 4 GPUs (2 × n1-standard-8 (2 GPUs)), limit 4",
    )


def test_accelerator_not_on_gcp_is_not_offered():
    with gcp() as (checker, _):
        assert checker.offered_zones("n1-standard-8", "A10G-24GB") == []
        rows, _ = evaluate(
            checker, [pool("x", ["n1-standard-8"], ZONES[:1], accelerator="A10G-24GB", **{"on-demand": 1})]
        )
    assert _check(rows, "x", "zones")["status"] == "fail"
    assert _check(rows, "x", "quota")["detail"] == "n1-standard-8 on-demand: A10G-24GB is not offered on GCP"


def test_missing_credentials_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(InputError) as err:
        GcpChecker(PROJECT, REGION)
    assert err.value.line().startswith(
        "credentials: gcp: no Google credentials: DefaultCredentialsError: File "
    )
    assert "gcloud auth application-default login" in err.value.line()


def test_permission_denied_is_a_clear_error():
    def forbidden(method, path, query):
        return 403, {
            "error": {"code": 403, "message": "Required 'compute.regions.get' permission", "errors": []}
        }

    with gcp(forbidden) as (checker, _), pytest.raises(InputError) as err:
        checker.offered_zones("g2-standard-8", "L4-24GB")
    assert err.value.line().startswith("credentials: gcp: compute.regions.get: Forbidden: ")
