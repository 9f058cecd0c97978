"""First-deploy breaker of GPU capacity: a GPU pod that no node pool or provisioner can ever host.

A serving pod requesting ``nvidia.com/gpu`` stays Pending forever, and ``pulumi up`` waits out its
rollout and fails, when no node it could land on can exist: no managed group carries the labels it
selects or only taints it does not tolerate, or the Karpenter NodePool / GKE ComputeClass that would
launch its nodes selects other labels, taints them otherwise, or is limited to fewer GPUs than the
pod (or its replicas together) request. Karpenter says so only in its controller log
("incompatible with nodepool ...", "exceeds limits"); GKE in a ``FailedScaleUp`` event.

Capacity considered: EKS node groups, AKS agent pools (standalone or a cluster's profiles), GKE node
pools, Karpenter NodePools (``karpenter.sh/v1``, EKS and AKS) and GKE ComputeClasses. Provisioner
objects join the pod through its Kubernetes provider (the same cluster); managed groups through the
clouds of the pod's cluster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _k8s
from .conventions import GKE_ACCELERATOR_LABEL, GPU_RESOURCE, GPU_TAINT_KEY, GPU_TAINT_VALUE
from .core import MANDATORY, CannotCheck, Indeterminate, Rule, Subject, get, get_known, is_unknown
from .gpu import cluster_clouds
from .tokens import (
    AZ_AGENT_POOL,
    AZ_MANAGED_CLUSTER,
    EKS_CLUSTER,
    EKS_NODE_GROUP,
    GKE_CLUSTER,
    GKE_COMPUTE_CLASS,
    GKE_NODE_POOL,
    K8S_PROVIDER,
    K8S_WORKLOADS,
    KARPENTER_NODEPOOL,
)

COMPUTE_CLASS_LABEL = "cloud.google.com/compute-class"
HARD_EFFECTS = ("NoSchedule", "NoExecute")
_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}
_CLOUD_OF = {EKS_NODE_GROUP: "aws", AZ_AGENT_POOL: "azure", AZ_MANAGED_CLUSTER: "azure", GKE_NODE_POOL: "gcp"}


@dataclass
class Capacity:
    """Nodes some resource can bring: their labels (or allowed values), taints and GPU limit.

    Attributes:
        name: How messages name it.
        labels: Label → the values its nodes may carry.
        taints: ``(key, value, effect)`` of every taint its nodes carry.
        gpu_limit: GPUs it may hold in all; ``None`` = bounded elsewhere.
        gpus_per_node: GPUs on one of its nodes when it says; ``None`` = not declared.
    """

    name: str
    labels: dict[str, set[str]] = field(default_factory=dict)
    taints: list[tuple[str, str, str]] = field(default_factory=list)
    gpu_limit: float | None = None
    gpus_per_node: int | None = None


def _quantity(value: Any) -> float:
    """A Kubernetes quantity of whole devices (``"4"``, ``4``, ``4.0``) as a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return float(value)
    raise ValueError(f"not a device count: {value!r}")


def _plain_labels(labels: Mapping[str, Any]) -> dict[str, set[str]]:
    return {k: {str(v)} for k, v in labels.items()}


def _karpenter(r: Subject) -> Capacity:
    template = get_known(r.inputs, "spec.template", {})
    cap = Capacity(r.name, _plain_labels((template.get("metadata") or {}).get("labels") or {}))
    for req in (template.get("spec") or {}).get("requirements") or []:
        if req.get("operator") == "In":
            allowed = {str(v) for v in req.get("values") or []}
            key = req["key"]
            cap.labels[key] = cap.labels[key] & allowed if key in cap.labels else allowed
    for taint in (template.get("spec") or {}).get("taints") or []:
        cap.taints.append((taint.get("key"), str(taint.get("value") or ""), taint.get("effect")))
    limit = get_known(r.inputs, ["spec", "limits", GPU_RESOURCE], None)
    cap.gpu_limit = None if limit is None else _quantity(limit)
    return cap


