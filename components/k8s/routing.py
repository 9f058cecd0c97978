"""Inference-aware routing: an InferencePool and its endpoint picker per endpoint, on every cloud.

Requests no longer reach the model servers round-robin through a Service. Per endpoint,
:class:`EndpointRouter` declares:

- an ``InferencePool`` (``inference.networking.k8s.io/v1``, Gateway API Inference Extension) that
  selects the endpoint's model-server pods (``aistack.io/endpoint``) on the server's port;
- its endpoint picker (EPP) from llm-d-router: a Deployment, Service, ServiceAccount, a Role that
  reads exactly what it watches, and its ``EndpointPickerConfig`` scoring each request on the
  replicas' queue depth, KV-cache utilisation and prefix-cache hits (llm-d-router's default profile,
  weights 2/2/3);
- the picker's standalone proxy, an Envoy sidecar in the picker's pod (llm-d-router's
  ``llm-d-router-standalone`` mode): it asks the picker (ext_proc, on loopback) which pod serves each
  request and forwards it there. The endpoint's Service targets this proxy, so ``expose`` keeps its
  meaning on every cloud: a ClusterIP Service, or that Service behind the cloud's internal load
  balancer, plus the TLS Ingress when asked;
- on clouds whose own Gateway implements InferencePool backends (GKE), an ``HTTPRoute`` from the
  cluster's inference Gateway to the pool for ``internal-lb`` endpoints (:class:`ClusterRouting`
  declares the Gateway);
- a ``NetworkPolicy`` that admits traffic to the model servers' port only from the picker's pod (the
  proxy, and the picker's metrics scrape), the cloud's Gateway proxies, and the metrics pipeline's
  namespace.

Why the picker is written here rather than installed from llm-d-router's chart: the chart's EPP
container takes no ``securityContext`` (``config/charts/routerlib/templates/_deployment.yaml`` at
v0.10.0), so its pod is refused by the serving namespace's ``restricted`` Pod Security Standard; and
objects written here are visible to the offline preview, the policy pack and ``--manifests``. The
objects are ported from that chart at the pinned tag (ports, args, probes, RBAC, Envoy config).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from aistack.spec.endpoints import EndpointSpec
from components import contract
from components.k8s import clouds
from components.k8s.pod import SYSTEM_NODES, checksum, container_security, pod_security

EPP_IMAGE = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.10.0"
"""The endpoint picker: llm-d/llm-d-router release v0.10.0 (tag 2026-08-17, the newest release of the
repository's 2026-08-22 snapshot; checked 2026-12-04). The GIE repository moved its picker here in v1.6.0."""
EPP_UID = 65532
"""The user the picker's image runs as (``USER 65532:65532`` in llm-d-router's ``Dockerfile.epp``)."""
ENVOY_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.39.5"
"""The standalone proxy: Envoy v1.39.5, distroless (runs as 65532), the newest release of the newest
stable line (1.39.5, 2026-10-22: https://www.envoyproxy.io/docs/envoy/v1.39.5/version_history/v1.37/v1.37.html
lists v1.39 as the newest line; checked 2026-12-04). llm-d-router v0.10.0's chart pins distroless-v1.33.2,
past Envoy's one-year support window by 2026-12; 1.39 (2026-07) is supported until 2027-07
(envoyproxy/envoy RELEASES.md). Patch releases carry the CVE fixes: take each one."""

POOL_API = "inference.networking.k8s.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
ROUTER_LABEL = "aistack.io/router"
"""Label of an endpoint's picker pods (never ``aistack.io/endpoint``: the pool must not select them)."""
EXT_PROC_PORT = 9002
HEALTH_PORT = 9003
METRICS_PORT = 9090
PROXY_PORT = 8081
PROXY_PORT_NAME = "proxy"
PROXY_READY_PORT = 19001
CONFIG_FILE = "epp.yaml"

SCORERS = {"queue-scorer": 2, "kv-cache-utilization-scorer": 2, "prefix-cache-scorer": 3}
"""The picker's scorers and weights: llm-d-router v0.10.0's default profile
(``config/charts/routerlib/templates/_config.yaml``), the one llm-d benchmarks against round robin."""

CRD_FILE = (
    Path(__file__).resolve().parents[2]
    / "schemas/crds/gateway-api-inference-extension/inference.networking.k8s.io_inferencepools.yaml"
)
"""The InferencePool CRD, vendored byte for byte from GIE v1.6.0 (schemas/crds/SOURCES.md)."""


def picker_config(flow_control: bool = False) -> str:
    """The picker's ``EndpointPickerConfig`` (``llm-d.ai/v1alpha1``): scrape vLLM's gauges, score, pick.

    ``metrics-data-source`` and ``core-metrics-extractor`` read each model server's ``/metrics``
    (queue length, KV-cache usage); the three scorers rank the pods and the default picker takes the best.
    ``flow_control`` (an endpoint that may scale to zero) turns on the ``flowControl`` feature gate
    (llm-d-router ``pkg/epp/flowcontrol``: ``FeatureGate = "flowControl"``): the picker holds requests
    in its queue while the pool has no ready server and exports the queue as
    ``llm_d_epp_flow_control_queue_size``, KEDA's scale-from-zero trigger (llm-d's KEDA guide enables it
    the same way; ``components/k8s/serving.py``).
    """
    config = {
        "apiVersion": "llm-d.ai/v1alpha1",
        "kind": "EndpointPickerConfig",
        **({"featureGates": ["flowControl"]} if flow_control else {}),
        "plugins": [
            *({"type": scorer} for scorer in SCORERS),
            {"type": "metrics-data-source", "parameters": {"scheme": "http", "path": "/metrics"}},
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [
            {
                "name": "default",
                "plugins": [{"pluginRef": scorer, "weight": weight} for scorer, weight in SCORERS.items()],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def envoy_config(tls: bool = False) -> str:
    """The sidecar proxy's configuration: llm-d-router v0.10.0's standalone Envoy preset.

    One listener on :data:`PROXY_PORT` runs every request through the picker (ext_proc over TLS on
    loopback, bodies streamed both ways, failing open to the pod Envoy would pick itself if the picker
    is down, like the pool's ``FailOpen``), then forwards it to the pod the picker named in
    ``x-gateway-destination-endpoint`` (an ``ORIGINAL_DST`` cluster). Generations stream for minutes:
    the route and its idle timeout are a day, as upstream. A second listener answers ``/ready``.

    ``tls`` (a ``public-lb`` endpoint): a third listener, ``public`` on :data:`PUBLIC_PORT`, runs the
    same chain behind TLS with the certificate cert-manager keeps in the mounted Secret (see
    :func:`public_listener`); the public load balancer targets it, in-cluster clients keep the plain one.
    """
    http_manager = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    router = {
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    }
    config = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 19000}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "ready",
                    "address": {"socket_address": {"address": "0.0.0.0", "port_value": PROXY_READY_PORT}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": http_manager,
                                        "stat_prefix": "ready",
                                        "route_config": {"name": "ready", "virtual_hosts": []},
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.health_check",
                                                "typed_config": {
                                                    "@type": "type.googleapis.com/envoy.extensions.filters.http"
                                                    ".health_check.v3.HealthCheck",
                                                    "pass_through_mode": False,
                                                    "headers": [
                                                        {"name": ":path", "string_match": {"exact": "/ready"}}
                                                    ],
                                                },
                                            },
                                            router,
                                        ],
                                    },
                                }
                            ]
                        }
                    ],
                },
                {
                    "name": "models",
                    "address": {"socket_address": {"address": "0.0.0.0", "port_value": PROXY_PORT}},
                    "per_connection_buffer_limit_bytes": 32768,
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": http_manager,
                                        "stat_prefix": "models",
                                        "route_config": {
                                            "name": "models",
                                            "virtual_hosts": [
                                                {
                                                    "name": "models",
                                                    "domains": ["*"],
                                                    "routes": [
                                                        {
                                                            "match": {"prefix": "/"},
                                                            "route": {
                                                                "cluster": "original_destination_cluster",
                                                                "timeout": "86400s",
                                                                "idle_timeout": "86400s",
                                                            },
                                                        }
                                                    ],
                                                }
                                            ],
                                        },
                                        "http_filters": [
                                            {
                                                "name": "envoy.filters.http.ext_proc",
                                                "typed_config": {
                                                    "@type": "type.googleapis.com/envoy.extensions.filters.http"
                                                    ".ext_proc.v3.ExternalProcessor",
                                                    "failure_mode_allow": True,
                                                    "grpc_service": {
                                                        "envoy_grpc": {
                                                            "cluster_name": "ext_proc",
                                                            "authority": f"localhost:{EXT_PROC_PORT}",
                                                        },
                                                        "timeout": "10s",
                                                    },
                                                    "processing_mode": {
                                                        "request_header_mode": "SEND",
                                                        "response_header_mode": "SEND",
                                                        "request_body_mode": "FULL_DUPLEX_STREAMED",
                                                        "response_body_mode": "FULL_DUPLEX_STREAMED",
                                                        "request_trailer_mode": "SEND",
                                                        "response_trailer_mode": "SEND",
                                                    },
                                                    "message_timeout": "1000s",
                                                },
                                            },
                                            {
                                                **router,
                                                "typed_config": {
                                                    **router["typed_config"],
                                                    "suppress_envoy_headers": True,
                                                },
                                            },
                                        ],
                                        "use_remote_address": True,
                                        "normalize_path": True,
                                        "merge_slashes": True,
                                        "common_http_protocol_options": {
                                            "headers_with_underscores_action": "REJECT_REQUEST"
                                        },
                                        "path_with_escaped_slashes_action": "UNESCAPE_AND_REDIRECT",
                                    },
                                }
                            ]
                        }
                    ],
                },
            ],
            "clusters": [
                {
                    "name": "original_destination_cluster",
                    "type": "ORIGINAL_DST",
                    "connect_timeout": "1000s",
                    "lb_policy": "CLUSTER_PROVIDED",
                    "original_dst_lb_config": {
                        "use_http_header": True,
                        "http_header_name": "x-gateway-destination-endpoint",
                    },
                },
                {
                    "name": "ext_proc",
                    "type": "STATIC",
                    "connect_timeout": "86400s",
                    "lb_policy": "LEAST_REQUEST",
                    # The picker serves ext_proc over TLS with a certificate it makes itself (its
                    # --secure-serving default); on loopback there is nothing to verify it against.
                    "transport_socket": {
                        "name": "envoy.transport_sockets.tls",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                            "common_tls_context": {"alpn_protocols": ["h2"], "validation_context": {}},
                        },
                    },
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "load_assignment": {
                        "cluster_name": "ext_proc",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {
                                                    "address": "127.0.0.1",
                                                    "port_value": EXT_PROC_PORT,
                                                }
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                },
            ],
        },
    }
    if tls:
        listeners = config["static_resources"]["listeners"]
        listeners.append(public_listener(next(x for x in listeners if x["name"] == "models")))
    return yaml.safe_dump(config, sort_keys=False)


