"""Edge cases of the deploy-access rules beyond their pass/fail/unknown cases (tests/policies/cases.py)."""

from __future__ import annotations

import pytest

from policies.aistack_rules import RULES_BY_ID
from policies.aistack_rules.core import run_resource_rule, run_stack_rule
from policies.offline import to_subject
from tests.policies.cases import res
from tests.policies.cases_deploy_access import (
    AKS,
    EKS_TOKEN,
    GKE,
    K8S_PROVIDER,
    cluster_with_objects,
    eks_public,
    kubeconfig,
)

KUBELOGIN_DEVICE_CODE_YAML = """
apiVersion: v1
kind: Config
users:
- name: aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --login, devicecode, --server-id, x]
"""


def provider_findings(kubeconfig_value) -> tuple[list[str], list]:
    rule = RULES_BY_ID["deploy-kubeconfig-noninteractive"]
    outcome = run_resource_rule(rule, to_subject(res(K8S_PROVIDER, "p", {"kubeconfig": kubeconfig_value})))
    return [m for _, m in outcome.violations], outcome.unknowns


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (KUBELOGIN_DEVICE_CODE_YAML, "kubelogin --login devicecode prompts"),
        (kubeconfig("eks", "get-token", "--cluster-name", "c"), "aws eks get-token has no --role-arn"),
        (kubeconfig(*EKS_TOKEN, interactiveMode="Always"), "interactiveMode: Always"),
        (kubeconfig(command="kubelogin"), "kubelogin has no --login"),
    ],
)
def test_kubeconfigs_that_prompt_or_sign_in_as_nobody_in_particular(value, fragment):
    violations, unknowns = provider_findings(value)
    assert unknowns == [] and any(fragment in v for v in violations), violations


def test_a_provider_without_kubeconfig_reads_the_runners_ambient_one():
    rule = RULES_BY_ID["deploy-kubeconfig-noninteractive"]
    outcome = run_resource_rule(rule, to_subject(res(K8S_PROVIDER, "p", {"context": "laptop"})))
    assert [m for _, m in outcome.violations] == [
        "no kubeconfig: the provider would read the runner's ambient ~/.kube/config or in-cluster config"
    ]


def test_a_masked_or_malformed_kubeconfig_is_undecided_not_a_crash():
    for value in ("[secret]", "{not yaml: [", 42):
        violations, unknowns = provider_findings(value)
        assert violations == [] and unknowns, value


def reachable(resources) -> list[str]:
    rule = RULES_BY_ID["deploy-api-reachable"]
    return [m for _, m in run_stack_rule(rule, [to_subject(r) for r in resources]).violations]


def test_an_allow_list_of_private_or_documentation_ranges_reaches_no_runner():
    (message,) = reachable(cluster_with_objects("aws:eks/cluster:Cluster", eks_public(["203.0.113.0/24"])))
    assert "holds only private, documentation or reserved ranges (203.0.113.0/24)" in message


def test_a_public_gke_endpoint_authorized_for_the_node_range_only_reaches_no_runner():
    gke = {
        "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False},
        "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.50.0.0/20"}]},
    }
    (message,) = reachable(cluster_with_objects(GKE, gke))
    assert "masterAuthorizedNetworksConfig.cidrBlocks holds only private" in message


def test_an_open_aks_api_server_is_reported():
    (message,) = reachable(
        cluster_with_objects(AKS, {"apiServerAccessProfile": {"enablePrivateCluster": False}})
    )
    assert "authorizedIPRanges is empty, so the public endpoint is open to the whole internet" in message


def test_aks_on_kubernetes_rbac_needs_no_azure_role_assignment():
    rule = RULES_BY_ID["deploy-cluster-admins"]
    aks = res(AKS, "main-aks", {"aadProfile": {"enableAzureRBAC": False, "adminGroupObjectIDs": ["g"]}})
    assert run_stack_rule(rule, [to_subject(aks)]).violations == []
