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

from .core import MANDATORY, Rule, Subject, each, get, get_known
from .deploy_serving import REPLICATED, servers
from .tokens import K8S_SERVICE

INFERENCE_POOL = "kubernetes:inference.networking.k8s.io/v1:InferencePool"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
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


RULES = (
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
        "k8s-model-server-network-policy",
        MANDATORY,
        "Every model-server workload (vLLM given GPUs) is selected by a NetworkPolicy restricting its ingress "
        "(stack: joins workloads and policies).",
        (*REPLICATED, NETWORK_POLICY),
        check_servers_have_network_policy,
        stack=True,
    ),
)