PUBLIC_PORT = 8443
PUBLIC_PORT_NAME = "https"
TLS_DIR = "/etc/envoy-tls"
"""Where the picker pod mounts the endpoint's certificate Secret (``tls.crt``, ``tls.key``); not under
``/etc/envoy``, the ConfigMap volume, in which the kubelet cannot create a mount point."""


def public_listener(models: dict) -> dict:
    """The ``models`` listener again, on :data:`PUBLIC_PORT` behind TLS (TLS 1.2 at least).

    The certificate files come from the Secret cert-manager writes, mounted at :data:`TLS_DIR`.
    ``watched_directory`` makes Envoy re-read both files when the kubelet swaps the Secret's symlinked
    directory after a renewal, so a renewed certificate is served without a restart (Envoy API,
    ``extensions.transport_sockets.tls.v3.TlsCertificate``: "watched_directory ... useful when using
    Kubernetes Secrets"). ALPN offers HTTP/1.1 only: the proxy's upstreams are HTTP/1.1 model servers.
    """
    listener = copy.deepcopy(models)
    listener["name"] = "public"
    listener["address"] = {"socket_address": {"address": "0.0.0.0", "port_value": PUBLIC_PORT}}
    chain = listener["filter_chains"][0]
    chain["filters"][0]["typed_config"]["stat_prefix"] = "public"
    chain["transport_socket"] = {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
                "alpn_protocols": ["http/1.1"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": f"{TLS_DIR}/tls.crt"},
                        "private_key": {"filename": f"{TLS_DIR}/tls.key"},
                        "watched_directory": {"path": TLS_DIR},
                    }
                ],
            },
        },
    }
    return listener


