"""Kubernetes workloads: privilege, host access, resources, images, runtime user."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import _k8s
from .conventions import ACCELERATOR_LABEL
from .core import ADVISORY, MANDATORY, Rule, Subject, as_bool, each, get, get_known
from .tokens import K8S_WORKLOADS

_DANGEROUS_CAPABILITIES = ("ALL", "SYS_ADMIN", "CAP_SYS_ADMIN")
_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _per_container(r: Subject, judge: Any) -> Iterator[Any]:
    """Run ``judge(path, container, spec, spec_path)`` on every container independently."""
    spec, where = _k8s.pod_spec(r)
    yield from each([lambda p=p, c=c: judge(p, c, spec, where) for p, c in _k8s.containers(spec, where)])


API_KEY_ENV = "VLLM_API_KEY"
"""The environment variable vLLM's OpenAI-compatible server reads its API key from (``--api-key`` otherwise)."""


def check_serving_api_key(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """vLLM servers require an API key, taken from a Secret (``secretKeyRef``), never a plain value."""

    def judge(path: str, container: Mapping[str, Any], _spec: Any, _where: str) -> Iterator[str]:
        if not _k8s.is_vllm(container, path):
            return
        args = [str(a) for a in get_known(container, "args", [], where=path)]
        if any(a == "--api-key" or a.startswith("--api-key=") for a in args):
            yield f"{path} passes --api-key in its arguments: visible in the pod spec; use {API_KEY_ENV} from a secretKeyRef"
        env = {str(get(e, "name", where=path)): e for e in get_known(container, "env", [], where=path)}
        key = env.get(API_KEY_ENV)
        if key is None:
            yield f"{path} serves without an API key: set {API_KEY_ENV} from a secretKeyRef"
        elif get(key, "value") is not None:
            yield f"{path} sets {API_KEY_ENV} as a plain value; take it from a secretKeyRef"
        elif not get(key, "valueFrom.secretKeyRef.name", where=path) or not get(
            key, "valueFrom.secretKeyRef.key", where=path
        ):
            yield f"{path} takes {API_KEY_ENV} from somewhere other than a Secret (valueFrom.secretKeyRef)"

    yield from _per_container(r, judge)


def check_no_privileged(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """No privileged containers and no SYS_ADMIN/ALL capabilities."""

    def judge(path: str, container: Mapping[str, Any], _spec: Any, _where: str) -> Iterator[str]:
        if as_bool(get(container, "securityContext.privileged", where=path)) is True:
            yield f"{path} is privileged"
        added = get_known(container, "securityContext.capabilities.add", [], where=path)
        for capability in added:
            if str(capability).upper() in _DANGEROUS_CAPABILITIES:
                yield f"{path} adds capability {capability}"

    yield from _per_container(r, judge)


def check_no_host_namespaces(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Pods share no host network, PID or IPC namespace."""
    spec, where = _k8s.pod_spec(r)
    for field in _HOST_NAMESPACES:
        if as_bool(get(spec, field, where=where)) is True:
            yield f"{where}.{field} is true"


def check_resource_limits(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Containers bound memory and request CPU; GPU-scheduled pods declare nvidia.com/gpu limits."""

    def judge(path: str, container: Mapping[str, Any], _spec: Any, _where: str) -> Iterator[str]:
        if get(container, "resources.limits.memory", where=path) is None:
            yield f"{path} sets no resources.limits.memory"
        cpu = get(container, "resources.requests.cpu", where=path)
        if cpu is None and get(container, "resources.limits.cpu", where=path) is None:
            yield f"{path} sets no CPU request"
        requested = _k8s.gpu_quantity(container, "requests", path)
        if requested is not None and _k8s.gpu_quantity(container, "limits", path) is None:
            yield f"{path} requests nvidia.com/gpu without a limit (extended resources need limits)"

    def gpu_pod() -> Iterator[str]:
        spec, where = _k8s.pod_spec(r)
        aimed_at_gpu = _k8s.tolerates_gpu_taint(spec, where) or _k8s.selects_label(
            spec, ACCELERATOR_LABEL, where
        )
        if aimed_at_gpu and not _k8s.requests_gpu(spec, where):
            yield "targets GPU nodes (GPU toleration or accelerator selector) but no container limits nvidia.com/gpu"

    yield from _per_container(r, judge)
    yield from each([gpu_pod])


def _unpinned(image: str) -> str | None:
    """Why an image reference can move under the same name, or None when it is pinned."""
    name, _, digest = image.partition("@")
    if digest:
        return None
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag or digest"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the moving tag `latest`"
    return None


def check_image_pinned(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Container images are pinned: a version tag other than ``latest``, or a digest."""

    def judge(path: str, container: Mapping[str, Any], _spec: Any, _where: str) -> Iterator[str]:
        image = get(container, "image", where=path)
        problem = _unpinned(image) if isinstance(image, str) else "is not a string"
        if problem:
            yield f"{path}.image {image!r} is not pinned: it {problem}"

    yield from _per_container(r, judge)


def check_image_digest(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Container images are pinned by digest (``image@sha256:...``): tags can be re-pushed."""

    def judge(path: str, container: Mapping[str, Any], _spec: Any, _where: str) -> Iterator[str]:
        image = get(container, "image", where=path)
        if not isinstance(image, str) or not _DIGEST.search(image):
            yield f"{path}.image {image!r} is not pinned by digest (@sha256:...)"

    yield from _per_container(r, judge)


def check_non_root_readonly(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Containers run as non-root, with a read-only root filesystem and no privilege escalation."""

    def judge(path: str, container: Mapping[str, Any], spec: Any, where: str) -> Iterator[str]:
        def setting(field: str) -> Any:
            value = get(container, f"securityContext.{field}", where=path)
            return get(spec, f"securityContext.{field}", where=where) if value is None else value

        run_as_user = setting("runAsUser")
        explicit_user = isinstance(run_as_user, int | float) and not isinstance(run_as_user, bool)
        non_root = as_bool(setting("runAsNonRoot")) is True and run_as_user != 0
        if not non_root and not (explicit_user and run_as_user > 0):
            yield f"{path} may run as root (set securityContext.runAsNonRoot=true)"
        if as_bool(get(container, "securityContext.readOnlyRootFilesystem", where=path)) is not True:
            yield f"{path} securityContext.readOnlyRootFilesystem is not true"
        if as_bool(get(container, "securityContext.allowPrivilegeEscalation", where=path)) is not False:
            yield f"{path} securityContext.allowPrivilegeEscalation is not false"

    yield from _per_container(r, judge)


ALLOWED_REGISTRIES = (
    "docker.io",
    "gcr.io",
    "ghcr.io",
    "mcr.microsoft.com",
    "nvcr.io",
    "quay.io",
    "registry.k8s.io",
)
"""The registries aistack's own images come from (``components/images.py``; a test keeps both equal)."""


def image_registry(image: str) -> str:
    """The registry host of an image reference (``docker.io`` for a bare Docker Hub name)."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"


def check_image_allowed_registry(r: Subject, cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Container images come from an allowed registry and are pinned (tag or digest).

    The admission control GKE gets from Binary Authorization, as a pre-deploy rule on every cloud
    (EKS and AKS have no managed equivalent the stack turns on).
    """
    allowed = set(cfg["allowedRegistries"])

    def judge(path: str, container: Mapping[str, Any], _spec: Any, _where: str) -> Iterator[str]:
        image = get(container, "image", where=path)
        if not isinstance(image, str):
            yield f"{path}.image is not a string"
            return
        host = image_registry(image)
        if host not in allowed:
            yield f"{path}.image {image!r} comes from {host}, which is not an allowed registry ({', '.join(sorted(allowed))})"
        problem = _unpinned(image)
        if problem:
            yield f"{path}.image {image!r} is not pinned: it {problem}"

    yield from _per_container(r, judge)


def _workload_rule(rule_id: str, level: str, description: str, check: Any) -> Rule:
    return Rule(
        rule_id,
        level,
        description,
        K8S_WORKLOADS,
        _k8s.unless_exempt(check),
        config_schema=_k8s.EXEMPT_NAMESPACES_SCHEMA,
    )


RULES = (
    Rule(
        "k8s-serving-api-key",
        MANDATORY,
        "vLLM servers require an API key (VLLM_API_KEY) taken from a Secret through secretKeyRef, never a plain value or argument.",
        K8S_WORKLOADS,
        check_serving_api_key,
    ),
    _workload_rule(
        "k8s-no-privileged",
        MANDATORY,
        "Workloads run no privileged container and add no SYS_ADMIN/ALL capability.",
        check_no_privileged,
    ),
    _workload_rule(
        "k8s-no-host-namespaces",
        MANDATORY,
        "Workloads share no host network, PID or IPC namespace.",
        check_no_host_namespaces,
    ),
    _workload_rule(
        "k8s-resource-limits",
        ADVISORY,
        "Containers set a memory limit and a CPU request; pods aimed at GPU nodes limit nvidia.com/gpu.",
        check_resource_limits,
    ),
    _workload_rule(
        "k8s-image-pinned",
        ADVISORY,
        "Container images are pinned by a version tag (not `latest`) or a digest.",
        check_image_pinned,
    ),
    _workload_rule(
        "k8s-image-digest",
        ADVISORY,
        "Container images are pinned by digest, which a re-pushed tag cannot change.",
        check_image_digest,
    ),
    Rule(
        "k8s-image-allowed-registry",
        MANDATORY,
        "Container images come from an allowed registry (allowedRegistries) and are pinned by tag or digest.",
        K8S_WORKLOADS,
        _k8s.unless_exempt(check_image_allowed_registry),
        config_schema={
            **_k8s.EXEMPT_NAMESPACES_SCHEMA,
            "allowedRegistries": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(ALLOWED_REGISTRIES),
                "description": "Registry hosts workloads may pull from.",
            },
        },
    ),
    _workload_rule(
        "k8s-non-root-readonly",
        MANDATORY,
        "Containers run as non-root with a read-only root filesystem and no privilege escalation.",
        check_non_root_readonly,
    ),
)
