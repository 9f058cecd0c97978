"""Preflight asks each cloud whether the region offers the cluster's Kubernetes minor in standard support.

AWS at the boto3 boundary (``eks:DescribeClusterVersions``, see conftest), Azure and GCP against a
local fake of their REST APIs, through the real client libraries.
"""

from __future__ import annotations

from aistack import preflight
from aistack.preflight.checks import FAIL, PASS, STANDARD
from tests.fakehttp import serve
from tests.preflight import test_preflight_azure as az
from tests.preflight import test_preflight_gcp as gc
from tests.preflight.test_preflight_aws import l4


def _version(findings):
    (row,) = findings["clusters"]
    return row["checks"][0]


def test_aws_minor_in_standard_support_passes(ec2_quotas, write_stack):
    name, spec = preflight.load(None, write_stack({"l4": l4()}, kubernetes_version="1.35"))
    check = _version(preflight.run(spec, name))
    assert (check["status"], check["detail"]) == (PASS, "1.35 offered in aws us-east-1 in standard support")


def test_aws_minor_only_in_extended_support_fails_with_the_supported_ones(ec2_quotas, write_stack):
    ec2_quotas.eks_versions["1.35"] = "EXTENDED_SUPPORT"
    name, spec = preflight.load(None, write_stack({"l4": l4()}, kubernetes_version="1.35"))
    findings = preflight.run(spec, name)
    check = _version(findings)
    assert findings["status"] == FAIL and check["status"] == FAIL
    assert check["detail"] == "1.35 offered in aws us-east-1 only as EXTENDED_SUPPORT"
    assert check["fixes"] == ["set aistack:clusters.main.kubernetes_version to one in standard support: 1.36"]
    assert "cluster main (aws us-east-1): kubernetes 1.35 FAIL" in preflight.as_text(findings)


def test_aws_minor_not_offered_fails(ec2_quotas, write_stack):
    del ec2_quotas.eks_versions["1.35"]
    name, spec = preflight.load(None, write_stack({"l4": l4()}, kubernetes_version="1.35"))
    check = _version(preflight.run(spec, name))
    assert check["detail"] == "1.35 not offered for new clusters in aws us-east-1"


def aks_versions(values):
    def route(method, path, query):
        if (
            path
            == f"/subscriptions/{az.SUB}/providers/Microsoft.ContainerService/locations/{az.LOCATION}/kubernetesVersions"
        ):
            assert query["api-version"] == ["2024-10-01"]
            return 200, {"values": values}
        return az.resource_manager(method, path, query)

    return route


def test_azure_reads_support_plans():
    values = [
        {"version": "1.34", "isPreview": False, "capabilities": {"supportPlan": ["AKSLongTermSupport"]}},
        {"version": "1.35", "capabilities": {"supportPlan": ["KubernetesOfficial", "AKSLongTermSupport"]}},
        {"version": "1.37", "isPreview": True, "capabilities": {"supportPlan": ["KubernetesOfficial"]}},
    ]
    with az.azure(aks_versions(values)) as (checker, fake):
        assert checker.kubernetes_versions() == {"1.34": "lts-only", "1.35": STANDARD, "1.37": "preview"}
    assert fake.requests[-1][3]["Authorization"] == "Bearer test-token"


def gke_server_config(channels):
    def route(method, path, query):
        if path == f"/v1/projects/{gc.PROJECT}/locations/{gc.REGION}/serverConfig":
            return 200, {"defaultClusterVersion": "1.35.2-gke.1962000", "channels": channels}
        return gc.compute_api(method, path, query)

    return route


def test_gcp_reads_the_regular_channel():
    channels = [
        {"channel": "RAPID", "validVersions": ["1.36.1-gke.1000"]},
        {
            "channel": "REGULAR",
            "validVersions": ["1.35.2-gke.1962000", "1.35.1-gke.1396000", "1.34.6-gke.1068000"],
        },
    ]
    with serve(gke_server_config(channels)) as fake:
        from google.auth.credentials import AnonymousCredentials

        from aistack.preflight.gcp import GcpChecker

        checker = GcpChecker(
            gc.PROJECT,
            gc.REGION,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": fake.url},
        )
        assert checker.kubernetes_versions() == {"1.35": STANDARD, "1.34": STANDARD}