def _compute_class(r: Subject) -> Capacity:
    name = get_known(r.inputs, "metadata.name", r.name)
    config = get_known(r.inputs, "spec.nodePoolConfig", {})
    cap = Capacity(r.name, _plain_labels(config.get("nodeLabels") or {}))
    cap.labels[COMPUTE_CLASS_LABEL] = {str(name)}
    # GKE taints the nodes of a custom class with its name, and GPU nodes with the GPU taint itself.
    cap.taints = [(COMPUTE_CLASS_LABEL, str(name), "NoSchedule")]
    for taint in config.get("taints") or []:
        cap.taints.append((taint.get("key"), str(taint.get("value") or ""), taint.get("effect")))
    gpus = [p.get("gpu") for p in get_known(r.inputs, "spec.priorities", []) if p.get("gpu")]
    if gpus:
        cap.taints.append((GPU_TAINT_KEY, GPU_TAINT_VALUE, "NoSchedule"))
        cap.labels[GKE_ACCELERATOR_LABEL] = {str(g.get("type")) for g in gpus}
        cap.gpus_per_node = max(int(_quantity(g.get("count"))) for g in gpus)
    return cap


def _aks_taint(text: str) -> tuple[str, str, str]:
    key_value, _, effect = text.partition(":")
    key, _, value = key_value.partition("=")
    return key, value, effect


def _groups(r: Subject) -> list[Capacity]:
    if r.type == EKS_NODE_GROUP:
        cap = Capacity(r.name, _plain_labels(get_known(r.inputs, "labels", {})))
        cap.taints = [
            (t.get("key"), str(t.get("value") or ""), _EFFECTS.get(t.get("effect"), t.get("effect")))
            for t in get_known(r.inputs, "taints", [])
        ]
        return [cap]
    if r.type == GKE_NODE_POOL:
        config = get_known(r.inputs, "nodeConfig", {})
        cap = Capacity(r.name, _plain_labels(config.get("labels") or {}))
        cap.taints = [
            (t.get("key"), str(t.get("value") or ""), _EFFECTS.get(t.get("effect"), t.get("effect")))
            for t in config.get("taints") or []
        ]
        accelerators = [a for a in config.get("guestAccelerators") or [] if a.get("type")]
        if accelerators:
            cap.labels[GKE_ACCELERATOR_LABEL] = {str(a["type"]) for a in accelerators}
            cap.gpus_per_node = sum(int(_quantity(a.get("count") or 0)) for a in accelerators)
        return [cap]
    profiles = [r.inputs] if r.type == AZ_AGENT_POOL else get_known(r.inputs, "agentPoolProfiles", [])
    found = []
    for i, profile in enumerate(profiles):
        label = r.name if r.type == AZ_AGENT_POOL else f"{r.name}.agentPoolProfiles[{i}]"
        cap = Capacity(label, _plain_labels(profile.get("nodeLabels") or {}))
        cap.taints = [_aks_taint(t) for t in profile.get("nodeTaints") or []]
        found.append(cap)
    return found


