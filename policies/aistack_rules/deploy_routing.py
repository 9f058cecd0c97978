"""Inference-aware routing: pools that can route, routes that reach a pool, servers behind a policy.

What these rules prevent on a real cluster:

- an ``InferencePool`` whose endpoint picker Service is missing, does not expose the port the pool
  names, or selects no pods: every Gateway or proxy in front of the pool fails open to nothing or
  returns 5xx (GIE, InferencePool ``endpointPickerRef``: the Service must be in the pool's namespace);
- an ``HTTPRoute`` to an ``InferencePool`` that is not declared: the Gateway marks the route
  ``ResolvedRefs=False`` and answers 500 for it;
- model servers that no ``NetworkPolicy`` selects: anything in the cluster (or, through a
  LoadBalancer, the VPC) reaches the GPUs directly, past the picker and any API key in front of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import MANDATORY, Rule, Subject, each, get, get_known, parse_json_document
from .deploy_serving import REPLICATED, servers
from .tokens import EKS_ADDON, GKE_CLUSTER, K8S_SERVICE

INFERENCE_POOL = "kubernetes:inference.networking.k8s.io/v1:InferencePool"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
GATEWAY = "kubernetes:gateway.networking.k8s.io/v1:Gateway"
GCP_SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
GKE_INTERNAL_CLASSES = ("gke-l7-rilb", "gke-l7-rilb-mc")
"""GKE's internal (regional, Envoy-based) GatewayClasses, which need a proxy-only subnetwork."""
GKE_CLASS_PREFIX = "gke-l7-"
PROXY_ONLY_PURPOSES = ("REGIONAL_MANAGED_PROXY", "INTERNAL_HTTPS_LOAD_BALANCER")
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POOL_GROUP = "inference.networking.k8s.io"


def _namespace(r: Subject) -> Any:
    return get(r.inputs, "metadata.namespace", "default")


