"""Capacity model: how much one GPU serves, how much memory one replica needs, how replicas pack.

Units: throughput in output tokens per second per GPU (``tokens/s``); memory in GiB
(2**30 bytes); parameters in billions.

Published throughput figures are *offline saturation ceilings* (large batches, no latency
target). The defaults this module hands to the optimiser are those figures multiplied by
:data:`LATENCY_DERATE`, so a workload sized from them keeps a usable time-to-first-token. Supply
your own measured figures in a workload's ``throughput`` table whenever you have them: the table
below only covers the pairs with a public source, and the optimiser only considers accelerators
that appear in a workload's throughput table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

GIB = 2**30
"""Bytes in one GiB."""

LATENCY_DERATE = 0.4
"""Factor applied to saturation throughput figures to get serving capacity at a latency target.

Source: the TensorRT-LLM performance overview reports a mean time-to-first-token of about 53 s in
its saturation regime; REFERENCE.md ("Capacity figures") gives 0.3-0.5 as the common provisional
derating for a latency target. 0.4 is the middle of that range.
"""

GPU_MEMORY_UTILIZATION = 0.9
"""Fraction of GPU memory a serving engine may use (vLLM's default ``gpu_memory_utilization``)."""

DEFAULT_KV_TOKENS = 16_384
"""Tokens of KV cache reserved per replica when a workload does not say (8 sequences x 2,048).

A sizing default, not a measurement: set ``kv_tokens`` on the workload for your context lengths
and concurrency.
"""

BYTES_PER_PARAM = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
"""Bytes per weight for each precision."""


@dataclass(frozen=True)
class ModelSpec:
    """Size facts of one open model.

    Attributes:
        name: Model id used in workload files, e.g. ``"llama-3.1-8b"``.
        params_billion: Parameters, billions (the nominal size in the model's name).
        kv_kib_per_token: KV cache per token in BF16, KiB
            (``2 x layers x kv_heads x head_dim x 2 bytes``).
        source: Where the figures come from.
    """

    name: str
    params_billion: float
    kv_kib_per_token: float
    source: str


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("llama-3.1-8b", 8.0, 128, "REFERENCE.md: 8B BF16 = 16 GB weights; KV 128 KiB/token"),
        ModelSpec(
            "llama-3.1-70b", 70.0, 320, "REFERENCE.md: 70B BF16 = 140 GB, FP8 = 70 GB; KV 320 KiB/token"
        ),
        ModelSpec(
            "llama-2-7b",
            7.0,
            512,
            "meta-llama/Llama-2-7b config: 32 layers, 32 KV heads, head_dim 128 -> 2x32x32x128x2 B = 512 KiB/token",
        ),
        ModelSpec(
            "llama-3.1-405b",
            405.0,
            504,
            "meta-llama/Llama-3.1-405B config: 126 layers, 8 KV heads, head_dim 128 -> 2x126x8x128x2 B = 504 KiB/token",
        ),
        ModelSpec(
            "llama-2-70b",
            70.0,
            320,
            "meta-llama/Llama-2-70b config: 80 layers, 8 KV heads, head_dim 128 -> 2x80x8x128x2 B = 320 KiB/token",
        ),
    )
}
"""Known models, by id."""


@dataclass(frozen=True)
class ThroughputFigure:
    """One published throughput measurement.

    Attributes:
        model: Model id (a key of :data:`MODELS`).
        accelerator: Canonical accelerator name.
        tokens_per_s_per_gpu: Output tokens/s per GPU as published (total / GPUs used).
        precision: Weight precision of the run.
        gpus: GPUs the run used (tensor parallelism).
        shape: Input / output lengths of the run, tokens.
        source: Where the figure is published.
    """

    model: str
    accelerator: str
    tokens_per_s_per_gpu: float
    precision: str
    gpus: int
    shape: str
    source: str


_TRTLLM_V020 = "NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md (v0.20), offline saturation"
_TRTLLM_V061 = "NVIDIA/TensorRT-LLM docs/source/performance.md (v0.6.1), peak throughput table"