def _tolerates(tolerations: Sequence[Mapping[str, Any]], taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    for t in tolerations:
        if t.get("effect") not in (None, "", effect):
            continue
        operator = t.get("operator") or "Equal"
        if operator == "Exists" and t.get("key") in (None, "", key):
            return True
        if operator == "Equal" and t.get("key") == key and str(t.get("value") or "") == value:
            return True
    return False


def misfit(
    cap: Capacity, selector: Mapping[str, Any], tolerations: Sequence[Mapping[str, Any]], gpus: float
) -> str | None:
    """Why ``cap`` cannot host one such pod, or ``None`` when it can."""
    for key, value in selector.items():
        if str(value) not in cap.labels.get(key, set()):
            return f"{cap.name} does not label its nodes {key}={value}"
    for taint in cap.taints:
        if taint[2] in HARD_EFFECTS and not _tolerates(tolerations, taint):
            return f"{cap.name} taints its nodes {taint[0]}={taint[1]}:{taint[2]}, not tolerated"
    if cap.gpus_per_node is not None and gpus > cap.gpus_per_node:
        return f"{cap.name} has {cap.gpus_per_node} GPU(s) per node, the pod requests {gpus:g}"
    if cap.gpu_limit is not None and gpus > cap.gpu_limit:
        return f"{cap.name} is limited to {cap.gpu_limit:g} {GPU_RESOURCE}, the pod requests {gpus:g}"
    return None


def _pod_gpus(spec: Mapping[str, Any], where: str) -> float:
    """GPUs one pod needs: the sum over its containers (init containers run before, one at a time)."""
    total = init = 0.0
    for path, container in _k8s.containers(spec, where):
        quantity = _k8s.gpu_quantity(container, "limits", path)
        if quantity is None:
            quantity = _k8s.gpu_quantity(container, "requests", path)
        if quantity is None:
            continue
        if ".initContainers." in path:
            init = max(init, _quantity(quantity))
        else:
            total += _quantity(quantity)
    return max(total, init)


def _provider(s: Subject, urns: set[str]) -> str | None:
    """The URN of a resource's provider (the mock runtime records ``<urn>::<id>``)."""
    ref = s.provider
    if not ref or ref in urns:
        return ref
    return ref.rsplit("::", 1)[0]


def check_gpu_pod_has_capacity(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every GPU pod's selector, tolerations and GPU request are met by some pool or provisioner."""
    provisioners = [s for s in subjects if s.type in (KARPENTER_NODEPOOL, GKE_COMPUTE_CLASS)]
    groups = [s for s in subjects if s.type in _CLOUD_OF]
    urns = {s.urn for s in subjects}
    for workload in (s for s in subjects if s.type in K8S_WORKLOADS):
        try:
            spec, where = _k8s.pod_spec(workload)
            if not _k8s.requests_gpu(spec, where):
                continue
            gpus = _pod_gpus(spec, where)
            selector = get_known(spec, "nodeSelector", {}, where=where)
            tolerations = get_known(spec, "tolerations", [], where=where)
            replicas = get(workload.inputs, "spec.replicas", None)
        except CannotCheck as exc:
            yield Indeterminate(exc.path, workload.urn)
            continue
        clouds = cluster_clouds(workload, subjects)
        mine = _provider(workload, urns)
        candidates = [p for p in provisioners if mine is None or _provider(p, urns) in (None, mine)]
        candidates += [g for g in groups if _CLOUD_OF[g.type] in clouds]
        reasons, unknown, fitting = [], [], []
        for subject in candidates:
            try:
                caps = (
                    [_karpenter(subject)]
                    if subject.type == KARPENTER_NODEPOOL
                    else (
                        [_compute_class(subject)] if subject.type == GKE_COMPUTE_CLASS else _groups(subject)
                    )
                )
            except CannotCheck as exc:
                unknown.append(f"{subject.name}: {exc.path}")
                continue
            except ValueError as exc:
                reasons.append(f"{subject.name}: {exc}")
                continue
            for cap in caps:
                why = misfit(cap, selector, tolerations, gpus)
                (reasons.append(why) if why else fitting.append(cap))
        if not fitting:
            if unknown:
                yield Indeterminate(urn=workload.urn, reason=f"unknown until apply: {'; '.join(unknown)}")
                continue
            detail = "; ".join(reasons) if reasons else "the cluster declares no GPU node pool or provisioner"
            yield (
                workload.urn,
                f"requests {gpus:g} {GPU_RESOURCE} per pod but no node pool or provisioner can host it "
                f"(it would stay Pending): {detail}",
            )
            continue
        if isinstance(replicas, int | float) and not is_unknown(replicas) and replicas > 0:
            limits = [c.gpu_limit for c in fitting]
            if all(limit is not None for limit in limits) and replicas * gpus > sum(limits):
                yield (
                    workload.urn,
                    f"runs {int(replicas)} replicas of {gpus:g} {GPU_RESOURCE} but the provisioners that "
                    f"can host it are limited to {math.fsum(limits):g} in all "
                    f"({', '.join(c.name for c in fitting)}): the rest would stay Pending",
                )


RULES = (
    Rule(
        "deploy-gpu-pod-capacity",
        MANDATORY,
        "Every pod requesting nvidia.com/gpu can be hosted: some managed GPU pool, Karpenter NodePool or "
        "GKE ComputeClass of its cluster carries the labels it selects, only taints it tolerates, and "
        "GPUs (per node and within its limits) for it and its replicas (stack: joins pods to capacity).",
        (
            *K8S_WORKLOADS,
            KARPENTER_NODEPOOL,
            GKE_COMPUTE_CLASS,
            EKS_NODE_GROUP,
            AZ_AGENT_POOL,
            AZ_MANAGED_CLUSTER,
            GKE_NODE_POOL,
            EKS_CLUSTER,
            GKE_CLUSTER,
            K8S_PROVIDER,
        ),
        check_gpu_pod_has_capacity,
        stack=True,
    ),
)


EC2_NODECLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
AKS_NODECLASS = "kubernetes:karpenter.azure.com/v1beta1:AKSNodeClass"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
PROVISIONER_OBJECTS = (KARPENTER_NODEPOOL, EC2_NODECLASS, AKS_NODECLASS, GKE_COMPUTE_CLASS)


def _family(r: Subject) -> str:
    """Which provisioner serves an object: ``karpenter-aws``, ``aks-nap`` or ``gke-nap``."""
    if r.type == EC2_NODECLASS:
        return "karpenter-aws"
    if r.type == AKS_NODECLASS:
        return "aks-nap"
    if r.type == GKE_COMPUTE_CLASS:
        return "gke-nap"
    group = get_known(r.inputs, "spec.template.spec.nodeClassRef.group", "")
    return "aks-nap" if group == "karpenter.azure.com" else "karpenter-aws"


def _before(r: Subject, index: Mapping[str, Subject]) -> set[str]:
    """Every URN created before ``r``: its dependencies, transitively (provider references normalised)."""
    seen: set[str] = set()
    stack = [r.urn]
    while stack:
        subject = index.get(stack.pop())
        if subject is None:
            continue
        for nxt in subject.dependencies:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _cluster_of(r: Subject, index: Mapping[str, Subject], cluster_type: str) -> Subject | None:
    """The cluster resource declared beside ``r``'s Kubernetes provider (same parent component)."""
    provider = index.get(_provider(r, set(index)) or "")
    if provider is None:
        return None
    found = [s for s in index.values() if s.type == cluster_type and s.parent == provider.parent]
    return found[0] if len(found) == 1 else None


def check_provisioner_installed(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every provisioner object has its provisioner: Karpenter's chart before it on EKS, node
    auto-provisioning switched on for its AKS or GKE cluster."""
    index = {s.urn: s for s in subjects}
    for obj in (s for s in subjects if s.type in PROVISIONER_OBJECTS):
        try:
            family = _family(obj)
            if family == "karpenter-aws":
                charts = [
                    index[u] for u in _before(obj, index) if u in index and index[u].type == HELM_RELEASE
                ]
                names = [str(get_known(c.inputs, "chart", "")) for c in charts]
                if not any(n.rstrip("/").rsplit("/", 1)[-1] == "karpenter" for n in names):
                    yield (
                        obj.urn,
                        "is created before any karpenter Helm Release: the API server does not know the kind "
                        "until Karpenter's CRDs are installed, and no controller would launch its nodes "
                        "(depends_on the Karpenter release)",
                    )
                continue
            cluster_type = AZ_MANAGED_CLUSTER if family == "aks-nap" else GKE_CLUSTER
            cluster = _cluster_of(obj, index, cluster_type)
            if cluster is None:
                yield Indeterminate(
                    urn=obj.urn, reason="its cluster cannot be told from its Kubernetes provider"
                )
                continue
            if family == "aks-nap":
                mode = get(cluster.inputs, "nodeProvisioningProfile.mode", "Manual")
                if mode != "Auto":
                    yield (
                        obj.urn,
                        f"is a node auto-provisioning object but AKS cluster {cluster.name} has "
                        f"nodeProvisioningProfile.mode {mode}: AKS installs no Karpenter, its CRDs are unknown "
                        "and nothing launches the nodes (set mode: Auto)",
                    )
            elif get(obj.inputs, "spec.nodePoolAutoCreation.enabled", False) is True:
                enabled = get(cluster.inputs, "clusterAutoscaling.enabled", False)
                if enabled is not True:
                    yield (
                        obj.urn,
                        f"asks GKE to create node pools but GKE cluster {cluster.name} has no node "
                        "auto-provisioning (clusterAutoscaling.enabled) and so no limits to create them within",
                    )
        except CannotCheck as exc:
            yield Indeterminate(exc.path, obj.urn)


RULES = (
    *RULES,
    Rule(
        "deploy-provisioner-installed",
        MANDATORY,
        "Every Karpenter NodePool, EC2NodeClass, AKSNodeClass and GKE ComputeClass has its provisioner: "
        "on EKS a karpenter Helm Release created before it, on AKS and GKE node auto-provisioning "
        "switched on for its cluster (stack: joins objects to their release or cluster).",
        (*PROVISIONER_OBJECTS, HELM_RELEASE, AZ_MANAGED_CLUSTER, GKE_CLUSTER, K8S_PROVIDER),
        check_provisioner_installed,
        stack=True,
    ),
)
