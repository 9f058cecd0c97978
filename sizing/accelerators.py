"""Canonical GPU vocabulary, per-cloud aliases and per-cloud device names.

Every catalog row, workload throughput table and stack spec names its accelerator with one
canonical name of the form ``<model>-<memory>GB`` (for example ``L4-24GB``). The names say the
nominal memory so that two parts sold under one marketing name (A100 40 GB and 80 GB) never
collide. Clouds and tools spell the same part differently (AWS ``A10G``, GCP ``nvidia-l4``,
SkyPilot ``A100-80GB``); :func:`canonical` maps those spellings to the canonical name.

Units: ``memory_gib`` is the nominal memory of one GPU in GiB (the figure in the product name;
a catalog row carries the usable figure the cloud reports, which can be a few percent lower).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CLOUDS = ("aws", "azure", "gcp")
"""Clouds the sizing module knows."""


@dataclass(frozen=True)
class Accelerator:
    """One GPU model.

    Attributes:
        name: Canonical name, e.g. ``"L4-24GB"``.
        memory_gib: Nominal memory of one GPU, GiB.
        aliases: Spellings accepted on every cloud (matched case-insensitively).
        cloud_aliases: Extra spellings accepted only when the cloud is known, keyed by cloud.
            Used where a short name is ambiguous across clouds.
        gcp_type: Compute Engine accelerator type, used as ``guest_accelerators.type`` on a GKE
            node pool and as the value of the ``cloud.google.com/gke-accelerator`` node label.
            ``None`` when GCP does not offer the part.
        bandwidth_tb_s: Datasheet memory bandwidth of one GPU, TB/s (10**12 bytes/s), for the
            roofline estimate of :mod:`sizing.throughput` (see :data:`BANDWIDTH_SOURCES`).
    """

    name: str
    memory_gib: float
    aliases: tuple[str, ...] = ()
    cloud_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    gcp_type: str | None = None
    bandwidth_tb_s: float | None = None


# Aliases are the spellings used by the SkyPilot catalog (AcceleratorName column), the seed data
# (shared/data/gpu_offerings_seed.csv) and the providers' own device names. GCP device names are
# the Compute Engine accelerator types listed in the GKE GPU documentation.
ACCELERATORS: tuple[Accelerator, ...] = (
    Accelerator(
        "H100-80GB",
        80,
        aliases=("H100-SXM-80GB", "H100-80GB-HBM3", "nvidia-h100-80gb"),
        # A bare "H100" is the 80 GB SXM part on AWS (p5) and GCP (a3); on Azure the same
        # short name also labels the 94 GB NVL part, so it is not accepted there.
        cloud_aliases={"aws": ("H100",), "gcp": ("H100",)},
        gcp_type="nvidia-h100-80gb",
        bandwidth_tb_s=3.35,
    ),
    Accelerator(
        "H100-MEGA-80GB",
        80,
        aliases=("H100-MEGA", "nvidia-h100-mega-80gb"),
        gcp_type="nvidia-h100-mega-80gb",
        bandwidth_tb_s=3.35,
    ),
    Accelerator("H100-NVL-94GB", 94, aliases=("H100-NVL", "H100-NVL-94GB"), bandwidth_tb_s=3.9),
    Accelerator(
        "H200-141GB",
        141,
        aliases=("H200", "nvidia-h200-141gb"),
        gcp_type="nvidia-h200-141gb",
        bandwidth_tb_s=4.8,
    ),
    Accelerator(
        "B200-180GB", 180, aliases=("B200", "nvidia-b200"), gcp_type="nvidia-b200", bandwidth_tb_s=8.0
    ),
    Accelerator("MI300X-192GB", 192, aliases=("MI300X",), bandwidth_tb_s=5.3),
    Accelerator(
        "A100-80GB",
        80,
        aliases=("A100-SXM-80GB", "A100-PCIe-80GB", "A100-80G", "nvidia-a100-80gb"),
        gcp_type="nvidia-a100-80gb",
        bandwidth_tb_s=2.039,
    ),
    Accelerator(
        "A100-40GB",
        40,
        aliases=("A100", "A100-SXM-40GB", "A100-PCIe-40GB", "nvidia-tesla-a100"),
        gcp_type="nvidia-tesla-a100",
        bandwidth_tb_s=1.555,
    ),
    Accelerator("L40S-48GB", 48, aliases=("L40S",), bandwidth_tb_s=0.864),
    Accelerator("L4-24GB", 24, aliases=("L4", "nvidia-l4"), gcp_type="nvidia-l4", bandwidth_tb_s=0.3),
    Accelerator("A10G-24GB", 24, aliases=("A10G",), bandwidth_tb_s=0.6),
    Accelerator("A10-24GB", 24, aliases=("A10",), bandwidth_tb_s=0.6),
    Accelerator(
        "T4-16GB", 16, aliases=("T4", "nvidia-tesla-t4"), gcp_type="nvidia-tesla-t4", bandwidth_tb_s=0.32
    ),
    Accelerator(
        "V100-16GB",
        16,
        aliases=("V100", "nvidia-tesla-v100"),
        gcp_type="nvidia-tesla-v100",
        bandwidth_tb_s=0.9,
    ),
    Accelerator("V100-32GB", 32, aliases=("V100-32GB",), bandwidth_tb_s=0.9),
)

BANDWIDTH_SOURCES = (
    "Vendor datasheets (read for the values above; memory bandwidth per GPU, SXM/OAM parts unless the name "
    "says otherwise): NVIDIA H100 Tensor Core GPU datasheet (H100 SXM 3.35 TB/s, H100 NVL 3.9 TB/s); NVIDIA "
    "H200 datasheet (4.8 TB/s); NVIDIA DGX B200 datasheet (64 TB/s for 8 GPUs = 8 TB/s each); AMD Instinct "
    "MI300X datasheet (5.3 TB/s); NVIDIA A100 datasheet (80 GB SXM 2,039 GB/s, 40 GB 1,555 GB/s); NVIDIA L40S "
    "datasheet (864 GB/s); NVIDIA L4 datasheet (300 GB/s); NVIDIA A10 datasheet (600 GB/s; the A10G is AWS's "
    "A10 variant); NVIDIA T4 datasheet (320 GB/s); NVIDIA V100 datasheet (900 GB/s SXM2)."
)
"""Where :attr:`Accelerator.bandwidth_tb_s` comes from."""

_BY_NAME: dict[str, Accelerator] = {a.name: a for a in ACCELERATORS}


def _fold(text: str) -> str:
    return text.strip().casefold()


def _index(cloud: str | None) -> dict[str, str]:
    index = {_fold(a.name): a.name for a in ACCELERATORS}
    for acc in ACCELERATORS:
        for alias in acc.aliases:
            index[_fold(alias)] = acc.name
        if cloud is not None:
            for alias in acc.cloud_aliases.get(cloud, ()):
                index[_fold(alias)] = acc.name
    return index


_INDEX: dict[str | None, dict[str, str]] = {c: _index(c) for c in (None, *CLOUDS)}


def names() -> tuple[str, ...]:
    """All canonical accelerator names."""
    return tuple(_BY_NAME)


def canonical(name: str, cloud: str | None = None) -> str:
    """Map any known spelling of an accelerator to its canonical name.

    Args:
        name: A canonical name or an alias, any case (``"a10g"``, ``"nvidia-l4"``, ``"L4-24GB"``).
        cloud: The cloud the name comes from; enables that cloud's extra aliases.

    Returns:
        The canonical name, e.g. ``"A10G-24GB"``.

    Raises:
        ValueError: The name is not known; the message lists the canonical names.
    """
    if cloud is not None and cloud not in CLOUDS:
        raise ValueError(f"unknown cloud {cloud!r}; allowed: {', '.join(CLOUDS)}")
    found = _INDEX[cloud].get(_fold(name))
    if found is None:
        raise ValueError(f"unknown accelerator {name!r}; allowed: {', '.join(names())} (or a listed alias)")
    return found


def get(name: str) -> Accelerator:
    """The :class:`Accelerator` for a canonical name or alias."""
    return _BY_NAME[canonical(name)]


def gcp_accelerator_type(name: str) -> str:
    """Compute Engine accelerator type for a GKE node pool.

    This is the value for ``node_config.guest_accelerators[].type`` and for the node selector
    ``cloud.google.com/gke-accelerator`` that GKE requires on GPU pods.

    Raises:
        ValueError: The accelerator is unknown or not offered on GCP.
    """
    acc = get(name)
    if acc.gcp_type is None:
        raise ValueError(f"accelerator {acc.name} is not offered on GCP")
    return acc.gcp_type
