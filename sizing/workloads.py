"""Workloads and sizing options: the typed input of the optimiser, and the workloads YAML file.

A workloads file is YAML with two top-level keys::

    workloads:                      # list, at least one
      - name: chat                  # unique
        model: llama-3.1-8b         # optional; fills model_mem_gib and throughput defaults
        demand: 20000               # units/s (tokens/s) to serve at base load
        peak_demand: 30000          # optional, for autoscaler bounds
        throughput:                 # units/s per GPU, per accelerator (canonical name or alias)
          L4-24GB: 900
        clouds: [aws, gcp]          # optional; default all
        spot: true                  # optional; default false
    options:                        # optional, see SizingOptions
      min_zones: 2

Every model rejects unknown keys. Units: demand and throughput in the same unit per second
(output tokens/s for LLM serving); memory in GiB; money in USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aistack.errors import InputError
from sizing import accelerators, capacity

Cloud = Literal["aws", "azure", "gcp"]
Precision = Literal["bf16", "fp16", "fp8", "int8", "int4"]


class Workload(BaseModel):
    """One service to size: a model at a demand, with where and how it may run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Unique workload name; pools are reported under it.")
    model: str | None = Field(
        default=None,
        description=f"Known model id ({', '.join(capacity.MODELS)}). Fills model_mem_gib and "
        "throughput defaults from sizing.capacity; explicit values win.",
    )
    precision: Precision = Field(
        default="bf16", description="Weight precision, for the memory of a known model."
    )
    kv_tokens: int = Field(
        default=capacity.DEFAULT_KV_TOKENS,
        ge=0,
        description="Tokens of KV cache reserved per replica, for the memory of a known model.",
    )
    model_mem_gib: float = Field(
        gt=0,
        description="GPU memory one replica needs, GiB (weights + KV headroom, already divided by the "
        "usable fraction). Required unless model is given.",
    )
    demand: float = Field(
        ge=0, description="Load to serve at base demand, units/s (tokens/s for LLM serving)."
    )
    peak_demand: float | None = Field(
        default=None,
        ge=0,
        description="Peak load, units/s; sets autoscaler max when options.autoscale is on.",
    )
    throughput: dict[str, float] = Field(
        description="Serving throughput of one GPU per accelerator, units/s per GPU. Keys are canonical "
        "accelerator names or aliases. Only these accelerators are considered. Required unless model "
        "has published figures.",
    )
    target_utilization: float = Field(
        default=0.8, gt=0, le=1, description="Fraction of node throughput planned to be used (headroom)."
    )
    min_replicas: int = Field(default=1, ge=0, description="Replicas to run at least, e.g. 2 for redundancy.")
    clouds: tuple[Cloud, ...] | None = Field(default=None, description="Allowed clouds; default all.")
    regions: tuple[str, ...] | None = Field(default=None, description="Allowed regions; default all.")
    spot: bool = Field(default=False, description="Run on spot capacity where the offering has a spot price.")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_model(cls, data: Any) -> Any:
        """Fill ``model_mem_gib`` and ``throughput`` from :mod:`sizing.capacity` for a known model."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        raw = data.get("throughput")
        throughput: dict[str, Any] = {}
        if raw is not None:
            if not isinstance(raw, dict):
                return data  # let field validation report the type
            for key, value in raw.items():
                try:
                    throughput[accelerators.canonical(str(key))] = value
                except ValueError as exc:
                    raise ValueError(f"throughput: {exc}") from None
        model = data.get("model")
        if model is not None:
            if model not in capacity.MODELS:
                raise ValueError(f"model: unknown model {model!r}; known: {', '.join(capacity.MODELS)}")
            data.setdefault(
                "model_mem_gib",
                capacity.memory_per_replica_gib(
                    model,
                    data.get("precision", "bf16"),
                    data.get("kv_tokens", capacity.DEFAULT_KV_TOKENS),
                ),
            )
            throughput = {**capacity.default_throughput(model), **throughput}
        if throughput or raw is not None:
            data["throughput"] = throughput
        return data

    @field_validator("throughput")
    @classmethod
    def _positive_throughput(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("at least one accelerator with its throughput per GPU is required")
        for name, per_gpu in value.items():
            if not per_gpu > 0:
                raise ValueError(f"throughput of {name} must be > 0 units/s per GPU")
        return value

    @field_validator("regions")
    @classmethod
    def _non_empty_regions(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("must list at least one region, or be left out for all regions")
        return value

    @field_validator("clouds")
    @classmethod
    def _non_empty_clouds(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("must list at least one cloud, or be left out for all clouds")
        return value

    @property
    def peak(self) -> float:
        """Peak demand, units/s (the base demand when no peak is given)."""
        return max(self.demand, self.peak_demand or 0.0)


class DeployedPool(BaseModel):
    """A node pool that exists now, for the churn penalty.

    The keys are those of a plan's ``pools`` entries, so a previous ``--format json`` plan's pools
    can be pasted as ``options.current``; the sizing-only keys are accepted and ignored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    workload: str = Field(description="Workload the pool serves.")
    cloud: Cloud = Field(description="Cloud of the pool.")
    region: str = Field(description="Region of the pool.")
    instance_type: str = Field(description="Instance type of the pool's nodes.")
    accelerator: str | None = Field(
        default=None, description="Accelerator; needed only to tell GCP N1 pools apart."
    )
    gpus_per_node: int | None = Field(
        default=None, ge=0, description="GPUs per node; needed only to tell GCP N1 pools apart."
    )
    spot: bool = Field(default=False, description="Whether the pool runs on spot capacity.")
    nodes: int = Field(ge=0, description="Nodes the pool runs now.")
    gpus_per_replica: int | None = Field(default=None, description="Ignored (accepted from a pasted plan).")
    replicas_per_node: int | None = Field(default=None, description="Ignored (accepted from a pasted plan).")
    min_nodes: int | None = Field(default=None, description="Ignored (accepted from a pasted plan).")
    max_nodes: int | None = Field(default=None, description="Ignored (accepted from a pasted plan).")
    monthly_usd: float | None = Field(default=None, description="Ignored (accepted from a pasted plan).")

    @field_validator("accelerator")
    @classmethod
    def _canonical_accelerator(cls, value: str | None) -> str | None:
        return None if value is None else accelerators.canonical(value)


