"""Serving endpoints: a model served from a cluster's GPU pool, reading its weights from a store.

Field names follow KServe where they fit (``min_replicas``, ``max_replicas``, ``scale_metric``,
``scale_target``, ``storage_uri``).

Autoscaling: a KEDA ``ScaledObject`` per endpoint (``components/k8s/serving.py``) drives the
HorizontalPodAutoscaler KEDA makes, with a Prometheus trigger per vLLM gauge holding its
per-replica average (``metricType: AverageValue``) at a target; the HPA follows the trigger that
asks for the most replicas. A gauge's target is ``scale_target`` when it is the ``scale_metric``
and given; otherwise ``SCALE_OUT_AT`` (0.8) × the per-replica capacity of the gauge, so replicas are
added once they run at 80% of what one replica can carry (the seed's "scale out at 80% of target"):

- ``vllm:num_requests_waiting`` (queue): a replica counts as full with 5 requests waiting, the
  threshold at which vLLM's production-stack scales out (its KEDA autoscaling guide,
  ``docs/source/use_cases/autoscaling-keda.rst``), so the target is 4 waiting requests per replica;
- ``vllm:num_requests_running`` (concurrency): a replica is full at ``max_concurrency`` sequences,
  which the server enforces (``--max-num-seqs``), so the target is 0.8 × ``max_concurrency``;
- ``cpu`` (fallback only; GPU servers are rarely CPU-bound): the only trigger, full at 100% of the
  CPU request, so the target is 80% utilisation (also KServe's default for raw deployments).

``min_replicas: 0`` lets KEDA remove the last replica when nothing is queued or running; the first
one then comes back on the endpoint picker's flow-control queue (``docs/serving.md``, Autoscaling).

Drain: ``max_request_s`` is the longest a request may take; a stopping replica stops taking
requests and finishes those it runs within it (``terminationGracePeriodSeconds`` covers it).

On a pool with explicit node counts, ``min_replicas``/``max_replicas`` and ``gpus_per_replica`` are
the user's; on a sized pool the plan (``aistack/plan.py``) sets ``max_replicas`` and
``gpus_per_replica`` from ``demand_tokens_per_s``, ``throughput_per_gpu`` and ``model_mem_gib``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from aistack.spec.base import Model, Name


class LatencyTargetSpec(Model):
    """An explicit latency target of an endpoint."""

    ttft_ms: float = Field(gt=0, description="Time to first token the endpoint needs at most, milliseconds.")
    tpot_ms: float = Field(
        gt=0, description="Time per output token the endpoint needs at most, milliseconds."
    )


class RequestClassSpec(Model):
    """One request-size class of an endpoint's demand (for the sizing plan)."""

    name: str = Field(min_length=1, description="Class name, e.g. `short`.")
    share: float = Field(gt=0, le=1, description="Fraction of the endpoint's demand in this class.")
    throughput_per_gpu: float = Field(
        gt=0, description="Output tokens/s one GPU of the pool's accelerator serves of this class alone."
    )
    tokens: int | None = Field(
        default=None,
        gt=0,
        description="Prompt plus output tokens of this class's typical request (for the sizing plan's KV bound "
        "on concurrency: the share-weighted mean over the classes, when every class gives it).",
    )


SCALE_OUT_AT = 0.8
"""Fraction of a replica's capacity at which the autoscaler adds replicas (seed: 80% of target)."""

QUEUE_FULL = 5
"""Waiting requests at which a vLLM replica counts as full (vLLM production-stack KEDA guide)."""

DEFAULT_MAX_REQUEST_S = 300
"""Default longest request, s: 8,192 output tokens at 35 ms each (a loaded 70B replica's inter-token
latency) take under 5 minutes; llm-d's guides give 30 s to 300 s (llm-d/llm-d#1653)."""

