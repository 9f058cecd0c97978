"""Memory arithmetic against hand-computed figures (weights, KV cache per token, fit)."""

from __future__ import annotations

import dataclasses

import pytest

from sizing import memory

GIB = 2**30


@pytest.mark.parametrize(
    ("model", "params", "kv_kib"),
    [
        # Parameters: the checkpoints' safetensors totals on Hugging Face. KV: 2 x layers x kv_heads x 128 x 2 B.
        ("meta-llama/Llama-3.1-8B-Instruct", 8_030_261_248, 2 * 32 * 8 * 128 * 2 / 1024),  # 128 KiB
        ("meta-llama/Llama-3.1-70B-Instruct", 70_553_706_496, 2 * 80 * 8 * 128 * 2 / 1024),  # 320 KiB
        ("meta-llama/Meta-Llama-3.1-405B-Instruct", 405_853_388_800, 2 * 126 * 8 * 128 * 2 / 1024),  # 504 KiB
        ("llama-2-7b", 6_738_415_616, 2 * 32 * 32 * 128 * 2 / 1024),  # 512 KiB, no GQA
        ("meta-llama/Llama-2-70b-chat-hf", 68_976_648_192, 320),
    ],
)
def test_parameters_and_kv_per_token_match_hand_figures(model: str, params: int, kv_kib: float) -> None:
    arch = memory.architecture(model)
    assert arch is not None
    assert arch.params == params
    assert memory.kv_bytes_per_token(arch) == kv_kib * 1024


def test_llama_3_1_8b_figures() -> None:
    arch = memory.ARCHITECTURES["llama-3.1-8b"]
    assert memory.kv_bytes_per_token(arch) == 128 * 1024
    assert memory.kv_bytes_per_token(arch, "fp8") == 64 * 1024
    assert memory.weight_bytes(arch, "bf16") == 16_060_522_496  # 14.96 GiB
    assert memory.weight_bytes(arch, "fp8") == 8_030_261_248
    assert arch.max_position_embeddings == 131_072
    assert arch.source == "https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json"


def test_8b_on_one_a10g_at_16k_fits_with_the_numbers() -> None:
    result = memory.fit("meta-llama/Llama-3.1-8B-Instruct", gpus=1, gpu_mem_gib=22.35, max_model_len=16_384)
    # 22.35 x 0.9 = 20.115 GiB; minus 14.957 GiB weights and 2 GiB overhead = 3.158 GiB of KV.
    kv_gib = 22.35 * 0.9 - 16_060_522_496 / GIB - 2.0
    assert result.usable_gib == pytest.approx(20.115)
    assert result.weights_gib == pytest.approx(14.957, abs=1e-3)
    assert result.overhead_gib == 2.0
    assert result.kv_cache_gib == pytest.approx(kv_gib)
    assert result.kv_tokens == int(kv_gib * 8192)  # 8,192 tokens of 128 KiB per GiB
    assert result.kv_tokens == 25_866
    assert result.sequence_gib == 2.0  # 16,384 x 128 KiB
    assert result.max_sequences == 1
    assert result.fits
    assert "<= 20.12 GiB usable (1 x 22.35 GiB x 0.9)" in result.explain()


def test_8b_at_its_default_131k_context_does_not_fit_a_24gb_gpu() -> None:
    result = memory.fit("llama-3.1-8b", gpus=1, gpu_mem_gib=memory.visible_gib(24), max_model_len=131_072)
    assert result.sequence_gib == 16.0
    assert not result.fits
    assert result.max_sequences == 0
    assert result.explain() == (
        "weights 14.96 GiB (bf16) + overhead 2.00 GiB + KV cache for one 131072-token sequence 16.00 GiB "
        "(128 KiB/token) = 32.96 GiB > 20.09 GiB usable (1 x 22.32 GiB x 0.9); KV cache holds only 25644 tokens"
    )


def test_weights_alone_too_big_leaves_zero_tokens() -> None:
    result = memory.fit("llama-3.1-70b", gpus=1, gpu_mem_gib=80, max_model_len=4096)
    assert result.kv_cache_gib < 0
    assert result.kv_tokens == 0
    assert not result.fits


