"""The cost model: a monthly estimate for every priced resource in a preview.

Node pools (EKS node groups, AKS agent pools and a managed cluster's pool profiles, GKE node
pools) are priced per node from the sizing catalog (``sizing/data/*.csv``). Everything else
that bills by the hour or month (cluster control planes, NAT gateways, public IPs, load
balancers, object storage, keys) is priced from ``aistack/data/prices.csv``, one row per
resource type token and billed component, each with its source and date. A new cloud's
resources are new rows, not new code.

Units: USD; hourly prices × :data:`HOURS_PER_MONTH` give monthly figures. ``monthly_usd`` counts
autoscaled pools at their minimum node count, ``monthly_usd_max`` at their maximum. Anything
billed by use (data processed, requests, data transfer) is left out and said so in the
assumptions.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aistack.errors import InputError, csv_rows
from sizing.catalog import Catalog, expected_gpus, load_catalog
from sizing.plan import HOURS_PER_MONTH

PRICES_FILE = Path(__file__).parent / "data" / "prices.csv"
COLUMNS = ("cloud", "type", "component", "match", "region", "unit", "usd", "cap_usd", "source", "as_of")
UNITS = {
    "hour": "USD per resource-hour",
    "month": "USD per resource-month",
    "gib_month": "USD per GiB-month of data stored (at ASSUMED_STORE_GIB)",
    "vm_hour": "USD per hour per VM of the cloud's node pools in the region, capped at cap_usd per hour",
    "usage": "billed per use only: no fixed charge (usd is 0)",
    "none": "in this case the resource creates nothing billed (usd is 0; no cost line)",
}
"""Price-table units and what ``usd`` means for each."""

ASSUMED_STORE_GIB = 100
"""GiB stored per bucket or storage account: an 8B-parameter model in BF16 is ~16 GB and a 70B one
~140 GB (REFERENCE.md), so 100 GiB stands for a small set of model weights."""

ANY_REGION = "*"
ANY_CLOUD = "*"


@dataclass(frozen=True)
class PriceRow:
    """One row of the price table (see :data:`COLUMNS`).

    Attributes:
        cloud: ``aws``, ``azure`` or ``gcp`` (the resource's cloud, also for Kubernetes objects),
            or ``*`` for a row that holds on every cloud.
        type: Resource type token, e.g. ``aws:ec2/natGateway:NatGateway``.
        component: What is billed (``gateway``, ``storage``...); a resource pays every component.
        match: Conditions on the camelCase inputs, ``path=value`` joined by ``&``; an empty value
            means the input is absent. Among the rows of one component, the matching row with the
            most conditions wins.
        region: The region the price is for, or ``*`` when it is the same everywhere.
        unit: One of :data:`UNITS`.
        usd: The price, in the unit.
        cap_usd: Cap on the hourly charge (``vm_hour`` only).
        source: Where the price comes from.
        as_of: When the price was read.
    """

    cloud: str
    type: str
    component: str
    match: tuple[tuple[str, str], ...]
    region: str
    unit: str
    usd: float
    cap_usd: float | None
    source: str
    as_of: str

    def matches(self, inputs: Mapping[str, Any]) -> bool:
        """Whether every condition holds for these inputs (values compared case-insensitively)."""
        for path, expected in self.match:
            value = lookup(inputs, path)
            if expected == "":
                if value is not None:
                    return False
            elif value is None or str(value).lower() != expected.lower():
                return False
        return True


def lookup(inputs: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted camelCase path (``scalingConfig.minSize``), or None."""
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def load_prices(path: Path = PRICES_FILE) -> list[PriceRow]:
    """Read and check the price table.

    Raises:
        InputError: a missing file, wrong columns or a bad row (key ``row N.column``).
    """
    rows = []
    for line, row in csv_rows(path, COLUMNS, "price table"):

        def bad(column: str, message: str, line: int = line) -> InputError:
            return InputError(str(path), f"row {line}.{column}", message)

        for column in ("cloud", "type", "component", "region", "source", "as_of"):
            if not row[column]:
                raise bad(column, "required")
        if row["unit"] not in UNITS:
            raise bad("unit", f"unknown unit {row['unit']!r}; allowed: {', '.join(UNITS)}")
        try:
            usd = float(row["usd"])
            cap = float(row["cap_usd"]) if row["cap_usd"] else None
        except ValueError:
            raise bad("usd", f"not a number: {row['usd']!r} / {row['cap_usd']!r}") from None
        if not math.isfinite(usd) or usd < 0:
            raise bad("usd", f"must be a finite number >= 0, got {row['usd']}")
        if row["unit"] in ("usage", "none") and usd != 0:
            raise bad("usd", f"a {row['unit']!r} row has no fixed price: usd must be 0")
        if (cap is not None) != (row["unit"] == "vm_hour"):
            raise bad("cap_usd", "required for unit vm_hour and only there")
        match = []
        for condition in filter(None, row["match"].split("&")):
            key, sep, value = condition.partition("=")
            if not sep or not key.strip():
                raise bad("match", f"conditions are path=value joined by '&', got {condition!r}")
            match.append((key.strip(), value.strip()))
        rows.append(
            PriceRow(
                cloud=row["cloud"],
                type=row["type"],
                component=row["component"],
                match=tuple(match),
                region=row["region"],
                unit=row["unit"],
                usd=usd,
                cap_usd=cap,
                source=row["source"],
                as_of=row["as_of"],
            )
        )
    return rows


@dataclass(frozen=True)
class Pool:
    """One node pool as its resource declares it.

    Attributes:
        instance_type: Instance type / VM size / machine type.
        spot: Spot (preemptible) capacity.
        min_nodes: Fewest nodes (the autoscaler's floor, or the fixed count).
        max_nodes: Most nodes.
        gpus: GPUs attached per node when the pool declares them (GKE guest accelerators).
        label: Which pool of the resource (``agentPoolProfiles[0]``), empty for the resource itself.
    """

    instance_type: str
    spot: bool
    min_nodes: int
    max_nodes: int
    gpus: int | None = None
    label: str = ""


def _count(value: Any, default: int = 0) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _eks_node_group(inputs: Mapping[str, Any]) -> list[Pool]:
    # EKS launches the first listed type for on-demand groups and any listed type for spot; the
    # first is the estimate either way (EKS's own default when none is listed is t3.medium).
    types = inputs.get("instanceTypes") or ["t3.medium"]
    scaling = inputs.get("scalingConfig") or {}
    low = _count(scaling.get("minSize"), _count(scaling.get("desiredSize")))
    return [
        Pool(
            instance_type=str(types[0]),
            spot=inputs.get("capacityType") == "SPOT",
            min_nodes=low,
            max_nodes=max(_count(scaling.get("maxSize"), low), low),
        )
    ]


def _aks_pool(spec: Mapping[str, Any], label: str = "") -> Pool:
    fixed = _count(spec.get("count"), 1)
    autoscaled = bool(spec.get("enableAutoScaling"))
    low = _count(spec.get("minCount"), fixed) if autoscaled else fixed
    high = _count(spec.get("maxCount"), fixed) if autoscaled else fixed
    return Pool(
        instance_type=str(spec.get("vmSize")),
        spot=spec.get("scaleSetPriority") == "Spot",
        min_nodes=low,
        max_nodes=max(high, low),
        label=label,
    )


def _aks_agent_pool(inputs: Mapping[str, Any]) -> list[Pool]:
    return [_aks_pool(inputs)]


def _aks_cluster_profiles(inputs: Mapping[str, Any]) -> list[Pool]:
    return [
        _aks_pool(profile, f"agentPoolProfiles[{i}]")
        for i, profile in enumerate(inputs.get("agentPoolProfiles") or [])
    ]


def _gke_node_pool(inputs: Mapping[str, Any]) -> list[Pool]:
    node_config = inputs.get("nodeConfig") or {}
    zones = max(len(inputs.get("nodeLocations") or []), 1)
    scaling = inputs.get("autoscaling") or {}
    per_zone = _count(inputs.get("nodeCount"), _count(inputs.get("initialNodeCount"), 1))
    if "totalMinNodeCount" in scaling or "totalMaxNodeCount" in scaling:
        low, high = _count(scaling.get("totalMinNodeCount")), _count(scaling.get("totalMaxNodeCount"))
    elif scaling:
        # minNodeCount / maxNodeCount are per zone.
        low, high = _count(scaling.get("minNodeCount")) * zones, _count(scaling.get("maxNodeCount")) * zones
    else:
        low = high = per_zone * zones
    accelerators = node_config.get("guestAccelerators") or []
    gpus = sum(_count(a.get("count")) for a in accelerators) if accelerators else None
    return [
        Pool(
            instance_type=str(node_config.get("machineType") or "e2-medium"),
            spot=bool(node_config.get("spot") or node_config.get("preemptible")),
            min_nodes=low,
            max_nodes=max(high, low),
            gpus=gpus,
        )
    ]


def _planned_nodes(inputs: Mapping[str, Any]) -> tuple[int, int]:
    """A provisioner object's node bounds from its ``aistack.io/min-nodes``/``max-nodes`` annotations
    (the plan's; a provisioner keeps no minimum itself, the serving pods' ``min_replicas`` do)."""
    notes = (inputs.get("metadata") or {}).get("annotations") or {}
    low = int(notes.get("aistack.io/min-nodes") or 0)
    return low, max(int(notes.get("aistack.io/max-nodes") or low), low)


def _karpenter_node_pool(inputs: Mapping[str, Any]) -> list[Pool]:
    # Karpenter launches the cheapest allowed offering; the first listed type (the plan's) is the
    # estimate. Reserved capacity bills at the on-demand rate whether used or not, so a NodePool that
    # may use reservations is priced on-demand; one allowing spot (and no reservation) at spot.
    requirements = {
        r.get("key"): r.get("values") or []
        for r in ((inputs.get("spec") or {}).get("template") or {}).get("spec", {}).get("requirements") or []
    }
    types = requirements.get("node.kubernetes.io/instance-type") or []
    if not types:
        return []
    kinds = requirements.get("karpenter.sh/capacity-type") or ["on-demand"]
    low, high = _planned_nodes(inputs)
    return [Pool(str(types[0]), "spot" in kinds and "reserved" not in kinds, low, high)]


def _gke_compute_class(inputs: Mapping[str, Any]) -> list[Pool]:
    # Priced as its first machine-type priority (a floor node pool is priced as the node pool it is);
    # a reservation priority bills on-demand, a spot one at spot.
    priorities = [p for p in (inputs.get("spec") or {}).get("priorities") or [] if p.get("machineType")]
    if not priorities:
        return []
    first = priorities[0]
    gpus = _count((first.get("gpu") or {}).get("count")) or None
    low, high = _planned_nodes(inputs)
    spot = bool(first.get("spot")) and not first.get("reservations")
    return [Pool(str(first["machineType"]), spot, low, high, gpus=gpus)]


NODE_POOLS: dict[str, Callable[[Mapping[str, Any]], list[Pool]]] = {
    "kubernetes:karpenter.sh/v1:NodePool": _karpenter_node_pool,
    "kubernetes:cloud.google.com/v1:ComputeClass": _gke_compute_class,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "azure-native:containerservice:AgentPool": _aks_agent_pool,
    "azure-native:containerservice:ManagedCluster": _aks_cluster_profiles,
    "gcp:container/nodePool:NodePool": _gke_node_pool,
}
"""Type token → the node pools a resource of that type runs (priced from the catalog)."""

_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


def normalize_region(cloud: str | None, value: Any) -> str | None:
    """A region in the catalog's spelling: ``East US`` → ``eastus``, ``us-central1-a`` → ``us-central1``."""
    if not isinstance(value, str) or not value.strip():
        return None
    region = value.strip().lower().replace(" ", "")
    if cloud == "gcp" and (zone := _GCP_ZONE.match(region)):
        region = zone.group(1)
    return region


@dataclass
class _Priced:
    """What one resource costs: monthly at min and at max, how, and what could not be priced."""

    low: float = 0.0
    high: float = 0.0
    basis: list[str] | None = None
    problems: list[str] | None = None

    def add(self, low: float, high: float, basis: str) -> None:
        self.low += low
        self.high += high
        self.basis = [*(self.basis or []), basis]

    def fail(self, problem: str) -> None:
        self.problems = [*(self.problems or []), problem]


def _money(value: float) -> str:
    """A unit price with the digits its source gives (up to 4 decimals): ``$0.045``, ``$98.32``."""
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"${text}"


class _Model:
    """Prices one preview's resources (JSON shape) against a catalog and a price table."""

    def __init__(self, resources: Sequence[Mapping[str, Any]], catalog: Catalog, prices: list[PriceRow]):
        self.resources = [r for r in resources if r.get("custom") and not _is_provider(r)]
        self.by_urn = {r["urn"]: r for r in resources}
        self.catalog = catalog
        self.prices: dict[tuple[str, str], list[PriceRow]] = {}
        for row in prices:
            self.prices.setdefault((row.cloud, row.type), []).append(row)
        self.default_region: dict[str, str] = {}
        for r in resources:
            if _is_provider(r) and r.get("cloud"):
                inputs = r.get("inputs") or {}
                region = normalize_region(r["cloud"], inputs.get("region") or inputs.get("location"))
                if region:
                    self.default_region.setdefault(r["cloud"], region)
        self.notes: set[str] = set()

    def region(self, r: Mapping[str, Any]) -> str | None:
        """The resource's region: its own input, else its provider's, parents', or the cloud's."""
        seen: set[str] = set()
        current: Mapping[str, Any] | None = r
        while current is not None and current["urn"] not in seen:
            seen.add(current["urn"])
            inputs = current.get("inputs") or {}
            for key in ("region", "location"):
                if region := normalize_region(r.get("cloud"), inputs.get(key)):
                    return region
            provider = self.by_urn.get(current.get("provider") or "")
            if provider is not None:
                pinputs = provider.get("inputs") or {}
                for key in ("region", "location"):
                    if region := normalize_region(r.get("cloud"), pinputs.get(key)):
                        return region
            current = self.by_urn.get(current.get("parent") or "")
        return self.default_region.get(r.get("cloud") or "")

    def pools(self, r: Mapping[str, Any]) -> list[Pool]:
        extract = NODE_POOLS.get(r["type"])
        return extract(r.get("inputs") or {}) if extract else []

    def node_price(self, cloud: str, region: str | None, pool: Pool) -> tuple[float, str] | str:
        """Hourly price of one node and its basis, or why there is none."""
        rows = self.catalog.find(cloud, instance_type=pool.instance_type)
        wanted = pool.gpus
        if cloud == "gcp" and wanted is None:
            # N1 machine types take GPUs as separate accelerators: none declared means none.
            wanted = expected_gpus(cloud, pool.instance_type) or 0
        if wanted is not None:
            rows = [o for o in rows if o.gpus == wanted]
        if not rows:
            gpus = f" with {wanted} GPU(s)" if wanted else ""
            return f"no catalog row for {cloud} {pool.instance_type}{gpus}"
        local = [o for o in rows if o.region == region]
        offering = (local or rows)[0]
        where = offering.region if local else f"{offering.region} (no {region or 'known-region'} row)"
        hourly = offering.hourly(pool.spot)
        kind = "spot" if pool.spot and offering.spot_price_hr is not None else "on-demand"
        if pool.spot and offering.spot_price_hr is None:
            kind = "on-demand (no spot price in catalog)"
        flags = "".join(f", {caveat.split(':')[0]}" for caveat in offering.caveats)
        return (
            hourly,
            f"{pool.instance_type} {kind} {_money(hourly)}/h [catalog {cloud} {where}, {offering.as_of}{flags}]",
        )

    def rows_for(self, r: Mapping[str, Any]) -> dict[str, list[PriceRow]]:
        by_component: dict[str, list[PriceRow]] = {}
        rows = self.prices.get((r.get("cloud") or "", r["type"]), []) + self.prices.get(
            (ANY_CLOUD, r["type"]), []
        )
        for row in rows:
            by_component.setdefault(row.component, []).append(row)
        return by_component

    def is_priced_type(self, r: Mapping[str, Any]) -> bool:
        return r["type"] in NODE_POOLS or bool(self.rows_for(r))

    def pick(self, rows: list[PriceRow], region: str | None, inputs: Mapping[str, Any]) -> PriceRow | None:
        candidates = [row for row in rows if row.matches(inputs)]
        if not candidates:
            return None

        def rank(row: PriceRow) -> tuple[int, int]:
            return (row.region in (region, ANY_REGION), len(row.match))

        return max(candidates, key=rank)

    def price(self, r: Mapping[str, Any], vms: Mapping[tuple[str, str | None], tuple[int, int]]) -> _Priced:
        cloud, region, inputs = r.get("cloud") or "", self.region(r), r.get("inputs") or {}
        priced = _Priced()
        for pool in self.pools(r):
            node = self.node_price(cloud, region, pool)
            where = f"{pool.label}: " if pool.label else ""
            if isinstance(node, str):
                priced.fail(f"{where}{node}")
                continue
            hourly, basis = node
            nodes = (
                f"{pool.min_nodes}"
                if pool.min_nodes == pool.max_nodes
                else f"{pool.min_nodes}–{pool.max_nodes}"
            )
            priced.add(
                hourly * pool.min_nodes * HOURS_PER_MONTH,
                hourly * pool.max_nodes * HOURS_PER_MONTH,
                f"{where}{nodes} × {basis}",
            )
        for component, rows in self.rows_for(r).items():
            row = self.pick(rows, region, inputs)
            if row is None:
                conditions = sorted(
                    {f"{p}={lookup(inputs, p) or '<absent>'}" for x in rows for p, _ in x.match}
                )
                priced.fail(f"{component}: no price row for {', '.join(conditions)}")
                continue
            where = (
                row.region if row.region in (region, ANY_REGION) else f"{row.region} rate, no {region} row"
            )
            if row.region == ANY_REGION:
                where = "any region"
            tag = f"[{where}, {row.as_of}]"
            if row.unit == "hour":
                monthly = row.usd * HOURS_PER_MONTH
                priced.add(monthly, monthly, f"{component} {_money(row.usd)}/h {tag}")
            elif row.unit == "month":
                priced.add(row.usd, row.usd, f"{component} {_money(row.usd)}/month {tag}")
            elif row.unit == "gib_month":
                monthly = row.usd * ASSUMED_STORE_GIB
                priced.add(
                    monthly,
                    monthly,
                    f"{component} {ASSUMED_STORE_GIB} GiB × {_money(row.usd)}/GiB-month {tag}",
                )
            elif row.unit == "vm_hour":
                low_vms, high_vms = vms.get((cloud, region), (0, 0))
                cap = row.cap_usd or 0.0
                low = min(row.usd * low_vms, cap) * HOURS_PER_MONTH
                high = min(row.usd * high_vms, cap) * HOURS_PER_MONTH
                priced.add(
                    low,
                    high,
                    f"{component} {_money(row.usd)}/VM-h × {low_vms}–{high_vms} VMs (cap {_money(cap)}/h) {tag}",
                )
            elif row.unit == "usage":
                priced.add(0.0, 0.0, f"{component}: billed per use only {tag}")
        return priced

    def vm_counts(self) -> dict[tuple[str, str | None], tuple[int, int]]:
        """Nodes per (cloud, region) at min and max, for charges per VM (Cloud NAT)."""
        counts: dict[tuple[str, str | None], tuple[int, int]] = {}
        for r in self.resources:
            key = (r.get("cloud") or "", self.region(r))
            for pool in self.pools(r):
                low, high = counts.get(key, (0, 0))
                counts[key] = (low + pool.min_nodes, high + pool.max_nodes)
        return counts


def _is_provider(r: Mapping[str, Any]) -> bool:
    return str(r.get("type", "")).startswith("pulumi:providers:")


def component_of(r: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> str:
    """The outermost component holding a resource, as ``<type>::<name>`` (itself when top-level)."""
    current, seen = r, set()
    while (parent := by_urn.get(current.get("parent") or "")) is not None and parent["urn"] not in seen:
        seen.add(parent["urn"])
        current = parent
    return f"{current['type']}::{current['name']}"


@functools.cache
def _bundled() -> tuple[Catalog, tuple[PriceRow, ...]]:
    return load_catalog(), tuple(load_prices())


def estimate(
    resources: Iterable[Mapping[str, Any]],
    *,
    catalog: Catalog | None = None,
    prices: Sequence[PriceRow] | None = None,
) -> dict[str, Any]:
    """The report's ``cost`` section for a preview's resources (JSON shape, camelCase inputs).

    Args:
        resources: The preview's resources.
        catalog: Node offerings; defaults to the bundled sizing catalog.
        prices: Price-table rows; defaults to ``aistack/data/prices.csv``.

    Returns:
        ``monthly_usd`` / ``monthly_usd_max`` (pools at min / max nodes), ``by_cloud``,
        ``by_cloud_max``, ``by_component`` (``{"<type>::<name>": {"cloud", "monthly_usd",
        "monthly_usd_max"}}``), ``lines`` (one per priced resource: ``urn``, ``cloud``,
        ``component``, ``monthly_usd``, ``monthly_usd_max``, ``basis``), ``unpriced`` (resources
        of a priced type that could not be priced, with the reason) and ``assumptions``.
    """
    resources = list(resources)
    if catalog is None or prices is None:
        bundled_catalog, bundled_prices = _bundled()
        catalog = catalog or bundled_catalog
        prices = bundled_prices if prices is None else prices
    model = _Model(resources, catalog, list(prices))
    vms = model.vm_counts()
    lines, unpriced = [], []
    by_cloud: dict[str, float] = {}
    by_cloud_max: dict[str, float] = {}
    by_component: dict[str, dict[str, Any]] = {}
    for r in sorted(model.resources, key=lambda r: r["urn"]):
        if not model.is_priced_type(r):
            continue
        priced = model.price(r, vms)
        cloud = r.get("cloud") or "other"
        component = component_of(r, model.by_urn)
        if priced.problems:
            unpriced.append({"urn": r["urn"], "cloud": cloud, "reason": "; ".join(priced.problems)})
        if priced.basis is None:
            continue
        low, high = round(priced.low, 2), round(priced.high, 2)
        lines.append(
            {
                "urn": r["urn"],
                "cloud": cloud,
                "component": component,
                "monthly_usd": low,
                "monthly_usd_max": high,
                "basis": "; ".join(priced.basis),
            }
        )
        by_cloud[cloud] = by_cloud.get(cloud, 0.0) + priced.low
        by_cloud_max[cloud] = by_cloud_max.get(cloud, 0.0) + priced.high
        entry = by_component.setdefault(
            component, {"cloud": cloud, "monthly_usd": 0.0, "monthly_usd_max": 0.0}
        )
        entry["monthly_usd"] += priced.low
        entry["monthly_usd_max"] += priced.high
    for entry in by_component.values():
        entry["monthly_usd"] = round(entry["monthly_usd"], 2)
        entry["monthly_usd_max"] = round(entry["monthly_usd_max"], 2)
    return {
        "monthly_usd": round(sum(by_cloud.values()), 2),
        "monthly_usd_max": round(sum(by_cloud_max.values()), 2),
        "by_cloud": {k: round(v, 2) for k, v in sorted(by_cloud.items())},
        "by_cloud_max": {k: round(v, 2) for k, v in sorted(by_cloud_max.items())},
        "by_component": dict(sorted(by_component.items())),
        "lines": lines,
        "unpriced": unpriced,
        "assumptions": ASSUMPTIONS,
    }


ASSUMPTIONS = [
    f"{HOURS_PER_MONTH} hours per month; list prices in USD, no discounts, free tiers or credits.",
    "monthly_usd counts autoscaled node pools at their minimum node count, monthly_usd_max at their "
    "maximum (the autoscaler owns the count in between).",
    "Nodes are priced from the sizing catalog (sizing/data/*.csv): spot pools at the catalog's spot "
    "price, a pool with several instance types at the first one.",
    f"Object storage holds {ASSUMED_STORE_GIB} GiB per bucket or storage account.",
    "Usage-billed charges are not estimated: data processed by NAT gateways and load balancers, data "
    "transfer, requests to storage and key services, log ingestion.",
    "Node root volumes (EBS, managed disks, persistent disks) are not priced.",
    "Prices drift: each line names the date of its price; aistack/data/prices.csv and the sizing "
    "catalog hold the sources.",
]
"""The assumptions every estimate rests on (part of the report)."""


def replication(spec: Any) -> list[dict[str, Any]]:
    """What copying each endpoint's weights into each replica store costs in egress, per full copy.

    One entry per (endpoint, replica store) a serving cluster reads: the weights' size (parameters x
    bytes per parameter of the endpoint's precision, ``sizing/memory.py``; None for a model it does not
    know) times the rate from the primary's cloud to the replica's (``sizing/data/egress.csv``). A copy
    is made once per weights version (the replication helper's sync copies only what changed).
    """
    from sizing import egress, memory

    entries = []
    for share in spec.shares():
        endpoint = spec.endpoints[share.name]
        if share.store == endpoint.store:
            continue
        primary, replica = spec.stores[endpoint.store], spec.stores[share.store]
        arch = memory.architecture(endpoint.model)
        size = memory.weight_bytes(arch, endpoint.precision) if arch else None
        found = egress.rate(primary.cloud, replica.cloud)
        entries.append(
            {
                "endpoint": share.name,
                "store": share.store,
                "primary": endpoint.store,
                "from": primary.cloud,
                "to": replica.cloud,
                "weights_gb": None if size is None else round(size / egress.GB, 2),
                "usd_per_gb": found.usd_per_gb,
                "usd_per_copy": None
                if size is None
                else round(egress.cost_usd(size, primary.cloud, replica.cloud), 2),
                "source": found.source,
                "as_of": found.as_of,
            }
        )
    return entries
