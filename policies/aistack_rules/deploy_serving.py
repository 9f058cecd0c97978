"""First-deploy breakers of the serving layer: the model fits, the weights get in, the awaits end.

What these rules prevent, each seen on a first real ``pulumi up``:

- vLLM refusing to start because the KV cache of one ``max_model_len`` sequence does not fit next
  to the weights (without ``--max-model-len`` it takes the model's whole context, 131,072 tokens
  for Llama 3.1, whose KV cache alone outgrows a 24 GB GPU after 8B weights);
- servers crash-looping on an empty model store created in the same update;
- a streamed model that vLLM cannot read: an object-store URI without the streamer load format, a
  scheme the streamer does not know, an Azure container without its account or the pod without the
  workload identity webhook's label, a pod on the namespace's default service account that no store
  identity trusts;
- a streaming server whose service account the stack does not declare (its pods are refused);
- a multi-node group whose pods do not add up to the replica vLLM is told to build (tensor x
  pipeline parallel = LWS size x GPUs per pod, ``--nnodes`` = size), whose workers differ from the
  leader, or which waits for a leader that can only be ready once its workers joined;
- ``pulumi up`` waiting for an hour on such a crash loop, or reporting success over one;
- Services and Ingresses failing the update after 10 minutes because pulumi-kubernetes waits for
  ready endpoints (``provider/pkg/await/core_service.go``: ready once the Endpoints object lists a
  pod) while pods wait for a GPU node or load a large model, or while the Deployment is held at 0;
- PodDisruptionBudgets that no eviction can satisfy, which block node drains (cluster
  autoscaler scale-down, managed node upgrades);
- autoscaling that never happens or fights itself: a model server left to an autoscaler that no KEDA
  ``ScaledObject`` scales, a ScaledObject whose target is not declared (KEDA reports it and does
  nothing), two autoscalers on one workload (KEDA's webhook refuses the ScaledObject), or a scale-down
  window shorter than a replica's load, which removes replicas that will be needed back before a new
  one could be ready;
- stopping replicas cutting generations short: a grace period shorter than the preStop plus the
  longest request (the kubelet kills vLLM mid-stream).

The memory figures come from the workload's ``aistack.io/gpu-memory`` annotation, written by the
serving component from ``sizing/memory.py``; the rule re-does the sum and cross-checks the figures
against the container's own arguments, GPU limit and accelerator selector, so a figure that does
not describe the pod cannot pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import _k8s
from .conventions import ACCELERATOR_LABEL
from .core import (
    MANDATORY,
    CannotCheck,
    Indeterminate,
    Rule,
    Subject,
    each,
    get,
    get_known,
    parse_json_document,
)
from .tokens import K8S_INGRESS, K8S_LWS, K8S_POD_SPEC_PATHS, K8S_SERVICE, LWS_WORKER_SPEC

K8S_SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
K8S_SECRET = "kubernetes:core/v1:Secret"
K8S_EXTERNAL_SECRET = "kubernetes:external-secrets.io/v1:ExternalSecret"
API_KEY_ENV = "VLLM_API_KEY"

GIB = 2**30
MEMORY_ANNOTATION = "aistack.io/gpu-memory"
"""JSON memory figures of a vLLM workload (see ``components/k8s/serving.py``, ``memory_figures``)."""
WEIGHTS_ANNOTATION = "aistack.io/weights"
"""``uploaded`` (the store holds the weights) or ``pending`` (held at 0 replicas until it does)."""
SKIP_AWAIT = "pulumi.com/skipAwait"
TIMEOUT_SECONDS = "pulumi.com/timeoutSeconds"
DEFAULT_AWAIT_S = 600
"""pulumi-kubernetes' default await for Deployments, Services and Ingresses: 10 minutes."""
DEFAULT_PROGRESS_DEADLINE_S = 600
"""Kubernetes' default ``progressDeadlineSeconds``."""

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
REPLICATED = (DEPLOYMENT, STATEFUL_SET)
SERVED = (*REPLICATED, K8S_LWS)
"""Workloads a Service fronts and the weights rule covers (a LeaderWorkerSet counts its groups in spec.replicas)."""
STREAM_SCHEMES = ("s3", "gs", "az")
"""What vLLM's Run:ai streamer reads (vLLM 0.34.0 ``transformers_utils/runai_utils.py`` ``SUPPORTED_SCHEMES``)."""
AZURE_ACCOUNT_ENV = ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ENDPOINT")
AZURE_IDENTITY_LABEL = "azure.workload.identity/use"
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://")
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
MAX_REQUEST_ANNOTATION = "aistack.io/max-request-s"
"""The longest request a model server's drain must cover, s (``components/k8s/serving.py``)."""
HPA_TRANSFER = "scaledobject.keda.sh/transfer-hpa-ownership"
DEFAULT_GRACE_S = 30
"""Kubernetes' default ``terminationGracePeriodSeconds``."""
DEFAULT_SCALE_DOWN_WINDOW_S = 300
"""The HPA's default scale-down stabilisation window (Kubernetes HPA docs, "Default Behavior")."""