def router_name(endpoint: str) -> str:
    """The Kubernetes name of an endpoint's picker objects (``<endpoint>-epp``, as llm-d-router names them)."""
    return f"{endpoint}-epp"


def inference_crd(name: str, opts: pulumi.ResourceOptions) -> k8s.apiextensions.v1.CustomResourceDefinition:
    """The InferencePool CRD as a cluster object, from the vendored upstream file (GIE v1.6.0)."""
    crd = yaml.safe_load(CRD_FILE.read_text())
    return k8s.apiextensions.v1.CustomResourceDefinition(
        name,
        metadata=crd["metadata"],
        spec=crd["spec"],
        # A CRD is cluster-wide state other workloads may use: never deleted by a replacement.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )


class StatusResource(k8s.apiextensions.CustomResource):
    """A custom resource whose ``status`` the program reads back (the inference Gateway's addresses).

    The SDK's ``CustomResource`` registers only the properties it was given and drops every other output
    the engine returns, so ``status`` is asked for explicitly (as the typed kinds, e.g. ``Service``, do).
    """

    status: pulumi.Output[Any]

    def _internal_init(  # noqa: PLR0913 - the SDK's signature
        self,
        resource_name: str,
        api_version: str,
        kind: str,
        opts: pulumi.ResourceOptions | None = None,
        metadata: Any = None,
        spec: Any = None,
        __props__: Any = None,
    ) -> None:
        props = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, "status": None}
        pulumi.CustomResource.__init__(self, f"kubernetes:{api_version}:{kind}", resource_name, props, opts)