THROUGHPUT: tuple[ThroughputFigure, ...] = (
    ThroughputFigure("llama-3.1-8b", "H100-80GB", 15_270, "fp8", 1, "1000 in / 1000 out", _TRTLLM_V020),
    ThroughputFigure(
        "llama-3.1-70b",
        "H100-80GB",
        4_191 / 2,
        "fp8",
        2,
        "1000 in / 1000 out",
        _TRTLLM_V020 + ": 4,191 tok/s on 2 GPUs",
    ),
    ThroughputFigure("llama-2-7b", "H100-80GB", 19_694, "fp8", 1, "128 in / 128 out", _TRTLLM_V061),
    ThroughputFigure(
        "llama-2-70b", "H100-80GB", 2_657, "fp8", 2, "128 in / 128 out", _TRTLLM_V061 + " (per GPU, TP 2)"
    ),
    ThroughputFigure(
        "llama-2-7b",
        "A100-80GB",
        5_586,
        "fp16",
        1,
        "128 in / 128 out",
        _TRTLLM_V061 + " (A100; batch 384 needs the 80 GB part for its KV cache)",
    ),
    ThroughputFigure(
        "llama-2-7b",
        "L40S-48GB",
        3_240,
        "fp8",
        1,
        "128 in / 128 out",
        _TRTLLM_V061 + " (L40S data from v0.5)",
    ),
    ThroughputFigure(
        "llama-2-7b",
        "A10G-24GB",
        3.8 * 128,
        "fp16",
        1,
        "256 in / 128 out",
        "nm-vllm benchmark runs (2024), vLLM on 1 x A10G: 3.8 requests/s x 128 output tokens",
    ),
)
"""Published throughput figures, one per (model, accelerator)."""


def default_throughput(model: str, derate: float = LATENCY_DERATE) -> dict[str, float]:
    """Serving throughput per GPU for every accelerator with a published figure for ``model``.

    Args:
        model: Model id.
        derate: Factor applied to the published saturation figure.

    Returns:
        ``{canonical accelerator: tokens/s per GPU}``, derated.

    Raises:
        ValueError: The model is unknown.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    return {f.accelerator: f.tokens_per_s_per_gpu * derate for f in THROUGHPUT if f.model == model}


def weights_gib(params_billion: float, precision: str = "bf16") -> float:
    """Memory for the weights, GiB: parameters x bytes per parameter."""
    return params_billion * 1e9 * BYTES_PER_PARAM[precision] / GIB


def kv_cache_gib(kv_kib_per_token: float, kv_tokens: int, precision: str = "bf16") -> float:
    """Memory for ``kv_tokens`` tokens of KV cache, GiB.

    The KV cache follows the weight precision only for FP8 engines (FP8 KV cache); otherwise it
    is kept in 16-bit.
    """
    scale = 0.5 if precision == "fp8" else 1.0
    return kv_kib_per_token * 1024 * kv_tokens * scale / GIB


def memory_per_replica_gib(
    model: str,
    precision: str = "bf16",
    kv_tokens: int = DEFAULT_KV_TOKENS,
    gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION,
) -> float:
    """GPU memory one replica needs, GiB: ``(weights + KV cache) / gpu_memory_utilization``.

    The result is compared with raw GPU memory (``g x gpu_mem_gib``), so it already includes the
    share the engine leaves free.
    """
    spec = MODELS[model]
    needed = weights_gib(spec.params_billion, precision) + kv_cache_gib(
        spec.kv_kib_per_token, kv_tokens, precision
    )
    return needed / gpu_memory_utilization


def gpus_per_replica(model_mem_gib: float, gpu_mem_gib: float, gpus: int) -> int | None:
    """GPUs one replica spans on a node: ``g(w, o)`` of DESIGN.md.

    The smallest power of two ``g`` with ``g x gpu_mem_gib >= model_mem_gib`` and ``g <= gpus``
    (tensor parallelism wants power-of-two splits); ``None`` when no such ``g`` exists, i.e. the
    model does not fit on the node.
    """
    if gpus < 1 or gpu_mem_gib <= 0:
        return None
    g = max(1, 2 ** math.ceil(math.log2(max(model_mem_gib / gpu_mem_gib, 1.0))))
    # Guard the log2 rounding at exact powers of two.
    while g > 1 and (g // 2) * gpu_mem_gib >= model_mem_gib:
        g //= 2
    while g * gpu_mem_gib < model_mem_gib:
        g *= 2
    return g if g <= gpus else None


def replicas_per_node(gpus: int, gpus_per_replica_: int) -> int:
    """Replicas that fit on one node: ``gpus // g``."""
    return gpus // gpus_per_replica_