DEFAULT_IMAGE = "docker.io/vllm/vllm-openai:v0.34.0"
"""vLLM's OpenAI-compatible server, pinned by tag.

v0.34.0 is the newest vLLM release (PyPI ``vllm`` 0.34.0, uploaded 2026-11-16; checked 2026-12-04),
the same tag on Docker Hub. Why this version and not an older one: aistack relies on what its source
at that tag provides (read from the 0.34.0 wheel): the Run:ai streamer loader reading ``s3://``,
``gs://`` and ``az://`` (``vllm/transformers_utils/runai_utils.py`` ``SUPPORTED_SCHEMES``; config and
tokenizer files pulled into ``$VLLM_ASSETS_CACHE/model_streamer``), its ``model_loader_extra_config``
keys ``distributed``/``concurrency``/``memory_limit`` (``model_executor/model_loader/runai_streamer_loader.py``;
the image ships ``runai-model-streamer[s3,gcs,azure]`` >= 0.17.1), and multi-node serving without Ray:
``--nnodes``/``--node-rank``/``--master-addr`` with ``--headless`` workers on the multiprocessing backend
(``vllm/config/parallel.py``, ``vllm/entrypoints/cli/serve.py``). The flags aistack passes
(``--max-num-seqs``, ``--max-model-len``, ``--gpu-memory-utilization``, ``--tensor-parallel-size``,
``--pipeline-parallel-size``, ``--load-format``, ``--model-loader-extra-config``) all exist in
``vllm/engine/arg_utils.py`` at 0.34.0. The anchors of late 2026 run v0.19 to v0.20
(``../shared/research/serving_anchors.md``); v0.11.0, the previous pin, predates all of the above but the
streamer's S3 support."""

GPUS_PER_NODE_MAX = 8
"""Most GPUs one node (one pod) offers: the 8-GPU instance types (p5.48xlarge, ND H100 v5, a3-highgpu-8g)."""

ScaleMetric = Literal["vllm:num_requests_waiting", "vllm:num_requests_running", "cpu"]

_CPU = re.compile(r"^(?P<n>\d+)(?P<milli>m)$|^(?P<cores>\d+(\.\d{1,3})?)$")
_MEMORY = re.compile(r"^(?P<n>\d+)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_MEMORY_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY_UNITS.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
_DNS_NAME = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_K8S_NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
_GPU_MEMORY = re.compile(r"-(\d+)GB$")


def cpu_cores(quantity: str) -> float:
    """CPU cores of a Kubernetes CPU quantity (``"4"``, ``"500m"``, ``"1.5"``)."""
    match = _CPU.match(quantity)
    if not match:
        raise ValueError(
            f"{quantity!r} is not a CPU quantity (cores such as 4 or 1.5, or millicores such as 500m)"
        )
    return int(match["n"]) / 1000 if match["milli"] else float(match["cores"])


def memory_bytes(quantity: str) -> int:
    """Bytes of a Kubernetes memory quantity (``"16Gi"``, ``"512Mi"``, ``"20G"``)."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(
            f"{quantity!r} is not a memory quantity (an integer with Ki, Mi, Gi, Ti, k, M, G or T)"
        )
    return int(match["n"]) * _MEMORY_UNITS[match["unit"]]


def check_image(image: str) -> str:
    """Reject an image reference that is not pinned by a tag other than ``latest`` or by digest."""
    name, _, digest = image.partition("@")
    if digest and not _DIGEST.match(digest):
        raise ValueError(f"image {image!r}: a digest is sha256: followed by 64 lowercase hex digits")
    repository, tag = name, None
    if ":" in name.rsplit("/", 1)[-1]:
        repository, tag = name.rsplit(":", 1)
    if not _REPOSITORY.match(repository):
        raise ValueError(f"image {image!r}: {repository!r} is not a valid image repository")
    if tag is not None and not _TAG.match(tag):
        raise ValueError(f"image {image!r}: {tag!r} is not a valid tag")
    if not digest and tag is None:
        raise ValueError(
            f"image {image!r} is not pinned: add a version tag (e.g. :v0.11.0) or a @sha256: digest"
        )
    if not digest and tag == "latest":
        raise ValueError(
            f"image {image!r} is not pinned: `latest` moves; name a version tag or a @sha256: digest"
        )
    return image


def accelerator_gib(accelerator: str) -> int:
    """Memory per GPU of a canonical accelerator name (``"L4-24GB"`` → 24), as the name states."""
    match = _GPU_MEMORY.search(accelerator)
    if not match:
        raise ValueError(f"accelerator {accelerator!r} does not end in its memory size (e.g. L4-24GB)")
    return int(match[1])


class IngressSpec(Model):
    """An Ingress in front of the endpoint's Service, TLS only."""

    host: str = Field(
        pattern=_DNS_NAME, description="Fully qualified host name clients use, e.g. `chat.example.com`."
    )
    tls_secret: str = Field(
        pattern=_K8S_NAME,
        description="Name of the `kubernetes.io/tls` Secret in the serving namespace holding the certificate "
        "(managed outside the stack, e.g. by cert-manager); the stack carries no secrets.",
    )
    class_name: str | None = Field(
        default=None,
        pattern=_K8S_NAME,
        description="IngressClass to use (e.g. `alb`, `nginx`); omit for the cluster's default class. aistack "
        "installs no ingress controller: the class's controller must be running (on EKS, the AWS Load Balancer "
        "Controller for `alb`), or `pulumi up` fails after 10 minutes waiting for the Ingress's address.",
    )


Survive = Literal["none", "zone", "region", "cloud"]
"""Failure domain an endpoint keeps meeting its demand without (``none``: no such promise)."""


class ServeFromSpec(Model):
    """One cluster an endpoint serves from (its *share*), and that share's replica bounds."""

    cluster: Name = Field(
        description="Cluster serving a share of the endpoint (a key of `aistack:clusters`)."
    )
    pool: Name = Field(description="GPU pool of that cluster the share's replicas run on.")
    min_replicas: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="Fewest replicas of this share (count); omit for the endpoint's `min_replicas`. On a sized "
        "pool the plan sets it from the placement.",
    )
    max_replicas: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Most replicas of this share (count); omit for the endpoint's `max_replicas`. On a sized pool "
        "the plan sets it (omit it).",
    )
    gpus_per_replica: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="GPUs per replica of this share; omit for the endpoint's. On a sized pool the plan sets it "
        "from the pool's offerings (omit it).",
    )

    @field_validator("gpus_per_replica")
    @classmethod
    def _power_of_two(cls, gpus: int | None) -> int | None:
        if gpus is not None and gpus & (gpus - 1):
            raise ValueError(f"gpus_per_replica must be a power of two (1, 2, 4, 8, 16, ...), got {gpus}")
        return gpus


