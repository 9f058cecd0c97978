"""Kubernetes pod-spec helpers shared by the workload and GPU rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .conventions import GPU_RESOURCE, GPU_TAINT_KEY, GPU_TAINT_VALUE, K8S_TAINT_EFFECT
from .core import CannotCheck, Indeterminate, Subject, get, get_known
from .tokens import K8S_LWS, K8S_POD_SPEC_PATHS, LWS_WORKER_SPEC

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

EXEMPT_NAMESPACES_SCHEMA = {
    "exemptNamespaces": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["kube-system"],
        "description": "Namespaces whose workloads are not checked (system add-ons such as CNI and device plugins).",
    }
}


def pod_spec(r: Subject) -> tuple[Mapping[str, Any], str]:
    """The pod spec of a workload and its path (``{}`` when absent)."""
    path = K8S_POD_SPEC_PATHS[r.type]
    if r.type == K8S_LWS and get(r.inputs, "spec.leaderWorkerTemplate.leaderTemplate") is None:
        path = LWS_WORKER_SPEC  # no leader template: LWS starts the leader from the workers'
    return get(r.inputs, path, {}), path


def template_labels(r: Subject) -> Mapping[str, Any]:
    """The labels of the workload's pods (of the pod spec :func:`pod_spec` returns)."""
    _, path = pod_spec(r)
    return get_known(r.inputs, f"{path.removesuffix('.spec')}.metadata.labels", {})


def containers(spec: Mapping[str, Any], where: str) -> list[tuple[str, Mapping[str, Any]]]:
    """``(path, container)`` for every container, init container and ephemeral container."""
    found = []
    for key in CONTAINER_LISTS:
        for i, container in enumerate(get(spec, key, [], where=where)):
            found.append((f"{where}.{key}.{i}", container))
    return found


def is_vllm(container: Mapping[str, Any], path: str) -> bool:
    """A vLLM server: ``vllm`` as the command, or a vLLM image run with its default entrypoint."""
    command = get_known(container, "command", [], where=path)
    if command:
        return str(command[0]).rsplit("/", 1)[-1] == "vllm"
    image = str(get(container, "image", "", where=path)).split("@")[0]
    return "vllm" in image.rsplit("/", 1)[-1].split(":")[0]


def gpu_quantity(container: Mapping[str, Any], kind: str, where: str) -> Any:
    """The container's ``nvidia.com/gpu`` in ``limits`` or ``requests`` (``None`` if absent)."""
    section = get(container, f"resources.{kind}", {}, where=where)
    return get(section, [GPU_RESOURCE], where=f"{where}.resources.{kind}")


def requests_gpu(spec: Mapping[str, Any], where: str) -> bool:
    """Whether any container asks for ``nvidia.com/gpu`` (in limits or requests)."""
    for path, container in containers(spec, where):
        for kind in ("limits", "requests"):
            quantity = gpu_quantity(container, kind, path)
            if quantity is not None and str(quantity) not in ("0", "0.0"):
                return True
    return False


def tolerates_gpu_taint(spec: Mapping[str, Any], where: str) -> bool:
    """Whether the pod tolerates ``nvidia.com/gpu=present:NoSchedule``."""
    for toleration in get_known(spec, "tolerations", [], where=where):
        key, operator = toleration.get("key"), toleration.get("operator", "Equal")
        effect = toleration.get("effect")
        if effect not in (None, "", K8S_TAINT_EFFECT):
            continue
        if operator == "Exists" and key in (None, "", GPU_TAINT_KEY):
            return True
        if operator == "Equal" and key == GPU_TAINT_KEY and toleration.get("value") == GPU_TAINT_VALUE:
            return True
    return False


def selects_label(spec: Mapping[str, Any], label: str, where: str) -> bool:
    """Whether the pod only schedules on nodes carrying ``label``: a ``nodeSelector`` entry,
    or a required node-affinity term naming it in every (OR-ed) selector term."""
    if label in get_known(spec, "nodeSelector", {}, where=where):
        return True
    terms = get_known(
        spec,
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
        [],
        where=where,
    )
    return bool(terms) and all(
        any(
            e.get("key") == label and e.get("operator") != "DoesNotExist"
            for e in t.get("matchExpressions") or []
        )
        for t in terms
    )


def unless_exempt(
    check: Callable[[Subject, Mapping[str, Any]], Iterable[Any]],
) -> Callable[[Subject, Mapping[str, Any]], Iterator[Any]]:
    """Wrap a workload check so it reports nothing for workloads in ``exemptNamespaces``.

    The namespace is read only when there is something to report, so an unknown namespace
    matters only for a workload that would otherwise fail.
    """

    def wrapped(r: Subject, cfg: Mapping[str, Any]) -> Iterator[Any]:
        results: list[Any] = []
        try:
            results.extend(check(r, cfg))
        except CannotCheck as exc:
            results.append(Indeterminate(exc.path))
        if results and get(r.inputs, "metadata.namespace", "default") not in cfg["exemptNamespaces"]:
            yield from results

    wrapped.__doc__ = check.__doc__
    wrapped.__name__ = check.__name__
    return wrapped
