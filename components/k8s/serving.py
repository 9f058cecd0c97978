"""Serving endpoints: an autoscaled, GPU-scheduled OpenAI-compatible server per model.

Each endpoint runs in the cluster's serving namespace under the service account its store's
WorkloadIdentity trusts, streams its weights straight from the store to the GPUs with vLLM's Run:ai
model streamer (no copy step, no Hugging Face token), and is reached through a ClusterIP Service (an internal load balancer or a TLS Ingress
only when asked). KEDA scales it (a ``ScaledObject``, see :func:`scaled_object_spec`); a stopping
replica drains (see :func:`drain`). Per-cloud differences come from the cloud's row in
``components/k8s/clouds.py``. A replica larger than one node is a LeaderWorkerSet group
(``components/k8s/multinode.py``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aistack.spec.endpoints import QUEUE_FULL, SCALE_OUT_AT, EndpointSpec, accelerator_gib, memory_bytes
from components import contract, gpu
from components.k8s import clouds, keda, multinode, routing, weights
from components.k8s.pod import container_security, pod_security

UID = 1000
"""Numeric user and group the serving containers run as (any non-zero id; images need no user entry)."""

SCRATCH_ROOT = "/tmp"
SCRATCH_GIB = 10
"""Size of the writable scratch volume (``/tmp``, GiB): home, vLLM's assets cache with the config and
tokenizer files the streamer pulls from the store (MiBs), and the torch.compile/Triton caches."""
CACHE_ROOT = "/cache"
"""Mount point of the opt-in node-local weight cache (``node_cache_gib``)."""
ASSETS_CACHE = f"{SCRATCH_ROOT}/vllm-assets"
"""``VLLM_ASSETS_CACHE``: vLLM pulls a remote model's ``*.json``, ``*.model`` and ``*.py`` files (config,
tokenizer) into ``<this>/model_streamer/<hash>`` before streaming the weights (vLLM 0.34.0
``config/model.py`` ``maybe_pull_model_tokenizer_for_runai``); it must be writable under the read-only root."""
LOAD_FORMAT = "runai_streamer"
ENDPOINT_LABEL = "aistack.io/endpoint"
GPU_RESOURCE = "nvidia.com/gpu"
PROBE_PERIOD_S = 10
PORT_NAME = "http"
"""Name of the server's port: the Service, probes and the metrics scrape address it by name."""

WEIGHTS_ANNOTATION = "aistack.io/weights"
"""Workload annotation: ``uploaded`` (the store holds the weights) or ``pending`` (held at 0 replicas)."""
MEMORY_ANNOTATION = "aistack.io/gpu-memory"
"""Workload annotation: the memory arithmetic behind ``--max-model-len`` (JSON, see :func:`memory_figures`)."""
MAX_REQUEST_ANNOTATION = "aistack.io/max-request-s"
"""Workload annotation: the endpoint's longest request, s (``max_request_s``), which the drain covers."""
SKIP_AWAIT = "pulumi.com/skipAwait"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"

EPP_LABEL = routing.ROUTER_LABEL
"""Pod label of an endpoint's picker (the routing layer's ``<endpoint>-epp`` Deployment): its value is
the endpoint's name. The metrics pipeline scrapes pods carrying it (``components/k8s/metrics.py``)."""
EPP_QUEUE_METRIC = "llm_d_epp_flow_control_queue_size"
"""Requests the picker holds in its flow-control queue for lack of backend capacity (llm-d's KEDA guide,
``guides/workload-autoscaling/keda-epp``): the one demand signal that exists with no server running."""

# Node autoscalers: never remove a node to move a serving pod (a reload costs minutes of GPU time).
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
"""Cluster Autoscaler (EKS, and AKS/GKE's managed ones): ``"false"`` keeps the pod's node from scale-down
(Cluster Autoscaler FAQ, "What types of pods can prevent CA from removing a node?")."""
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
"""Karpenter (and AKS node auto-provisioning): ``"true"`` blocks voluntary disruption of the pod's node
(consolidation, drift) (Karpenter docs, Disruption, "Pod-Level Controls")."""
PRESTOP_S = 15
"""Seconds a stopping replica keeps serving before SIGTERM, while endpoints and the picker drop it (KServe's
15 s preStop, kserve/kserve#5485; vLLM's Kubernetes guide, "drain shutdown", vllm-project/vllm#43208)."""
EXIT_MARGIN_S = 15
"""Seconds after the drain for vLLM's engine to exit before the kubelet kills it (grace > preStop + drain)."""
DRAIN_SINCE = (0, 18)
"""First vLLM release with ``--shutdown-timeout`` (vllm-project/vllm#34730, #36666; llm-d/llm-d#927): on
SIGTERM it rejects new requests and waits up to that many seconds for running ones. Before it (and by
default, 0) SIGTERM aborts in-flight requests."""
_VLLM_IMAGE = re.compile(r"(^|/)vllm/vllm-openai:v?(\d+)\.(\d+)")