_NOMINAL_GIB = re.compile(r"-(\d+)GB$")


def _annotations(r: Subject) -> Mapping[str, Any]:
    return get_known(r.inputs, "metadata.annotations", {})


def _skips_await(r: Subject) -> bool:
    return str(_annotations(r).get(SKIP_AWAIT, "")).lower() in ("true", "ready")


def _await_s(r: Subject) -> int:
    """How long pulumi-kubernetes waits for the object to become ready, s."""
    value = _annotations(r).get(TIMEOUT_SECONDS)
    return DEFAULT_AWAIT_S if value is None else int(float(value))


def _flags(args: Sequence[Any]) -> tuple[list[str], dict[str, str]]:
    """``(positional arguments, {--flag: value})`` of a container's arguments (``--k=v`` or ``--k v``)."""
    positional: list[str] = []
    flags: dict[str, str] = {}
    items = [str(a) for a in args]
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--"):
            key, sep, value = item.partition("=")
            if not sep and i + 1 < len(items) and not items[i + 1].startswith("--"):
                value, i = items[i + 1], i + 1
            flags[key] = value
        else:
            positional.append(item)
        i += 1
    return positional, flags


def servers(r: Subject) -> list[tuple[str, Mapping[str, Any]]]:
    """``(path, container)`` of every vLLM container that is given GPUs."""
    spec, where = _k8s.pod_spec(r)
    return [
        (path, c)
        for path, c in _k8s.containers(spec, where)
        if _k8s.is_vllm(c, path) and _k8s.gpu_quantity(c, "limits", path) is not None
    ]


def _replicas(r: Subject) -> int | None:
    """The replicas the workload declares (``None``: not declared, the autoscaler or default decides)."""
    value = get(r.inputs, "spec.replicas")
    return None if value is None else int(value)


def _group_size(r: Subject) -> int:
    """Pods per replica: a LeaderWorkerSet's group size (default 1, as the CRD's), else 1."""
    return int(get_known(r.inputs, "spec.leaderWorkerTemplate.size", 1)) if r.type == K8S_LWS else 1


def _startup_budget_s(container: Mapping[str, Any], path: str) -> int:
    """Seconds the probes give the server to start: the startup probe's budget (else the readiness delay)."""
    probe = get(container, "startupProbe", where=path)
    if probe is None:
        return int(get(container, "readinessProbe.initialDelaySeconds", 0, where=path))
    delay = get(probe, "initialDelaySeconds", 0, where=f"{path}.startupProbe")
    period = get(probe, "periodSeconds", 10, where=f"{path}.startupProbe")
    failures = get(probe, "failureThreshold", 3, where=f"{path}.startupProbe")
    return int(delay + period * failures)


# --------------------------------------------------------------------------- the model fits