def gateway_address(status: Any) -> str | None:
    """A Gateway's address from its status (``status.addresses[0].value``), once its controller set one."""
    addresses = (status or {}).get("addresses") or []
    return addresses[0].get("value") if addresses else None


class ClusterRouting(contract.Component):
    """What one cluster needs before its endpoints can be routed: the APIs and the cloud's Gateway.

    Children: ``-inferencepool-crd`` where the cloud does not install the InferencePool API itself
    (EKS, AKS), and ``-gateway`` (the inference Gateway in the serving namespace, of the GatewayClass
    the cloud's row names) where the cloud's Gateway implements InferencePool backends (GKE) and an
    endpoint on the cluster is exposed through the internal load balancer.

    Outputs: ``gateway`` (the Gateway's name, or ``None``).
    """

    CLOUD = "k8s"
    CONCEPT = "ClusterRouting"
    OUTPUTS = ("gateway",)

    def __init__(
        self,
        name: str,
        *,
        cloud: str,
        namespace: pulumi.Input[str],
        endpoints: Mapping[str, EndpointSpec],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        row = clouds.row(cloud).routing
        self.apis: list[pulumi.Resource] = []
        if row.install_crds:
            self.apis.append(inference_crd(self.child("inferencepool-crd"), self.opts()))
        self.gateway_resource: StatusResource | None = None
        if row.gateway_class and any(e.expose == "internal-lb" for e in endpoints.values()):
            self.gateway_resource = StatusResource(
                self.child("gateway"),
                api_version=GATEWAY_API,
                kind="Gateway",
                metadata={
                    "name": GATEWAY_NAME,
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/managed-by": "aistack"},
                },
                spec={
                    "gatewayClassName": row.gateway_class,
                    # Routes come from the serving namespace only (the default `Same`, said explicitly).
                    "listeners": [
                        {
                            "name": "http",
                            "protocol": "HTTP",
                            "port": GATEWAY_PORT,
                            "allowedRoutes": {"namespaces": {"from": "Same"}},
                        }
                    ],
                },
                opts=self.opts(depends_on=self.apis),
            )
        self.finish(gateway=self.gateway_resource.metadata["name"] if self.gateway_resource else None)


GATEWAY_PORT = 80
"""The inference Gateway's HTTP listener."""

GATEWAY_NAME = "aistack-inference"
"""The inference Gateway's name, one per cluster, in the serving namespace."""


class EndpointRouter(contract.Component):
    """One endpoint's InferencePool, endpoint picker, standalone proxy, route and NetworkPolicy.

    Children: ``-service-account``, ``-role`` and ``-role-binding`` (get/list/watch on pods,
    InferencePools and InferenceObjectives in the serving namespace, nothing else), ``-config``
    (ConfigMap: the picker's ``EndpointPickerConfig`` and the proxy's Envoy configuration),
    ``-deployment`` (the picker and its Envoy sidecar, restricted, on the system pool),
    ``-service`` (ClusterIP: ext_proc for cloud Gateways, the picker's metrics), ``-pool``
    (InferencePool), ``-route`` (HTTPRoute from the cluster's Gateway, when there is one) and
    ``-network-policy`` (on the model servers).

    Outputs: ``pool`` (InferencePool name), ``selector`` (the picker pods' labels, which the
    endpoint's Service targets), ``port_name`` (the proxy's named port).
    """

    CLOUD = "k8s"
    CONCEPT = "EndpointRouter"
    OUTPUTS = ("pool", "selector", "port_name")

    def __init__(
        self,
        name: str,
        spec: EndpointSpec,
        *,
        endpoint: str,
        cloud: str,
        namespace: pulumi.Input[str],
        server_selector: Mapping[str, str],
        cluster_routing: ClusterRouting | None = None,
        gateway_sources: tuple[str, ...] = (),
        group_selector: Mapping[str, str] | None = None,
        tls_secret: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        row = clouds.row(cloud).routing
        gateway = cluster_routing.gateway_resource if cluster_routing else None
        apis = cluster_routing.apis if cluster_routing else []
        routed = gateway is not None and spec.expose == "internal-lb"
        epp = router_name(endpoint)
        selector = {ROUTER_LABEL: endpoint}
        labels = {**selector, "app.kubernetes.io/name": epp, "app.kubernetes.io/managed-by": "aistack"}
        metadata = {"name": epp, "namespace": namespace, "labels": labels}
        account = k8s.core.v1.ServiceAccount(
            self.child("service-account"), metadata=metadata, opts=self.opts()
        )
        role = k8s.rbac.v1.Role(self.child("role"), metadata=metadata, rules=RULES, opts=self.opts())
        binding = k8s.rbac.v1.RoleBinding(
            self.child("role-binding"),
            metadata=metadata,
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": namespace}],
            opts=self.opts(),
        )
        files = {
            CONFIG_FILE: picker_config(spec.min_replicas == 0),
            "envoy.yaml": envoy_config(tls=tls_secret is not None),
        }
        config = k8s.core.v1.ConfigMap(self.child("config"), metadata=metadata, data=files, opts=self.opts())
        pool = k8s.apiextensions.CustomResource(
            self.child("pool"),
            api_version=POOL_API,
            kind="InferencePool",
            metadata={"name": endpoint, "namespace": namespace, "labels": dict(labels_of(endpoint))},
            spec={
                "selector": {"matchLabels": dict(server_selector)},
                "targetPorts": [{"number": spec.port}],
                "appProtocol": "http",
                "endpointPickerRef": {
                    "name": epp,
                    "port": {"number": EXT_PROC_PORT},
                    # A picker outage degrades to the proxy's own choice instead of failing requests.
                    "failureMode": "FailOpen",
                },
            },
            # The kind exists once its CRD does (EKS, AKS: declared by ClusterRouting; GKE installs it).
            opts=self.opts(depends_on=list(apis)),
        )
        k8s.apps.v1.Deployment(
            self.child("deployment"),
            metadata=metadata,
            spec={
                # One active picker: the prefix-cache scorer keeps its index in memory (llm-d-router's
                # chart runs one replica and Recreate for the same reason).
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"aistack.io/config-sha256": checksum("".join(files.values()))},
                    },
                    "spec": picker_pod(
                        epp, endpoint, namespace, config.metadata.name, account.metadata.name, tls_secret
                    ),
                },
            },
            # The picker reads its pool and the pods from its first second: readiness waits for neither
            # a missing binding nor a missing pool.
            opts=self.opts(depends_on=[binding, pool]),
        )
        k8s.core.v1.Service(
            self.child("service"),
            metadata=metadata,
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [
                    # GKE's load balancer calls the picker here (HTTP/2 cleartext is what the Service
                    # announces; the picker answers with TLS, as llm-d-router's chart sets it).
                    {
                        "name": "grpc-ext-proc",
                        "port": EXT_PROC_PORT,
                        "target_port": EXT_PROC_PORT,
                        "protocol": "TCP",
                        "app_protocol": "kubernetes.io/h2c",
                    },
                    {
                        "name": "http-metrics",
                        "port": METRICS_PORT,
                        "target_port": METRICS_PORT,
                        "protocol": "TCP",
                    },
                ],
            },
            opts=self.opts(),
        )
        if routed:
            k8s.apiextensions.CustomResource(
                self.child("route"),
                api_version=GATEWAY_API,
                kind="HTTPRoute",
                metadata={"name": endpoint, "namespace": namespace, "labels": dict(labels_of(endpoint))},
                spec={
                    "parentRefs": [{"name": gateway.metadata["name"]}],
                    "rules": [
                        {
                            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                            "backendRefs": [
                                {
                                    "group": "inference.networking.k8s.io",
                                    "kind": "InferencePool",
                                    "name": pool.metadata["name"],
                                }
                            ],
                        }
                    ],
                },
                opts=self.opts(depends_on=[gateway, pool]),
            )
            gke_policies(self, endpoint, namespace, spec.port, pool)
        k8s.networking.v1.NetworkPolicy(
            self.child("network-policy"),
            metadata={"name": endpoint, "namespace": namespace, "labels": dict(labels_of(endpoint))},
            spec=network_policy(
                server_selector,
                selector,
                spec.port,
                scrape_namespaces=row.scrape_namespaces,
                # The cloud Gateway's proxies and health checks, only where it routes this endpoint.
                source_ranges=(*gateway_sources, *row.gateway_source_ranges) if routed else (),
                group=group_selector,
            ),
            opts=self.opts(),
        )
        self.finish(pool=pool.metadata["name"], selector=selector, port_name=PROXY_PORT_NAME)