def node_throughput(gpus: int, gpus_per_replica_: int, per_gpu: float) -> float:
    """Throughput of one node, units/s: ``replicas_per_node x g x throughput per GPU``.

    GPUs left over when ``g`` does not divide the node's GPU count serve nothing.
    """
    return replicas_per_node(gpus, gpus_per_replica_) * gpus_per_replica_ * per_gpu


def stages(workload: Any, gpus_per_replica_: int) -> int:
    """Pipeline stages of a replica of ``gpus_per_replica_`` GPUs: 1 unless the workload's replica spans
    several nodes (``tensor_parallel`` GPUs per stage, one stage per node)."""
    tp = getattr(workload, "tensor_parallel", None)
    return gpus_per_replica_ // tp if tp and gpus_per_replica_ > tp else 1


def _fit(workload: Any, gpu_mem_gib: float, gpus_per_replica_: int, max_model_len: int) -> Any:
    """:func:`sizing.memory.fit` of a known model at the workload's precision (FP8 engines keep an
    FP8 KV cache, as :func:`kv_cache_gib` assumes).

    A multi-node replica is fitted per stage, as the endpoint check does (``tensor_parallel``: each
    stage replicates KV heads up to its own tensor-parallel size, not the replica's GPU count;
    Llama-3.1-405B over 2 x 8 H100 holds 504 KiB per token, not the 1,008 of one 16-way set).
    """
    from sizing import memory

    return memory.fit(
        workload.model,
        gpus=gpus_per_replica_,
        gpu_mem_gib=gpu_mem_gib,
        max_model_len=max_model_len,
        gpu_memory_utilization=GPU_MEMORY_UTILIZATION,
        precision=workload.precision,
        kv_dtype="fp8" if workload.precision == "fp8" else "bf16",
        tensor_parallel=gpus_per_replica_ // stages(workload, gpus_per_replica_),
    )


def kv_bound_per_gpu(
    workload: Any, gpu_mem_gib: float, gpus_per_replica_: int, bandwidth_tb_s: float | None
) -> float | None:
    """Most output tokens/s per GPU a layout can serve, by what its KV cache holds.

    The layout must hold one ``max_model_len`` sequence (vLLM's start-up check, the endpoint
    spec's :func:`sizing.memory.fit`); if not, it is credited nothing. Its KV cache then holds
    ``B = kv_tokens // L`` sequences of the typical length ``L`` (:attr:`Workload.typical_len`:
    prompt plus output of a typical request, capped at ``max_model_len``): bounding concurrency
    by full-length sequences would assume every request uses the whole context, which credited
    an A10G serving 8B at 16k context ~40 tokens/s. A decode step reads at least the weights at
    full datasheet bandwidth, so a replica makes at most ``B x g x bandwidth / weights`` tokens/s,
    ``B x bandwidth / weights`` per GPU. ``None`` when the bound does not apply (unknown model,
    no ``max_model_len``, no bandwidth figure).

    A pipeline of ``k`` stages (a multi-node replica) is ``k`` times below that: each stage reads its
    ``1/k`` of the weights at one node's bandwidth once per micro-batch, so ``B`` sequences advance one
    token per ``k`` stage steps of ``weights / (g x bandwidth)`` each.
    """
    if workload.model not in MODELS or workload.max_model_len is None or bandwidth_tb_s is None:
        return None
    fit = _fit(workload, gpu_mem_gib, gpus_per_replica_, workload.max_model_len)
    if fit.max_sequences < 1:
        return 0.0
    concurrent = fit.kv_tokens // workload.typical_len
    return concurrent * bandwidth_tb_s * 1e12 / (fit.weights_gib * GIB) / stages(workload, gpus_per_replica_)


@dataclass(frozen=True)
class Credit:
    """Units/s per GPU credited to a layout, per request class, and how the figures were obtained.

    Attributes:
        per_class: ``{class name: units/s per GPU}`` for the classes the accelerator serves.
        estimated: The figure is a roofline estimate (no measurement, no user figure).
        kv_bound: The KV bound per GPU that capped the figures, ``None`` when it does not apply.
    """

    per_class: dict[str, float]
    estimated: bool = False
    kv_bound: float | None = None


