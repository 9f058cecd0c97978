"""GPU memory arithmetic for serving a decoder-only model with vLLM: weights, KV cache, fit.

Pure Python, no Pulumi. One place for the numbers that decide whether a model starts on its
GPUs, shared by the stack spec (``aistack/spec/endpoints.py`` refuses an endpoint whose
``max_model_len`` cannot fit), the deploy policy pack and the sizing module (which bounds a
replica's concurrency by the KV cache it can hold).

Units, everywhere in this module:

- memory in **bytes** (``*_bytes``, ints) or **GiB** = 2**30 bytes (``*_gib``, floats);
- parameters as a plain **count** (``8_030_261_248``, not "8B");
- lengths in **tokens**; ``gpu_memory_utilization`` a **fraction** in (0, 1].

How vLLM spends GPU memory at start-up (the model this module follows): it loads the weights,
runs a profiling forward pass at its largest batch to measure the peak activation memory and the
memory held outside PyTorch, and turns what is left of ``gpu_memory_utilization`` x total memory
into KV-cache blocks (``vllm/v1/worker/gpu_worker.py``, ``Worker.determine_available_memory``:
https://docs.vllm.ai/en/v0.9.2/api/vllm/v1/worker/gpu_worker.html). It then refuses to start if
the KV cache cannot hold one sequence of ``max_model_len`` tokens ("To serve at least one request
with the models's max seq len ... KV cache is needed, which is larger than the available KV cache
memory", ``vllm/v1/core/kv_cache_utils.py``, ``check_enough_kv_cache_memory``). Without
``--max-model-len`` vLLM takes the model's ``max_position_embeddings`` (131,072 tokens for
Llama 3.1), which no 24 GB GPU can hold next to 8B BF16 weights; hence :func:`fit`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

GIB = 2**30
"""Bytes in one GiB."""

KIB = 2**10
"""Bytes in one KiB."""

BYTES_PER_PARAM: dict[str, float] = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
"""Bytes per weight (and per KV-cache element) for each precision."""

VISIBLE_FRACTION = 0.93
"""Share of a GPU's nominal memory that CUDA reports as total, fraction.

The marketed size over-states what a process sees: an A10G or L4 "24 GB" part reports 22.35 GiB
(EC2 ``DescribeInstanceTypes``: 22,888 MiB; the bundled catalog ``sizing/data/aws.csv``), 0.931 of
24 GiB. An H100 80 GB reports 79.2 GiB (0.99), so the factor is conservative for large parts.
"""

OVERHEAD_GIB_SMALL_GPU = 2.0
"""Memory per GPU outside weights and KV cache on GPUs below 70 GiB, GiB.

Peak activations of vLLM's profiling pass plus CUDA context, NCCL and CUDA-graph buffers. vLLM's
API server profiles at ``max_num_batched_tokens`` = 2,048 on GPUs below 70 GiB and 8,192 above
(``vllm/engine/arg_utils.py``, ``EngineArgs._set_default_args``); activations scale with that
batch. Measured on an H100 at 8,192 tokens (llm-d-benchmark ``config_explorer/
empirical-vllm-memory-results.md``, Llama-3.1-8B: peak activation 4.76 GiB, non-torch 0.13 GiB,
CUDA graphs -0.45 GiB), a quarter of the activation for a quarter of the batch is ~1.2 GiB; 2 GiB
keeps a margin for CUDA graphs and the sampler.
"""

OVERHEAD_GIB_LARGE_GPU = 5.0
"""Memory per GPU outside weights and KV cache on GPUs of 70 GiB or more, GiB.

The same llm-d-benchmark measurements at vLLM's 8,192-token profiling batch: 4.4-4.9 GiB for
Llama-3.1-8B (TP 1) and Llama-3.3-70B FP8 (TP 2), rounded up.
"""

LARGE_GPU_GIB = 70.0
"""vLLM's threshold (GiB of device memory) between its small- and large-GPU batch defaults."""


