"""Offering catalog: CSV files of instance types with prices, checked row by row.

One row is one *offering*: an instance type in a cloud region with its GPUs and its hourly prices.
The bundled files (``sizing/data/{aws,azure,gcp}.csv``) are read from public snapshots of the
SkyPilot catalog; see ``sizing/data/README.md`` for what was taken from where. Prices drift: load
your own file (negotiated prices, quotas) with :func:`load_catalog`.

Columns and units (exactly these, in any order):

============== ===================================================================================
cloud          ``aws``, ``azure`` or ``gcp``
region         cloud region, e.g. ``us-east-1``
instance_type  instance / VM size / machine type; on GCP N1 the GPUs attach as guest accelerators
accelerator    canonical name (see :mod:`sizing.accelerators`) or an alias; empty for CPU-only rows
gpus           GPUs per node (integer, 0 for CPU-only rows)
gpu_mem_gib    memory of one GPU, GiB (empty for CPU-only rows)
vcpus          vCPUs per node
mem_gib        host memory per node, GiB
price_hr       on-demand price of one node, USD per hour
spot_price_hr  spot price of one node, USD per hour; empty = no spot offer
zones          ``;``-separated zones where the offering exists (AWS: zone IDs); empty = unknown
max_nodes      quota / capacity cap in nodes, shared by every workload; empty = no cap
source         where the figures come from; caveats appear as ``[FLAG: text]`` segments
as_of          date or snapshot the figures were read from
============== ===================================================================================

A spot price equal to the on-demand price is read as *no spot offer* (the SkyPilot Azure catalog
fills the spot column with the on-demand price where there is none).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from aistack.errors import InputError
from sizing import accelerators

COLUMNS = (
    "cloud",
    "region",
    "instance_type",
    "accelerator",
    "gpus",
    "gpu_mem_gib",
    "vcpus",
    "mem_gib",
    "price_hr",
    "spot_price_hr",
    "zones",
    "max_nodes",
    "source",
    "as_of",
)
"""The catalog columns, in the order the bundled files use."""

DATA_DIR = Path(__file__).parent / "data"


def bundled_paths() -> list[Path]:
    """Paths of the bundled catalog files."""
    return [DATA_DIR / f"{cloud}.csv" for cloud in accelerators.CLOUDS]


# Sanity bands. These are plausibility fences, not prices: they exist to reject rows whose GPU
# count or price column is wrong (a 12-GPU H100 VM, a price typed per GPU instead of per node).
# The bundled rows span 0.35 (GCP T4) to 12.29 (8 x H100) USD per GPU-hour and 0.03 to 0.05 USD
# per vCPU-hour for CPU-only nodes.
GPU_HOUR_USD_BAND = (0.10, 20.0)
"""Allowed on-demand price per GPU-hour, USD."""
VCPU_HOUR_USD_BAND = (0.005, 0.5)
"""Allowed on-demand price per vCPU-hour for CPU-only rows, USD."""
GPU_MEMORY_TOLERANCE = 0.10
"""Allowed relative gap between a row's ``gpu_mem_gib`` and the accelerator's nominal memory."""

# GPUs per node for the instance types whose count is fixed by the SKU (provider instance-type
# documentation; the SkyPilot catalogs agree except where flagged in sizing/data). A row for a
# listed type must carry this count.
_KNOWN_GPUS: dict[tuple[str, str], int] = {
    **{("aws", f"g4dn.{s}"): 1 for s in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")},
    ("aws", "g4dn.12xlarge"): 4,
    ("aws", "g4dn.metal"): 8,
    **{
        ("aws", f"{fam}.{s}"): 1
        for fam in ("g5", "g6", "g6e")
        for s in ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
    },
    **{("aws", f"{fam}.{s}"): 4 for fam in ("g5", "g6", "g6e") for s in ("12xlarge", "24xlarge")},
    **{("aws", f"{fam}.48xlarge"): 8 for fam in ("g5", "g6", "g6e")},
    ("aws", "p4d.24xlarge"): 8,
    ("aws", "p4de.24xlarge"): 8,
    ("aws", "p5.48xlarge"): 8,
    ("azure", "Standard_NC4as_T4_v3"): 1,
    ("azure", "Standard_NC8as_T4_v3"): 1,
    ("azure", "Standard_NC16as_T4_v3"): 1,
    ("azure", "Standard_NC64as_T4_v3"): 4,
    ("azure", "Standard_NV36ads_A10_v5"): 1,
    ("azure", "Standard_NV72ads_A10_v5"): 2,
    ("azure", "Standard_NC6s_v3"): 1,
    ("azure", "Standard_NC12s_v3"): 2,
    ("azure", "Standard_NC24s_v3"): 4,
    ("azure", "Standard_NC24ads_A100_v4"): 1,
    ("azure", "Standard_NC48ads_A100_v4"): 2,
    ("azure", "Standard_NC96ads_A100_v4"): 4,
    ("azure", "Standard_ND96asr_v4"): 8,
    ("azure", "Standard_ND96amsr_A100_v4"): 8,
    ("azure", "Standard_NC40ads_H100_v5"): 1,
    ("azure", "Standard_NC80adis_H100_v5"): 2,
    ("azure", "Standard_ND96isr_H100_v5"): 8,
    ("gcp", "g2-standard-4"): 1,
    ("gcp", "g2-standard-8"): 1,
    ("gcp", "g2-standard-12"): 1,
    ("gcp", "g2-standard-16"): 1,
    ("gcp", "g2-standard-24"): 2,
    ("gcp", "g2-standard-32"): 1,
    ("gcp", "g2-standard-48"): 4,
    ("gcp", "g2-standard-96"): 8,
}
# GCP A2/A3 machine types name their GPU count: a2-highgpu-4g has 4.
_GCP_GPU_SUFFIX = re.compile(r"^a[23]-[a-z]+gpu-(\d+)g(?:-|$)")
_CAVEAT = re.compile(r"\[([A-Z][A-Z0-9_-]*(?::[^\]]*)?)\]")


def expected_gpus(cloud: str, instance_type: str) -> int | None:
    """GPUs per node fixed by the instance type, or ``None`` when the type does not fix it."""
    if cloud == "gcp" and (m := _GCP_GPU_SUFFIX.match(instance_type)):
        return int(m.group(1))
    return _KNOWN_GPUS.get((cloud, instance_type))


@dataclass(frozen=True)
class Offering:
    """One instance type in one region, as a catalog row.

    Attributes:
        cloud: ``aws``, ``azure`` or ``gcp``.
        region: Cloud region.
        instance_type: Instance type / VM size / machine type.
        accelerator: Canonical accelerator name, ``None`` for CPU-only nodes.
        gpus: GPUs per node.
        gpu_mem_gib: Memory of one GPU, GiB (0 for CPU-only nodes).
        vcpus: vCPUs per node.
        mem_gib: Host memory per node, GiB.
        price_hr: On-demand price of one node, USD per hour.
        spot_price_hr: Spot price of one node, USD per hour; ``None`` = no spot offer.
        zones: Zones where the offering exists; empty = unknown.
        max_nodes: Quota / capacity cap in nodes shared by all workloads; ``None`` = no cap.
        source: Where the figures come from.
        as_of: Date or snapshot of the figures.
    """

    cloud: str
    region: str
    instance_type: str
    accelerator: str | None
    gpus: int
    gpu_mem_gib: float
    vcpus: float
    mem_gib: float
    price_hr: float
    spot_price_hr: float | None
    zones: tuple[str, ...]
    max_nodes: int | None
    source: str
    as_of: str

    @cached_property
    def key(self) -> tuple[str, str, str, str, int]:
        """Identity of the offering: ``(cloud, region, instance_type, accelerator, gpus)``.

        The GPU count is part of the key because a GCP N1 machine type takes 1, 2 or 4 GPUs.
        """
        return (self.cloud, self.region, self.instance_type, self.accelerator or "", self.gpus)

    @property
    def caveats(self) -> tuple[str, ...]:
        """Caveats written as ``[FLAG: text]`` in ``source``, e.g. ``("NO_SPOT: ...",)``."""
        return tuple(_CAVEAT.findall(self.source))

    def hourly(self, spot: bool) -> float:
        """Price of one node, USD per hour; the spot price when ``spot`` and one exists."""
        if spot and self.spot_price_hr is not None:
            return self.spot_price_hr
        return self.price_hr


class Catalog:
    """An immutable set of offerings with lookups.

    Args:
        offerings: The offerings; keys must be unique.
        files: The files they were read from (for messages).
    """

    def __init__(self, offerings: Iterable[Offering], files: Sequence[str] = ()) -> None:
        self._offerings = tuple(sorted(offerings, key=_price_order))
        self.files = tuple(files)
        keys = [o.key for o in self._offerings]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate offering keys")

    @property
    def offerings(self) -> tuple[Offering, ...]:
        """All offerings, cheapest on-demand node first."""
        return self._offerings

    def __len__(self) -> int:
        return len(self._offerings)

    def __iter__(self) -> Iterator[Offering]:
        return iter(self._offerings)

    def find(
        self,
        cloud: str,
        region: str | None = None,
        accelerator: str | None = None,
        instance_type: str | None = None,
        *,
        cpu_only: bool = False,
    ) -> list[Offering]:
        """Offerings matching every given filter, cheapest on-demand node first.

        Args:
            cloud: ``aws``, ``azure`` or ``gcp``.
            region: Only this region.
            accelerator: Only this accelerator (canonical name or alias).
            instance_type: Only this instance type.
            cpu_only: Only CPU-only offerings (for system node pools).
        """
        acc = accelerators.canonical(accelerator, cloud) if accelerator else None
        return [
            o
            for o in self._offerings
            if o.cloud == cloud
            and (region is None or o.region == region)
            and (acc is None or o.accelerator == acc)
            and (instance_type is None or o.instance_type == instance_type)
            and (not cpu_only or o.gpus == 0)
        ]


def _price_order(o: Offering) -> tuple[float, tuple[str, str, str, str, int]]:
    return (o.price_hr, o.key)


def load_catalog(paths: Sequence[str | Path] | None = None) -> Catalog:
    """Read and check catalog files.

    Args:
        paths: CSV files to read, in order. ``None`` reads the bundled files. A list *replaces*
            the bundled catalog (so a file of negotiated prices and quotas is the whole truth);
            to extend the bundled catalog instead, pass ``[*bundled_paths(), "mine.csv"]``. When
            two files hold the same offering key, the later file's row wins, so an extending file
            can also override bundled rows. A key repeated within one file is an error.

    Raises:
        InputError: A file is missing, is not CSV, has wrong columns or a row fails a check.
            The key is ``row N.column`` where ``N`` is the line number in the file.
    """
    files = [Path(p) for p in (bundled_paths() if paths is None else paths)]
    if not files:
        raise InputError("arguments", "catalog", "no catalog file given")
    merged: dict[tuple[str, str, str, str, int], Offering] = {}
    for path in files:
        for offering in _read_file(path):
            merged[offering.key] = offering
    return Catalog(merged.values(), [str(p) for p in files])


def _read_file(path: Path) -> list[Offering]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read catalog: {exc.strerror or exc}") from exc
    reader = csv.reader(text.splitlines())
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(str(path), f"row {reader.line_num}", f"malformed CSV: {exc}") from exc
    if not rows:
        raise InputError(str(path), "header", f"empty file; expected columns {', '.join(COLUMNS)}")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    if missing or extra or len(set(header)) != len(header):
        raise InputError(
            str(path),
            "header",
            f"columns must be exactly {', '.join(COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else ""),
        )
    offerings: dict[tuple[str, str, str, str, int], Offering] = {}
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise InputError(str(path), f"row {line}", f"expected {len(header)} cells, found {len(cells)}")
        offering = _parse_row(
            _RowContext(str(path), line), dict(zip(header, (c.strip() for c in cells), strict=True))
        )
        if offering.key in offerings:
            raise InputError(
                str(path), f"row {line}", f"duplicate offering {'/'.join(map(str, offering.key))}"
            )
        offerings[offering.key] = offering
    return list(offerings.values())


@dataclass(frozen=True)
class _RowContext:
    file: str
    line: int

    def error(self, column: str, message: str) -> InputError:
        return InputError(self.file, f"row {self.line}.{column}", message)


def _optional_number(ctx: _RowContext, row: dict[str, str], column: str) -> float | None:
    text = row[column]
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ctx.error(column, f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ctx.error(column, f"must be a finite number >= 0, got {text}")
    return value


def _number(ctx: _RowContext, row: dict[str, str], column: str) -> float:
    value = _optional_number(ctx, row, column)
    if value is None:
        raise ctx.error(column, "required")
    return value


def _optional_integer(ctx: _RowContext, row: dict[str, str], column: str) -> int | None:
    value = _optional_number(ctx, row, column)
    if value is not None and value != int(value):
        raise ctx.error(column, f"must be a whole number, got {row[column]}")
    return None if value is None else int(value)


def _integer(ctx: _RowContext, row: dict[str, str], column: str) -> int:
    value = _optional_integer(ctx, row, column)
    if value is None:
        raise ctx.error(column, "required")
    return value


def _parse_row(ctx: _RowContext, row: dict[str, str]) -> Offering:
    cloud = row["cloud"]
    if cloud not in accelerators.CLOUDS:
        raise ctx.error("cloud", f"unknown cloud {cloud!r}; allowed: {', '.join(accelerators.CLOUDS)}")
    for column in ("region", "instance_type", "source", "as_of"):
        if not row[column]:
            raise ctx.error(column, "required")
    gpus = _integer(ctx, row, "gpus")
    price = _number(ctx, row, "price_hr")
    spot = _optional_number(ctx, row, "spot_price_hr")
    vcpus = _number(ctx, row, "vcpus")
    mem = _number(ctx, row, "mem_gib")
    max_nodes = _optional_integer(ctx, row, "max_nodes")
    if price <= 0:
        raise ctx.error("price_hr", "must be > 0 USD per hour")
    if spot is not None:
        if spot > price:
            raise ctx.error("spot_price_hr", f"spot {spot:g} exceeds on-demand {price:g} USD per hour")
        if spot == 0:
            raise ctx.error("spot_price_hr", "must be > 0 USD per hour, or empty for no spot offer")
        if spot == price:
            spot = None  # the source marks "no spot offer" this way
    if vcpus <= 0:
        raise ctx.error("vcpus", "must be > 0")

    accelerator: str | None = None
    gpu_mem = 0.0
    if row["accelerator"]:
        try:
            accelerator = accelerators.canonical(row["accelerator"], cloud)
        except ValueError as exc:
            raise ctx.error("accelerator", str(exc)) from None
        if gpus < 1:
            raise ctx.error("gpus", f"a row with accelerator {accelerator} needs gpus >= 1")
        mem_value = _number(ctx, row, "gpu_mem_gib")
        nominal = accelerators.get(accelerator).memory_gib
        if abs(mem_value - nominal) > GPU_MEMORY_TOLERANCE * nominal:
            raise ctx.error(
                "gpu_mem_gib",
                f"{mem_value:g} GiB is not within {GPU_MEMORY_TOLERANCE:.0%} of {accelerator}'s {nominal:g} GiB",
            )
        gpu_mem = mem_value
        expected = expected_gpus(cloud, row["instance_type"])
        if expected is not None and expected != gpus:
            raise ctx.error("gpus", f"{row['instance_type']} has {expected} GPUs, the row says {gpus}")
        low, high = GPU_HOUR_USD_BAND
        per_gpu = price / gpus
        if not low <= per_gpu <= high:
            raise ctx.error(
                "price_hr",
                f"{per_gpu:.4g} USD per GPU-hour is outside the plausible band {low:g}-{high:g}; "
                "is the price per node and the GPU count right?",
            )
    else:
        if gpus != 0:
            raise ctx.error("gpus", "a CPU-only row (empty accelerator) must have gpus 0")
        if row["gpu_mem_gib"]:
            raise ctx.error("gpu_mem_gib", "must be empty for a CPU-only row")
        low, high = VCPU_HOUR_USD_BAND
        per_vcpu = price / vcpus
        if not low <= per_vcpu <= high:
            raise ctx.error(
                "price_hr", f"{per_vcpu:.4g} USD per vCPU-hour is outside the plausible band {low:g}-{high:g}"
            )
    zones = tuple(z.strip() for z in row["zones"].split(";") if z.strip())
    if len(set(zones)) != len(zones):
        raise ctx.error("zones", "zone listed twice")
    return Offering(
        cloud=cloud,
        region=row["region"],
        instance_type=row["instance_type"],
        accelerator=accelerator,
        gpus=gpus,
        gpu_mem_gib=gpu_mem,
        vcpus=vcpus,
        mem_gib=mem,
        price_hr=price,
        spot_price_hr=spot,
        zones=zones,
        max_nodes=max_nodes,
        source=row["source"],
        as_of=row["as_of"],
    )