POLLING_INTERVAL_S = 15
"""How often KEDA queries the triggers (llm-d's and KEDA's default 30 s halved: the queue moves fast)."""
SCALE_UP_WINDOW_S = 300
"""Longest scale-up stabilisation (llm-d's KEDA guide): a loading replica serves nothing, so demand stays
high while it loads; the HPA acts only on demand that lasted the window (the load time, if shorter)."""
MIN_SCALE_DOWN_WINDOW_S = 300
"""Shortest scale-down stabilisation (llm-d's KEDA guide); longer when a replica takes longer to load."""
HPA_TRANSFER = "scaledobject.keda.sh/transfer-hpa-ownership"
"""KEDA adopts the HPA named in ``advanced.horizontalPodAutoscalerConfig.name`` instead of refusing the
ScaledObject because another HPA scales the workload (KEDA's webhook, ``verifyHpas``): an update from
aistack's former HPA (same name) succeeds."""
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
"""KEDA scales the target to this many replicas and stops autoscaling it (KEDA docs, ScaledObject, "Pausing
autoscaling")."""


def number(value: float) -> str:
    """A KEDA trigger threshold: a decimal string (KEDA parses it as a float, not a Kubernetes quantity)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


class ServingNamespace(contract.Component):
    """The namespace serving endpoints share on one cluster, and its store-reader service accounts.

    Children: ``-namespace`` (``aistack-serving``, enforcing the ``restricted`` Pod Security
    Standard) and, per store read on the cluster, ``-<store>-reader``: the service account
    ``<store>-reader`` that store's WorkloadIdentity trusts, annotated for the cloud's identity
    (none on EKS Pod Identity, the client ID on Azure, the Google service account on GKE).

    Outputs: ``namespace`` (name), ``service_accounts`` (store → service account name).
    """

    CLOUD = "k8s"
    CONCEPT = "ServingNamespace"
    OUTPUTS = ("namespace", "service_accounts")

    def __init__(
        self,
        name: str,
        *,
        cloud: str,
        identities: Mapping[str, contract.WorkloadIdentity],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        row = clouds.row(cloud)
        namespace = k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={
                "name": contract.READER_NAMESPACE,
                "labels": {
                    "app.kubernetes.io/managed-by": "aistack",
                    # Every serving pod meets the restricted standard; the namespace refuses any that does not.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=self.opts(),
        )
        accounts = {}
        for store, identity in identities.items():
            account = k8s.core.v1.ServiceAccount(
                self.child(f"{store}-reader"),
                metadata={
                    "name": contract.reader_service_account(store),
                    "namespace": namespace.metadata.name,
                    "labels": {"app.kubernetes.io/managed-by": "aistack", "aistack.io/store": store},
                    "annotations": pulumi.Output.from_input(identity.identity).apply(
                        row.service_account_annotations
                    ),
                },
                # Serving pods never call the Kubernetes API; the identity webhooks project their own tokens.
                automount_service_account_token=False,
                # EKS Pod Identity and Azure workload identity act at pod creation: the binding must exist first.
                opts=self.opts(depends_on=[identity]),
            )
            accounts[store] = account.metadata.name
        self.finish(namespace=namespace.metadata.name, service_accounts=accounts)


class ServingEndpoint(contract.Component):
    """One model served from a GPU pool, autoscaled on a queue or concurrency signal.

    Children:
      - ``-deployment``: the server (vLLM's OpenAI-compatible server by default) with
        ``nvidia.com/gpu`` = ``gpus_per_replica``, CPU/memory requests and limits, the GPU taint's
        toleration, a node selector for the pool and accelerator (plus the cloud's own accelerator
        label), ``/dev/shm`` as a memory volume, the weights streamed from the store URI
        (``--load-format runai_streamer``, the opt-in ``node_cache_gib`` cache), startup/readiness/liveness probes and a progress deadline sized by
        ``load_timeout_s``, non-root with a read-only root filesystem, no privilege escalation, no
        capabilities and the runtime's seccomp profile, a drain covering ``max_request_s``
        (:func:`drain`) and do-not-evict annotations for node autoscalers. Replicas are left to KEDA.
        A multi-node endpoint has ``-leaderworkerset`` instead (``components/k8s/multinode.py``).
      - ``-router``: the endpoint's InferencePool, endpoint picker and its proxy, NetworkPolicy and,
        on GKE for ``internal-lb``, the HTTPRoute from the inference Gateway
        (:class:`components.k8s.routing.EndpointRouter`).
      - ``-service``: the picker's proxy on the server's port; ClusterIP, or an internal
        LoadBalancer (the cloud's annotations) for ``internal-lb`` where the cloud has no inference
        Gateway.
      - ``-autoscaler``: KEDA ``ScaledObject`` between ``min_replicas`` and ``max_replicas`` on vLLM's
        queue and running requests (or CPU) and, when it may scale to zero, the picker's queue; its
        HPA's stabilisation windows sized to ``load_timeout_s`` (:func:`scaled_object_spec`). Held at
        0 (``paused-replicas``) while the weights are pending.
      - ``-pdb``: PodDisruptionBudget letting drains evict one replica at a time.
      - ``-ingress`` (optional): TLS-only Ingress for the endpoint's host.
      - ``-public`` (``public-lb``): the proxy's TLS listener on 443 of a public LoadBalancer admitting
        only ``public.source_ranges`` (the cloud's annotations, :data:`clouds.CloudServing.public_lb_annotations`).

    Outputs: ``endpoint_url`` (OpenAI base URL: the global name's for ``public-lb``), ``service_name``,
    ``namespace``, ``entry_address`` (``public-lb``: the public load balancer's IP or DNS name from the
    Service status, which the global record and its health check point at; ``internal-lb``: the internal
    load balancer's, or on GKE the inference Gateway's ``status.addresses[0].value``, which the private
    names point at; else ``None``) and ``entry_port`` (the port there, or ``None``).
    """

    CLOUD = "k8s"
    CONCEPT = "ServingEndpoint"
    OUTPUTS = ("endpoint_url", "service_name", "namespace", "entry_address", "entry_port")

    def __init__(
        self,
        name: str,
        spec: EndpointSpec,
        *,
        cloud: str,
        accelerator: str,
        store: contract.ObjectStore,
        namespace: pulumi.Input[str],
        scaling: Scaling,
        region: str | None = None,
        cluster_routing: routing.ClusterRouting | None = None,
        gateway_sources: tuple[str, ...] = (),
        node_selector: Mapping[str, str] | None = None,
        tolerations: Sequence[Mapping[str, str]] = (),
        target: tuple[str, str] = ("apps/v1", "Deployment"),
        api_key_secret: pulumi.Input[str] | None = None,
        lws_controller: pulumi.Resource | None = None,
        endpoint: str | None = None,
        public: PublicEntry | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the spec: ``scaling``, where KEDA reads the signals; ``target``, the
        ``(apiVersion, kind)`` of the workload KEDA scales (any kind with a ``scale`` subresource);
        ``endpoint``, the endpoint's name, which its Kubernetes objects take (default ``name``, the
        logical name: a share of an endpoint served from several clusters has its own);
        ``public``, the global name, certificate and allow-list of a ``public-lb`` endpoint."""
        super().__init__(name, opts)
        name = endpoint or name
        row = clouds.row(cloud)
        if (spec.expose == "public-lb") != (public is not None):
            raise ValueError(f"endpoint {name}: a public entry is given exactly for expose: public-lb")
        # Placement a node provisioner adds (GKE's ComputeClass label and taint), on top of the row's.
        placement = {
            "node_selector": dict(node_selector or {}),
            "tolerations": [dict(t) for t in tolerations],
        }
        selector = {ENDPOINT_LABEL: name}
        labels = {**selector, "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "aistack"}
        metadata = {"name": name, "namespace": namespace, "labels": labels}
        deadline = rollout_seconds(spec)
        figures = memory_figures(spec, accelerator)
        annotations = {
            WEIGHTS_ANNOTATION: "uploaded" if spec.weights_uploaded else "pending",
            MAX_REQUEST_ANNOTATION: str(spec.max_request_s),
            # Await the rollout (a crash loop fails the update) for as long as Kubernetes itself
            # gives it before marking it ProgressDeadlineExceeded; the annotation makes the bound
            # visible to the deploy policies (customTimeouts below say the same to the engine).
            TIMEOUT_SECONDS: str(deadline),
            **({MEMORY_ANNOTATION: json.dumps(figures, sort_keys=True)} if figures else {}),
        }
        template_metadata = {
            "labels": {**labels, **row.pod_labels},
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(spec.port),
                "prometheus.io/path": "/metrics",
                # Replicas come and go by KEDA only; drains (node upgrades) still evict
                # through the PodDisruptionBudget, one at a time.
                SAFE_TO_EVICT: "false",
                DO_NOT_DISRUPT: "true",
            },
        }
        model_uri, stream_env = weight_source(row, store, spec, region)
        # The pod refuses weights whose manifest is not the one the endpoint names (the primary's).
        check = weights.check_container(spec, row, store, region, UID)
        serve = (name, spec, row, accelerator, model_uri, stream_env, placement, api_key_secret, check)
        timeouts = pulumi.CustomTimeouts(create=f"{deadline}s", update=f"{deadline}s")
        if spec.multi_node:
            if lws_controller is None:
                raise ValueError(
                    f"endpoint {name} spans {spec.nodes_per_replica} nodes: the LWS controller is required"
                )
            target = (multinode.API_VERSION, multinode.KIND)
            workload = multinode.leader_worker_set(
                self.child("leaderworkerset"),
                spec,
                metadata={**metadata, "annotations": annotations},
                template_metadata=template_metadata,
                leader=pod_spec(*serve, extra_args=tuple(multinode.parallel_args(spec, leader=True))),
                worker=pod_spec(
                    *serve, extra_args=tuple(multinode.parallel_args(spec, leader=False)), serves=False
                ),
                # The kind exists once the chart installed its CRD.
                opts=self.opts(depends_on=[lws_controller]),
            )
        else:
            workload = k8s.apps.v1.Deployment(
                self.child("deployment"),
                metadata={**metadata, "annotations": annotations},
                spec={
                    # No `replicas` once the weights are in: the autoscaler owns the count, and applying one
                    # would reset it. Before that, 0: nothing starts that could only crash-loop on an empty
                    # store, and the autoscaler leaves a target at 0 alone (Kubernetes HPA docs, "Implicit
                    # maintenance-mode deactivation"). Dropping the field later lets the API default it to 1,
                    # from which the autoscaler scales to min_replicas.
                    **({} if spec.weights_uploaded else {"replicas": 0}),
                    "selector": {"match_labels": selector},
                    "progress_deadline_seconds": deadline,
                    # Keep serving capacity during updates: a new replica is ready before an old one goes.
                    "strategy": {
                        "type": "RollingUpdate",
                        "rolling_update": {"max_surge": 1, "max_unavailable": 0},
                    },
                    "template": {"metadata": template_metadata, "spec": pod_spec(*serve)},
                },
                opts=self.opts(custom_timeouts=timeouts),
            )
        # Requests reach the model servers through the endpoint's InferencePool and picker only; a multi-node
        # endpoint's servers are its groups' leaders (the workers serve no port).
        router = routing.EndpointRouter(
            self.child("router"),
            spec,
            endpoint=name,
            cloud=cloud,
            namespace=namespace,
            server_selector=serving_selector(name, spec),
            cluster_routing=cluster_routing,
            gateway_sources=gateway_sources,
            group_selector=selector if spec.multi_node else None,
            # The certificate's name as a data dependency: the picker pod is made once it is issued.
            tls_secret=public.certificate.metadata["name"] if public else None,
            opts=self.opts(),
        )
        # internal-lb: the cloud's inference Gateway where it has one (GKE), else an internal L4 load balancer.
        internal = spec.expose == "internal-lb" and not row.routing.gateway_class
        service = k8s.core.v1.Service(
            self.child("service"),
            metadata={
                **metadata,
                "annotations": {
                    **(dict(row.internal_lb_annotations) if internal else {}),
                    **service_await(spec),
                },
            },
            spec={
                "type": "LoadBalancer" if internal else "ClusterIP",
                # The picker's standalone proxy, which forwards each request to the pod the picker chose.
                "selector": router.selector,
                "ports": [
                    {"name": PORT_NAME, "port": spec.port, "target_port": router.port_name, "protocol": "TCP"}
                ],
            },
            # pulumi-kubernetes holds a Service until its Endpoints object lists a pod
            # (provider/pkg/await/core_service.go). Its pods are the picker's (system pool, ready in seconds);
            # ordering it after the servers' rollout keeps the endpoint's URL from being published before a
            # server can answer it.
            opts=self.opts(depends_on=[workload], custom_timeouts=timeouts),
        )
        k8s.apiextensions.CustomResource(
            self.child("autoscaler"),
            api_version=keda.API,
            kind="ScaledObject",
            metadata={**metadata, "annotations": scaled_object_annotations(spec)},
            # The plain target name, not the Deployment's output: the autoscaler must exist while the first
            # replica loads, so that min_replicas come up together instead of one after another.
            spec=pulumi.Output.all(namespace, scaling.query_url, scaling.cluster).apply(
                lambda a: scaled_object_spec(
                    name,
                    spec,
                    namespace=a[0],
                    query_url=a[1],
                    cluster=a[2],
                    trigger_auth=scaling.trigger_auth,
                    target=target,
                )
            ),
            # KEDA's CRDs and webhook come with its release.
            opts=self.opts(depends_on=[scaling.keda]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            self.child("pdb"),
            metadata=metadata,
            spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
            opts=self.opts(),
        )
        url = pulumi.Output.concat(
            "http://", service.metadata.name, ".", namespace, f".svc.cluster.local:{spec.port}/v1"
        )
        if spec.ingress is not None:
            ingress = spec.ingress
            k8s.networking.v1.Ingress(
                self.child("ingress"),
                # pulumi-kubernetes waits for the backend's endpoints and the ingress controller's address.
                # Held at 0 there are no endpoints: skip. Otherwise the Ingress comes after the Service (it
                # names it), hence after the rollout: only the address is awaited, and the default 10 minutes
                # surface a missing controller (aistack installs none) sooner than the rollout's bound would.
                metadata={
                    **metadata,
                    "annotations": {SKIP_AWAIT: "true"} if may_be_empty(spec) else {},
                },
                spec={
                    **({"ingress_class_name": ingress.class_name} if ingress.class_name else {}),
                    "tls": [{"hosts": [ingress.host], "secret_name": ingress.tls_secret}],
                    "rules": [
                        {
                            "host": ingress.host,
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "path_type": "Prefix",
                                        "backend": {
                                            "service": {
                                                "name": service.metadata.name,
                                                "port": {"name": PORT_NAME},
                                            }
                                        },
                                    }
                                ]
                            },
                        }
                    ],
                },
                opts=self.opts(),
            )
            url = pulumi.Output.from_input(f"https://{ingress.host}/v1")
        entry, port = None, None
        if public is not None:
            entry, port = self._public(name, metadata, row, router, public), 443
            url = pulumi.Output.from_input(f"https://{public.fqdn}/v1")
        elif internal:
            entry, port = service.status.apply(entry_address), spec.port
        elif spec.expose == "internal-lb" and cluster_routing and cluster_routing.gateway_resource:
            # GKE: the inference Gateway's internal address (one per cluster, its HTTP listener), set by the
            # controller once the load balancer exists; the endpoint's route only after that.
            gateway = cluster_routing.gateway_resource
            entry, port = gateway.status.apply(routing.gateway_address), routing.GATEWAY_PORT
        self.finish(
            endpoint_url=url,
            service_name=service.metadata.name,
            namespace=namespace,
            entry_address=entry,
            entry_port=port,
        )

    def _public(
        self,
        name: str,
        metadata: Mapping[str, Any],
        row: clouds.CloudServing,
        router: routing.EndpointRouter,
        public: PublicEntry,
    ) -> pulumi.Output[str]:
        """The ``-public`` LoadBalancer Service; returns its address from the status."""
        service = k8s.core.v1.Service(
            self.child("public"),
            metadata={**metadata, "name": f"{name}-public", "annotations": dict(row.public_lb_annotations)},
            spec={
                "type": "LoadBalancer",
                "selector": router.selector,
                "ports": [
                    {
                        "name": routing.PUBLIC_PORT_NAME,
                        "port": 443,
                        "target_port": routing.PUBLIC_PORT_NAME,
                        "protocol": "TCP",
                    }
                ],
                "load_balancer_source_ranges": list(public.source_ranges),
            },
            # pulumi-kubernetes waits for the load balancer's address and a ready proxy pod (issued certificate).
            opts=self.opts(depends_on=[router]),
        )
        return service.status.apply(entry_address)


@dataclass(frozen=True)
class PublicEntry:
    """What a ``public-lb`` endpoint needs on one cluster.

    Attributes:
        fqdn: Its global name.
        certificate: The cert-manager Certificate for that name (its Secret is named as it is).
        source_ranges: Address ranges the public load balancer admits: the stack's clients and the DNS
            provider's health checkers.
    """

    fqdn: str
    certificate: pulumi.Resource
    source_ranges: tuple[str, ...]


def entry_address(status: Any) -> str | None:
    """A LoadBalancer Service's address from its status (``ServiceStatus``): the first ingress IP, else DNS name."""
    balancer = getattr(status, "load_balancer", None)
    for item in getattr(balancer, "ingress", None) or []:
        if item.ip or item.hostname:
            return item.ip or item.hostname
    return None


def serving_selector(name: str, spec: EndpointSpec) -> dict[str, str]:
    """Labels of the pods that serve the endpoint's port: all its pods, or a multi-node replica's leaders only.

    Every server pod carries ``aistack.io/endpoint``; the headless workers of a LeaderWorkerSet group
    listen on no port, so whatever routes requests must also select LWS's leader index.
    """
    return {ENDPOINT_LABEL: name, **({multinode.WORKER_INDEX_LABEL: "0"} if spec.multi_node else {})}


def rollout_seconds(spec: EndpointSpec) -> int:
    """How long a rollout may make no progress before it fails, s: the Deployment's progress deadline.

    Twice the startup probe's budget (``load_timeout_s``, which covers streaming the weights from the
    store: there is no copy phase before the server starts): a GPU node scale-up and the image pull
    (vLLM's image is over 10 GB) come before it, and take about as long again on a fresh node.
    ``pulumi up`` waits exactly as long, so a replica that cannot start fails the update when
    Kubernetes gives up on it, not later.
    """
    return 2 * spec.load_timeout_s


def service_await(spec: EndpointSpec) -> dict[str, str]:
    """The Service's await annotations.

    Held at 0 replicas (weights pending) or scaled to zero, no pod may be listed: skip the await instead
    of failing the update after 10 minutes. Otherwise wait as long as the rollout may take (the Service is
    also ordered after the Deployment, so this bound only matters if the order is ever lost).
    """
    if may_be_empty(spec):
        return {SKIP_AWAIT: "true"}
    return {TIMEOUT_SECONDS: str(rollout_seconds(spec))}


def memory_figures(spec: EndpointSpec, accelerator: str) -> dict[str, float | int | str] | None:
    """The memory arithmetic behind ``--max-model-len`` for the deploy policies, or ``None`` for unknown models.

    camelCase, units in the keys: GiB for memory, bytes per token for the KV cache, tokens for lengths.
    ``gpus`` counts the whole replica: ``nodes`` pods of ``gpus / nodes`` GPUs each.
    The policy recomputes ``weightsGib + overheadGib + maxModelLen x kvBytesPerToken`` against
    ``gpus x gpuMemGib x gpuMemoryUtilization`` and cross-checks these figures with the container's
    arguments, GPU limit and accelerator selector.
    """
    from sizing import memory

    arch = memory.architecture(spec.model)
    if arch is None:
        return None
    fit = memory.fit(
        arch,
        gpus=spec.gpus_per_replica,
        gpu_mem_gib=memory.visible_gib(accelerator_gib(accelerator)),
        max_model_len=spec.max_model_len,
        gpu_memory_utilization=spec.gpu_memory_utilization,
        precision=spec.precision,
        tensor_parallel=spec.gpus_per_pod,
    )
    return {
        "model": fit.model,
        "precision": fit.precision,
        "gpus": fit.gpus,
        "nodes": spec.nodes_per_replica,
        "gpuMemGib": fit.gpu_mem_gib,
        "gpuMemoryUtilization": fit.gpu_memory_utilization,
        "maxModelLen": fit.max_model_len,
        "weightsGib": fit.weights_gib,
        "overheadGib": fit.overhead_gib,
        "kvBytesPerToken": fit.kv_bytes_per_token,
        "maxSequences": fit.max_sequences,
    }


def may_be_empty(spec: EndpointSpec) -> bool:
    """Whether the endpoint may have no pod: held at 0 (weights pending) or scaling to zero."""
    return not spec.weights_uploaded or spec.min_replicas == 0


@dataclass(frozen=True)
class Scaling:
    """Where an endpoint's ScaledObject reads its signals (from the cluster's metrics pipeline and KEDA).

    Attributes:
        query_url: The Prometheus API KEDA queries (``MetricsPipeline.query_url``).
        keda: The KEDA release; ScaledObjects depend on it (its CRDs and webhook).
        trigger_auth: The TriggerAuthentication the Prometheus triggers name (GKE), or ``None``.
        cluster: The cluster's name as the ``cluster`` label of Managed Service for Prometheus' series
            (one project may hold several clusters), or ``None`` where the Prometheus is the cluster's own.
    """

    query_url: pulumi.Input[str]
    keda: pulumi.Resource
    trigger_auth: pulumi.Input[str] | None = None
    cluster: pulumi.Input[str] | None = None


def scale_windows(spec: EndpointSpec) -> tuple[int, int]:
    """``(scale-up, scale-down)`` stabilisation windows, s, sized by the replica's load budget.

    Scale-up acts only on demand that lasted :data:`SCALE_UP_WINDOW_S` or the load time if shorter
    (llm-d's KEDA guide); scale-down is never faster than a replica takes to load
    (``load_timeout_s``, at least :data:`MIN_SCALE_DOWN_WINDOW_S`), so a replica removed in a lull is
    not needed back before a new one could be ready.
    """
    return min(SCALE_UP_WINDOW_S, spec.load_timeout_s), max(MIN_SCALE_DOWN_WINDOW_S, spec.load_timeout_s)


def scaled_object_annotations(spec: EndpointSpec) -> dict[str, str]:
    """Adopt the former HPA of the same name; hold the workload at 0 while the weights are pending."""
    return {HPA_TRANSFER: "true", **({} if spec.weights_uploaded else {PAUSED_REPLICAS: "0"})}


def _prometheus(
    trigger: str, query: str, target: float, query_url: str, trigger_auth: str | None, **metadata: str
) -> dict:
    return {
        "type": "prometheus",
        "name": trigger,
        # Per replica: the HPA divides the endpoint's total by the target (llm-d's and vLLM's KEDA guides).
        "metricType": "AverageValue",
        "metadata": {"serverAddress": query_url, "query": query, "threshold": number(target), **metadata},
        **({"authenticationRef": {"name": trigger_auth}} if trigger_auth else {}),
    }


def triggers(
    name: str,
    spec: EndpointSpec,
    *,
    namespace: str,
    query_url: str,
    cluster: str | None,
    trigger_auth: str | None,
) -> list[dict]:
    """KEDA triggers of an endpoint: vLLM's queue and running requests (or CPU), and the picker's queue.

    Every series is summed over the endpoint's pods (selected by the ``endpoint`` label the metrics
    pipeline sets) and held at its per-replica target (:meth:`EndpointSpec.hpa_target`). An endpoint that
    may scale to zero also follows the picker's flow-control queue: with no server running, vLLM's gauges
    do not exist (an empty result counts as 0), and a request held by the picker activates the first
    replica (``activationThreshold`` 0: any held request).
    """
    selector = f'namespace="{namespace}",endpoint="{name}"' + (f',cluster="{cluster}"' if cluster else "")
    found: list[dict] = []
    if spec.scale_metric == "cpu":
        found.append(
            {
                "type": "cpu",
                "name": "cpu",
                "metricType": "Utilization",
                "metadata": {"value": str(round(spec.hpa_target()))},
            }
        )
    else:
        for trigger, metric in (
            ("queue", "vllm:num_requests_waiting"),
            ("running", "vllm:num_requests_running"),
        ):
            found.append(
                _prometheus(
                    trigger, f"sum({metric}{{{selector}}})", spec.hpa_target(metric), query_url, trigger_auth
                )
            )
    if spec.min_replicas == 0:
        found.append(
            _prometheus(
                "epp-queue",
                f"sum({EPP_QUEUE_METRIC}{{{selector}}})",
                SCALE_OUT_AT * QUEUE_FULL,
                query_url,
                trigger_auth,
                activationThreshold="0",
            )
        )
    return found


def scaled_object_spec(
    name: str,
    spec: EndpointSpec,
    *,
    namespace: str,
    query_url: str,
    cluster: str | None = None,
    trigger_auth: str | None = None,
    target: tuple[str, str] = ("apps/v1", "Deployment"),
) -> dict:
    """The ScaledObject spec (a custom resource: camelCase as is).

    Bounds from the spec (on a sized pool the plan set ``max_replicas``). ``cooldownPeriod`` (the wait
    before the last replica goes, scale-to-zero only) and ``initialCooldownPeriod`` (none goes before the
    first has had its load budget) follow the scale-down window. The HPA KEDA makes keeps the endpoint's
    name (it adopts aistack's former HPA, see :data:`HPA_TRANSFER`). ``fallback`` (Prometheus unreachable
    three polls in a row) holds at least one replica; KEDA refuses it next to a CPU trigger.
    """
    up, down = scale_windows(spec)
    found = triggers(
        name, spec, namespace=namespace, query_url=query_url, cluster=cluster, trigger_auth=trigger_auth
    )
    api_version, kind = target
    rate = [{"type": "Percent", "value": 100, "periodSeconds": POLLING_INTERVAL_S}]
    return {
        "scaleTargetRef": {"apiVersion": api_version, "kind": kind, "name": name},
        "pollingInterval": POLLING_INTERVAL_S,
        "cooldownPeriod": down,
        "initialCooldownPeriod": down,
        "minReplicaCount": spec.min_replicas,
        "maxReplicaCount": spec.max_replicas,
        **(
            {}
            if any(t["type"] == "cpu" for t in found)
            else {"fallback": {"failureThreshold": 3, "replicas": max(1, spec.min_replicas)}}
        ),
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": name,
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": up, "policies": rate},
                    "scaleDown": {"stabilizationWindowSeconds": down, "policies": rate},
                },
            }
        },
        "triggers": found,
    }


