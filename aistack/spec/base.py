"""Shared pieces of the stack spec: the strict model base and small value types."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$|^[a-z]$"
"""Names of clusters, pools, stores and endpoints: lowercase, digits and dashes, 1–24 characters.

Short enough that every cloud's derived physical names fit (see ``components/naming.py``).
"""

Name = Annotated[str, Field(pattern=NAME_PATTERN)]

# Label/tag keys and values that every cloud accepts (GCP labels are the strictest).
TAG_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
TAG_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")


class Model(BaseModel):
    """Base of every spec model: unknown keys rejected, values immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        raise ValueError(
            f"{value!r} is not a CIDR block with its host bits zero (e.g. 10.0.0.0/16): {err}"
        ) from None
    if net.version != 4:
        raise ValueError(f"{value!r}: only IPv4 CIDR blocks are supported")
    return str(net)


Cidr = Annotated[str, AfterValidator(_cidr)]
"""An IPv4 CIDR block, normalised (``10.0.0.0/16``)."""

WORLD = ipaddress.ip_network("0.0.0.0/0")


def overlapping(blocks: dict[str, str]) -> tuple[str, str] | None:
    """Return the first pair of keys whose CIDR blocks overlap, or None."""
    items = [(k, ipaddress.ip_network(v)) for k, v in blocks.items()]
    for i, (ka, a) in enumerate(items):
        for kb, b in items[i + 1 :]:
            if a.overlaps(b):
                return ka, kb
    return None
