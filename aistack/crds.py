"""Custom resources checked against the CRD schemas vendored in ``schemas/crds/``.

Every CustomResourceDefinition file under ``schemas/crds/<project>/`` is an upstream CRD pinned to a
release tag (``schemas/crds/SOURCES.md`` names repository, tag, commit and path). They are loaded once
per process; each *served* version becomes a JSON Schema keyed by ``(apiVersion, kind)``.

The CRD's ``openAPIV3Schema`` is OpenAPI 3.0 (JSON Schema draft 4 semantics, e.g. boolean
``exclusiveMinimum``), so it is checked with a draft-4 validator after translating the Kubernetes
extensions the way the API server applies them:

- objects that list ``properties`` are closed (unknown fields are an error, as with kubectl's default
  ``--validate=strict``), unless ``x-kubernetes-preserve-unknown-fields`` is set or the object has an
  ``additionalProperties`` schema (a map);
- ``x-kubernetes-int-or-string`` accepts an integer or a string; ``nullable`` also accepts null;
- ``x-kubernetes-embedded-resource`` objects may carry ``apiVersion``, ``kind`` and ``metadata``;
- ``format`` is checked for int32, int64, byte, ipv4 and ipv6; other formats (date-time, duration) are not;
- RE2 patterns are used as Python regular expressions (a global flag after ``^`` is moved in front;
  a pattern Python cannot compile fails the load, so a schema bump cannot silently drop a check);
- ``x-kubernetes-list-type: set`` lists hold unique items, ``map`` lists unique ``x-kubernetes-list-map-keys``.

Defaults are filled in for absent fields before checking, as the API server does. The root ``metadata``
is checked like ObjectMeta: DNS-1123 names, label and annotation keys, label values, no namespace on
cluster-scoped kinds.

Not checked: ``x-kubernetes-validations`` (CEL rules). The API server evaluates them with Kubernetes'
own CEL extension libraries (e.g. the regex ``find()`` in Karpenter's label rules, ``quantity()``,
``isURL()``) and ``oldSelf`` transition rules, beyond standard CEL; they are skipped rather than
half-evaluated, and their number per kind is in :attr:`Served.cel_rules`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "crds"
"""Where the vendored CRD files live (one folder per upstream project)."""

BUILTIN_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)
"""API groups served by kube-apiserver itself (kubernetes/api); every other group is a custom resource.
Note gateway.networking.k8s.io and inference.networking.k8s.io are CRDs despite the k8s.io suffix."""

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
# ObjectMeta field names (k8s.io/apimachinery/pkg/apis/meta/v1 ObjectMeta).
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class CRDError(Exception):
    """Base of the errors this module raises."""


class UnknownKindError(CRDError):
    """The object's (apiVersion, kind) has no vendored, served CRD version."""


class CRDValidationError(CRDError):
    """An object does not match its CRD schema.

    Attributes:
        obj: ``Kind namespace/name`` of the object.
        problems: one ``"<json path>: <message>"`` line per problem, sorted by path.
    """

    def __init__(self, obj: str, problems: list[str]):
        self.obj = obj
        self.problems = problems
        super().__init__(f"{obj}: " + "; ".join(problems))


@dataclass(frozen=True)
class Served:
    """One served version of a vendored CRD.

    Attributes:
        api_version: ``group/version``.
        kind: the CRD's ``names.kind``.
        scope: ``Namespaced`` or ``Cluster``.
        file: the CRD file, relative to :data:`SCHEMA_DIR`.
        schema: the version's ``openAPIV3Schema`` as vendored (untranslated).
        deprecated: if the version is deprecated, the CRD's ``deprecationWarning`` (or "no replacement named").
        cel_rules: how many ``x-kubernetes-validations`` rules the schema has (not evaluated here).
    """

    api_version: str
    kind: str
    scope: str
    file: str
    schema: dict[str, Any]
    deprecated: str | None
    cel_rules: int


def _python_pattern(pattern: str, where: str) -> str:
    """An RE2 pattern as a Python one; RE2 allows ``^(?i)...``, Python wants global flags first."""
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        moved = re.sub(r"^\^\(\?([imsU]+)\)", r"(?\1)^", pattern)
        try:
            re.compile(moved)
        except re.error as exc:
            raise CRDError(f"{where}: pattern {pattern!r} is not a Python regular expression: {exc}") from exc
        return moved


def _count_cel(node: Any) -> int:
    if isinstance(node, dict):
        own = len(node.get("x-kubernetes-validations") or [])
        return own + sum(_count_cel(v) for k, v in node.items() if k != "x-kubernetes-validations")
    if isinstance(node, list):
        return sum(_count_cel(v) for v in node)
    return 0