@dataclass(frozen=True)
class Architecture:
    """The fields of a dense decoder's Hugging Face ``config.json`` that decide its memory.

    Attributes:
        name: Canonical id, lowercase, no organisation or ``-instruct`` suffix (``"llama-3.1-8b"``).
        vocab_size: ``vocab_size``, tokens.
        hidden_size: ``hidden_size``, elements.
        intermediate_size: ``intermediate_size`` of the gated MLP, elements.
        layers: ``num_hidden_layers``.
        heads: ``num_attention_heads``.
        kv_heads: ``num_key_value_heads`` (grouped-query attention; equal to ``heads`` without it).
        max_position_embeddings: ``max_position_embeddings``, tokens: the context vLLM uses when no
            ``--max-model-len`` is given.
        tie_word_embeddings: ``tie_word_embeddings`` (the output head reuses the embedding matrix).
        source: The ``config.json`` the figures come from.
    """

    name: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    kv_heads: int
    max_position_embeddings: int
    tie_word_embeddings: bool
    source: str

    @property
    def head_dim(self) -> int:
        """Elements per attention head: ``hidden_size / num_attention_heads``."""
        return self.hidden_size // self.heads

    @property
    def params(self) -> int:
        """Parameters, count, of a Llama-style dense decoder built from these fields.

        Embedding (and an untied output head), per layer the Q/K/V/O projections, the gated MLP's
        three matrices and two RMSNorm weights, and the final norm. Matches the checkpoint's
        ``safetensors`` total for every model in :data:`ARCHITECTURES` (tested).
        """
        h, kv = self.hidden_size, self.kv_heads * self.head_dim
        embeddings = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        attention = 2 * h * h + 2 * h * kv
        mlp = 3 * h * self.intermediate_size
        return embeddings + self.layers * (attention + mlp + 2 * h) + h


def _llama(name: str, repo: str, **fields: int | bool) -> Architecture:
    return Architecture(name=name, source=f"https://huggingface.co/{repo}/blob/main/config.json", **fields)


_LLAMA3 = {"vocab_size": 128_256, "max_position_embeddings": 131_072, "tie_word_embeddings": False}
_LLAMA2 = {"vocab_size": 32_000, "max_position_embeddings": 4_096, "tie_word_embeddings": False}

ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        _llama(
            "llama-3.1-8b",
            "meta-llama/Llama-3.1-8B",
            hidden_size=4096,
            intermediate_size=14_336,
            layers=32,
            heads=32,
            kv_heads=8,
            **_LLAMA3,
        ),
        _llama(
            "llama-3.1-70b",
            "meta-llama/Llama-3.1-70B",
            hidden_size=8192,
            intermediate_size=28_672,
            layers=80,
            heads=64,
            kv_heads=8,
            **_LLAMA3,
        ),
        _llama(
            "llama-3.1-405b",
            "meta-llama/Llama-3.1-405B",
            hidden_size=16_384,
            intermediate_size=53_248,
            layers=126,
            heads=128,
            kv_heads=8,
            **_LLAMA3,
        ),
        _llama(
            "llama-2-7b",
            "meta-llama/Llama-2-7b-hf",
            hidden_size=4096,
            intermediate_size=11_008,
            layers=32,
            heads=32,
            kv_heads=32,
            **_LLAMA2,
        ),
        _llama(
            "llama-2-70b",
            "meta-llama/Llama-2-70b-hf",
            hidden_size=8192,
            intermediate_size=28_672,
            layers=80,
            heads=64,
            kv_heads=8,
            **_LLAMA2,
        ),
    )
}
"""Known architectures by canonical id. Instruct/chat variants share their base model's config."""

_VARIANT = re.compile(r"-(instruct|chat|hf|chat-hf)$")


def canonical(model: str) -> str:
    """The :data:`ARCHITECTURES` key for a model id, or the normalised id when unknown.

    Accepts Hugging Face ids and sizing ids alike: ``"meta-llama/Llama-3.1-8B-Instruct"``,
    ``"meta-llama/Meta-Llama-3.1-8B-Instruct"`` and ``"llama-3.1-8b"`` all give ``"llama-3.1-8b"``.
    """
    name = model.rsplit("/", 1)[-1].lower()
    name = _VARIANT.sub("", name)
    return name.removeprefix("meta-")


def architecture(model: str) -> Architecture | None:
    """The architecture of ``model`` (any spelling :func:`canonical` accepts), ``None`` if unknown."""
    return ARCHITECTURES.get(canonical(model))


def _bytes_per(precision: str) -> float:
    if precision not in BYTES_PER_PARAM:
        raise ValueError(f"unknown precision {precision!r}; known: {', '.join(BYTES_PER_PARAM)}")
    return BYTES_PER_PARAM[precision]


