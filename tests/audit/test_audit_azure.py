"""Azure Storage audit through the real azure-mgmt-storage client, against a fake Resource Manager on 127.0.0.1."""

from __future__ import annotations

import copy
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import SansIOHTTPPolicy

from aistack.audit.azure import AzureAuditor
from aistack.errors import InputError
from tests.fakehttp import serve

SUB = "00000000-0000-0000-0000-000000000001"
ACCOUNTS = f"/subscriptions/{SUB}/providers/Microsoft.Storage/storageAccounts"
TAGS = {"managed-by": "aistack", "aistack-stack": "dev"}


def account(name, tags=TAGS, **props):
    properties = {
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "supportsHttpsTrafficOnly": True,
        "allowSharedKeyAccess": False,
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
        "encryption": {
            "keySource": "Microsoft.Storage",
            "services": {"blob": {"enabled": True}},
            "requireInfrastructureEncryption": True,
        },
        **props,
    }
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.Storage/storageAccounts/{name}",
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": "eastus",
        "kind": "StorageV2",
        "sku": {"name": "Standard_ZRS"},
        "tags": tags,
        "properties": properties,
    }


def resource_manager(accounts, containers):
    def route(method, path, query):
        if path == ACCOUNTS:
            return 200, {"value": accounts}
        for a in accounts:
            if path == f"{a['id']}/blobServices/default/containers":
                return 200, {
                    "value": [
                        {"name": n, "properties": {"publicAccess": p}}
                        for n, p in containers.get(a["name"], {}).items()
                    ]
                }
        return 404, {"error": {"code": "ResourceNotFound", "message": path}}

    return route


class FakeToken:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("test-token", int(time.time()) + 3600)


class AllowHttp(SansIOHTTPPolicy):
    """Let the bearer-token policy talk to the plain-HTTP fake (it refuses non-TLS by default)."""

    def on_request(self, request):
        request.context["enforce_https"] = False


def audit(accounts, containers, credential=None):
    with serve(resource_manager(accounts, containers)) as fake:
        auditor = AzureAuditor(
            SUB, credential=credential or FakeToken(), base_url=fake.url, per_call_policies=[AllowHttp()]
        )
        return auditor.audit("dev", {})


def test_compliant_account_passes_and_untagged_accounts_are_ignored():
    entries = audit(
        [account("aistdevmodels"), account("someoneelse", tags={})], {"aistdevmodels": {"models": "None"}}
    )
    assert [e["id"].rsplit("/", 1)[-1] for e in entries] == ["aistdevmodels"]
    assert {c["rule"]: c["status"] for c in entries[0]["checks"]} == {
        "azure-storage-no-public": "pass",
        "azure-storage-https-tls12": "pass",
        "azure-storage-no-shared-key": "pass",
        "azure-storage-encryption": "pass",
        "azure-storage-network": "pass",
    }


def test_account_drifted_by_hand_fails():
    drifted = account(
        "aistdevmodels",
        allowBlobPublicAccess=True,
        minimumTlsVersion="TLS1_0",
        allowSharedKeyAccess=True,
        publicNetworkAccess="Enabled",
        networkAcls={"defaultAction": "Allow"},
    )
    [entry] = audit([drifted], {"aistdevmodels": {"models": "Blob"}})
    failed = {c["rule"]: c["detail"] for c in entry["checks"] if c["status"] == "fail"}
    assert failed == {
        "azure-storage-no-public": "allowBlobPublicAccess True; public containers: models",
        "azure-storage-https-tls12": "httpsOnly True, minimumTlsVersion TLS1_0",
        "azure-storage-no-shared-key": "allowSharedKeyAccess True",
        "azure-storage-network": "publicNetworkAccess Enabled, default network action Allow",
    }


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
    with pytest.raises(InputError) as err:
        audit([copy.deepcopy(account("x"))], {}, credential=EnvironmentCredential())
    assert err.value.line().startswith(
        "credentials: azure: Microsoft.Storage/storageAccounts/read: EnvironmentCredential authentication unavailable."
    )