def labels_of(endpoint: str) -> dict[str, str]:
    """Labels of an endpoint's routing objects (not its pods')."""
    return {"app.kubernetes.io/name": endpoint, "app.kubernetes.io/managed-by": "aistack"}


RULES = [
    # Pods: the pool's members and their addresses. InferencePools: its own pool. InferenceObjectives:
    # per-request priorities, watched when their CRD is installed (either group), as llm-d-router's chart grants.
    {"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {
        "api_groups": ["inference.networking.k8s.io"],
        "resources": ["inferencepools"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "api_groups": ["inference.networking.x-k8s.io", "llm-d.ai"],
        "resources": ["inferenceobjectives"],
        "verbs": ["get", "list", "watch"],
    },
]
"""The picker's Role: read-only, namespaced (llm-d-router v0.10.0 ``templates/rbac.yaml``, less the
model-rewrite API aistack does not use; no metrics-auth ClusterRole: ``--metrics-endpoint-auth=false``)."""


def picker_pod(
    epp: str,
    endpoint: str,
    namespace: pulumi.Input[str],
    config: pulumi.Input[str],
    account: pulumi.Input[str],
    tls_secret: pulumi.Input[str] | None = None,
) -> dict:
    """The picker's pod: the llm-d-router endpoint picker and its Envoy sidecar, restricted, on the system pool.

    ``tls_secret``: the ``kubernetes.io/tls`` Secret of a ``public-lb`` endpoint's certificate, mounted
    read-only into the proxy, which then also listens with TLS on :data:`PUBLIC_PORT`. The kubelet keeps
    the pod in ``ContainerCreating`` until the Secret exists (first issuance), then starts it.
    """
    epp_container = {
        "name": "epp",
        "image": EPP_IMAGE,
        "args": [
            "--pool-name",
            endpoint,
            "--pool-namespace",
            namespace,
            "--pool-group",
            "inference.networking.k8s.io",
            "--zap-encoder",
            "json",
            "--config-file",
            f"/config/{CONFIG_FILE}",
            "--grpc-health-port",
            str(HEALTH_PORT),
            "--tracing=false",
            # Its metrics need no token review (no cluster-wide RBAC); they stay inside the cluster.
            "--metrics-endpoint-auth=false",
        ],
        "ports": [
            {"name": "grpc", "container_port": EXT_PROC_PORT, "protocol": "TCP"},
            {"name": "grpc-health", "container_port": HEALTH_PORT, "protocol": "TCP"},
            {"name": "metrics", "container_port": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": [
            {"name": "NAMESPACE", "value_from": {"field_ref": {"field_path": "metadata.namespace"}}},
            {"name": "POD_NAME", "value_from": {"field_ref": {"field_path": "metadata.name"}}},
        ],
        # llm-d-router's chart asks 8 CPU / 8 GiB, sized for 16-pod H100 pools; one picker for a handful
        # of replicas needs far less, and must fit next to the system pods on a 2-vCPU system node
        # (m6i.large, e2-standard-2). CPU may burst to the limit under load.
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
        "liveness_probe": {
            "grpc": {"port": HEALTH_PORT, "service": "inference-extension"},
            "initial_delay_seconds": 5,
            "period_seconds": 10,
        },
        "readiness_probe": {
            "grpc": {"port": HEALTH_PORT, "service": "inference-extension"},
            "period_seconds": 2,
        },
        "security_context": container_security(EPP_UID),
        "volume_mounts": [
            {"name": "config", "mount_path": "/config", "read_only": True},
            {"name": "tmp", "mount_path": "/tmp"},
        ],
    }
    proxy = {
        "name": "envoy",
        "image": ENVOY_IMAGE,
        "args": [
            "--service-node",
            epp,
            "--log-level",
            "warn",
            "--drain-strategy",
            "immediate",
            "--drain-time-s",
            "60",
            # No hot restart: it needs shared memory, which a restricted pod does not get.
            "--disable-hot-restart",
            "-c",
            "/etc/envoy/envoy.yaml",
        ],
        "ports": [
            {"name": PROXY_PORT_NAME, "container_port": PROXY_PORT, "protocol": "TCP"},
            {"name": "proxy-ready", "container_port": PROXY_READY_PORT, "protocol": "TCP"},
            *(
                [{"name": PUBLIC_PORT_NAME, "container_port": PUBLIC_PORT, "protocol": "TCP"}]
                if tls_secret
                else []
            ),
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "readiness_probe": {
            "http_get": {"path": "/ready", "port": PROXY_READY_PORT},
            "period_seconds": 5,
            "failure_threshold": 1,
        },
        "security_context": container_security(EPP_UID),
        "volume_mounts": [
            {"name": "config", "mount_path": "/etc/envoy", "read_only": True},
            *([{"name": "tls", "mount_path": TLS_DIR, "read_only": True}] if tls_secret else []),
        ],
    }
    return {
        "service_account_name": account,
        "security_context": pod_security(EPP_UID),
        "node_selector": dict(SYSTEM_NODES),
        # Longest in-flight request through the proxy it drains for (llm-d-router's chart: 130 s).
        "termination_grace_period_seconds": 130,
        "containers": [epp_container, proxy],
        "volumes": [
            {
                "name": "config",
                "config_map": {
                    "name": config,
                    "items": [
                        {"key": CONFIG_FILE, "path": CONFIG_FILE},
                        {"key": "envoy.yaml", "path": "envoy.yaml"},
                    ],
                },
            },
            {"name": "tmp", "empty_dir": {}},
            *([{"name": "tls", "secret": {"secret_name": tls_secret}}] if tls_secret else []),
        ],
    }


def network_policy(
    servers: Mapping[str, str],
    picker: Mapping[str, str],
    port: int,
    *,
    scrape_namespaces: tuple[str, ...],
    source_ranges: tuple[str, ...] = (),
    group: Mapping[str, str] | None = None,
) -> dict:
    """The model servers' ingress: their port only, only from the picker's pod, the cloud's Gateway
    proxies and the metrics pipeline's namespace. Egress is left open (the store, DNS, the API).

    ``group``: the pods of a multi-node endpoint (leaders and workers of its LeaderWorkerSet). The
    policy then covers them all, and admits any port between them: the workers join the leader's
    torch.distributed store (``--master-port``, 29501) and the ranks exchange NCCL traffic on ports
    they pick at run time (vLLM 0.34.0 ``vllm/config/parallel.py``).

    Kubelet probes come from the node itself, which Cilium (AKS, GKE Dataplane V2) and the VPC CNI's
    network policy agent (EKS) admit whatever the policy says.
    """
    peers: list[dict] = [{"pod_selector": {"match_labels": dict(picker)}}]
    peers += [
        {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": ns}}}
        for ns in scrape_namespaces
    ]
    peers += [{"ip_block": {"cidr": cidr}} for cidr in source_ranges]
    within = [{"from": [{"pod_selector": {"match_labels": dict(group)}}]}] if group else []
    return {
        "pod_selector": {"match_labels": dict(group or servers)},
        "policy_types": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"port": port, "protocol": "TCP"}]}, *within],
    }


