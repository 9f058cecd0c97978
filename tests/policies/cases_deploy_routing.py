"""Cases for the routing rules (``policies/aistack_rules/deploy_routing.py``), merged into CASES."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import DEPLOYMENT, Case, container, res
from tests.policies.cases_deploy_serving import server

POOL = "kubernetes:inference.networking.k8s.io/v1:InferencePool"
ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SERVICE = "kubernetes:core/v1:Service"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
GKE = "gcp:container/cluster:Cluster"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
ADDON = "aws:eks/addon:Addon"
PICKER_LABELS = {"aistack.io/router": "llm"}


def pool(picker: Any = "llm-epp", port: Any = 9002, name: str = "llm") -> dict[str, Any]:
    return res(
        POOL,
        name,
        {
            "metadata": {"name": name, "namespace": "serving"},
            "spec": {
                "selector": {"matchLabels": {"app": "llm"}},
                "targetPorts": [{"number": 8000}],
                "endpointPickerRef": {"name": picker, "port": {"number": port}, "failureMode": "FailOpen"},
            },
        },
    )


def picker_service(ports: Any = None) -> dict[str, Any]:
    return res(
        SERVICE,
        "llm-epp",
        {
            "metadata": {"name": "llm-epp", "namespace": "serving"},
            "spec": {"selector": PICKER_LABELS, "ports": [{"port": 9002}] if ports is None else ports},
        },
    )


def picker() -> dict[str, Any]:
    spec = {
        "selector": {"matchLabels": PICKER_LABELS},
        "template": {"metadata": {"labels": PICKER_LABELS}, "spec": {"containers": [container()]}},
    }
    return res(DEPLOYMENT, "llm-epp", {"metadata": {"name": "llm-epp", "namespace": "serving"}, "spec": spec})


def route(backend: Any = "llm") -> dict[str, Any]:
    return res(
        ROUTE,
        "llm",
        {
            "metadata": {"name": "llm", "namespace": "serving"},
            "spec": {
                "parentRefs": [{"name": "aistack-inference"}],
                "rules": [
                    {
                        "backendRefs": [
                            {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": backend}
                        ]
                    }
                ],
            },
        },
    )


def network_policy(selector: Any = None, types: Any = None) -> dict[str, Any]:
    return res(
        POLICY,
        "llm",
        {
            "metadata": {"name": "llm", "namespace": "serving"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "llm"} if selector is None else selector},
                "policyTypes": ["Ingress"] if types is None else types,
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": PICKER_LABELS}}], "ports": [{"port": 8000}]}
                ],
            },
        },
    )


def gateway(cls: Any = "gke-l7-rilb") -> dict[str, Any]:
    return res(
        GATEWAY,
        "inference",
        {
            "metadata": {"name": "aistack-inference", "namespace": "serving"},
            "spec": {
                "gatewayClassName": cls,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
            },
        },
    )


def gke(channel: Any = "CHANNEL_STANDARD") -> dict[str, Any]:
    return res(GKE, "main-gke", {"name": "main", "gatewayApiConfig": {"channel": channel}})


def proxy_only(purpose: Any = "REGIONAL_MANAGED_PROXY") -> dict[str, Any]:
    return res(
        SUBNETWORK, "proxy-only", {"ipCidrRange": "10.129.0.0/23", "purpose": purpose, "role": "ACTIVE"}
    )


def vpc_cni(values: Any = '{"enableNetworkPolicy": "true"}') -> dict[str, Any]:
    inputs = {"clusterName": "main", "addonName": "vpc-cni"}
    if values is not None:
        inputs["configurationValues"] = values
    return res(ADDON, "main-vpc-cni", inputs)


DEPLOY_ROUTING_CASES: dict[str, Case] = {
    "deploy-gke-gateway-prerequisites": Case(
        compliant=[gateway(), gke(), proxy_only()],
        violating=[gateway(), gke(), proxy_only(purpose="PRIVATE")],
        unknown=[gateway(), gke(), proxy_only(purpose=U)],
        message="need an active proxy-only subnetwork (purpose REGIONAL_MANAGED_PROXY) in the region",
        orphaned=[gateway()],
    ),
    "k8s-network-policy-enforced-eks": Case(
        compliant=[network_policy(), vpc_cni()],
        violating=[network_policy(), vpc_cni(values=None)],
        unknown=[network_policy(), vpc_cni(values=U)],
        message="leaves the network policy agent off",
        orphaned=[vpc_cni(values=None)],
        orphan_passes=True,
    ),
    "deploy-pool-has-picker": Case(
        compliant=[pool(), picker_service(), picker()],
        violating=[pool(picker="llm-picker"), picker_service(), picker()],
        unknown=[pool(), picker_service(ports=U), picker()],
        message="routes through endpoint picker Service llm-picker, which is not declared in its namespace",
        orphaned=[pool()],
    ),
    "deploy-route-to-declared-pool": Case(
        compliant=[route(), pool()],
        violating=[route(backend="chat"), pool()],
        unknown=[route(backend=U), pool()],
        message="sends requests to InferencePool serving/chat, which is not declared: the Gateway answers 500",
        orphaned=[route()],
    ),
    "k8s-model-server-network-policy": Case(
        compliant=[server(), network_policy()],
        violating=[server(), network_policy(selector={"app": "other"})],
        unknown=[server(), network_policy(types=U)],
        message="model server llm is selected by no Ingress NetworkPolicy",
        orphaned=[server()],
    ),
}
