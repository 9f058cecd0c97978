"""The rule model shared by every concern module, the offline API and the Pulumi pack.

A rule is a small pure function over the camelCase inputs of one resource (a resource rule)
or over every resource of the stack (a stack rule). Rules never see Pulumi's policy proxies:
both front ends (:mod:`.offline` and :mod:`.pack`) hand them plain dicts and lists in which an
input that is not known yet (during preview) is the :data:`UNKNOWN` sentinel.

Reading an unknown value through :func:`get` raises :class:`CannotCheck`; the runners turn it
into an advisory "cannot check until apply" finding, so an unknown value never crashes a rule
and never passes silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi.output import UNKNOWN, Unknown

__all__ = [
    "ADVISORY",
    "LEVELS",
    "MANDATORY",
    "REMEDIATE",
    "DISABLED",
    "UNKNOWN",
    "CannotCheck",
    "Rule",
    "Subject",
    "Outcome",
    "Indeterminate",
    "as_bool",
    "as_list",
    "each",
    "get",
    "get_known",
    "is_unknown",
    "plain",
    "run_resource_rule",
    "run_stack_rule",
    "parse_json_document",
]

MANDATORY = "mandatory"
ADVISORY = "advisory"
REMEDIATE = "remediate"
DISABLED = "disabled"
LEVELS = (ADVISORY, MANDATORY, REMEDIATE, DISABLED)

# The wire encodings of unknown values: Pulumi's engine sends these strings (one per value
# type) to policy packs and to the mock runtime; pulumi-policy's proxies raise on them.
_WIRE_UNKNOWNS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (also pulumi.runtime.rpc.UNKNOWN)
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)

# How the mock runtime records a secret input: {SIG_KEY: SECRET_SIG, "value": ...}.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


class CannotCheck(Exception):
    """A value the rule needs is unknown during preview.

    Args:
        path: Dotted path of the unknown input, e.g. ``vpcConfig.publicAccessCidrs``.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def is_unknown(value: Any) -> bool:
    """Whether ``value`` stands for an input that is not known until apply.

    Accepts :data:`UNKNOWN` (Pulumi's own singleton, which the rules package re-exports), any
    ``pulumi.output.Unknown`` the mock runtime records, and the engine's wire sentinels.
    """
    if isinstance(value, Unknown):
        return True
    return isinstance(value, str) and value in _WIRE_UNKNOWNS


def plain(value: Any) -> Any:
    """A deep copy of ``value`` as plain dicts and lists, with unknowns as :data:`UNKNOWN`.

    Unwraps the mock runtime's secret envelopes (policies check the value, never print it).
    Accepts any ``Mapping``/``Sequence``, so read-only views and proxies become plain data.
    """
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return plain(value.get("value"))
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def _parts(path: str | Sequence[str | int]) -> list[str | int]:
    if isinstance(path, str):
        return [int(p) if p.isdigit() else p for p in path.split(".")] if path else []
    return list(path)


def _join(parts: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in parts)


def get(obj: Any, path: str | Sequence[str | int], default: Any = None, *, where: str = "") -> Any:
    """Read ``obj`` at a dotted ``path`` (integers index lists).

    Args:
        obj: Plain inputs (dicts and lists).
        path: ``"vpcConfig.endpointPublicAccess"`` or a sequence of keys and indices.
        default: Returned when a key along the path is absent (or null).
        where: Prefix for the path in messages (the path of ``obj`` itself).

    Raises:
        CannotCheck: A value along the path, or the value itself, is unknown.
    """
    cur = obj
    walked: list[str | int] = [where] if where else []
    for part in _parts(path):
        if is_unknown(cur):
            raise CannotCheck(_join(walked))
        walked.append(part)
        if isinstance(cur, Mapping) and isinstance(part, str):
            cur = cur.get(part)
        elif isinstance(cur, list) and isinstance(part, int) and -len(cur) <= part < len(cur):
            cur = cur[part]
        else:
            return default
        if cur is None:
            return default
    if is_unknown(cur):
        raise CannotCheck(_join(walked))
    return cur


