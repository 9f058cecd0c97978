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

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aistack.errors import InputError
from sizing import accelerators, capacity

Cloud = Literal["aws", "azure", "gcp"]
Precision = Literal["bf16", "fp16", "fp8", "int8", "int4"]
Scenario = Literal["offline", "server", "interactive"]
Domain = Literal["zone", "region", "cloud"]

_SHARE_TOLERANCE = 1e-6


def _canonical_throughput(raw: Any, key: str) -> Any:
    """A throughput table with canonical accelerator names (other types are left to field validation)."""
    if not isinstance(raw, dict):
        return raw
    table: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            table[accelerators.canonical(str(name))] = value
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return table


def _check_throughput(value: dict[str, float], required: bool = True) -> dict[str, float]:
    if not value and required:
        raise ValueError("at least one accelerator with its throughput per GPU is required")
    for name, per_gpu in value.items():
        if not per_gpu > 0:
            raise ValueError(f"throughput of {name} must be > 0 units/s per GPU")
    return value


class RequestClass(BaseModel):
    """One request-size class of a workload (a Melange bucket): its share of demand and its capacity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Class name, e.g. `short` (unique within the workload).")
    share: float = Field(
        gt=0, le=1, description="Fraction of the workload's demand in this class; the shares sum to 1."
    )
    throughput: dict[str, float] = Field(
        description="Units/s one GPU serves of this class alone, per accelerator (canonical name or alias). "
        "The class can only be routed to pools whose accelerator is listed.",
    )
    tokens: int | None = Field(
        default=None,
        gt=0,
        description="Prompt plus output tokens of this class's typical request; with max_model_len, the "
        "share-weighted mean over the classes sets how many sequences a replica's KV cache holds at once.",
    )

    @field_validator("throughput", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        return _canonical_throughput(value, "throughput")

    @field_validator("throughput")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_throughput(value)


class LatencyTarget(BaseModel):
    """An explicit latency target: the MLPerf scenario whose bounds it meets decides the capacity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft_ms: float = Field(gt=0, description="Time to first token the workload needs at most, milliseconds.")
    tpot_ms: float = Field(
        gt=0, description="Time per output token the workload needs at most, milliseconds."
    )


