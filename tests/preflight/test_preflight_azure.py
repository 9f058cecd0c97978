"""Azure preflight through the real azure-mgmt-compute client, against a fake Resource Manager on 127.0.0.1."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy

from aistack.errors import InputError
from aistack.preflight.azure import AzureChecker
from aistack.preflight.checks import Pool, constraints, evaluate
from tests.fakehttp import serve

SUB, LOCATION = "00000000-0000-0000-0000-000000000001", "eastus"
A100 = "Standard_NC24ads_A100_v4"
T4 = "Standard_NC4as_T4_v3"
H100 = "Standard_NC40ads_H100_v5"


def sku(name, family, vcpus, zones, restrictions=()):
    return {
        "resourceType": "virtualMachines",
        "name": name,
        "tier": "Standard",
        "family": family,
        "locations": [LOCATION],
        "locationInfo": [{"location": LOCATION, "zones": zones}],
        "capabilities": [{"name": "vCPUs", "value": str(vcpus)}, {"name": "GPUs", "value": "1"}],
        "restrictions": list(restrictions),
    }


SKUS = [
    # Zone 3 of eastus is closed to this subscription for the A100 size.
    sku(
        A100,
        "standardNCADSA100v4Family",
        24,
        ["1", "2", "3"],
        [
            {
                "type": "Zone",
                "values": [LOCATION],
                "reasonCode": "NotAvailableForSubscription",
                "restrictionInfo": {"locations": [LOCATION], "zones": ["3"]},
            },
        ],
    ),  # fmt: skip
    sku(T4, "standardNCASv3_T4Family", 4, ["1", "2", "3"]),
    # The H100 size is closed in the whole location.
    sku(
        H100,
        "standardNCadsH100v5Family",
        40,
        ["1", "2"],
        [
            {
                "type": "Location",
                "values": [LOCATION],
                "reasonCode": "NotAvailableForSubscription",
                "restrictionInfo": {"locations": [LOCATION]},
            },
        ],
    ),  # fmt: skip
    {"resourceType": "disks", "name": "Premium_LRS", "locations": [LOCATION]},
]
USAGES = [
    {"unit": "Count", "currentValue": 0, "limit": 24, "name": {"value": "standardNCADSA100v4Family", "localizedValue": "Standard NCADS_A100_v4 Family vCPUs"}},
    {"unit": "Count", "currentValue": 0, "limit": 8, "name": {"value": "standardNCASv3_T4Family", "localizedValue": "Standard NCASv3_T4 Family vCPUs"}},
    {"unit": "Count", "currentValue": 0, "limit": 12, "name": {"value": "lowPriorityCores", "localizedValue": "Total Regional Low-priority vCPUs"}},
]  # fmt: skip


def resource_manager(method, path, query):
    """The two Compute reads preflight makes, answered like Resource Manager."""
    if path == f"/subscriptions/{SUB}/providers/Microsoft.Compute/skus":
        assert query["$filter"] == [f"location eq '{LOCATION}'"]
        return 200, {"value": SKUS}
    if path == f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/{LOCATION}/usages":
        return 200, {"value": USAGES}
    return 404, {"error": {"code": "ResourceNotFound", "message": path}}


class FakeToken:
    """A token credential as azure-identity's return (the fake does not check it)."""

    def get_token(self, *scopes, **kwargs):
        return AccessToken("test-token", int(time.time()) + 3600)


class AllowHttp(SansIOHTTPPolicy):
    """Let the bearer-token policy talk to the plain-HTTP fake (it refuses non-TLS by default)."""

    def on_request(self, request):
        request.context["enforce_https"] = False


@contextmanager
def azure(route=resource_manager, credential=None):
    with serve(route) as fake:
        yield (
            AzureChecker(
                SUB,
                LOCATION,
                credential=credential or FakeToken(),
                base_url=fake.url,
                per_call_policies=[AllowHttp()],
            ),
            fake,
        )


def pool(name, types, zones, **max_nodes):
    return Pool(
        "azure",
        "main",
        name,
        f"aistack:clusters.main.gpu_pools.{name}",
        "A100-80GB",
        tuple(types),
        tuple(zones),
        max_nodes,
    )