def _first_unknown(value: Any, path: str) -> str | None:
    if is_unknown(value):
        return path
    if isinstance(value, Mapping):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _first_unknown(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def get_known(obj: Any, path: str | Sequence[str | int], default: Any = None, *, where: str = "") -> Any:
    """Like :func:`get`, but also raises when anything *inside* the value is unknown.

    Use it for small leaf values that are judged as a whole (a CIDR list, a taint list).
    """
    value = get(obj, path, default, where=where)
    prefix = _join(([where] if where else []) + _parts(path))
    found = _first_unknown(value, prefix)
    if found is not None:
        raise CannotCheck(found)
    return value


def as_bool(value: Any) -> bool | None:
    """``True``/``False`` for booleans and their string forms (some providers type them as
    strings, e.g. a launch template's ``ebs.encrypted``); ``None`` for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_list(value: Any) -> list[Any]:
    """A list for list inputs, ``[value]`` for a scalar, ``[]`` for ``None``."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def parse_json_document(value: Any, path: str) -> Any:
    """A JSON policy document given as a string or already as a dict/list.

    Raises:
        CannotCheck: The document (or part of it) is unknown.
    """
    if is_unknown(value):
        raise CannotCheck(path)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            # Pulumi's mock runtime renders an Output embedded in a string as its repr; a
            # document that does not parse cannot be judged until apply.
            raise CannotCheck(path) from None
    found = _first_unknown(value, path)
    if found is not None:
        raise CannotCheck(found)
    return value


@dataclass(frozen=True)
class Subject:
    """One resource as the rules see it.

    Attributes:
        urn: The resource URN.
        type: Its type token, e.g. ``aws:s3/bucket:Bucket``.
        name: Its logical name.
        inputs: camelCase inputs as plain data, unknowns as :data:`UNKNOWN`.
        parent: The parent's URN, or ``None``.
        provider: The URN of its explicit provider, or ``None`` when unknown.
        property_dependencies: Input name → URNs of the resources that input was computed from
            (known to the Pulumi engine; absent in the offline engine).
        outputs: The outputs the offline engine's mocks returned (physical names, ids), used
            only to join resources; empty under Pulumi.
        dependencies: URNs of every resource the engine creates before this one (``dependsOn``
            and the resources its inputs come from), as both engines record them.
        ignore_changes: Input paths whose changes the engine ignores after create
            (``ignoreChanges``), as both engines record them.
    """

    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: str | None = None
    provider: str | None = None
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()


# A resource rule yields violation messages; a stack rule yields (urn, message) pairs, and may
# yield Indeterminate(urn, path) for one resource without aborting the rest of the stack.
ResourceCheck = Callable[[Subject, Mapping[str, Any]], Iterable[Any]]
StackCheck = Callable[[Sequence[Subject], Mapping[str, Any]], Iterable[Any]]


@dataclass(frozen=True)
class Indeterminate:
    """Yielded by a check when one part of it cannot be decided.

    Attributes:
        path: Dotted path of the input that is unknown during preview.
        urn: The resource it belongs to (stack rules); ``None`` in resource rules.
        reason: Set instead of ``path`` when the gap is not an unknown value but missing
            information (e.g. no cost estimate was supplied).
    """

    path: str = ""
    urn: str | None = None
    reason: str = ""

    def message(self) -> str:
        """The text of the advisory finding."""
        if self.reason:
            return f"cannot check: {self.reason}"
        return f"cannot check until apply: {self.path} is unknown during preview"


@dataclass(frozen=True)
class Rule:
    """One policy.

    Attributes:
        id: Stable policy id, e.g. ``aws-s3-sse-kms``; the Pulumi policy name.
        level: Default enforcement level (``mandatory``, ``advisory`` or ``remediate``).
        description: One sentence: what a compliant stack looks like.
        resource_types: Type tokens the rule reads.
        check: The rule function (see :data:`ResourceCheck` / :data:`StackCheck`).
        stack: Whether it is a stack rule (joins several resources).
        concern: The concern module it belongs to (for listings).
        config_schema: JSON-schema ``properties`` of its settings (camelCase), with defaults.
        remediate: For ``remediate`` rules: inputs → the changed inputs, or ``None`` if nothing
            needs changing. Only ever sets values that are safe to set in place.
    """

    id: str
    level: str
    description: str
    resource_types: tuple[str, ...]
    check: Callable[..., Iterable[Any]]
    stack: bool = False
    concern: str = ""
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    remediate: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None

    def defaults(self) -> dict[str, Any]:
        """The rule's settings with nothing configured."""
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}


@dataclass
class Outcome:
    """What running one rule found.

    Attributes:
        violations: ``(urn, message)``; ``urn`` is ``None`` for the resource under check (resource
            rules) or for the stack as a whole (stack rules).
        unknowns: What could not be decided (see :class:`Indeterminate`).
    """

    violations: list[tuple[str | None, str]] = field(default_factory=list)
    unknowns: list[Indeterminate] = field(default_factory=list)


def _collect(results: Iterable[Any], outcome: Outcome) -> None:
    try:
        for item in results:
            if isinstance(item, Indeterminate):
                outcome.unknowns.append(item)
            elif isinstance(item, tuple):
                outcome.violations.append(item)
            else:
                outcome.violations.append((None, item))
    except CannotCheck as exc:
        outcome.unknowns.append(Indeterminate(exc.path))


def run_resource_rule(rule: Rule, subject: Subject, config: Mapping[str, Any] | None = None) -> Outcome:
    """Run a resource rule on one resource (empty outcome if the type does not apply)."""
    outcome = Outcome()
    if rule.stack or subject.type not in rule.resource_types:
        return outcome
    _collect(rule.check(subject, {**rule.defaults(), **(config or {})}), outcome)
    return outcome


def run_stack_rule(
    rule: Rule, subjects: Sequence[Subject], config: Mapping[str, Any] | None = None
) -> Outcome:
    """Run a stack rule over every resource of the stack."""
    outcome = Outcome()
    if rule.stack:
        _collect(rule.check(subjects, {**rule.defaults(), **(config or {})}), outcome)
    return outcome


def each(checks: Iterable[Callable[[], Iterable[Any]]], urn: str | None = None) -> Iterator[Any]:
    """Run independent parts of a rule; an unknown value in one part does not hide the verdict
    of the others: it becomes an :class:`Indeterminate` (for resource ``urn`` in stack rules).
    """
    for part in checks:
        try:
            yield from part()
        except CannotCheck as exc:
            yield Indeterminate(exc.path, urn)