def _name(r: Subject) -> Any:
    return get(r.inputs, "metadata.name", r.name)


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_pool_has_picker(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Each InferencePool's endpoint picker is a Service in its namespace, on the named port, selecting pods."""
    services = [s for s in subjects if s.type == K8S_SERVICE]
    workloads = [s for s in subjects if s.type in REPLICATED]

    def judge(pool: Subject) -> Iterator[Any]:
        ref = get_known(pool.inputs, "spec.endpointPickerRef", {})
        name, port = ref.get("name"), (ref.get("port") or {}).get("number")
        if not name:
            yield pool.urn, f"InferencePool {pool.name} names no endpoint picker (spec.endpointPickerRef)"
            return
        found = [s for s in services if _name(s) == name and _namespace(s) == _namespace(pool)]
        if not found:
            yield (
                pool.urn,
                f"InferencePool {pool.name} routes through endpoint picker Service {name}, which is not declared "
                "in its namespace: requests through it fail",
            )
            return
        (service,) = found[:1]
        ports = [p.get("port") for p in get_known(service.inputs, "spec.ports", [])]
        if port is not None and port not in ports:
            yield (
                pool.urn,
                f"InferencePool {pool.name} calls its picker on port {port}, which Service {name} does not expose "
                f"(ports {ports})",
            )
        selector = get_known(service.inputs, "spec.selector", {})
        if not any(
            _namespace(w) == _namespace(service)
            and _selects(selector, get_known(w.inputs, "spec.template.metadata.labels", {}))
            for w in workloads
        ):
            yield (
                pool.urn,
                f"InferencePool {pool.name}'s picker Service {name} selects no declared workload: no picker answers",
            )

    for pool in (s for s in subjects if s.type == INFERENCE_POOL):
        yield from each([lambda p=pool: judge(p)], pool.urn)


def check_route_to_pool(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Each HTTPRoute backend of kind InferencePool names a pool declared in that namespace."""
    pools = {(_namespace(p), _name(p)) for p in subjects if p.type == INFERENCE_POOL}

    def judge(route: Subject) -> Iterator[Any]:
        for i, rule in enumerate(get_known(route.inputs, "spec.rules", [])):
            for j, backend in enumerate(rule.get("backendRefs") or []):
                if backend.get("kind") != "InferencePool" or backend.get("group") != POOL_GROUP:
                    continue
                key = (backend.get("namespace") or _namespace(route), backend.get("name"))
                if key not in pools:
                    yield (
                        route.urn,
                        f"spec.rules.{i}.backendRefs.{j}: HTTPRoute {route.name} sends requests to InferencePool "
                        f"{key[0]}/{key[1]}, which is not declared: the Gateway answers 500",
                    )

    for route in (s for s in subjects if s.type == HTTP_ROUTE):
        yield from each([lambda r=route: judge(r)], route.urn)


def check_servers_have_network_policy(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Each model-server workload is selected by an Ingress NetworkPolicy in its namespace."""
    policies = [s for s in subjects if s.type == NETWORK_POLICY]

    def restricts_ingress(policy: Subject) -> bool:
        types = get_known(policy.inputs, "spec.policyTypes", None)
        return "Ingress" in types if types else True  # no policyTypes: Ingress is implied

    def judge(workload: Subject) -> Iterator[Any]:
        if not servers(workload):
            return
        labels = get_known(workload.inputs, "spec.template.metadata.labels", {})
        for policy in policies:
            if _namespace(policy) != _namespace(workload):
                continue
            selector = get_known(policy.inputs, "spec.podSelector.matchLabels", {})
            expressions = get_known(policy.inputs, "spec.podSelector.matchExpressions", [])
            if (_selects(selector, labels) or (not selector and not expressions)) and restricts_ingress(
                policy
            ):
                return
        yield (
            workload.urn,
            f"model server {workload.name} is selected by no Ingress NetworkPolicy: anything that reaches the "
            "cluster network reaches its GPUs, past the endpoint picker; admit only the picker and the metrics "
            "scrape",
        )

    for workload in (s for s in subjects if s.type in REPLICATED):
        yield from each([lambda w=workload: judge(w)], workload.urn)


def check_gke_gateway_prerequisites(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A GKE Gateway has GKE's Gateway API enabled and, for an internal class, an active proxy-only subnetwork."""
    gateways = [s for s in subjects if s.type == GATEWAY]

    def judge(gateway: Subject) -> Iterator[Any]:
        cls = get_known(gateway.inputs, "spec.gatewayClassName", "")
        if not str(cls).startswith(GKE_CLASS_PREFIX):
            return
        for cluster in (s for s in subjects if s.type == GKE_CLUSTER):
            channel = get_known(cluster.inputs, "gatewayApiConfig.channel", "CHANNEL_DISABLED")
            if channel == "CHANNEL_DISABLED":
                yield (
                    cluster.urn,
                    f"Gateway {gateway.name} uses GKE's class {cls}, but GKE cluster {cluster.name} has the Gateway "
                    "API disabled (gatewayApiConfig.channel): the Gateway and HTTPRoute kinds do not exist there",
                )
        if cls in GKE_INTERNAL_CLASSES:
            proxy_only = [
                s
                for s in subjects
                if s.type == GCP_SUBNETWORK
                and get_known(s.inputs, "purpose", None) in PROXY_ONLY_PURPOSES
                and get_known(s.inputs, "role", "ACTIVE") == "ACTIVE"
            ]
            if not proxy_only:
                yield (
                    gateway.urn,
                    f"Gateway {gateway.name} uses GKE's internal class {cls}, whose proxies need an active proxy-only "
                    "subnetwork (purpose REGIONAL_MANAGED_PROXY) in the region; none is declared, so the Gateway "
                    "is never programmed",
                )

    for gateway in gateways:
        yield from each([lambda g=gateway: judge(g)], gateway.urn)


def check_eks_enforces_network_policy(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Where the stack declares NetworkPolicies, every EKS vpc-cni add-on turns the network policy agent on."""
    if not any(s.type == NETWORK_POLICY for s in subjects):
        return

    def judge(addon: Subject) -> Iterator[Any]:
        if get_known(addon.inputs, "addonName", "") != "vpc-cni":
            return
        raw = get(addon.inputs, "configurationValues", None)
        values = {} if raw is None else parse_json_document(raw, "configurationValues")
        if str(values.get("enableNetworkPolicy", "false")).lower() != "true":
            yield (
                addon.urn,
                f"vpc-cni add-on {addon.name} leaves the network policy agent off (configurationValues "
                "enableNetworkPolicy): the stack's NetworkPolicies are accepted on EKS but not enforced",
            )

    for addon in (s for s in subjects if s.type == EKS_ADDON):
        yield from each([lambda a=addon: judge(a)], addon.urn)


RULES = (
    Rule(
        "deploy-gke-gateway-prerequisites",
        MANDATORY,
        "A Gateway of a GKE class has the Gateway API enabled on the GKE clusters and, for an internal class "
        "(gke-l7-rilb), an active proxy-only subnetwork declared (stack: joins Gateways, clusters, subnetworks).",
        (GATEWAY, GKE_CLUSTER, GCP_SUBNETWORK),
        check_gke_gateway_prerequisites,
        stack=True,
    ),
    Rule(
        "deploy-pool-has-picker",
        MANDATORY,
        "Every InferencePool's endpointPickerRef names a Service declared in its namespace that exposes the "
        "named port and selects a declared workload (stack: joins pools, Services and workloads).",
        (INFERENCE_POOL, K8S_SERVICE, *REPLICATED),
        check_pool_has_picker,
        stack=True,
    ),
    Rule(
        "deploy-route-to-declared-pool",
        MANDATORY,
        "Every HTTPRoute backend of kind InferencePool names a pool declared in that namespace (stack: joins "
        "routes and pools).",
        (HTTP_ROUTE, INFERENCE_POOL),
        check_route_to_pool,
        stack=True,
    ),
)

NETWORK_RULES = (
    Rule(
        "k8s-network-policy-enforced-eks",
        MANDATORY,
        "Where the stack declares NetworkPolicies, every EKS vpc-cni add-on enables its network policy agent "
        '(configurationValues enableNetworkPolicy "true") (stack: joins policies and add-ons).',
        (NETWORK_POLICY, EKS_ADDON),
        check_eks_enforces_network_policy,
        stack=True,
    ),
    Rule(
        "k8s-model-server-network-policy",
        MANDATORY,
        "Every model-server workload (vLLM given GPUs) is selected by a NetworkPolicy restricting its ingress "
        "(stack: joins workloads and policies).",
        (*REPLICATED, NETWORK_POLICY),
        check_servers_have_network_policy,
        stack=True,
    ),
)