def _translate(node: dict[str, Any], where: str) -> dict[str, Any]:
    """A structural-schema node as plain JSON Schema (see the module docstring for the rules)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "x-kubernetes-list-map-keys" and node.get("x-kubernetes-list-type") == "map":
            out[_MAP_KEYS] = value
        elif key in ("description", "example", "default") or key.startswith("x-kubernetes-"):
            continue
        elif key == "properties":
            out[key] = {name: _translate(sub, where) for name, sub in value.items()}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _translate(value, where)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_translate(sub, where) for sub in value]
        elif key == "pattern":
            out[key] = _python_pattern(value, where)
        elif key != "nullable":
            out[key] = value
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("x-kubernetes-int-or-string") and "type" not in node:
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    open_object = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if node.get("type") == "object" and not open_object:
        out["additionalProperties"] = False
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    return out


def _defaulted(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with the schema's ``default`` filled in for absent object fields, as the API server
    does before validating (so a required field that has a default is not missing)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        out = {k: _defaulted(v, props[k]) if k in props else v for k, v in value.items()}
        if isinstance(schema.get("additionalProperties"), dict):
            out = {
                k: v if k in props else _defaulted(v, schema["additionalProperties"]) for k, v in out.items()
            }
        for name, sub in props.items():
            if name not in out and "default" in sub:
                out[name] = _defaulted(copy.deepcopy(sub["default"]), sub)
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_defaulted(v, schema["items"]) for v in value]
    return value


def _root_schema(schema: dict[str, Any], where: str) -> dict[str, Any]:
    """The translated root; ``metadata`` is ObjectMeta (checked by :func:`_metadata_problems`), of
    which the CRD may constrain only ``name`` and ``generateName``."""
    root = _translate(schema, where)
    meta = (schema.get("properties") or {}).get("metadata") or {}
    constrained = {k: v for k, v in (meta.get("properties") or {}).items() if k in ("name", "generateName")}
    root.setdefault("properties", {})["metadata"] = {
        "type": "object",
        "properties": {k: _translate(v, where) for k, v in constrained.items()},
    }
    return root


_FORMATS = jsonschema.FormatChecker(formats=())


def _int_format(name: str):
    low, high = _INT_RANGES[name]

    @_FORMATS.checks(name)
    def check(value: Any) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high

    return check


for _name in _INT_RANGES:
    _int_format(_name)


@_FORMATS.checks("byte", raises=(binascii.Error, ValueError))
def _is_byte(value: Any) -> bool:
    return not isinstance(value, str) or base64.b64decode(value, validate=True) is not None


@_FORMATS.checks("ipv4", raises=ValueError)
def _is_ipv4(value: Any) -> bool:
    return not isinstance(value, str) or ipaddress.IPv4Address(value) is not None


@_FORMATS.checks("ipv6", raises=ValueError)
def _is_ipv6(value: Any) -> bool:
    return not isinstance(value, str) or ipaddress.IPv6Address(value) is not None


_MAP_KEYS = "aistackListMapKeys"
"""Our keyword for ``x-kubernetes-list-type: map`` (entries unique by ``x-kubernetes-list-map-keys``)."""


def _unique_by_keys(validator: Any, keys: list[str], instance: Any, schema: dict[str, Any]):
    """A list-map's entries must differ in their key fields, as the API server requires."""
    if not validator.is_type(instance, "array"):
        return
    first: dict[tuple, int] = {}
    for index, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        key = tuple(repr(item.get(k)) for k in keys)
        if key in first:
            shown = ", ".join(f"{k}={item.get(k)!r}" for k in keys)
            yield jsonschema.ValidationError(
                f"duplicate entry ({shown}), also at [{first[key]}]", path=[index]
            )
        else:
            first[key] = index


# Draft 4 keywords with draft 6's integer (a JSON number like 3.0 is an integer; the preview's wire
# format has only doubles), plus list-map uniqueness.
_Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    validators={_MAP_KEYS: _unique_by_keys},
    type_checker=jsonschema.Draft6Validator.TYPE_CHECKER,
)


def load(directory: Path) -> dict[tuple[str, str], Served]:
    """Every served version of every CRD in ``directory/<project>/*.yaml``, keyed by ``(apiVersion, kind)``.

    Raises:
        CRDError: a file holds something other than CRDs, or two files serve the same (apiVersion, kind).
    """
    found: dict[tuple[str, str], Served] = {}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(directory.glob("*/*.yaml")):
        rel = path.relative_to(directory).as_posix()
        for doc in yaml.load_all(path.read_text(), Loader=loader):
            if not doc:
                continue
            if doc.get("kind") != "CustomResourceDefinition":
                raise CRDError(
                    f"{rel}: a {doc.get('kind')!r} document; only CustomResourceDefinitions belong here"
                )
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served"):
                    continue
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                if key in found:
                    raise CRDError(f"{rel}: {key[0]} {key[1]} is already served by {found[key].file}")
                schema = version["schema"]["openAPIV3Schema"]
                warning = version.get("deprecationWarning") or "no replacement named"
                found[key] = Served(
                    api_version=key[0],
                    kind=key[1],
                    scope=spec["scope"],
                    file=rel,
                    schema=schema,
                    deprecated=warning if version.get("deprecated") else None,
                    cel_rules=_count_cel(schema),
                )
    return found