def weight_bytes(arch: Architecture, precision: str = "bf16") -> int:
    """Bytes of the weights at ``precision``: parameters x bytes per parameter."""
    return math.ceil(arch.params * _bytes_per(precision))


def kv_bytes_per_token(arch: Architecture, kv_dtype: str = "bf16", gpus: int = 1) -> int:
    """Bytes of KV cache one token takes across a replica's ``gpus`` GPUs.

    ``2 (K and V) x layers x kv_heads x head_dim x bytes per element``. Llama-3.1-8B in BF16:
    2 x 32 x 8 x 128 x 2 = 131,072 bytes = 128 KiB. Tensor parallelism splits KV heads across
    GPUs; with more GPUs than KV heads vLLM replicates heads so that each GPU holds one, hence
    ``max(kv_heads, gpus)``.
    """
    heads = max(arch.kv_heads, gpus)
    return math.ceil(2 * arch.layers * heads * arch.head_dim * _bytes_per(kv_dtype))


def visible_gib(nominal_gib: float) -> float:
    """GPU memory a process sees, GiB, from the nominal size in the accelerator's name."""
    return nominal_gib * VISIBLE_FRACTION


def overhead_gib_per_gpu(gpu_mem_gib: float) -> float:
    """Memory vLLM uses per GPU outside weights and KV cache, GiB (see :data:`OVERHEAD_GIB_SMALL_GPU`)."""
    return OVERHEAD_GIB_LARGE_GPU if gpu_mem_gib >= LARGE_GPU_GIB else OVERHEAD_GIB_SMALL_GPU


@dataclass(frozen=True)
class Fit:
    """Whether one replica's weights and a ``max_model_len`` KV cache fit its GPUs, with the numbers.

    All memory figures are totals over the replica's GPUs, GiB.

    Attributes:
        model: Canonical model id.
        precision: Weight precision.
        kv_dtype: KV-cache element type.
        gpus: GPUs per replica (tensor-parallel size).
        gpu_mem_gib: Memory of one GPU as the process sees it, GiB.
        gpu_memory_utilization: Fraction of each GPU vLLM may use.
        max_model_len: Longest sequence (prompt + output), tokens.
        usable_gib: ``gpus x gpu_mem_gib x gpu_memory_utilization``.
        weights_gib: The weights.
        overhead_gib: Activations, CUDA context and graphs: ``gpus x overhead per GPU``.
        kv_cache_gib: What is left for the KV cache (negative when the weights alone do not fit).
        kv_bytes_per_token: KV cache per token over the replica, bytes.
        sequence_gib: KV cache of one ``max_model_len`` sequence.
        kv_tokens: Tokens the KV cache holds (0 when nothing is left).
        max_sequences: Full-length sequences the KV cache holds at once (``kv_tokens // max_model_len``).
    """

    model: str
    precision: str
    kv_dtype: str
    gpus: int
    gpu_mem_gib: float
    gpu_memory_utilization: float
    max_model_len: int
    usable_gib: float
    weights_gib: float
    overhead_gib: float
    kv_cache_gib: float
    kv_bytes_per_token: int
    sequence_gib: float
    kv_tokens: int
    max_sequences: int

    @property
    def fits(self) -> bool:
        """At least one full ``max_model_len`` sequence fits next to the weights (vLLM starts)."""
        return self.max_sequences >= 1

    @property
    def needed_gib(self) -> float:
        """Weights + overhead + one full sequence of KV cache, GiB: the least that must fit."""
        return self.weights_gib + self.overhead_gib + self.sequence_gib

    def explain(self) -> str:
        """One line with the arithmetic, for error messages and reports."""
        budget = (
            f"{self.usable_gib:.2f} GiB usable ({self.gpus} x {self.gpu_mem_gib:.2f} GiB x "
            f"{self.gpu_memory_utilization:g})"
        )
        parts = (
            f"weights {self.weights_gib:.2f} GiB ({self.precision}) + overhead {self.overhead_gib:.2f} GiB + "
            f"KV cache for one {self.max_model_len}-token sequence {self.sequence_gib:.2f} GiB "
            f"({self.kv_bytes_per_token // KIB} KiB/token) = {self.needed_gib:.2f} GiB"
        )
        if self.fits:
            return f"{parts} <= {budget}; KV cache holds {self.kv_tokens} tokens = {self.max_sequences} full sequences"
        return f"{parts} > {budget}; KV cache holds only {self.kv_tokens} tokens"


