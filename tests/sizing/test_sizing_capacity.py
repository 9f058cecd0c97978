"""Capacity model: g(w, o), replicas per node, memory per replica, sourced throughput defaults."""

from __future__ import annotations

import math

import pytest

from sizing import accelerators, capacity


@pytest.mark.parametrize(
    ("model_mem", "gpu_mem", "gpus", "expected"),
    [
        (18.0, 24.0, 1, 1),
        (24.0, 24.0, 1, 1),  # exactly full
        (25.0, 24.0, 1, None),  # needs 2 GPUs, node has 1
        (25.0, 24.0, 4, 2),
        (50.0, 24.0, 4, 4),  # 3 GPUs would do, but splits are powers of two
        (50.0, 24.0, 3, None),
        (80.0, 80.0, 8, 1),
        (80.1, 80.0, 8, 2),
        (150.0, 24.0, 8, 8),
        (200.0, 24.0, 8, None),
        (1.0, 16.0, 8, 1),
    ],
)
def test_gpus_per_replica(model_mem: float, gpu_mem: float, gpus: int, expected: int | None) -> None:
    assert capacity.gpus_per_replica(model_mem, gpu_mem, gpus) == expected


def test_replicas_and_node_throughput_ignore_leftover_gpus() -> None:
    # 3 GPUs with replicas of 2: one replica, the third GPU idles.
    assert capacity.replicas_per_node(3, 2) == 1
    assert capacity.node_throughput(3, 2, 100.0) == 200.0
    assert capacity.node_throughput(8, 2, 100.0) == 800.0


def test_memory_per_replica_is_weights_plus_kv_over_usable_fraction() -> None:
    weights = 8.0e9 * 2 / 2**30
    kv = 128 * 1024 * 16_384 / 2**30
    expected = (weights + kv) / 0.9
    assert math.isclose(capacity.memory_per_replica_gib("llama-3.1-8b"), expected)
    # FP8 halves the weights and the KV cache.
    assert math.isclose(capacity.memory_per_replica_gib("llama-3.1-8b", "fp8"), expected / 2)
    assert capacity.memory_per_replica_gib("llama-3.1-8b", kv_tokens=0) < expected


def test_default_throughput_is_the_published_figure_derated() -> None:
    defaults = capacity.default_throughput("llama-2-7b")
    assert defaults["A100-80GB"] == pytest.approx(5_586 * capacity.LATENCY_DERATE)
    assert defaults["L40S-48GB"] == pytest.approx(3_240 * capacity.LATENCY_DERATE)
    assert capacity.default_throughput("llama-2-7b", derate=1.0)["A10G-24GB"] == pytest.approx(3.8 * 128)
    with pytest.raises(ValueError, match="unknown model"):
        capacity.default_throughput("gpt-5")


def test_every_figure_names_a_known_model_accelerator_and_source() -> None:
    pairs = set()
    for figure in capacity.THROUGHPUT:
        assert figure.model in capacity.MODELS
        assert accelerators.canonical(figure.accelerator) == figure.accelerator
        assert figure.tokens_per_s_per_gpu > 0 and figure.gpus >= 1
        assert figure.source and figure.shape and figure.precision in capacity.BYTES_PER_PARAM
        pairs.add((figure.model, figure.accelerator))
    assert len(pairs) == len(capacity.THROUGHPUT), "one figure per (model, accelerator)"
    assert all(m.source for m in capacity.MODELS.values())