class EndpointSpec(Model):
    """One model served by an OpenAI-compatible server (vLLM by default) on a cluster's GPU pool, or on
    several clusters' pools at once (``serve_from``)."""

    model: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$",
        description="Model name clients request (the server's `--served-model-name`), "
        "e.g. `meta-llama/Llama-3.1-8B-Instruct`.",
    )
    storage_uri: str = Field(
        pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
        max_length=1024,
        description="Path of the model's weights inside the store (no scheme, no leading slash), "
        "e.g. `llama-3.1-8b-instruct`: safetensors files plus config and tokenizer files, which the server "
        "streams straight from the store (vLLM `--load-format runai_streamer`).",
    )
    cluster: Name | None = Field(
        default=None,
        description="Cluster that serves the model (a key of `aistack:clusters`); give `cluster` and `pool`, "
        "or `serve_from`.",
    )
    pool: Name | None = Field(
        default=None, description="GPU pool of that cluster the replicas run on (with `cluster`)."
    )
    serve_from: list[ServeFromSpec] | None = Field(
        default=None,
        description="Serve from several clusters at once (instead of `cluster` + `pool`): at least two entries on "
        "distinct clusters, `{cluster, pool}` each. On sized pools the plan places the replicas jointly across "
        "their offerings at the least cost that meets `demand_tokens_per_s` with `survive`; each cluster "
        "deploys its share (servers, autoscaler bounds, its entry point). Each cluster reads the weights from "
        "the store on its own cloud: `store` when on the same cloud, else the store whose `replica_of` is `store`.",
    )
    survive: Survive | None = Field(
        default=None,
        description="Failure domain whose loss the endpoint survives: with any one zone, region or cloud lost, "
        "the remaining replicas still meet `demand_tokens_per_s` (the plan sizes sized pools so). Omit for "
        "`aistack:sizing.survive` (none when that is unset). `region` and `cloud` need clusters in two regions "
        "or clouds: a stack has one region per cloud.",
    )
    store: Name = Field(
        description="Object store holding the weights (the primary copy with `serve_from`); every serving "
        "cluster must be one of the readers of the store it reads."
    )
    image: str = Field(
        default=DEFAULT_IMAGE,
        description="Server image, pinned by a version tag or a `@sha256:` digest (`latest` and untagged "
        "images are refused). The container arguments are vLLM's.",
    )
    gpus_per_replica: int = Field(
        default=1,
        ge=1,
        le=64,
        description="GPUs per replica, over all its nodes (a power of two). On one node it is vLLM's tensor-parallel "
        "size (at most 8); a replica larger than one node sets `nodes_per_replica`.",
    )
    nodes_per_replica: int = Field(
        default=1,
        ge=1,
        le=8,
        description="Nodes one replica spans (count). Above 1 the endpoint is served by a LeaderWorkerSet: "
        "tensor parallel over the `gpus_per_replica / nodes_per_replica` GPUs of each node, pipeline parallel "
        "across the nodes. Each node's share must be all GPUs of one node of the pool (checked against the pool's "
        "instance types).",
    )
    min_replicas: int = Field(
        default=1,
        ge=0,
        le=1000,
        description="Fewest replicas the autoscaler keeps (count). 0 scales the endpoint to zero when idle: "
        "the endpoint picker holds the first requests in its flow-control queue while a replica loads "
        "(`load_timeout_s` and more; docs/serving.md, Autoscaling).",
    )
    max_replicas: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="Most replicas the autoscaler may run (count); on a sized pool the plan sets it (omit it).",
    )
    scale_metric: ScaleMetric = Field(
        default="vllm:num_requests_waiting",
        description="Per-replica signal `scale_target` applies to: vLLM's request queue (default) or its running "
        "requests (concurrency), both of which KEDA follows through the cluster's Prometheus (the other at its "
        "default target); or `cpu`, a fallback that replaces both.",
    )
    scale_target: float | None = Field(
        default=None,
        gt=0,
        le=100000,
        description="Autoscaler target per replica in the metric's unit (requests, or percent of the CPU "
        "request). Omit for 0.8 × the replica's capacity in that metric (see the module docs).",
    )
    max_concurrency: int = Field(
        default=256,
        ge=1,
        le=4096,
        description="Sequences one replica runs at once (vLLM `--max-num-seqs`; 256 is vLLM's long-standing "
        "default, set explicitly so the autoscaler's capacity and the server agree).",
    )
    cpu_request: str = Field(
        description="CPU request per server pod (one per replica, one per node of a multi-node replica; cores, e.g. `3` or `3500m`)."
    )
    cpu_limit: str | None = Field(
        default=None, description="CPU limit per replica; omit to equal the request (Guaranteed QoS)."
    )
    memory_request: str = Field(
        description="Memory request per server pod (e.g. `12Gi`); includes `/dev/shm` and the streamer's read buffers (half of what is left beyond `/dev/shm`, see docs/serving.md)."
    )
    memory_limit: str | None = Field(
        default=None, description="Memory limit per replica; omit to equal the request (Guaranteed QoS)."
    )
    shm_gib: int = Field(
        default=2,
        ge=1,
        le=256,
        description="Size of `/dev/shm`, a memory-backed volume counted in the memory limit (GiB); vLLM uses "
        "it between tensor-parallel workers (vLLM's Kubernetes guide uses 2 GiB).",
    )
    node_cache_gib: int | None = Field(
        default=None,
        ge=1,
        le=16384,
        description="Opt-in local cache of the streamed weights (GiB, at least the weights' size): the Run:ai "
        "streamer writes what it reads to it (`RUNAI_STREAMER_CACHE_DIR`), so a restarted server reads the node's "
        "disk instead of the store. Worth it where the pool's ephemeral storage is local NVMe (docs/serving.md, "
        "Weights); omit to stream from the store on every start, with no copy kept.",
    )
    port: int = Field(
        default=8000, ge=1024, le=65535, description="Port the server listens on (unprivileged)."
    )
    expose: Literal["cluster", "internal-lb", "public-lb"] = Field(
        default="cluster",
        description="`cluster`: a ClusterIP Service only. `internal-lb`: a load balancer reachable inside "
        "the network only. `public-lb`: a public load balancer per serving cluster admitting only "
        "`aistack:dns.allowed_cidrs` and the DNS provider's health checkers, TLS for `hostname` at the "
        "endpoint's proxy, the API key required; the global name answers with the healthy clusters "
        "(needs `hostname` and `aistack:dns`; docs/multicloud.md, 'One name').",
    )
    hostname: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
        description="The endpoint's name, one DNS label: with `expose: public-lb`, `chat` is served at "
        "`chat.<aistack:dns.zone>`, one public name over every cluster serving the endpoint; with `internal-lb`, "
        "at `chat.<aistack:interconnect.private_zone>` inside the networks (that key is then required). Refused "
        "with `expose: cluster`.",
    )
    ingress: IngressSpec | None = Field(
        default=None, description="An Ingress with TLS in front of the Service."
    )
    max_model_len: int = Field(
        ge=256,
        le=1_048_576,
        description="Longest sequence a request may use, prompt plus output (tokens; vLLM `--max-model-len`, "
        "always passed). vLLM otherwise takes the model's full context (131,072 tokens for Llama 3.1), whose KV "
        "cache alone does not fit a 24 GB GPU next to 8B weights, and refuses to start. Checked offline: the "
        "weights plus the KV cache of one such sequence must fit `gpus_per_replica` GPUs at "
        "`gpu_memory_utilization` (see `sizing/memory.py`).",
    )
    gpu_memory_utilization: float = Field(
        default=0.9,
        ge=0.5,
        le=0.95,
        description="Fraction of each GPU's memory vLLM may use for weights, activations and KV cache "
        "(`--gpu-memory-utilization`, always passed; 0.9 is vLLM's default). Above 0.95 leaves too little for "
        "the CUDA context and NCCL buffers outside vLLM's accounting.",
    )
    precision: Literal["bf16", "fp16", "fp8", "int8", "int4"] = Field(
        default="bf16",
        description="Precision of the checkpoint's weights (vLLM reads it from the checkpoint); used only for "
        "the memory check.",
    )
    weights_uploaded: bool = Field(
        default=False,
        description="Whether the store already holds the weights under `storage_uri` (uploaded with the "
        'command in docs/first-deploy.md, "How weights get in"). Until it does, the endpoint is declared '
        "with 0 replicas, so the first `pulumi up` creates the store and the serving objects without starting "
        "servers that would crash-loop on an empty store; set it to true after the upload and run "
        "`pulumi up` again to start the replicas.",
    )
    weights_manifest: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        description="Digest of the weights manifest the servers must find next to the weights "
        "(`sha256:<hex>`, printed by `python -m aistack weights manifest DIR`, which writes "
        "`aistack-manifest.txt`: every file with its size and SHA-256). Each server pod checks its store "
        "before vLLM starts: the manifest must have this digest and the store's files and sizes must be the "
        "manifest's, or the pod fails with the difference. Required when `weights_uploaded` is true and a "
        "serving cluster reads a replica of the store (`replica_of`): replicas serve only the primary's weights.",
    )
    max_request_s: int = Field(
        default=DEFAULT_MAX_REQUEST_S,
        ge=10,
        le=3600,
        description="Longest a request may take, seconds (prompt and whole generation). A stopping replica "
        "stops taking requests and lets those it runs finish for this long (vLLM `--shutdown-timeout`), within "
        "its `terminationGracePeriodSeconds`. Above about 570 s a Cluster Autoscaler scale-down may cut it "
        "short (it grants at most 600 s); voluntary drains wait for it.",
    )
    load_timeout_s: int = Field(
        default=900,
        ge=60,
        le=14400,
        description="Seconds a replica may take to load its weights and become ready (the startup probe's "
        "budget, streaming from the store included); the rollout's progress deadline, and how long `pulumi up` "
        "waits for it, is twice this, covering the GPU node scale-up and the image pull too.",
    )
    demand_tokens_per_s: float | None = Field(
        default=None, ge=0, description="Expected output tokens per second at peak (for the sizing plan)."
    )
    throughput_per_gpu: float | None = Field(
        default=None,
        gt=0,
        description="Output tokens/s one GPU of the pool's accelerator serves for this model at your latency "
        "target (your own benchmark); for sized pools, overrides the sourced table in sizing/capacity.py.",
    )
    model_mem_gib: float | None = Field(
        default=None,
        gt=0,
        description="GPU memory one replica needs, weights plus KV cache (GiB; for the sizing plan). Must fit "
        "in `gpus_per_replica` GPUs of the pool.",
    )
    slo: Literal["offline", "server", "interactive"] | LatencyTargetSpec | None = Field(
        default=None,
        description="Latency target for the sizing plan: an MLPerf scenario (`offline`, `server`, "
        "`interactive`) or `{ttft_ms, tpot_ms}`; a known model's capacity then comes from the measured table "
        "for that scenario (sizing/data/throughput.csv), or a flagged roofline estimate.",
    )
    request_classes: list[RequestClassSpec] | None = Field(
        default=None,
        description="Request-size classes for the sizing plan: each class's share of the demand and the output "
        "tokens/s one GPU of the pool's accelerator serves of it; the shares sum to 1.",
    )
    typical_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Prompt plus output tokens of a typical request, for the sizing plan: a layout is credited "
        "at most the concurrency its KV cache holds at this length (capped at `max_model_len`; default: the "
        "request classes' `tokens`, else the SLO scenario's measured lengths, else 1,024 + 256).",
    )

    @field_validator("image")
    @classmethod
    def _pinned(cls, image: str) -> str:
        return check_image(image)

    @field_validator("storage_uri")
    @classmethod
    def _inside_store(cls, path: str) -> str:
        if any(part in (".", "..") for part in path.split("/")):
            raise ValueError(f"storage_uri {path!r} must not contain `.` or `..` segments")
        return path

    @field_validator("gpus_per_replica")
    @classmethod
    def _power_of_two(cls, gpus: int) -> int:
        if gpus & (gpus - 1):
            raise ValueError(f"gpus_per_replica must be a power of two (1, 2, 4, 8, 16, ...), got {gpus}")
        return gpus

    @field_validator("cpu_request", "cpu_limit")
    @classmethod
    def _cpu(cls, value: str | None) -> str | None:
        if value is not None and cpu_cores(value) <= 0:
            raise ValueError("must be more than 0 cores")
        return value

    @field_validator("memory_request", "memory_limit")
    @classmethod
    def _memory(cls, value: str | None) -> str | None:
        if value is not None and memory_bytes(value) <= 0:
            raise ValueError("must be more than 0 bytes")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EndpointSpec:
        if self.serve_from is None:
            missing = [key for key in ("cluster", "pool") if getattr(self, key) is None]
            if missing:
                raise ValueError(
                    f"give {' and '.join(missing)} (one cluster's pool), or serve_from (a list of "
                    "{cluster, pool} on at least two clusters)"
                )
        else:
            given = [key for key in ("cluster", "pool") if getattr(self, key) is not None]
            if given:
                raise ValueError(
                    f"give either cluster + pool or serve_from, not both ({', '.join(given)} given with serve_from)"
                )
            clusters = [entry.cluster for entry in self.serve_from]
            if len(set(clusters)) < 2 or len(set(clusters)) < len(clusters):
                raise ValueError(
                    f"serve_from needs at least two entries on distinct clusters (got {', '.join(clusters) or 'none'})"
                )
        if self.gpus_per_replica % self.nodes_per_replica:
            raise ValueError(
                f"gpus_per_replica ({self.gpus_per_replica}) must split evenly over nodes_per_replica "
                f"({self.nodes_per_replica})"
            )
        if self.gpus_per_pod > GPUS_PER_NODE_MAX:
            raise ValueError(
                f"gpus_per_replica ({self.gpus_per_replica}) over {self.nodes_per_replica} node(s) is "
                f"{self.gpus_per_pod} GPUs per node, more than a node has ({GPUS_PER_NODE_MAX}); raise nodes_per_replica"
            )
        # min_replicas <= max_replicas is checked by the stack: on a sized pool the plan sets the max.
        if cpu_cores(self.cpu) < cpu_cores(self.cpu_request):
            raise ValueError(f"cpu_limit ({self.cpu_limit}) is below cpu_request ({self.cpu_request})")
        if memory_bytes(self.memory) < memory_bytes(self.memory_request):
            raise ValueError(
                f"memory_limit ({self.memory_limit}) is below memory_request ({self.memory_request})"
            )
        if self.shm_gib * 2**30 >= memory_bytes(self.memory):
            raise ValueError(
                f"shm_gib ({self.shm_gib}) must be below the memory limit ({self.memory}), which counts it"
            )
        return self

    @property
    def gpus_per_pod(self) -> int:
        """GPUs of one pod (one node's share of a replica): vLLM's tensor-parallel size."""
        return self.gpus_per_replica // self.nodes_per_replica

    @property
    def multi_node(self) -> bool:
        """Whether a replica spans several nodes (served by a LeaderWorkerSet)."""
        return self.nodes_per_replica > 1

    @property
    def cpu(self) -> str:
        """The CPU limit (the request when no limit is set)."""
        return self.cpu_limit or self.cpu_request

    @property
    def memory(self) -> str:
        """The memory limit (the request when no limit is set)."""
        return self.memory_limit or self.memory_request

    def replica_capacity(self, metric: str | None = None) -> float:
        """What one replica can carry in ``metric``'s unit (default ``scale_metric``; see the module docs)."""
        return {
            "vllm:num_requests_waiting": float(QUEUE_FULL),
            "vllm:num_requests_running": float(self.max_concurrency),
            "cpu": 100.0,
        }[metric or self.scale_metric]

    def hpa_target(self, metric: str | None = None) -> float:
        """The per-replica target of ``metric`` (default ``scale_metric``): ``scale_target`` for the
        ``scale_metric`` when given, else 0.8 × the replica's capacity in that metric."""
        metric = metric or self.scale_metric
        if metric == self.scale_metric and self.scale_target is not None:
            return self.scale_target
        return SCALE_OUT_AT * self.replica_capacity(metric)
