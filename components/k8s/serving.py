"""Serving endpoints: an autoscaled, GPU-scheduled OpenAI-compatible server per model.

Each endpoint runs in the cluster's serving namespace under the service account its store's
WorkloadIdentity trusts, copies its weights from the store into a per-replica cache with an init
container, and is reached through a ClusterIP Service (an internal load balancer or a TLS Ingress
only when asked). KEDA scales it (a ``ScaledObject``, see :func:`scaled_object_spec`); a stopping
replica drains (see :func:`drain`). Per-cloud differences come from the cloud's row in
``components/k8s/clouds.py``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from aistack.spec.endpoints import QUEUE_FULL, SCALE_OUT_AT, EndpointSpec, accelerator_gib
from components import contract, gpu
from components.k8s import clouds, keda, routing
from components.k8s.pod import container_security, pod_security

UID = 1000
"""Numeric user and group the serving containers run as (any non-zero id; images need no user entry)."""

MODEL_ROOT = "/models"
ENDPOINT_LABEL = "aistack.io/endpoint"
GPU_RESOURCE = "nvidia.com/gpu"
PROBE_PERIOD_S = 10
PORT_NAME = "http"
"""Name of the server's port: the Service, probes and the metrics scrape address it by name."""

WEIGHTS_ANNOTATION = "aistack.io/weights"
"""Deployment annotation: ``uploaded`` (the store holds the weights) or ``pending`` (held at 0 replicas)."""
MEMORY_ANNOTATION = "aistack.io/gpu-memory"
"""Deployment annotation: the memory arithmetic behind ``--max-model-len`` (JSON, see :func:`memory_figures`)."""
MAX_REQUEST_ANNOTATION = "aistack.io/max-request-s"
"""Deployment annotation: the endpoint's longest request, s (``max_request_s``), which the drain covers."""
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
        label), ``/dev/shm`` as a memory volume, a model cache filled by the ``copy-weights`` init
        container from the store, startup/readiness/liveness probes and a progress deadline sized by
        ``load_timeout_s``, non-root with a read-only root filesystem, no privilege escalation, no
        capabilities and the runtime's seccomp profile, a drain covering ``max_request_s``
        (:func:`drain`) and do-not-evict annotations for node autoscalers. Replicas are left to KEDA.
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

    Outputs: ``endpoint_url`` (OpenAI base URL), ``service_name``, ``namespace``.
    """

    CLOUD = "k8s"
    CONCEPT = "ServingEndpoint"
    OUTPUTS = ("endpoint_url", "service_name", "namespace")

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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the spec: ``scaling``, where KEDA reads the signals; ``target``, the
        ``(apiVersion, kind)`` of the workload KEDA scales (any kind with a ``scale`` subresource)."""
        super().__init__(name, opts)
        row = clouds.row(cloud)
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
        deployment = k8s.apps.v1.Deployment(
            self.child("deployment"),
            metadata={
                **metadata,
                "annotations": {
                    WEIGHTS_ANNOTATION: "uploaded" if spec.weights_uploaded else "pending",
                    MAX_REQUEST_ANNOTATION: str(spec.max_request_s),
                    # Await the rollout (a crash loop fails the update) for as long as Kubernetes itself
                    # gives it before marking it ProgressDeadlineExceeded; the annotation makes the bound
                    # visible to the deploy policies (customTimeouts below say the same to the engine).
                    TIMEOUT_SECONDS: str(deadline),
                    **({MEMORY_ANNOTATION: json.dumps(figures, sort_keys=True)} if figures else {}),
                },
            },
            spec={
                # No `replicas` once the weights are in: the autoscaler owns the count, and applying one
                # would reset it. Before that, 0: nothing starts that could only crash-loop on an empty store,
                # and the autoscaler leaves a target at 0 alone (Kubernetes HPA docs, "Implicit
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
                "template": {
                    "metadata": {
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
                    },
                    "spec": pod_spec(
                        name,
                        spec,
                        row,
                        accelerator,
                        store.bucket_uri,
                        region,
                        api_key_secret=api_key_secret,
                        **placement,
                    ),
                },
            },
            opts=self.opts(
                custom_timeouts=pulumi.CustomTimeouts(create=f"{deadline}s", update=f"{deadline}s")
            ),
        )
        # Requests reach the model servers through the endpoint's InferencePool and picker only.
        router = routing.EndpointRouter(
            self.child("router"),
            spec,
            endpoint=name,
            cloud=cloud,
            namespace=namespace,
            server_selector=selector,
            cluster_routing=cluster_routing,
            gateway_sources=gateway_sources,
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
            opts=self.opts(
                depends_on=[deployment],
                custom_timeouts=pulumi.CustomTimeouts(create=f"{deadline}s", update=f"{deadline}s"),
            ),
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
        self.finish(endpoint_url=url, service_name=service.metadata.name, namespace=namespace)


def rollout_seconds(spec: EndpointSpec) -> int:
    """How long a rollout may make no progress before it fails, s: the Deployment's progress deadline.

    Twice the startup probe's budget (``load_timeout_s``): the image pull (vLLM's image is over 10 GB)
    and the copy from the store come before the server starts loading. ``pulumi up`` waits exactly as
    long, so a replica that cannot start fails the update when Kubernetes gives up on it, not later.
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
    )
    return {
        "model": fit.model,
        "precision": fit.precision,
        "gpus": fit.gpus,
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


def pod_spec(
    name: str,
    spec: EndpointSpec,
    row: clouds.CloudServing,
    accelerator: str,
    bucket_uri: pulumi.Input[str],
    region: str | None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, str]] = (),
    api_key_secret: pulumi.Input[str] | None = None,
) -> dict:
    """The serving pod: copy the weights, then serve them from the cache on the pool's GPUs.

    ``node_selector`` and ``tolerations`` add what a pool's node provisioner needs (GKE: the
    ComputeClass label, and its taint on the pool's on-demand floor). ``api_key_secret`` names the
    Secret holding the endpoint's API key; passed as the synced ExternalSecret's name output, it makes
    the pod wait for ESO's sync (default: the name alone).
    """
    model_dir = f"{MODEL_ROOT}/{spec.storage_uri}"
    gpus = str(spec.gpus_per_replica)
    cpu_memory = {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu, "memory": spec.memory},
    }
    # Home and caches on the writable scratch volume; the root filesystem is read-only.
    common_env = [{"name": "HOME", "value": "/tmp"}, {"name": "USER", "value": "serving"}]
    copy_env = [
        {"name": "STORE_URI", "value": bucket_uri},
        {"name": "MODEL_PATH", "value": spec.storage_uri},
        {"name": "MODEL_DIR", "value": model_dir},
        *common_env,
        *({"name": k, "value": v} for k, v in row.copy.env.items()),
        *([{"name": row.region_env, "value": region}] if row.region_env and region else []),
    ]
    http_get = {"path": "/health", "port": PORT_NAME}
    grace, lifecycle, drain_flags = drain(spec)
    return {
        "termination_grace_period_seconds": grace,
        "service_account_name": contract.reader_service_account(spec.store),
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": pod_security(UID),
        "node_selector": {**row.node_selector(spec.pool, accelerator), **(node_selector or {})},
        "tolerations": [dict(gpu.GPU_TOLERATION), *map(dict, row.gpu_tolerations), *map(dict, tolerations)],
        "topology_spread_constraints": [
            {
                "max_skew": 1,
                "topology_key": "topology.kubernetes.io/zone",
                "when_unsatisfiable": "ScheduleAnyway",
                "label_selector": {"match_labels": {ENDPOINT_LABEL: name}},
            }
        ],
        "init_containers": [
            {
                "name": "copy-weights",
                "image": row.copy.image,
                "command": ["/bin/sh", "-c", row.copy.script],
                "env": copy_env,
                # The pod's request is the larger of init and app containers: matching the server costs nothing.
                "resources": cpu_memory,
                "security_context": container_security(UID),
                "volume_mounts": [
                    {"name": "models", "mount_path": MODEL_ROOT},
                    {"name": "tmp", "mount_path": "/tmp"},
                ],
            }
        ],
        "containers": [
            {
                "name": "server",
                "image": spec.image,
                "command": ["vllm", "serve"],
                "args": [
                    model_dir,
                    f"--served-model-name={spec.model}",
                    f"--port={spec.port}",
                    f"--tensor-parallel-size={spec.gpus_per_replica}",
                    f"--max-num-seqs={spec.max_concurrency}",
                    # Always explicit: vLLM's defaults (the model's full context, 0.9) are what the offline
                    # memory check (sizing/memory.py) must agree with.
                    f"--max-model-len={spec.max_model_len}",
                    f"--gpu-memory-utilization={spec.gpu_memory_utilization}",
                    *drain_flags,
                ],
                "lifecycle": lifecycle,
                "env": [
                    *common_env,
                    # Weights come from the cache only; no hub downloads, no usage reporting.
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
                ],
                "ports": [{"name": PORT_NAME, "container_port": spec.port, "protocol": "TCP"}],
                "resources": {
                    "requests": {
                        **cpu_memory["requests"],
                        GPU_RESOURCE: gpus,
                        "ephemeral-storage": f"{spec.cache_gib}Gi",
                    },
                    "limits": {**cpu_memory["limits"], GPU_RESOURCE: gpus},
                },
                "security_context": container_security(UID),
                # Loading weights into GPU memory can take many minutes: liveness and readiness wait for it.
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
                "volume_mounts": [
                    {"name": "models", "mount_path": MODEL_ROOT, "read_only": True},
                    {"name": "shm", "mount_path": "/dev/shm"},
                    {"name": "tmp", "mount_path": "/tmp"},
                ],
            }
        ],
        "volumes": [
            {"name": "models", "empty_dir": {"size_limit": f"{spec.cache_gib}Gi"}},
            {"name": "shm", "empty_dir": {"medium": "Memory", "size_limit": f"{spec.shm_gib}Gi"}},
            {"name": "tmp", "empty_dir": {}},
        ],
    }