class SizingOptions(BaseModel):
    """Extensions of the sizing model. Each is off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_demand_floor: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="For spot workloads: fraction of demand that on-demand nodes alone must serve, so a spot "
        "reclaim leaves that share running. 0 = off.",
    )
    min_zones: int = Field(
        default=1,
        ge=1,
        description="Spread each workload's nodes over at least this many zones (zones unknown in the catalog "
        "count as one zone per region). 1 = off.",
    )
    max_pools_per_workload: int | None = Field(
        default=None, ge=1, description="At most this many node pools per workload. None = no cap."
    )
    churn_usd_per_node: float = Field(
        default=0.0,
        ge=0,
        description="Penalty, USD per month-equivalent, for each node added to or removed from the pools in "
        "current; keeps a small demand change from moving pools between clouds. 0 = off.",
    )
    current: tuple[DeployedPool, ...] = Field(
        default=(), description="Pools deployed now, for the churn penalty (a previous plan's pools work)."
    )
    time_limit_s: float | None = Field(
        default=None,
        gt=0,
        description="Stop each solve after this many seconds; a plan not proven optimal by then has status "
        "time_limit, the best pools found and their gap to the optimum. None = no limit (always the "
        "proven optimum).",
    )
    autoscale: bool = Field(
        default=False,
        description="Set each pool's autoscaler bounds: min from base demand, max from peak_demand. "
        "Off = min and max equal the node count.",
    )

    @model_validator(mode="after")
    def _current_unique(self) -> SizingOptions:
        seen: set[tuple[object, ...]] = set()
        for pool in self.current:
            key = (
                pool.workload,
                pool.cloud,
                pool.region,
                pool.instance_type,
                pool.accelerator,
                pool.gpus_per_node,
                pool.spot,
            )
            if key in seen:
                raise ValueError(f"current: pool {'/'.join(str(k) for k in key)} listed twice")
            seen.add(key)
        return self


class WorkloadsFile(BaseModel):
    """The workloads YAML file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workloads: tuple[Workload, ...] = Field(min_length=1, description="Workloads to size together.")
    options: SizingOptions = Field(default_factory=SizingOptions, description="Sizing extensions.")

    @model_validator(mode="after")
    def _unique_names(self) -> WorkloadsFile:
        names = [w.name for w in self.workloads]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"workload names must be unique; repeated: {', '.join(duplicates)}")
        return self


def check_unique(workloads: Sequence[Workload]) -> None:
    """Raise ``ValueError`` when two workloads share a name."""
    WorkloadsFile(workloads=tuple(workloads))


def load_workloads(path: str | Path) -> WorkloadsFile:
    """Read and validate a workloads YAML file.

    Raises:
        InputError: The file is missing, not YAML, or fails validation; the key is the dotted path
            of the first bad value (list items by workload name where known).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read workloads file: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise InputError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(data, dict):
        raise InputError(str(path), "", "expected a mapping with keys workloads (and optionally options)")
    try:
        return WorkloadsFile.model_validate(data)
    except ValidationError as exc:
        raise InputError(str(path), *_first_error(exc, data)) from exc


def _first_error(exc: ValidationError, data: dict[str, Any]) -> tuple[str, str]:
    """Dotted key and message of a validation error, with list items named where possible."""
    err = exc.errors()[0]
    parts: list[str] = []
    node: Any = data
    for loc in err["loc"]:
        if isinstance(loc, int) and isinstance(node, list) and 0 <= loc < len(node):
            item = node[loc]
            name = item.get("name") if isinstance(item, dict) else None
            parts.append(str(name) if isinstance(name, str) and name else str(loc))
            node = item
        else:
            parts.append(str(loc))
            node = node.get(loc) if isinstance(node, dict) else None
    message = err["msg"].removeprefix("Value error, ")
    return ".".join(parts), message
