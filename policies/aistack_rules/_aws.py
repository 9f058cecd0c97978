"""AWS helpers shared by several concerns: IAM policy documents and the S3 bucket join.

The S3 join. pulumi-aws v7 configures a bucket through separate resources that name the bucket
in their ``bucket`` input. A child resource belongs to a bucket when, in this order:

1. its ``bucket`` input depends on the bucket's URN (the Pulumi engine knows this; the offline
   engine does not record dependencies), or
2. its ``bucket`` input equals one of the bucket's *join keys*, its physical name as known from:
   the bucket's ``bucket`` input (set explicitly, or by Pulumi's auto-naming in the checked
   inputs the engine analyses), its ``bucket`` and ``id`` outputs (the offline engine's mocks
   return the physical name as both, so ``bucket=b.id`` and ``bucket=b.bucket`` join), or, when
   none of these is known, its logical name.

A child whose ``bucket`` is unknown (or names no known bucket while some bucket's name is
itself unknown) cannot be placed; a bucket left without a match while such children exist is
reported as "cannot check until apply", never as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .core import Subject, as_list, is_unknown, parse_json_document
from .tokens import S3_BUCKET

PUBLIC_GROUP_URIS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
PUBLIC_CANNED_ACLS = ("public-read", "public-read-write", "authenticated-read")


def statements(document: Any, path: str) -> list[Mapping[str, Any]]:
    """The statements of an IAM policy document (string or dict), always as a list.

    Raises:
        CannotCheck: The document, or anything in it, is unknown.
    """
    doc = parse_json_document(document, path)
    if not isinstance(doc, Mapping):
        return []
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def is_public_principal(principal: Any) -> bool:
    """``"*"`` or ``{"AWS": "*"}``: anyone, in any account."""
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS"))


def denies_insecure_transport(document: Any, path: str) -> bool:
    """Whether a bucket policy denies every request made without TLS
    (``Deny`` to ``*`` of ``s3:*`` when ``aws:SecureTransport`` is ``false``)."""
    for st in statements(document, path):
        if st.get("Effect") != "Deny" or not is_public_principal(st.get("Principal")):
            continue
        if not {"s3:*", "*"} & set(as_list(st.get("Action"))):
            continue
        for operator, values in (st.get("Condition") or {}).items():
            if operator.lower() not in ("bool", "boolifexists") or not isinstance(values, Mapping):
                continue
            for key, value in values.items():
                if key.lower() == "aws:securetransport" and "false" in [
                    str(v).lower() for v in as_list(value)
                ]:
                    return True
    return False


def public_allow_statements(document: Any, path: str) -> list[int]:
    """Indices of ``Allow`` statements granting to ``*`` without any condition."""
    return [
        i
        for i, st in enumerate(statements(document, path))
        if st.get("Effect") == "Allow"
        and is_public_principal(st.get("Principal"))
        and not st.get("Condition")
    ]


def buckets(subjects: Iterable[Subject]) -> list[Subject]:
    """The S3 buckets of a stack."""
    return [s for s in subjects if s.type in S3_BUCKET]


def _known_str(value: Any) -> str | None:
    return value if isinstance(value, str) and not is_unknown(value) else None


def bucket_keys(bucket: Subject) -> set[str]:
    """The values a child's ``bucket`` input may hold to refer to ``bucket`` (see module doc)."""
    named = (
        bucket.inputs.get("bucket"),
        bucket.inputs.get("id"),
        bucket.outputs.get("bucket"),
        bucket.outputs.get("id"),
    )
    keys = {k for k in map(_known_str, named) if k}
    if not keys and bucket.inputs.get("bucket") is None:
        keys.add(bucket.name)
    return keys


@dataclass
class Join:
    """Children of each bucket; children that cannot be placed yet; children that name a
    bucket the stack does not declare (``strays``)."""

    children: dict[str, list[Subject]]
    unplaced: list[Subject]
    strays: list[Subject]

    def orphan(self, bucket: Subject, missing: str) -> tuple[str, str]:
        """The violation for a bucket without a child of the kind ``missing``."""
        message = f"bucket {bucket.name!r} has no {missing}"
        if self.strays:
            # Usually a join-key mismatch: say what the stray child points at.
            stray = self.strays[0]
            message += (
                f"; {stray.type.rsplit(':', 1)[-1]} {stray.name!r} names bucket {stray.inputs.get('bucket')!r}, "
                "which this stack does not declare"
            )
        return bucket.urn, message


def join(subjects: Sequence[Subject], child_types: Iterable[str]) -> Join:
    """Attach each resource of ``child_types`` to its bucket (see module doc)."""
    child_types = tuple(child_types)
    all_buckets = buckets(subjects)
    by_key: dict[str, str] = {}
    for b in all_buckets:
        for key in bucket_keys(b):
            by_key.setdefault(key, b.urn)
    some_name_unknown = any(not bucket_keys(b) for b in all_buckets)
    result = Join({b.urn: [] for b in all_buckets}, [], [])
    for child in subjects:
        if child.type not in child_types:
            continue
        deps = [u for u in child.property_dependencies.get("bucket", ()) if u in result.children]
        ref = child.inputs.get("bucket")
        if deps:
            for urn in deps:
                result.children[urn].append(child)
        elif _known_str(ref) in by_key:
            result.children[by_key[ref]].append(child)
        elif is_unknown(ref) or some_name_unknown:
            result.unplaced.append(child)
        else:
            result.strays.append(child)
    return result


def unplaced_path(join_result: Join) -> str:
    """The message path for a bucket that cannot be joined yet."""
    child = join_result.unplaced[0]
    return f"bucket (of {child.type.rsplit(':', 1)[-1]} {child.name!r})"
