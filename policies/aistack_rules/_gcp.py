"""GCP helpers shared by several concerns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import as_list, get, parse_json_document


def policy_bindings(inputs: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The bindings of an ``*IAMPolicy`` resource's ``policyData`` JSON document.

    Raises:
        CannotCheck: The document is unknown.
    """
    doc = parse_json_document(get(inputs, "policyData"), "policyData")
    bindings = doc.get("bindings") if isinstance(doc, Mapping) else None
    return [b for b in as_list(bindings) if isinstance(b, Mapping)]