def drains_on_sigterm(image: str) -> bool:
    """Whether the image is a vLLM release with ``--shutdown-timeout`` (see :data:`DRAIN_SINCE`)."""
    match = _VLLM_IMAGE.search(image.split("@", 1)[0])
    return bool(match) and (int(match[2]), int(match[3])) >= DRAIN_SINCE


def drain(spec: EndpointSpec) -> tuple[int, dict, list[str]]:
    """``(terminationGracePeriodSeconds, lifecycle, server flags)`` of a replica that stops.

    The pod keeps serving for :data:`PRESTOP_S` (a ``sleep`` preStop: the EndpointSlice marks it
    terminating at once and the picker, gateways and kube-proxy stop sending it requests); then SIGTERM:
    vLLM (``--shutdown-timeout``) rejects new requests and lets running generations finish for up to
    ``max_request_s``; :data:`EXIT_MARGIN_S` more for the engine to exit. Images without the flag still
    get the preStop and the grace period, but vLLM then aborts running requests on SIGTERM.
    """
    grace = PRESTOP_S + spec.max_request_s + EXIT_MARGIN_S
    flags = [f"--shutdown-timeout={spec.max_request_s}"] if drains_on_sigterm(spec.image) else []
    return grace, {"pre_stop": {"sleep": {"seconds": PRESTOP_S}}}, flags


