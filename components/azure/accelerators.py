"""Which Azure VM sizes carry which canonical accelerator, as data.

Sources (Azure documentation, "GPU accelerated VM sizes": the NC, ND and NV family pages,
checked 2025): NCasT4_v3 carries T4s; NC A100 v4 and NDm A100 v4 carry A100 80GB; ND A100 v4
(``ND96asr_v4``) carries A100 40GB; ND H100 v5 carries H100 80GB; NVads A10 v5 carries A10s,
whole only from ``NV36ads`` up (the smaller sizes are 1/6 to 1/2 of a GPU). Left out on purpose:
NC H100 v5 (H100 NVL, 94 GB: not ``H100-80GB``), NCC H100 v5 (confidential GPUs need a signed
driver that AKS does not install), and the AMD-based NVv4 (not supported on AKS).
"""

from __future__ import annotations

import re

VM_SIZES: dict[str, re.Pattern[str]] = {
    "H100-80GB": re.compile(r"^Standard_ND96isr_H100_v5$"),
    "A100-80GB": re.compile(r"^Standard_NC(24|48|96)ads_A100_v4$|^Standard_ND96amsr_A100_v4$"),
    "A100-40GB": re.compile(r"^Standard_ND96asr_v4$"),
    "A10-24GB": re.compile(r"^Standard_NV(36ads|36adms|72ads)_A10_v5$"),
    "T4-16GB": re.compile(r"^Standard_NC(4|8|16|64)as_T4_v3$"),
}
"""Canonical accelerator → the VM sizes carrying whole GPUs of it. L4, L40S and A10G have no Azure VM."""


def carries(accelerator: str, vm_size: str) -> bool:
    """Whether ``vm_size`` carries whole ``accelerator`` GPUs."""
    pattern = VM_SIZES.get(accelerator)
    return bool(pattern and pattern.match(vm_size))