def check_model_fits_gpus(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """vLLM gets --max-model-len and --gpu-memory-utilization, and weights plus one sequence of KV fit."""

    def judge(path: str, container: Mapping[str, Any]) -> Iterator[Any]:
        _, flags = _flags(get_known(container, "args", [], where=path))
        length, utilisation = flags.get("--max-model-len"), flags.get("--gpu-memory-utilization")
        if length is None:
            yield (
                f"{path} runs vLLM without --max-model-len: it takes the model's whole context, whose KV cache "
                "may not fit next to the weights, and then refuses to start"
            )
        if utilisation is None:
            yield f"{path} runs vLLM without --gpu-memory-utilization: the memory check has nothing to hold it to"
        if length is None or utilisation is None:
            return
        raw = _annotations(r).get(MEMORY_ANNOTATION)
        if raw is None:
            yield Indeterminate(
                reason=f"{path}: no {MEMORY_ANNOTATION} figures (the model's architecture is not in "
                "sizing/memory.py); vLLM checks the fit only when it starts"
            )
            return
        figures = parse_json_document(raw, f"metadata.annotations.{MEMORY_ANNOTATION}")
        # A LeaderWorkerSet's replica is its whole group: size pods of this many GPUs each.
        gpus = int(_k8s.gpu_quantity(container, "limits", path)) * _group_size(r)
        said = {
            "maxModelLen": (int(length), int(figures["maxModelLen"])),
            "gpuMemoryUtilization": (float(utilisation), float(figures["gpuMemoryUtilization"])),
            "gpus": (gpus, int(figures["gpus"])),
        }
        for key, (actual, stated) in said.items():
            if actual != stated:
                yield f"{path}: {MEMORY_ANNOTATION} {key} is {stated:g} but the pod runs with {actual:g}"
        spec, where = _k8s.pod_spec(r)
        accelerator = get_known(spec, "nodeSelector", {}, where=where).get(ACCELERATOR_LABEL)
        match = _NOMINAL_GIB.search(str(accelerator or ""))
        gpu_mem = float(figures["gpuMemGib"])
        if match and gpu_mem > int(match[1]):
            yield f"{path}: {MEMORY_ANNOTATION} counts {gpu_mem:g} GiB per GPU, more than a {accelerator} has"
        usable = gpus * gpu_mem * float(utilisation)
        sequence = int(length) * int(figures["kvBytesPerToken"]) / GIB
        needed = float(figures["weightsGib"]) + float(figures["overheadGib"]) + sequence
        if needed > usable:
            yield (
                f"{path}: weights {float(figures['weightsGib']):.2f} GiB + overhead {float(figures['overheadGib']):.2f}"
                f" GiB + KV cache for one {int(length)}-token sequence {sequence:.2f} GiB = {needed:.2f} GiB > "
                f"{usable:.2f} GiB usable ({gpus} x {gpu_mem:g} GiB x {float(utilisation):g}): vLLM refuses to start"
            )

    yield from each([lambda p=p, c=c: judge(p, c) for p, c in servers(r)])


# --------------------------------------------------------------------------- the weights get in


def _model(container: Mapping[str, Any], path: str) -> str:
    """The model vLLM serves: ``--model`` or the first positional argument."""
    positional, flags = _flags(get_known(container, "args", [], where=path))
    return flags.get("--model") or next((a for a in positional if a != "serve"), "")


def _reads_store_weights(container: Mapping[str, Any], path: str) -> bool:
    """Whether vLLM serves weights from a store (a directory filled from one, or an object-store URI)
    rather than a hub id it downloads."""
    model = _model(container, path)
    return model.startswith("/") or bool(_SCHEME.match(model))


def check_weights_way_in(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A server reading weights from a store starts only once the store holds them."""
    if not any(_reads_store_weights(c, p) for p, c in servers(r)):
        return
    state = _annotations(r).get(WEIGHTS_ANNOTATION)
    if state == "uploaded":
        return
    if state == "pending":
        replicas = _replicas(r)
        if replicas != 0:
            yield (
                f"weights are {WEIGHTS_ANNOTATION}=pending but spec.replicas is {replicas}: servers would "
                "crash-loop on an empty store; hold it at 0 replicas until the weights are uploaded"
            )
        return
    yield (
        f"serves weights from a store but says nothing of how they get there: annotate "
        f"{WEIGHTS_ANNOTATION}=uploaded once the store holds them, or {WEIGHTS_ANNOTATION}=pending with "
        "spec.replicas 0 until then"
    )


# --------------------------------------------------------------------------- awaits end, and mean something


def check_rollout_await(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A running model server is awaited (crash loops fail the update) at least as long as it may load."""
    found = servers(r)
    if not found or _replicas(r) == 0:
        return
    if _skips_await(r):
        yield (
            f"{SKIP_AWAIT} on a model server: pulumi up reports success without waiting, so a crash loop "
            "passes unnoticed"
        )
        return
    wait = _await_s(r)
    deadline = int(get(r.inputs, "spec.progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_S))
    for path, container in found:
        budget = _startup_budget_s(container, path)
        if wait < budget:
            yield (
                f"pulumi up stops waiting after {wait} s ({TIMEOUT_SECONDS}) but {path}'s startup probe allows "
                f"{budget} s to load the model: the update fails while the server is still loading"
            )
        if deadline < budget:
            yield (
                f"spec.progressDeadlineSeconds ({deadline}) is below {path}'s startup budget ({budget} s): "
                "Kubernetes marks the rollout failed while the server may still be loading"
            )


def _same_namespace(a: Subject, b: Subject) -> bool:
    return get(a.inputs, "metadata.namespace", "default") == get(b.inputs, "metadata.namespace", "default")


def _selects(selector: Mapping[str, Any], workload: Subject) -> bool:
    labels = _k8s.template_labels(workload)
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _rollout_s(workload: Subject) -> int:
    """How long the workload's rollout may take, s: the Deployment's progress deadline; a LeaderWorkerSet has
    none, and nothing awaits it but the Service in front, so its own await bound (the annotation) says it."""
    if workload.type == K8S_LWS:
        return _await_s(workload)
    return int(get(workload.inputs, "spec.progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_S))


def _backend_services(ingress: Subject) -> set[str]:
    names = set()
    default = get_known(ingress.inputs, "spec.defaultBackend.service.name")
    if default:
        names.add(default)
    for rule in get_known(ingress.inputs, "spec.rules", []):
        for route in (rule.get("http") or {}).get("paths") or []:
            name = ((route.get("backend") or {}).get("service") or {}).get("name")
            if name:
                names.add(name)
    return names


def check_service_await(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Services and Ingresses of model servers neither wait for pods that never come nor give up early."""
    workloads = [s for s in subjects if s.type in SERVED and servers(s)]
    services = [s for s in subjects if s.type == K8S_SERVICE]

    def targets(service: Subject) -> list[Subject]:
        selector = get_known(service.inputs, "spec.selector", {})
        return [w for w in workloads if _same_namespace(service, w) and _selects(selector, w)]

    def judge_front(front: Subject, kind: str, workload: Subject) -> Iterator[Any]:
        if _skips_await(front):
            return
        if _replicas(workload) == 0:
            yield (
                front.urn,
                f"{kind} {front.name} waits for endpoints of {workload.name}, which is held at 0 replicas: "
                f"pulumi up fails after {_await_s(front)} s; set {SKIP_AWAIT}",
            )
            return
        if kind == "Ingress":
            # An Ingress names its Service, so it comes after it; only the controller's address is awaited.
            return
        deadline = _rollout_s(workload)
        if _await_s(front) < deadline:
            yield (
                front.urn,
                f"{kind} {front.name} waits {_await_s(front)} s for ready endpoints of {workload.name}, whose "
                f"rollout may take {deadline} s (GPU node scale-up, weight copy, model load): order it after the "
                f"Deployment and set {TIMEOUT_SECONDS} to at least that",
            )

    by_service: dict[str, list[Subject]] = {}
    for service in services:
        try:
            matched = targets(service)
        except CannotCheck as exc:
            yield Indeterminate(exc.path, service.urn)
            continue
        by_service[get(service.inputs, "metadata.name", service.name)] = matched
        for workload in matched:
            yield from each([lambda s=service, w=workload: judge_front(s, "Service", w)], service.urn)
    for ingress in (s for s in subjects if s.type == K8S_INGRESS):
        try:
            backends = _backend_services(ingress)
        except CannotCheck as exc:
            yield Indeterminate(exc.path, ingress.urn)
            continue
        for name in sorted(backends):
            for workload in by_service.get(name, []):
                yield from each([lambda i=ingress, w=workload: judge_front(i, "Ingress", w)], ingress.urn)


# --------------------------------------------------------------------------- drains stay possible


def check_pdb_allows_eviction(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A PodDisruptionBudget lets at least one pod of its workload be evicted at its minimum size."""
    workloads = [s for s in subjects if s.type in REPLICATED]
    hpas = [s for s in subjects if s.type == HPA]
    scaled = [s for s in subjects if s.type == SCALED_OBJECT]

    def smallest(workload: Subject) -> int:
        name = get(workload.inputs, "metadata.name", workload.name)
        for hpa in hpas:
            if get(hpa.inputs, "spec.scaleTargetRef.name") == name and _same_namespace(hpa, workload):
                return int(get(hpa.inputs, "spec.minReplicas", 1))
        for so in scaled:
            if get(so.inputs, "spec.scaleTargetRef.name") == name and _same_namespace(so, workload):
                return int(get(so.inputs, "spec.minReplicaCount", 0))
        replicas = _replicas(workload)
        return 1 if replicas is None else replicas

    def judge(pdb: Subject) -> Iterator[Any]:
        spec = get_known(pdb.inputs, "spec", {})
        most_unavailable, least_available = spec.get("maxUnavailable"), spec.get("minAvailable")
        if most_unavailable is not None:
            if str(most_unavailable) in ("0", "0%"):
                yield (
                    pdb.urn,
                    f"PodDisruptionBudget {pdb.name} allows no eviction (maxUnavailable 0): node drains hang",
                )
            return
        if str(least_available) == "100%":
            yield (
                pdb.urn,
                f"PodDisruptionBudget {pdb.name} allows no eviction (minAvailable 100%): node drains hang",
            )
            return
        if least_available is None or str(least_available).endswith("%"):
            return
        selector = get_known(spec, "selector.matchLabels", {})
        for workload in workloads:
            if not (_same_namespace(pdb, workload) and _selects(selector, workload)):
                continue
            size = smallest(workload)
            if size > 0 and int(least_available) >= size:
                yield (
                    pdb.urn,
                    f"PodDisruptionBudget {pdb.name} keeps minAvailable {int(least_available)} of {workload.name}, "
                    f"which may run only {size}: no pod can be evicted, so node drains (autoscaler scale-down, node "
                    "upgrades) hang; use maxUnavailable 1",
                )

    for pdb in (s for s in subjects if s.type == PDB):
        yield from each([lambda p=pdb: judge(p)], pdb.urn)


# --------------------------------------------------------------------------- autoscaling happens, once, after loads


def _kind(r: Subject) -> str:
    return r.type.rsplit(":", 1)[-1]


def _targets(so: Subject, workload: Subject) -> bool:
    ref = get_known(so.inputs, "spec.scaleTargetRef", {})
    return (
        _same_namespace(so, workload)
        and ref.get("name") == get(workload.inputs, "metadata.name", workload.name)
        and ref.get("kind", "Deployment") == _kind(workload)
    )


def check_scaled_object_target(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Autoscaled model servers have exactly one ScaledObject; every ScaledObject's target is declared."""
    scaled = [s for s in subjects if s.type == SCALED_OBJECT]
    workloads = [s for s in subjects if s.type in _SCALABLE]
    hpas = [s for s in subjects if s.type == HPA]

    def judge_workload(workload: Subject) -> Iterator[Any]:
        if not servers(workload) or get(workload.inputs, "spec.replicas") is not None:
            return
        mine = [so for so in scaled if _targets(so, workload)]
        if len(mine) != 1:
            yield (
                workload.urn,
                f"model server {workload.name} leaves its replicas to an autoscaler but {len(mine)} ScaledObjects "
                "scale it: "
                + ("it stays at one replica" if not mine else "KEDA's webhook refuses all but the first"),
            )
            return
        (so,) = mine
        adopted = get(so.inputs, "spec.advanced.horizontalPodAutoscalerConfig.name")
        transfer = str(_annotations(so).get(HPA_TRANSFER, "")).lower() == "true"
        name = get(workload.inputs, "metadata.name", workload.name)
        for hpa in hpas:
            if not (_same_namespace(hpa, workload) and get(hpa.inputs, "spec.scaleTargetRef.name") == name):
                continue
            if transfer and get(hpa.inputs, "metadata.name", hpa.name) == adopted:
                continue
            yield (
                workload.urn,
                f"HorizontalPodAutoscaler {hpa.name} and ScaledObject {so.name} both scale {workload.name}: KEDA's "
                f"webhook refuses the ScaledObject (unless it adopts the HPA: {HPA_TRANSFER} and its name)",
            )

    def judge_object(so: Subject) -> Iterator[Any]:
        if not any(_targets(so, w) for w in workloads):
            ref = get_known(so.inputs, "spec.scaleTargetRef", {})
            yield (
                so.urn,
                f"ScaledObject {so.name} scales {ref.get('kind', 'Deployment')} {ref.get('name')}, which the stack "
                "does not declare in its namespace: KEDA reports the target missing and scales nothing",
            )

    for workload in workloads:
        yield from each([lambda w=workload: judge_workload(w)], workload.urn)
    for so in scaled:
        yield from each([lambda o=so: judge_object(o)], so.urn)


def check_scale_down_after_load(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A ScaledObject's scale-down window is at least its model server's startup budget."""
    workloads = [s for s in subjects if s.type in _SCALABLE]

    def judge(so: Subject) -> Iterator[Any]:
        window = get(
            so.inputs,
            "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds",
            DEFAULT_SCALE_DOWN_WINDOW_S,
        )
        for workload in (w for w in workloads if _targets(so, w)):
            for path, container in servers(workload):
                budget = _startup_budget_s(container, path)
                if int(window) < budget:
                    yield (
                        so.urn,
                        f"ScaledObject {so.name} scales {workload.name} down after {int(window)} s of lower demand, "
                        f"but a replica may take {budget} s to load ({path}'s startup probe): replicas removed in a "
                        "lull are needed back before new ones are ready; set advanced.horizontalPodAutoscalerConfig."
                        "behavior.scaleDown.stabilizationWindowSeconds to at least the load time",
                    )

    for so in (s for s in subjects if s.type == SCALED_OBJECT):
        yield from each([lambda o=so: judge(o)], so.urn)


# --------------------------------------------------------------------------- stopping replicas finish their requests


def check_drain_covers_requests(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A model server's grace period covers its preStop and its longest request."""
    found = servers(r)
    if not found:
        return
    spec, where = _k8s.pod_spec(r)
    grace = int(get(spec, "terminationGracePeriodSeconds", DEFAULT_GRACE_S, where=where))
    declared = _annotations(r).get(MAX_REQUEST_ANNOTATION)
    for path, container in found:
        _, flags = _flags(get_known(container, "args", [], where=path))
        drain = flags.get("--shutdown-timeout")
        longest = declared if declared is not None else drain
        if longest is None:
            yield (
                f"{path} serves requests of unknown length: annotate {MAX_REQUEST_ANNOTATION} (or pass vLLM "
                "--shutdown-timeout) so the grace period can be checked to cover them"
            )
            continue
        if drain is not None and int(drain) < int(longest):
            yield (
                f"{path}: vLLM --shutdown-timeout={drain} aborts requests that may run {int(longest)} s "
                f"({MAX_REQUEST_ANNOTATION})"
            )
        pre_stop = int(get(container, "lifecycle.preStop.sleep.seconds", 0, where=path))
        if grace < pre_stop + int(longest):
            yield (
                f"terminationGracePeriodSeconds ({grace}) is below {path}'s preStop ({pre_stop} s) plus its longest "
                f"request ({int(longest)} s): the kubelet kills the server mid-generation when it stops"
            )


# --------------------------------------------------------------------------- streamed weights are readable


def check_streamer_source(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A server streaming from an object store uses the streamer, a scheme it reads, and the pod's store identity."""
    spec, where = _k8s.pod_spec(r)

    def judge(path: str, container: Mapping[str, Any]) -> Iterator[Any]:
        model = _model(container, path)
        match = _SCHEME.match(model)
        if not match:
            return
        scheme = match[1]
        _, flags = _flags(get_known(container, "args", [], where=path))
        if scheme not in STREAM_SCHEMES:
            yield (
                f"{path} serves {model}: vLLM's model streamer reads {', '.join(s + '://' for s in STREAM_SCHEMES)} "
                "only, so the server fails to load it"
            )
            return
        if flags.get("--load-format") != "runai_streamer":
            yield (
                f"{path} serves {model} without --load-format runai_streamer: vLLM pulls only the config and "
                "tokenizer from the store and finds no weights to load"
            )
        account = get_known(spec, "serviceAccountName", "default", where=where)
        if account in ("", "default"):
            yield (
                f"{where} streams from {scheme}:// as the namespace's default service account, which no store "
                "identity trusts: name the store's reader service account"
            )
        if scheme == "az":
            env = {e.get("name") for e in get_known(container, "env", [], where=path)}
            if not env & set(AZURE_ACCOUNT_ENV):
                yield (
                    f"{path} streams from {model} without {AZURE_ACCOUNT_ENV[0]} (or {AZURE_ACCOUNT_ENV[1]}): "
                    "az:// names only the container, and the streamer cannot tell which storage account holds it"
                )
            if str(_k8s.template_labels(r).get(AZURE_IDENTITY_LABEL, "")).lower() != "true":
                yield (
                    f"{where} streams from Azure without the pod label {AZURE_IDENTITY_LABEL}=true: the workload "
                    "identity webhook injects no federated token, and DefaultAzureCredential finds no credential"
                )

    yield from each([lambda p=p, c=c: judge(p, c) for p, c in servers(r)])


def check_streamer_identity(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """The service account a streaming server runs as is declared in the stack, in the pod's namespace and
    on the pod's cluster (the same Kubernetes provider): an endpoint served from several clusters needs its
    store reader on each of them, and one declared on another cluster does not count."""
    accounts: dict[tuple[str, str], set[str | None]] = {}
    for account in (s for s in subjects if s.type == K8S_SERVICE_ACCOUNT):
        try:
            meta = get_known(account.inputs, "metadata", {})
            key = (meta.get("namespace", "default"), meta.get("name", account.name))
            accounts.setdefault(key, set()).add(account.provider)
        except CannotCheck as exc:
            yield Indeterminate(exc.path, account.urn)

    def judge(workload: Subject) -> Iterator[Any]:
        spec, where = _k8s.pod_spec(workload)
        streams = [p for p, c in servers(workload) if _SCHEME.match(_model(c, p))]
        if not streams:
            return
        namespace = get_known(workload.inputs, "metadata.namespace", "default")
        name = get_known(spec, "serviceAccountName", "default", where=where)
        providers = accounts.get((namespace, name))
        if providers is None:
            yield (
                workload.urn,
                f"{workload.name} streams its weights as service account {namespace}/{name}, which the stack does "
                "not declare: the API server refuses its pods (serviceaccount not found), and no store identity "
                "is bound to it",
            )
        # Providers unknown on either side (a set without them) join by name, as before.
        elif workload.provider is not None and None not in providers and workload.provider not in providers:
            yield (
                workload.urn,
                f"{workload.name} streams its weights as service account {namespace}/{name}, which the stack "
                "declares only on another cluster: on this one the API server refuses its pods (serviceaccount "
                "not found); each serving cluster of an endpoint needs its own store reader",
            )

    for workload in (s for s in subjects if s.type in _SERVER_WORKLOADS):
        yield from each([lambda w=workload: judge(w)], workload.urn)


def _secrets_by_cluster(subjects: Sequence[Subject]) -> Iterator[Any]:
    """Yield ``((namespace, name), provider)`` of every Secret the stack declares or has ESO sync (an
    ExternalSecret's ``spec.target.name``, else its own name), or Indeterminate."""
    for s in subjects:
        if s.type not in (K8S_SECRET, K8S_EXTERNAL_SECRET):
            continue
        try:
            meta = get_known(s.inputs, "metadata", {})
            name = meta.get("name", s.name)
            if s.type == K8S_EXTERNAL_SECRET:
                name = get_known(s.inputs, "spec.target.name", None) or name
            yield (meta.get("namespace", "default"), name), s.provider
        except CannotCheck as exc:
            yield Indeterminate(exc.path, s.urn)


def check_api_key_in_cluster(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """The Secret a vLLM server takes its API key from exists in its namespace on its own cluster."""
    secrets: dict[tuple[str, str], set[str | None]] = {}
    undecided: set[str] = set()  # namespaces holding a secret whose name is unknown during preview
    by_urn = {s.urn: s for s in subjects}
    for found in _secrets_by_cluster(subjects):
        if isinstance(found, Indeterminate):
            yield found
            undecided.add(get(by_urn[found.urn].inputs, "metadata.namespace") or "default")
        else:
            secrets.setdefault(found[0], set()).add(found[1])

    def judge(workload: Subject) -> Iterator[Any]:
        namespace = get_known(workload.inputs, "metadata.namespace", "default")
        for path, container in servers(workload):
            for i, env in enumerate(get_known(container, "env", [], where=path) or []):
                if get_known(env, "name", None, where=f"{path}.env[{i}]") != API_KEY_ENV:
                    continue
                name = get_known(env, "valueFrom.secretKeyRef.name", None, where=f"{path}.env[{i}]")
                if name is None:  # a plain value or none: k8s-serving-api-key says so
                    continue
                providers = secrets.get((namespace, name))
                if providers is None and namespace in undecided:
                    continue  # it may be the secret whose name is unknown (reported as undecided)
                if providers is None or (
                    workload.provider is not None
                    and None not in providers
                    and workload.provider not in providers
                ):
                    where = "in the stack" if providers is None else "on this cluster (only on another one)"
                    yield (
                        workload.urn,
                        f"{workload.name} takes {API_KEY_ENV} from Secret {namespace}/{name}, which is not declared "
                        f"or synced {where}: its pods stop at CreateContainerConfigError; each serving cluster of "
                        "an endpoint needs the key synced from its own cloud's secret manager",
                    )

    for workload in (s for s in subjects if s.type in _SERVER_WORKLOADS):
        yield from each([lambda w=workload: judge(w)], workload.urn)


# --------------------------------------------------------------------------- multi-node groups add up


def check_lws_group(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A LeaderWorkerSet of vLLM pods builds exactly the replica its arguments describe, with like workers."""
    found = servers(r)
    if not found:
        return
    size = _group_size(r)
    policy = get_known(r.inputs, "spec.startupPolicy", "LeaderCreated")
    if policy == "LeaderReady":
        yield (
            "spec.startupPolicy LeaderReady: the workers start only once the leader is ready, and a multi-node "
            "vLLM leader is ready only once its workers joined: the group never starts"
        )
    workers = get_known(r.inputs, LWS_WORKER_SPEC, {})
    worker_servers = [(p, c) for p, c in _k8s.containers(workers, LWS_WORKER_SPEC) if _k8s.is_vllm(c, p)]
    for path, container in found:
        _, flags = _flags(get_known(container, "args", [], where=path))
        per_pod = int(_k8s.gpu_quantity(container, "limits", path))
        tensor = int(flags.get("--tensor-parallel-size", 1))
        pipeline = int(flags.get("--pipeline-parallel-size", 1))
        if tensor * pipeline != size * per_pod:
            yield (
                f"{path}: tensor parallel {tensor} x pipeline parallel {pipeline} = {tensor * pipeline} GPUs, but the "
                f"group has {size} pods x {per_pod} GPUs = {size * per_pod}: vLLM waits for ranks that never come "
                "or leaves GPUs idle"
            )
        nodes = int(flags.get("--nnodes", 1))
        if nodes != size:
            yield f"{path}: --nnodes {nodes} but the group has {size} pods (spec.leaderWorkerTemplate.size)"
        for wpath, worker in worker_servers:
            wgpus = _k8s.gpu_quantity(worker, "limits", wpath)
            if str(wgpus) != str(_k8s.gpu_quantity(container, "limits", path)) or worker.get(
                "image"
            ) != container.get("image"):
                yield f"{wpath}: the workers run another image or GPU count than the leader ({path})"
    lead_account = get_known(_k8s.pod_spec(r)[0], "serviceAccountName", "default")
    if size > 1 and get_known(workers, "serviceAccountName", "default") != lead_account:
        yield (
            f"{LWS_WORKER_SPEC}.serviceAccountName differs from the leader's ({lead_account}): the workers stream "
            "their share of the weights with an identity the store may not trust"
        )


_SERVER_WORKLOADS = tuple(t for t in K8S_POD_SPEC_PATHS if t != "kubernetes:batch/v1:CronJob")

_SCALABLE = SERVED
"""Workloads whose ScaledObject is checked (a LeaderWorkerSet scales by groups through its scale subresource)."""

RULES = (
    Rule(
        "deploy-model-fits-gpus",
        MANDATORY,
        "vLLM servers get --max-model-len and --gpu-memory-utilization, and the weights plus the KV cache of one "
        "max-model-len sequence fit the pod's GPUs at that utilisation (figures in aistack.io/gpu-memory).",
        _SERVER_WORKLOADS,
        check_model_fits_gpus,
    ),
    Rule(
        "deploy-weights-way-in",
        MANDATORY,
        "A model server that serves weights from a store runs only once the store holds them "
        "(aistack.io/weights=uploaded, or pending at 0 replicas).",
        SERVED,
        check_weights_way_in,
    ),
    Rule(
        "deploy-streamer-source",
        MANDATORY,
        "A vLLM server serving an object-store URI streams it (--load-format runai_streamer) from a scheme the "
        "streamer reads (s3, gs, az) as a named service account; az:// also needs the storage account and the "
        "workload identity label.",
        _SERVER_WORKLOADS,
        check_streamer_source,
    ),
    Rule(
        "deploy-streamer-identity",
        MANDATORY,
        "A vLLM server streaming from an object store runs as a service account the stack declares in its namespace "
        "on its own cluster (stack: joins workloads and service accounts by Kubernetes provider).",
        (*_SERVER_WORKLOADS, K8S_SERVICE_ACCOUNT),
        check_streamer_identity,
        stack=True,
    ),
    Rule(
        "deploy-api-key-in-cluster",
        MANDATORY,
        "The Secret a vLLM server takes VLLM_API_KEY from is declared, or synced by an ExternalSecret, in its "
        "namespace on its own cluster (stack: joins workloads and secrets by Kubernetes provider).",
        (*_SERVER_WORKLOADS, K8S_SECRET, K8S_EXTERNAL_SECRET),
        check_api_key_in_cluster,
        stack=True,
    ),
    Rule(
        "deploy-lws-group",
        MANDATORY,
        "A LeaderWorkerSet of vLLM pods adds up: tensor x pipeline parallel = size x GPUs per pod, --nnodes = size, "
        "workers like the leader (image, GPUs, service account), and no LeaderReady startup.",
        (K8S_LWS,),
        check_lws_group,
    ),
    Rule(
        "deploy-rollout-await",
        MANDATORY,
        "Running model servers are awaited (no skipAwait), for at least their startup probe's budget, within a "
        "progress deadline no shorter than it.",
        REPLICATED,
        check_rollout_await,
    ),
    Rule(
        "deploy-service-await",
        MANDATORY,
        "Services and Ingresses in front of model servers skip the await while the servers are held at 0; "
        "Services otherwise wait at least the servers' progress deadline (stack: joins selectors and backends).",
        (*SERVED, K8S_SERVICE, K8S_INGRESS),
        check_service_await,
        stack=True,
    ),
    Rule(
        "deploy-pdb-allows-eviction",
        MANDATORY,
        "PodDisruptionBudgets allow at least one eviction at the workload's minimum size (stack: joins the "
        "workload and its autoscaler).",
        (*REPLICATED, PDB, HPA, SCALED_OBJECT),
        check_pdb_allows_eviction,
        stack=True,
    ),
    Rule(
        "deploy-scaledobject-target",
        MANDATORY,
        "A model server left to an autoscaler (no spec.replicas) is scaled by exactly one KEDA ScaledObject and "
        "no other HPA; every ScaledObject's target is declared (stack: joins targets by kind, name, namespace).",
        (*_SCALABLE, HPA, SCALED_OBJECT),
        check_scaled_object_target,
        stack=True,
    ),
    Rule(
        "deploy-scale-down-after-load",
        MANDATORY,
        "A ScaledObject's scale-down stabilisation window is at least its model server's startup budget, so "
        "replicas are not removed faster than one loads (stack: joins the ScaledObject and its target).",
        (*_SCALABLE, SCALED_OBJECT),
        check_scale_down_after_load,
        stack=True,
    ),
    Rule(
        "deploy-drain-covers-requests",
        MANDATORY,
        "A model server's terminationGracePeriodSeconds covers its preStop plus its longest request "
        "(aistack.io/max-request-s, or vLLM --shutdown-timeout, which must cover it too).",
        _SERVER_WORKLOADS,
        check_drain_covers_requests,
    ),
)