def weight_source(
    row: clouds.CloudServing, store: contract.ObjectStore, spec: EndpointSpec, region: str | None
) -> tuple[pulumi.Output[str], list[dict]]:
    """Where the server streams the weights from, and the environment the streamer needs for it.

    Returns:
        ``<scheme>://<bucket or container>/<storage_uri>`` and the cloud's streamer environment (the
        Azure storage account, the AWS region).
    """
    stream = row.stream
    root = (
        store.bucket_name
        if stream.root == "bucket_name"
        else pulumi.Output.from_input(store.bucket_uri).apply(lambda url: url.rstrip("/").rsplit("/", 1)[-1])
    )
    uri = pulumi.Output.concat(f"{stream.scheme}://", root, f"/{spec.storage_uri}")
    env = [
        *({"name": k, "value": v} for k, v in stream.env.items()),
        *([{"name": stream.account_env, "value": store.bucket_name}] if stream.account_env else []),
        *([{"name": row.region_env, "value": region}] if row.region_env and region else []),
    ]
    return uri, env


def streamer_buffer_bytes(spec: EndpointSpec) -> int:
    """CPU memory each GPU process of a pod may hold in the streamer's read buffer, bytes.

    The streamer's default is unbounded with distributed streaming and 40 GB otherwise (its
    ``docs/src/env-vars.md``, ``RUNAI_STREAMER_MEMORY_LIMIT``): either can outgrow the pod's memory limit
    and get the server OOM-killed while it loads. Half of the memory beyond ``/dev/shm`` is shared
    among the pod's GPU processes (one per GPU); the rest stays for vLLM itself. The buffer must hold
    the largest tensor (Llama-3.1-405B's embedding: 4.2 GB), which the spec's memory sizes leave room for.
    """
    spare = memory_bytes(spec.memory) - spec.shm_gib * 2**30
    return spare // 2 // spec.gpus_per_pod