@functools.cache
def served() -> dict[tuple[str, str], Served]:
    """The vendored CRDs (:data:`SCHEMA_DIR`), loaded once per process; see :func:`load`."""
    return load(SCHEMA_DIR)


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    entry = served()[(api_version, kind)]
    return _Validator(_root_schema(entry.schema, entry.file), format_checker=_FORMATS)


def is_builtin(api_version: str) -> bool:
    """Whether ``api_version`` (``v1``, ``apps/v1``, ...) belongs to a group kube-apiserver serves itself."""
    group = api_version.rpartition("/")[0]
    return group in BUILTIN_GROUPS


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or meta.get("generateName") or "<unnamed>"
    ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('apiVersion')} {obj.get('kind')} {ns}{name}"


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


def _qualified_name_problem(key: Any) -> str | None:
    """Why ``key`` is not a label/annotation key (``[prefix/]name``), or None."""
    if not isinstance(key, str):
        return "must be a string"
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return "prefix must be a DNS-1123 subdomain of at most 253 characters"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return "name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    return None


def _metadata_problems(meta: Any, scope: str) -> list[str]:
    """ObjectMeta rules kube-apiserver applies to every custom resource."""
    if not isinstance(meta, dict):
        return ["metadata: must be an object"]
    problems = [f"metadata.{k}: unknown field (ObjectMeta)" for k in meta if k not in _OBJECT_META_FIELDS]
    name = meta.get("name")
    if name is None and not meta.get("generateName"):
        problems.append("metadata.name: required (or metadata.generateName)")
    elif name is not None and (
        not isinstance(name, str) or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)
    ):
        problems.append(
            f"metadata.name: {name!r} is not a DNS-1123 subdomain (lowercase alphanumerics, '-', '.')"
        )
    namespace = meta.get("namespace")
    if scope == "Cluster" and namespace is not None:
        problems.append(f"metadata.namespace: {namespace!r} set on a cluster-scoped kind")
    elif namespace is not None and (
        not isinstance(namespace, str) or len(namespace) > 63 or not _DNS1123_LABEL.match(namespace)
    ):
        problems.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
    for field in ("labels", "annotations"):
        entries = meta.get(field)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            problems.append(f"metadata.{field}: must be a map of strings")
            continue
        for key, value in entries.items():
            why = _qualified_name_problem(key)
            if why:
                problems.append(f"metadata.{field}[{key!r}]: key {why}")
            if not isinstance(value, str):
                problems.append(f"metadata.{field}[{key!r}]: value must be a string")
            elif field == "labels" and value and (len(value) > 63 or not _QUALIFIED_NAME.match(value)):
                problems.append(f"metadata.labels[{key!r}]: value {value!r} is not a valid label value")
    return problems


def _schema_problems(error: jsonschema.ValidationError) -> list[str]:
    at = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties") or {})
        hint = f" (known: {', '.join(known)})" if known else " (this object takes no fields)"
        return [f"{_path([*at, k])}: unknown field{hint}" for k in error.instance if k not in known]
    if error.validator == "required" and isinstance(error.instance, dict):
        return [
            f"{_path([*at, k])}: required field missing"
            for k in error.validator_value
            if k not in error.instance
        ]
    message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return [f"{_path(at)}: {message}"]


def problems(obj: dict[str, Any]) -> list[str]:
    """Every way ``obj`` breaks its CRD schema, as ``"<json path>: <message>"`` lines (empty if valid).

    Raises:
        UnknownKindError: no vendored CRD serves the object's apiVersion and kind.
    """
    key = (obj.get("apiVersion"), obj.get("kind"))
    entry = served().get(key)
    if entry is None:
        versions = sorted(
            v for v, k in served() if k == key[1] and v.split("/")[0] == str(key[0]).split("/")[0]
        )
        hint = f" (served: {', '.join(versions)})" if versions else ""
        raise UnknownKindError(
            f"{_describe(obj)}: no vendored CRD schema for {key[0]} {key[1]}{hint}; vendor the CRD under "
            f"{SCHEMA_DIR.relative_to(SCHEMA_DIR.parent.parent).as_posix()}/ and list it in SOURCES.md"
        )
    found = [f"apiVersion: {key[0]} is deprecated ({entry.deprecated})"] if entry.deprecated else []
    found += _metadata_problems(obj.get("metadata"), entry.scope)
    for error in _validator(*key).iter_errors(_defaulted(obj, entry.schema)):
        if error.absolute_path and error.absolute_path[0] == "metadata" and len(error.absolute_path) == 1:
            continue  # the metadata object itself: reported by _metadata_problems
        found += _schema_problems(error)
    return sorted(set(found))


def validate(obj: dict[str, Any]) -> None:
    """Check a custom resource against its vendored CRD schema.

    Raises:
        UnknownKindError: no vendored CRD serves the object's apiVersion and kind.
        CRDValidationError: the object breaks the schema; the message names the object and each JSON path.
    """
    found = problems(obj)
    if found:
        raise CRDValidationError(_describe(obj), found)