def test_70b_on_four_h100_uses_the_large_gpu_overhead() -> None:
    result = memory.fit("llama-3.1-70b", gpus=4, gpu_mem_gib=74.4, max_model_len=32_768)
    assert result.overhead_gib == 4 * 5.0
    kv_gib = 4 * 74.4 * 0.9 - 70_553_706_496 * 2 / GIB - 20.0
    assert result.kv_tokens == int(kv_gib * GIB // (320 * 1024))
    assert result.max_sequences == result.kv_tokens // 32_768
    assert result.fits


def test_more_gpus_than_kv_heads_replicates_heads() -> None:
    arch = memory.ARCHITECTURES["llama-3.1-405b"]
    assert memory.kv_bytes_per_token(arch, gpus=8) == memory.kv_bytes_per_token(arch)
    assert memory.kv_bytes_per_token(arch, gpus=16) == 2 * memory.kv_bytes_per_token(arch)


def test_utilisation_and_overhead_are_honoured() -> None:
    low = memory.fit(
        "llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=8192, gpu_memory_utilization=0.8
    )
    high = memory.fit(
        "llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=8192, gpu_memory_utilization=0.95
    )
    # 0.15 x 22.35 GiB more for the KV cache = 27,463 more tokens of 128 KiB (±1 for the two floors).
    assert abs(high.kv_tokens - low.kv_tokens - 22.35 * 0.15 * 8192) <= 1
    none = memory.fit("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=8192, overhead_gib=0)
    assert none.overhead_gib == 0
    assert none.kv_cache_gib == pytest.approx(22.35 * 0.9 - 16_060_522_496 / GIB)


def test_max_model_len_that_fits_is_the_token_budget_capped_by_the_context() -> None:
    assert memory.max_model_len_that_fits("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35) == 25_866
    assert memory.max_model_len_that_fits("llama-3.1-8b", gpus=8, gpu_mem_gib=80) == 131_072
    assert memory.max_model_len_that_fits("llama-3.1-70b", gpus=1, gpu_mem_gib=22.35) == 0
    length = memory.max_model_len_that_fits("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35)
    assert memory.fit("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=length).fits
    assert not memory.fit("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=length + 1).fits


def test_canonical_names() -> None:
    assert memory.canonical("meta-llama/Meta-Llama-3.1-70B-Instruct") == "llama-3.1-70b"
    assert memory.canonical("meta-llama/Llama-2-7b-chat-hf") == "llama-2-7b"
    assert memory.architecture("mistralai/Mistral-7B-v0.3") is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gpus": 0, "gpu_mem_gib": 24, "max_model_len": 1},
        {"gpus": 1, "gpu_mem_gib": 24, "max_model_len": 0},
        {"gpus": 1, "gpu_mem_gib": 24, "max_model_len": 1, "gpu_memory_utilization": 1.5},
        {"gpus": 1, "gpu_mem_gib": 24, "max_model_len": 1, "precision": "fp4"},
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        memory.fit("llama-3.1-8b", **kwargs)


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown model 'gpt-9'; known: llama-3.1-8b, "):
        memory.fit("gpt-9", gpus=1, gpu_mem_gib=24, max_model_len=1)


def test_fit_is_frozen_plain_data() -> None:
    result = memory.fit("llama-3.1-8b", gpus=1, gpu_mem_gib=22.35, max_model_len=1024)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.gpus = 2  # type: ignore[misc]


def test_pipeline_parallel_replicates_kv_heads_within_a_stage_only():
    # Llama-3.1-405B over 2 nodes x 8 GPUs: each stage splits its 8 KV heads over 8 GPUs, no replication.
    two_nodes = memory.fit(
        "meta-llama/Llama-3.1-405B-Instruct",
        gpus=16,
        gpu_mem_gib=74.4,
        max_model_len=32768,
        tensor_parallel=8,
    )
    assert two_nodes.kv_bytes_per_token == 2 * 126 * 8 * 128 * 2
    # Tensor parallel over all 16 GPUs would replicate every KV head twice.
    flat = memory.fit("meta-llama/Llama-3.1-405B-Instruct", gpus=16, gpu_mem_gib=74.4, max_model_len=32768)
    assert flat.kv_bytes_per_token == 2 * two_nodes.kv_bytes_per_token
    assert two_nodes.fits and two_nodes.max_sequences == 14
    assert two_nodes.kv_tokens >= 2 * flat.kv_tokens