GKE_POLICY_API = "networking.gke.io/v1"


def gke_policies(
    parent: EndpointRouter, endpoint: str, namespace: pulumi.Input[str], port: int, pool: pulumi.Resource
) -> None:
    """GKE's load-balancer settings for a routed pool: ``-health-check`` and ``-backend-policy``.

    Without a HealthCheckPolicy the load balancer probes ``/`` on the serving port, which vLLM answers
    with 404, and never sends a request; without a GCPBackendPolicy its backend timeout is 30 s, which
    cuts longer generations. Both as llm-d-router v0.10.0's chart sets them for ``provider.name=gke``
    (``templates/gke.yaml``: ``/health`` on the target port, 300 s), and GKE, "Deploy GKE Inference
    Gateway" (configure a health check and backend policy for the InferencePool).
    """
    target = {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": endpoint}
    metadata = {"name": endpoint, "namespace": namespace, "labels": labels_of(endpoint)}
    k8s.apiextensions.CustomResource(
        parent.child("health-check"),
        api_version=GKE_POLICY_API,
        kind="HealthCheckPolicy",
        metadata=metadata,
        spec={
            "targetRef": target,
            "default": {
                "timeoutSec": 2,
                "checkIntervalSec": 2,
                "config": {"type": "HTTP", "httpHealthCheck": {"requestPath": "/health", "port": port}},
            },
        },
        opts=parent.opts(depends_on=[pool]),
    )
    k8s.apiextensions.CustomResource(
        parent.child("backend-policy"),
        api_version=GKE_POLICY_API,
        kind="GCPBackendPolicy",
        metadata=metadata,
        spec={"targetRef": target, "default": {"timeoutSec": BACKEND_TIMEOUT_S}},
        opts=parent.opts(depends_on=[pool]),
    )


BACKEND_TIMEOUT_S = 300
"""GKE load balancer's backend timeout for a routed pool, s (llm-d-router's GKE default; GKE's own is 30)."""