class Site(BaseModel):
    """One place a workload may run: a node pool's cloud, region, accelerator and machine types.

    A workload with sites (one endpoint served from several clusters) uses only offerings some site
    accepts, priced spot or on-demand as that site says, at most ``options.max_pools_per_workload``
    machine types per site, and keeps at least ``min_replicas`` replicas on each site.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cloud: Cloud = Field(description="The site's cloud.")
    region: str = Field(min_length=1, description="The site's region (Azure: location).")
    accelerator: str | None = Field(default=None, description="Canonical accelerator name; None = any.")
    instance_types: tuple[str, ...] | None = Field(
        default=None, description="Machine types the site may use; None = any of the accelerator."
    )
    spot: bool = Field(
        default=False, description="The site's nodes are spot where the offering has a spot price."
    )
    min_replicas: int = Field(default=0, ge=0, description="Replicas to keep on this site at least.")
    fixed_usd_month: float = Field(
        default=0.0,
        ge=0,
        description="Cost of using the site at all, USD per month (e.g. copying the weights to its cloud): "
        "charged once when the site holds any node, whatever their number.",
    )

    def accepts(self, offering: Any) -> bool:
        """Whether an offering can be a node pool of this site."""
        return (
            (offering.cloud, offering.region) == (self.cloud, self.region)
            and (self.accelerator is None or offering.accelerator == self.accelerator)
            and (self.instance_types is None or offering.instance_type in self.instance_types)
        )


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
    demand: float | tuple[float, ...] = Field(
        description="Load to serve at base demand, units/s (tokens/s for LLM serving); a list gives one "
        "value per planning period (options.period_hours each).",
    )
    peak_demand: float | tuple[float, ...] | None = Field(
        default=None,
        description="Peak load, units/s (a list: one per period); sets autoscaler max when options.autoscale "
        "is on.",
    )
    classes: tuple[RequestClass, ...] | None = Field(
        default=None,
        description="Request-size classes: each class's share of demand may be split across any of the "
        "workload's pools, and a pool's nodes must cover the sum of its routed load over each class's "
        "capacity. Without classes the workload is one class with `throughput`.",
    )
    slo: Scenario | LatencyTarget | None = Field(
        default=None,
        description="Latency target of a known model: `offline`, `server` or `interactive` (MLPerf scenarios), "
        "or `{ttft_ms, tpot_ms}`. Throughput defaults then come from the measured table "
        "(sizing/data/throughput.csv) for that scenario, and a roofline estimate with a safety margin for "
        "accelerators without a measurement. None = the legacy derated defaults.",
    )
    max_model_len: int | None = Field(
        default=None,
        gt=0,
        description="Longest sequence (prompt + output) a replica must hold, tokens; caps the capacity "
        "credited to a layout by what its KV cache holds (known models): a layout must hold one sequence "
        "this long, and is credited the concurrency its KV cache allows at the typical request length.",
    )
    typical_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Prompt plus output tokens of a typical request, for the KV bound on concurrency "
        "(capped at max_model_len). Default: the classes' share-weighted `tokens` when every class gives "
        "them, else the measured input + output lengths of the SLO's scenario, else 1,024 + 256.",
    )
    tensor_parallel: int | None = Field(
        default=None,
        ge=1,
        description="GPUs one layer is split over when a replica spans several nodes (the GPUs of one node): "
        "tensor parallel within a node, pipeline parallel over `gpus_per_replica / tensor_parallel` stages. "
        "Sets the KV-head replication and the pipeline's share of the capacity (sizing.capacity); "
        "None = the replica is one tensor-parallel set.",
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
    sites: tuple[Site, ...] | None = Field(
        default=None,
        description="Node pools the workload is placed across (see Site); None = any allowed offering, "
        "`spot` for all.",
    )

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
            throughput = _canonical_throughput(raw, "throughput")
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
            slo = data.get("slo")
            if slo is None:
                throughput = {**capacity.default_throughput(model), **throughput}
            else:
                if isinstance(slo, dict):
                    slo = LatencyTarget.model_validate(slo)
                throughput = {**capacity.slo_throughput(model, slo), **throughput}
                data.setdefault("throughput", throughput)
        if throughput or raw is not None:
            data["throughput"] = throughput
        classes = data.get("classes")
        if "throughput" not in data and isinstance(classes, list | tuple) and classes:
            data["throughput"] = _mix_throughput(classes)
        return data

    @field_validator("throughput")
    @classmethod
    def _positive_throughput(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_throughput(value, required=False)

    @model_validator(mode="after")
    def _some_throughput(self) -> Workload:
        # Empty is fine only where roofline estimates stand in (known model with an SLO, no classes).
        if not self.throughput and not (
            self.slo is not None and self.model in capacity.MODELS and not self.classes
        ):
            raise ValueError("throughput: at least one accelerator with its throughput per GPU is required")
        return self

    @field_validator("demand", "peak_demand")
    @classmethod
    def _non_negative(cls, value: float | tuple[float, ...] | None) -> float | tuple[float, ...] | None:
        values = value if isinstance(value, tuple) else () if value is None else (value,)
        if isinstance(value, tuple) and not value:
            raise ValueError("a list of demands needs one value per period, at least one")
        if any(v < 0 for v in values):
            raise ValueError("Input should be greater than or equal to 0 (units/s)")
        return value

    @field_validator("classes")
    @classmethod
    def _classes_sum_to_one(cls, value: tuple[RequestClass, ...] | None) -> tuple[RequestClass, ...] | None:
        if value is None:
            return value
        if not value:
            raise ValueError("list at least one class, or leave classes out")
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError(f"class names must be unique; got {', '.join(names)}")
        total = sum(c.share for c in value)
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise ValueError(f"shares must sum to 1; they sum to {total:g}")
        return value

    @field_validator("sites")
    @classmethod
    def _non_empty_sites(cls, value: tuple[Site, ...] | None) -> tuple[Site, ...] | None:
        if value is not None and not value:
            raise ValueError("must list at least one site, or be left out")
        return value

    def site_of(self, offering: Any) -> int | None:
        """Index of the first site accepting an offering (0 without sites; None when none does)."""
        if self.sites is None:
            return 0
        return next((k for k, site in enumerate(self.sites) if site.accepts(offering)), None)

    def spot_at(self, site: int) -> bool:
        """Whether the workload runs spot on a site."""
        return self.spot if self.sites is None else self.sites[site].spot

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
    def demands(self) -> tuple[float, ...]:
        """Base demand per period, units/s (one value for a single-period plan)."""
        return self.demand if isinstance(self.demand, tuple) else (self.demand,)

    @property
    def base(self) -> float:
        """Base demand of the first period, units/s."""
        return self.demands[0]

    @property
    def peaks(self) -> tuple[float, ...] | None:
        """Peak demand per period as given, units/s (``None`` when no peak is given)."""
        if self.peak_demand is None:
            return None
        return self.peak_demand if isinstance(self.peak_demand, tuple) else (self.peak_demand,)

    @property
    def peak(self) -> float:
        """Peak demand of the first period, units/s (the base demand when no peak is given)."""
        peaks = self.peaks
        return max(self.base, peaks[0] if peaks else 0.0)

    @property
    def request_classes(self) -> tuple[RequestClass, ...]:
        """The classes; a workload without classes is one class ``all`` with its throughput."""
        if self.classes:
            return self.classes
        return (RequestClass(name="all", share=1.0, throughput=self.throughput),)

    @property
    def typical_len(self) -> int:
        """Tokens (prompt + output) of a typical request, at most ``max_model_len`` (see ``typical_tokens``)."""
        from sizing import throughput

        if self.typical_tokens is not None:
            tokens = float(self.typical_tokens)
        elif self.classes and all(c.tokens for c in self.classes):
            tokens = sum(c.share * (c.tokens or 0) for c in self.classes)
        else:
            scenario = capacity.target(self)[0] if self.model in capacity.MODELS else None
            tokens = float(sum(throughput.shape(self.model or "*", scenario or "interactive")))
        length = max(1, math.ceil(tokens))
        return length if self.max_model_len is None else min(length, self.max_model_len)

    def at_period(self, t: int) -> Workload:
        """This workload with period ``t``'s demand and peak as plain numbers (a single value holds
        in every period)."""
        demands, peaks = self.demands, self.peaks
        peak = None if peaks is None else peaks[t if len(peaks) > 1 else 0]
        return self.model_copy(update={"demand": demands[t if len(demands) > 1 else 0], "peak_demand": peak})


def _mix_throughput(classes: Sequence[Any]) -> dict[str, float]:
    """Per accelerator any class lists, what one GPU serves of the classes it can take.

    ``1 / sum(share / throughput)`` over the classes listing the accelerator, per unit of those
    classes' demand. The optimiser routes classes with their own figures; this table only says
    which accelerators are eligible and bounds node counts.
    """
    tables = []
    for item in classes:
        if not isinstance(item, dict) or not isinstance(item.get("throughput"), dict):
            return {}
        tables.append((item.get("share"), _canonical_throughput(item["throughput"], "classes.throughput")))
    mix: dict[str, float] = {}
    for acc in sorted({acc for _, table in tables for acc in table}):
        try:
            serving = [(float(share), float(t[acc])) for share, t in tables if acc in t]
            mix[acc] = sum(s for s, _ in serving) / sum(s / tp for s, tp in serving)
        except (TypeError, ValueError, ZeroDivisionError):
            return {}
    return mix


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
    nodes_per_replica: int | None = Field(default=None, description="Ignored (accepted from a pasted plan).")
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
    period_hours: float = Field(
        default=730.0,
        gt=0,
        description="Length of one planning period, hours, when demand is a list (one value per period); "
        "a period's cost is its nodes x hourly price x period_hours.",
    )
    migration_usd_per_node_sq: float = Field(
        default=0.0,
        ge=0,
        description="Migration cost alpha, USD: the objective adds alpha x (n[t+1] - n[t])^2 for every pool "
        "and every transition, period 0 being `current`. Solved exactly. 0 = off.",
    )
    survive: Domain | None = Field(
        default=None,
        description="Failure domain whose loss the plan survives: with any one zone, region or cloud lost, "
        "the remaining nodes (spot nodes at their availability) still meet every workload's demand. "
        "None = off.",
    )
    spot_availability: dict[str, float] = Field(
        default_factory=dict,
        description="Expected available fraction of spot capacity, by `cloud`, `cloud/region` or "
        "`cloud/region/instance_type` (most specific wins); spot nodes count for that fraction of their "
        "capacity. Unlisted offerings take the band defaults of sizing/risk.py.",
    )

    @field_validator("spot_availability")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        for key, factor in value.items():
            if not 0 < factor <= 1:
                raise ValueError(f"{key}: availability must be in (0, 1], got {factor:g}")
            if key.split("/")[0] not in accelerators.CLOUDS or key.count("/") > 2:
                raise ValueError(
                    f"{key}: keys are cloud, cloud/region or cloud/region/instance_type with cloud one of "
                    f"{', '.join(accelerators.CLOUDS)}"
                )
        return value

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
        periods(self.workloads)
        return self


def periods(workloads: Sequence[Workload]) -> int:
    """Planning periods of the workloads: the length of their demand lists (1 without lists).

    Raises:
        ValueError: Two workloads (or a demand and its peak) give different numbers of periods.
    """
    lengths = {len(w.demands) for w in workloads if isinstance(w.demand, tuple)}
    lengths |= {len(w.peaks or ()) for w in workloads if isinstance(w.peak_demand, tuple)}
    if len(lengths) > 1:
        raise ValueError(
            f"demand and peak_demand lists must all have the same number of periods; got {sorted(lengths)}"
        )
    count = lengths.pop() if lengths else 1
    for w in workloads:
        if len(w.demands) not in (1, count) or len(w.peaks or (0,)) not in (1, count):
            raise ValueError(f"{w.name}: give one demand per period ({count}) or a single value")
    return count


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


_UNION_TAG = re.compile(r"^(float|int|str|bool|literal\[.*\]|tuple\[.*\]|LatencyTarget)$")


def _first_error(exc: ValidationError, data: dict[str, Any]) -> tuple[str, str]:
    """Dotted key and message of a validation error, with list items named where possible."""
    err = exc.errors()[0]
    parts: list[str] = []
    node: Any = data
    for loc in err["loc"]:
        if isinstance(loc, str) and _UNION_TAG.match(loc):
            continue  # pydantic names the union member it tried; the key path is what users need
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