def server_args(spec: EndpointSpec, model_uri: pulumi.Input[str]) -> list:
    """``vllm serve`` arguments every server pod of the endpoint shares (leader and workers alike)."""
    loader = {"distributed": spec.gpus_per_replica > 1, "memory_limit": streamer_buffer_bytes(spec)}
    return [
        model_uri,
        f"--served-model-name={spec.model}",
        f"--port={spec.port}",
        f"--tensor-parallel-size={spec.gpus_per_pod}",
        f"--max-num-seqs={spec.max_concurrency}",
        # Always explicit: vLLM's defaults (the model's full context, 0.9) are what the offline
        # memory check (sizing/memory.py) must agree with.
        f"--max-model-len={spec.max_model_len}",
        f"--gpu-memory-utilization={spec.gpu_memory_utilization}",
        # Stream the safetensors from the store to the GPUs; with several GPUs each process reads its share
        # and broadcasts it to the others (the streamer's "distributed streaming").
        f"--load-format={LOAD_FORMAT}",
        f"--model-loader-extra-config={json.dumps(loader, sort_keys=True)}",
    ]


def pod_spec(
    name: str,
    spec: EndpointSpec,
    row: clouds.CloudServing,
    accelerator: str,
    model_uri: pulumi.Input[str],
    stream_env: list[dict],
    placement: Mapping[str, Any] | None = None,
    api_key_secret: pulumi.Input[str] | None = None,
    weights_check: dict | None = None,
    *,
    extra_args: tuple[str, ...] = (),
    serves: bool = True,
) -> dict:
    """A server pod: stream the weights from the store onto the pool's GPUs and serve them.

    Args:
        name: The endpoint's name (its pods' ``aistack.io/endpoint`` label).
        spec: The endpoint.
        row: The cloud's serving row.
        accelerator: The pool's canonical accelerator.
        model_uri: The store URI the weights stream from (:func:`weight_source`).
        stream_env: The streamer's environment (:func:`weight_source`).
        placement: ``node_selector`` and ``tolerations`` a pool's node provisioner adds (GKE: the
            ComputeClass label, and its taint on the pool's on-demand floor), on top of the row's.
        api_key_secret: The Secret holding the endpoint's API key; passed as the synced ExternalSecret's
            name output, it makes the pod wait for ESO's sync (default: the name alone).
        weights_check: The ``weights-check`` init container (``components/k8s/weights.py``), run before the
            server when the endpoint names its manifest digest.
        extra_args: Further ``vllm serve`` arguments (a multi-node pod's rank and leader).
        serves: Whether the pod runs the API server (``False`` for the headless workers of a
            multi-node replica: no port, no HTTP probes).
    """
    gpus = str(spec.gpus_per_pod)
    cpu_memory = {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu, "memory": spec.memory},
    }
    cache = spec.node_cache_gib
    grace, lifecycle, drain_flags = drain(spec)
    extra = placement or {}
    http_get = {"path": "/health", "port": PORT_NAME}
    probes = {
        # Streaming and loading the weights can take many minutes: liveness and readiness wait for it.
        "startup_probe": {
            "http_get": http_get,
            "period_seconds": PROBE_PERIOD_S,
            "timeout_seconds": 5,
            "failure_threshold": math.ceil(spec.load_timeout_s / PROBE_PERIOD_S),
        },
        "readiness_probe": {
            "http_get": http_get,
            "period_seconds": PROBE_PERIOD_S,
            "timeout_seconds": 5,
            "failure_threshold": 3,
        },
        "liveness_probe": {
            "http_get": http_get,
            "period_seconds": 30,
            "timeout_seconds": 10,
            "failure_threshold": 3,
        },
    }
    spread = {
        "topology_spread_constraints": [
            {
                "max_skew": 1,
                "topology_key": "topology.kubernetes.io/zone",
                "when_unsatisfiable": "ScheduleAnyway",
                "label_selector": {"match_labels": {ENDPOINT_LABEL: name}},
            }
        ]
    }
    return {
        "termination_grace_period_seconds": grace,
        "service_account_name": contract.reader_service_account(spec.store),
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": pod_security(UID),
        "node_selector": {
            **row.node_selector(spec.pool, accelerator),
            **dict(extra.get("node_selector") or {}),
        },
        "tolerations": [
            dict(gpu.GPU_TOLERATION),
            *map(dict, row.gpu_tolerations),
            *map(dict, extra.get("tolerations") or ()),
        ],
        # Replicas spread over zones; the pods of one multi-node replica stay together instead.
        **(multinode.same_group_zone({ENDPOINT_LABEL: name}) if spec.multi_node else spread),
        **({"init_containers": [weights_check]} if weights_check else {}),
        "containers": [
            {
                "name": "server",
                "image": spec.image,
                "command": ["vllm", "serve"],
                # The API server drains on SIGTERM (the leader); headless workers have no requests of their own.
                "args": [*server_args(spec, model_uri), *extra_args, *(drain_flags if serves else [])],
                "lifecycle": lifecycle,
                "env": [
                    # Home and caches on the writable scratch volume; the root filesystem is read-only.
                    {"name": "HOME", "value": SCRATCH_ROOT},
                    {"name": "USER", "value": "serving"},
                    {"name": "VLLM_ASSETS_CACHE", "value": ASSETS_CACHE},
                    # Config, tokenizer and weights all come from the store: never from the hub, no token.
                    {"name": "HF_HUB_OFFLINE", "value": "1"},
                    {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                    {"name": "DO_NOT_TRACK", "value": "1"},
                    # vLLM refuses /v1 requests without `Authorization: Bearer <key>` when VLLM_API_KEY is
                    # set; the key comes from the Secret ESO syncs, never a plain value (components/k8s/secrets.py).
                    {
                        "name": "VLLM_API_KEY",
                        "value_from": {
                            "secret_key_ref": {
                                "name": api_key_secret or contract.api_key_secret(name),
                                "key": contract.API_KEY_FIELD,
                            }
                        },
                    },
                    *stream_env,
                    *([{"name": "RUNAI_STREAMER_CACHE_DIR", "value": CACHE_ROOT}] if cache else []),
                ],
                **(
                    {"ports": [{"name": PORT_NAME, "container_port": spec.port, "protocol": "TCP"}], **probes}
                    if serves
                    else {}
                ),
                "resources": {
                    "requests": {
                        **cpu_memory["requests"],
                        GPU_RESOURCE: gpus,
                        "ephemeral-storage": f"{SCRATCH_GIB + (cache or 0)}Gi",
                    },
                    "limits": {**cpu_memory["limits"], GPU_RESOURCE: gpus},
                },
                "security_context": container_security(UID),
                "volume_mounts": [
                    {"name": "shm", "mount_path": "/dev/shm"},
                    {"name": "tmp", "mount_path": SCRATCH_ROOT},
                    *([{"name": "cache", "mount_path": CACHE_ROOT}] if cache else []),
                ],
            }
        ],
        "volumes": [
            {"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": f"{spec.shm_gib}Gi"}},
            {"name": "tmp", "empty_dir": {"size_limit": f"{SCRATCH_GIB}Gi"}},
            # On the node's ephemeral storage: local NVMe where the pool's nodes put the kubelet's disk there.
            *([{"name": "cache", "empty_dir": {"size_limit": f"{cache}Gi"}}] if cache else []),
        ],
    }
