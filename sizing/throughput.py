"""Measured serving throughput by latency target, and a roofline estimate where nothing was measured.

``sizing/data/throughput.csv`` holds one row per published measurement: model, accelerator,
engine, precision, MLPerf scenario (``offline``: no latency bound; ``server``: TTFT <= 2 s and
TPOT <= 100-200 ms; ``interactive``: TTFT <= 450-500 ms, TPOT <= 30-40 ms), output tokens/s per
GPU (system total / GPUs), GPUs, input/output lengths where published, source and date. Every
row cites the MLPerf result it was read from. A workload with ``slo`` gets its scenario's figure.

For an accelerator with no measurement of the model, :func:`roofline_per_gpu` estimates decode
throughput from memory bandwidth: each decode step reads the weights and the KV cache of the
batch, the batch is as large as the KV cache left at the planned layout allows and as the TPOT
bound allows. Calibrated on MLPerf, such estimates land within 0.5-2.7x of measurements
(``shared/research/sizing_anchors.md`` section 4), so an estimate is flagged ``estimated``,
carries a +/-50% band and is credited at :data:`ESTIMATE_MARGIN` of its value.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sizing import accelerators

TABLE = Path(__file__).parent / "data" / "throughput.csv"
"""The bundled measurement table."""

COLUMNS = (
    "model",
    "accelerator",
    "engine",
    "precision",
    "scenario",
    "tokens_per_s_per_gpu",
    "gpus",
    "input_tokens",
    "output_tokens",
    "source",
    "as_of",
)
"""Columns of :data:`TABLE`, in order."""

SCENARIOS = ("offline", "server", "interactive")
"""MLPerf Inference scenarios, loosest first."""

# TTFT / TPOT bounds (ms) of the MLPerf scenarios, read from the logs' ttft_latency/tpot_latency
# fields (shared/research/sizing_anchors.md section 3.1): Llama-3.1-8B has its own, the 70B-class
# benchmarks (Llama-2-70B, and the open-division Llama-3.1-70B runs on its rules) the others.
SCENARIO_BOUNDS_MS: dict[str, dict[str, tuple[float, float]]] = {
    "llama-3.1-8b": {"server": (2000.0, 100.0), "interactive": (500.0, 30.0)},
    "*": {"server": (2000.0, 200.0), "interactive": (450.0, 40.0)},
}
"""``{model or "*": {scenario: (ttft_ms, tpot_ms)}}``."""

BANDWIDTH_EFFICIENCY = 0.75
"""Share of datasheet bandwidth a decode step achieves (REFERENCE.md: 8B BF16 on A100-40GB, 75 of 97
tokens/s ideal at batch 1 -> 0.77; sizing_anchors.md section 4 uses 0.75)."""

ESTIMATE_BAND = 0.5
"""Relative error band of a roofline estimate (+/-)."""

ESTIMATE_MARGIN = 1.0 - ESTIMATE_BAND
"""Factor applied to a roofline estimate before it is credited: the low edge of its band."""

DEFAULT_SHAPE = (1024, 256)
"""Input / output tokens of a request assumed by the roofline where no measurement of the model gives
one: a chat-like request (an assumption; give request classes with your own figures to replace it)."""


@dataclass(frozen=True)
class Measurement:
    """One row of :data:`TABLE` (see :data:`COLUMNS`)."""

    model: str
    accelerator: str
    engine: str
    precision: str
    scenario: str
    tokens_per_s_per_gpu: float
    gpus: int
    input_tokens: int | None
    output_tokens: int | None
    source: str
    as_of: str


@cache
def measurements() -> tuple[Measurement, ...]:
    """The bundled table, checked: known columns, scenario and accelerator, positive figures, a source."""
    rows = []
    with TABLE.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{TABLE}: columns must be {', '.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            if row["scenario"] not in SCENARIOS or not row["source"] or not row["as_of"]:
                raise ValueError(f"{TABLE}: row {line}: scenario, source and as_of are required")
            figure = float(row["tokens_per_s_per_gpu"])
            if figure <= 0:
                raise ValueError(f"{TABLE}: row {line}: tokens_per_s_per_gpu must be > 0")
            rows.append(
                Measurement(
                    model=row["model"],
                    accelerator=accelerators.canonical(row["accelerator"]),
                    engine=row["engine"],
                    precision=row["precision"],
                    scenario=row["scenario"],
                    tokens_per_s_per_gpu=figure,
                    gpus=int(row["gpus"]),
                    input_tokens=int(row["input_tokens"]) if row["input_tokens"] else None,
                    output_tokens=int(row["output_tokens"]) if row["output_tokens"] else None,
                    source=row["source"],
                    as_of=row["as_of"],
                )
            )
    return tuple(rows)


def measured(model: str, scenario: str) -> dict[str, Measurement]:
    """The newest measurement of ``model`` per accelerator in ``scenario``."""
    found: dict[str, Measurement] = {}
    for m in measurements():
        newer = m.accelerator not in found or m.as_of > found[m.accelerator].as_of
        if m.model == model and m.scenario == scenario and newer:
            found[m.accelerator] = m
    return found


def bounds_ms(model: str, scenario: str) -> tuple[float, float] | None:
    """(TTFT, TPOT) bound of a scenario for a model, ms; ``None`` for offline (no bound)."""
    if scenario == "offline":
        return None
    return SCENARIO_BOUNDS_MS.get(model, SCENARIO_BOUNDS_MS["*"])[scenario]


def scenario_for(model: str, ttft_ms: float, tpot_ms: float) -> str | None:
    """The loosest measured scenario whose bounds an explicit target allows; ``None`` when the target
    is tighter than every scenario (then only the roofline at that TPOT applies)."""
    for scenario in ("server", "interactive"):
        ttft, tpot = bounds_ms(model, scenario) or (math.inf, math.inf)
        if ttft_ms >= ttft and tpot_ms >= tpot:
            return scenario
    return None


def shape(model: str, scenario: str) -> tuple[int, int]:
    """Input / output tokens the roofline assumes for a model: published lengths, else the default."""
    for m in measured(model, scenario).values():
        if m.input_tokens and m.output_tokens:
            return m.input_tokens, m.output_tokens
    return DEFAULT_SHAPE


def roofline_per_gpu(
    *,
    weight_bytes: float,
    kv_bytes_per_token: float,
    kv_budget_bytes: float,
    gpus: int,
    bandwidth_tb_s: float,
    input_tokens: int,
    output_tokens: int,
    tpot_s: float | None,
) -> float:
    """Decode output tokens/s per GPU of one replica spanning ``gpus`` GPUs (0 when it cannot serve).

    Step time ``t(B) = (weights + B x (input + output / 2) x KV bytes per token) / (gpus x eta x BW)``;
    the batch ``B`` is the largest the KV budget holds at ``input + output`` tokens a sequence and,
    with a TPOT bound, the largest with ``t(B) <= TPOT``. Throughput per GPU is ``B / t(B) / gpus``.
    """
    bandwidth = gpus * bandwidth_tb_s * 1e12 * BANDWIDTH_EFFICIENCY
    per_sequence = (input_tokens + output_tokens) * kv_bytes_per_token
    batch = math.floor(kv_budget_bytes / per_sequence) if per_sequence > 0 else 0
    context = (input_tokens + output_tokens / 2) * kv_bytes_per_token
    if tpot_s is not None:
        batch = min(batch, math.floor((tpot_s * bandwidth - weight_bytes) / context))
    if batch < 1:
        return 0.0
    step = (weight_bytes + batch * context) / bandwidth
    return batch / step / gpus