def _check(rows, name, check):
    row = next(r for r in rows if r["pool"] == name)
    return next(c for c in row["checks"] if c["check"] == check)


def test_offered_zones_honour_restrictions():
    with azure() as (checker, fake):
        assert checker.offered_zones(A100, None) == ["1", "2"]
        assert checker.offered_zones(T4, None) == ["1", "2", "3"]
        assert checker.offered_zones(H100, None) == []
        assert checker.offered_zones("Standard_XYZ", None) == []
    assert fake.requests[0][3]["Authorization"] == "Bearer test-token"
    assert len(fake.requests) == 1  # every size answered from one SKU listing


def test_restricted_zone_fails_with_the_zones_that_offer_it():
    with azure() as (checker, _):
        rows, _ = evaluate(checker, [pool("a100", [A100], ["1", "3"], **{"on-demand": 1})])
    zones = _check(rows, "a100", "zones")
    assert zones["status"] == "fail"
    assert zones["detail"] == f"{A100} not offered in 3"
    assert zones["fixes"] == [
        f"{A100} is offered in 1, 2: name only those zones for aistack:clusters.main.gpu_pools.a100"
    ]


def test_quota_within_and_above_need():
    with azure() as (checker, _):
        rows, offerings = evaluate(
            checker,
            [
                pool("a100", [A100], ["1"], **{"on-demand": 2}),
                pool("t4", [T4], ["1"], **{"on-demand": 2, "spot": 3}),
            ],
        )
    a100 = _check(rows, "a100", "quota")
    assert a100["status"] == "fail"
    assert (
        a100["detail"]
        == "standardNCADSA100v4Family on-demand: need 48 vCPUs (2 × Standard_NC24ads_A100_v4 (24 vCPUs)), limit 24"
    )
    assert a100["fixes"] == [
        "request 48 vCPUs of standardNCADSA100v4Family (Standard NCADS_A100_v4 Family vCPUs) in eastus: "
        f"Azure portal → Quotas → Compute, subscription {SUB}, region eastus, "
        "'Standard NCADS_A100_v4 Family vCPUs': new limit 48"
    ]
    t4 = _check(rows, "t4", "quota")
    assert (t4["status"], t4["detail"]) == (
        "pass",
        "standardNCASv3_T4Family on-demand: need 8 vCPUs (2 × Standard_NC4as_T4_v3 (4 vCPUs)), limit 8; "
        "lowPriorityCores spot: need 12 vCPUs (3 × Standard_NC4as_T4_v3 (4 vCPUs)), limit 12",
    )
    assert constraints({"offerings": offerings})[("azure", LOCATION, T4)] == {
        "zones": ["1", "2", "3"],
        "max_nodes": 2,
        "max_nodes_by_capacity": {"on-demand": 2, "spot": 3},
    }


def test_family_without_a_usage_row_has_no_quota():
    with azure() as (checker, _):
        quota = checker.quota(H100, None, "on-demand")
    assert (quota.code, quota.limit, quota.per_node) == ("standardNCadsH100v5Family", 0.0, 40)


def test_missing_credentials_is_a_clear_error(monkeypatch):
    from azure.identity import EnvironmentCredential

    for var in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_USERNAME",
    ):
        monkeypatch.delenv(var, raising=False)
    with azure(credential=EnvironmentCredential()) as (checker, fake), pytest.raises(InputError) as err:
        checker.offered_zones(A100, None)
    assert err.value.line().startswith(
        "credentials: azure: Microsoft.Compute/skus/read: EnvironmentCredential authentication unavailable."
    )
    assert "az login" in err.value.line()
    assert fake.requests == []  # refused before any request left the process


def test_forbidden_is_a_clear_error():
    def forbidden(method, path, query):
        return 403, {
            "error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}
        }

    with azure(forbidden) as (checker, _), pytest.raises(InputError) as err:
        checker.quota(A100, None, "on-demand")
    assert err.value.line().startswith(
        "credentials: azure: Microsoft.Compute/skus/read: (AuthorizationFailed)"
    )