def fit(
    model: str | Architecture,
    *,
    gpus: int,
    gpu_mem_gib: float,
    max_model_len: int,
    gpu_memory_utilization: float = 0.9,
    precision: str = "bf16",
    kv_dtype: str = "bf16",
    overhead_gib: float | None = None,
    tensor_parallel: int | None = None,
) -> Fit:
    """Check that one replica's weights plus the KV cache of a ``max_model_len`` sequence fit.

    Args:
        model: A model id (any spelling :func:`canonical` accepts) or an :class:`Architecture`.
        gpus: GPUs per replica (tensor-parallel size), count.
        gpu_mem_gib: Memory of one GPU as the process sees it, GiB (see :func:`visible_gib`).
        max_model_len: Longest sequence, tokens (vLLM ``--max-model-len``).
        gpu_memory_utilization: Fraction of each GPU vLLM may use (``--gpu-memory-utilization``).
        precision: Weight precision (a key of :data:`BYTES_PER_PARAM`).
        kv_dtype: KV-cache element type (vLLM ``--kv-cache-dtype``; ``auto`` keeps the weights'
            16-bit type, ``fp8`` halves it).
        overhead_gib: Memory per GPU outside weights and KV cache, GiB; ``None`` for
            :func:`overhead_gib_per_gpu`.
        tensor_parallel: GPUs one layer is split over (``None``: all ``gpus``). A multi-node
            replica is tensor parallel within a node and pipeline parallel across nodes: each stage
            holds its layers' KV heads, replicated to at least one per GPU of the stage, so the
            replication follows the tensor-parallel size, not the replica's GPU count.

    Returns:
        The :class:`Fit` with every figure; ``fit(...).fits`` is the verdict.

    Raises:
        ValueError: Unknown model or precision, or a non-positive count or fraction.
    """
    arch = model if isinstance(model, Architecture) else architecture(model)
    if arch is None:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(ARCHITECTURES)}")
    if gpus < 1 or gpu_mem_gib <= 0 or max_model_len < 1 or not 0 < gpu_memory_utilization <= 1:
        raise ValueError(
            "gpus and max_model_len must be at least 1, gpu_mem_gib positive and "
            "gpu_memory_utilization in (0, 1]"
        )
    per_gpu = overhead_gib_per_gpu(gpu_mem_gib) if overhead_gib is None else overhead_gib
    usable = gpus * gpu_mem_gib * gpu_memory_utilization
    weights = weight_bytes(arch, precision) / GIB
    overhead = gpus * per_gpu
    kv_gib = usable - weights - overhead
    per_token = kv_bytes_per_token(arch, kv_dtype, tensor_parallel or gpus)
    kv_tokens = max(0, int(kv_gib * GIB // per_token))
    return Fit(
        model=arch.name,
        precision=precision,
        kv_dtype=kv_dtype,
        gpus=gpus,
        gpu_mem_gib=gpu_mem_gib,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        usable_gib=usable,
        weights_gib=weights,
        overhead_gib=overhead,
        kv_cache_gib=kv_gib,
        kv_bytes_per_token=per_token,
        sequence_gib=max_model_len * per_token / GIB,
        kv_tokens=kv_tokens,
        max_sequences=kv_tokens // max_model_len,
    )


def max_model_len_that_fits(
    model: str | Architecture,
    *,
    gpus: int,
    gpu_mem_gib: float,
    gpu_memory_utilization: float = 0.9,
    precision: str = "bf16",
    kv_dtype: str = "bf16",
    overhead_gib: float | None = None,
    tensor_parallel: int | None = None,
) -> int:
    """The longest ``max_model_len`` (tokens) for which :func:`fit` holds one sequence; 0 if none.

    Capped at the model's ``max_position_embeddings``.
    """
    probe = fit(
        model,
        gpus=gpus,
        gpu_mem_gib=gpu_mem_gib,
        max_model_len=1,
        gpu_memory_utilization=gpu_memory_utilization,
        precision=precision,
        kv_dtype=kv_dtype,
        overhead_gib=overhead_gib,
        tensor_parallel=tensor_parallel,
    )
    arch = ARCHITECTURES[probe.model]
    return min(probe.kv_tokens, arch.max_position_embeddings)