def credited_throughput(workload: Any, offering: Any, gpus_per_replica_: int) -> Credit:
    """Units/s one GPU is credited with, per request class of ``workload``, on ``offering``'s accelerator.

    A class appears when its throughput table lists the accelerator (for a known model with
    ``slo`` the table holds the scenario's measured figures, :mod:`sizing.throughput`). A known
    model with ``slo`` and no figure for the accelerator gets a roofline estimate at the layout's
    KV budget, times :data:`sizing.throughput.ESTIMATE_MARGIN`. With ``max_model_len`` every
    figure is capped by :func:`kv_bound_per_gpu`: a figure measured with a large KV cache is not
    credited to a layout that leaves little.
    """
    from sizing import accelerators, throughput

    acc = offering.accelerator or ""
    bandwidth = accelerators.get(acc).bandwidth_tb_s if acc in accelerators.names() else None
    figures = {b.name: b.throughput[acc] for b in workload.request_classes if acc in b.throughput}
    estimated = False
    if not figures and estimable(workload, acc):
        scenario, tpot_s = target(workload)
        isl, osl = throughput.shape(workload.model, scenario or "interactive")
        fit = _fit(workload, offering.gpu_mem_gib, gpus_per_replica_, isl + osl)
        # A pipeline of k stages runs k micro-batches of b sequences: k x b fit the KV cache, each
        # advances one token per k stage steps, and a stage step is the tensor-parallel step t(b) of
        # the whole replica; so it is the roofline at b with the KV budget and the TPOT bound / k.
        k = stages(workload, gpus_per_replica_)
        estimate = throughput.roofline_per_gpu(
            weight_bytes=fit.weights_gib * GIB,
            kv_bytes_per_token=fit.kv_bytes_per_token,
            kv_budget_bytes=max(fit.kv_cache_gib * GIB, 0.0) / k,
            gpus=gpus_per_replica_,
            bandwidth_tb_s=bandwidth or 0.0,
            input_tokens=isl,
            output_tokens=osl,
            tpot_s=None if tpot_s is None else tpot_s / k,
        )
        if estimate > 0:
            figures = {"all": estimate * throughput.ESTIMATE_MARGIN}
            estimated = True
    bound = kv_bound_per_gpu(workload, offering.gpu_mem_gib, gpus_per_replica_, bandwidth)
    if bound is not None:
        figures = {name: min(value, bound) for name, value in figures.items() if min(value, bound) > 0}
    return Credit(figures, estimated, bound)


def target(workload: Any) -> tuple[str | None, float | None]:
    """The workload's MLPerf scenario and TPOT bound in seconds (``None``: offline / no bound)."""
    from sizing import throughput

    slo = workload.slo
    if slo is None:
        return None, None
    if isinstance(slo, str):
        bounds = throughput.bounds_ms(workload.model or "*", slo)
        return slo, None if bounds is None else bounds[1] / 1000
    return throughput.scenario_for(workload.model or "*", slo.ttft_ms, slo.tpot_ms), slo.tpot_ms / 1000


def estimable(workload: Any, accelerator: str) -> bool:
    """A roofline estimate may stand in for a missing figure: known model, an SLO, no request classes,
    and a bandwidth figure for the accelerator."""
    from sizing import accelerators

    return (
        workload.slo is not None
        and workload.model in MODELS
        and not workload.classes
        and accelerator in accelerators.names()
        and accelerators.get(accelerator).bandwidth_tb_s is not None
    )


def slo_throughput(model: str, slo: Any) -> dict[str, float]:
    """Measured figures for a model at a latency target: the scenario's rows, ``{accelerator: tokens/s
    per GPU}`` (empty for a target tighter than every scenario: estimates only)."""
    from sizing import throughput

    scenario = slo if isinstance(slo, str) else throughput.scenario_for(model, slo.ttft_ms, slo.tpot_ms)
    if scenario is None:
        return {}
    return {acc: m.tokens_per_s_per_gpu for acc, m in throughput.measured(model, scenario).items()}
