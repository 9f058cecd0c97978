"""GPU scheduling and cost: tainted GPU pools, GPU pods that match them, spot floors, budget.

The conventions checked here live in :mod:`.conventions`.

Cluster join for node pools: a pool names its cluster (EKS ``clusterName``, AKS ``resourceName``,
GKE ``cluster``); pools are grouped by the last ``/``-separated segment of that value, so a GKE
cluster id (``projects/p/locations/l/clusters/main``) and its name join. Inline pools (AKS
``agentPoolProfiles``, GKE ``nodePools``) belong to the cluster resource that declares them, whose
key is its ``name`` output when the offline engine recorded one, else its ``name`` (EKS, GKE) or
``resourceName`` (AKS) input, else its logical name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import _k8s
from .conventions import (
    ACCELERATOR_LABEL,
    AKS_GPU_TAINT,
    EKS_GPU_TAINT,
    GKE_ACCELERATOR_LABEL,
    GKE_GPU_TAINT,
    POOL_LABEL,
    is_aks_gpu_vm_size,
    is_eks_gpu_ami_type,
    is_eks_gpu_instance_type,
    is_gke_gpu_machine_type,
)
from .core import (
    ADVISORY,
    CannotCheck,
    Indeterminate,
    Rule,
    Subject,
    as_bool,
    each,
    get,
    get_known,
    is_unknown,
)
from .tokens import (
    AZ_AGENT_POOL,
    AZ_MANAGED_CLUSTER,
    CLUSTERS,
    EKS_CLUSTER,
    EKS_NODE_GROUP,
    GKE_CLUSTER,
    GKE_COMPUTE_CLASS,
    GKE_NODE_POOL,
    K8S_PROVIDER,
    K8S_WORKLOADS,
    KARPENTER_NODEPOOL,
)

POOL_TYPES = (EKS_NODE_GROUP, AZ_AGENT_POOL, AZ_MANAGED_CLUSTER, GKE_NODE_POOL, GKE_CLUSTER)

# How a kubeconfig authenticates tells which managed service issued it.
_KUBECONFIG_HINTS = {
    "gke-gcloud-auth-plugin": "gcp",
    "eks get-token": "aws",
    "aws-iam-authenticator": "aws",
    "kubelogin": "azure",
}


@dataclass(frozen=True)
class Pool:
    """One node pool, standalone or declared inline in its cluster.

    Attributes:
        subject: The resource declaring it.
        cloud: ``aws``, ``azure`` or ``gcp``.
        inputs: The pool's own inputs (the resource's, or the inline entry's).
        where: Path of ``inputs`` within the resource (``""`` when standalone).
    """

    subject: Subject
    cloud: str
    inputs: Mapping[str, Any]
    where: str = ""

    def get(self, path: str, default: Any = None, known: bool = False) -> Any:
        """Read the pool's inputs (see :func:`.core.get`; ``known`` reads as :func:`.core.get_known`)."""
        read = get_known if known else get
        return read(self.inputs, path, default, where=self.where)

    @property
    def label(self) -> str:
        """How messages name the pool: the resource name, plus the inline path."""
        return f"{self.subject.name}{'.' + self.where if self.where else ''}"

    def is_gpu(self) -> bool:
        """Whether the pool has GPUs: a GPU AMI/instance/VM/machine type, accelerators, or the label."""
        if self.cloud == "aws":
            ami = self.get("amiType")
            types = self.get("instanceTypes", [], known=True)
            return bool(
                (ami and is_eks_gpu_ami_type(ami))
                or any(is_eks_gpu_instance_type(t) for t in types)
                or ACCELERATOR_LABEL in self.labels()
            )
        if self.cloud == "azure":
            size = self.get("vmSize")
            return bool((size and is_aks_gpu_vm_size(size)) or ACCELERATOR_LABEL in self.labels())
        accelerators = self.get("nodeConfig.guestAccelerators", [], known=True)
        machine = self.get("nodeConfig.machineType")
        return bool(
            any((a.get("count") or 0) > 0 for a in accelerators)
            or (machine and is_gke_gpu_machine_type(machine))
            or ACCELERATOR_LABEL in self.labels()
        )

    def labels(self) -> Mapping[str, Any]:
        """The node labels the pool sets."""
        path = {"aws": "labels", "azure": "nodeLabels", "gcp": "nodeConfig.labels"}[self.cloud]
        return self.get(path, {}, known=True)

    def has_gpu_taint(self) -> bool:
        """Whether the pool carries the GPU taint in its cloud's spelling."""
        if self.cloud == "aws":
            return EKS_GPU_TAINT in self.get("taints", [], known=True)
        if self.cloud == "azure":
            return AKS_GPU_TAINT in self.get("nodeTaints", [], known=True)
        return GKE_GPU_TAINT in self.get("nodeConfig.taints", [], known=True)

    def is_spot(self) -> bool:
        """Whether the pool runs on spot (or preemptible) capacity."""
        if self.cloud == "aws":
            return self.get("capacityType") == "SPOT"
        if self.cloud == "azure":
            return self.get("scaleSetPriority") == "Spot"
        return (
            as_bool(self.get("nodeConfig.spot")) is True
            or as_bool(self.get("nodeConfig.preemptible")) is True
        )

    def min_nodes(self) -> float:
        """The node count the pool never goes below (autoscaler minimum, else its fixed size)."""
        if self.cloud == "aws":
            return self.get("scalingConfig.minSize", 0)
        if self.cloud == "azure":
            if as_bool(self.get("enableAutoScaling")) is True:
                return self.get("minCount", 0)
            return self.get("count", 0)
        if self.get("autoscaling") is not None:
            return self.get("autoscaling.minNodeCount") or self.get("autoscaling.totalMinNodeCount") or 0
        return self.get("nodeCount") or self.get("initialNodeCount") or 0

    def cluster(self) -> str:
        """The key of the cluster the pool belongs to (see module doc)."""
        if self.where:  # inline: the declaring cluster
            return cluster_key(self.subject)
        ref = self.get({"aws": "clusterName", "azure": "resourceName", "gcp": "cluster"}[self.cloud])
        return str(ref).rsplit("/", 1)[-1]


def cluster_key(cluster: Subject) -> str:
    """The name pools use to refer to ``cluster`` (see module doc)."""
    output = cluster.outputs.get("name")
    if isinstance(output, str) and not is_unknown(output):
        return output.rsplit("/", 1)[-1]
    name = get(cluster.inputs, "resourceName" if cluster.type == AZ_MANAGED_CLUSTER else "name")
    return str(name or cluster.name)


def pools(r: Subject) -> list[Pool]:
    """The node pools a resource declares."""
    if r.type == EKS_NODE_GROUP:
        return [Pool(r, "aws", r.inputs)]
    if r.type == AZ_AGENT_POOL:
        return [Pool(r, "azure", r.inputs)]
    if r.type == GKE_NODE_POOL:
        return [Pool(r, "gcp", r.inputs)]
    if r.type == AZ_MANAGED_CLUSTER:
        profiles = get(r.inputs, "agentPoolProfiles", [])
        return [Pool(r, "azure", p, f"agentPoolProfiles.{i}") for i, p in enumerate(profiles)]
    if r.type == GKE_CLUSTER:
        found = [Pool(r, "gcp", p, f"nodePools.{i}") for i, p in enumerate(get(r.inputs, "nodePools", []))]
        if (
            get(r.inputs, "nodeConfig") is not None
            and as_bool(get(r.inputs, "removeDefaultNodePool")) is not True
        ):
            found.append(Pool(r, "gcp", {"nodeConfig": get(r.inputs, "nodeConfig")}, "defaultPool"))
        return found
    return []


def check_gpu_pool_tainted(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """GPU pools carry the nvidia.com/gpu=present:NoSchedule taint and the accelerator label."""

    def judge(pool: Pool) -> Iterator[str]:
        if not pool.is_gpu():
            return
        if not pool.has_gpu_taint():
            yield f"GPU pool {pool.label} lacks the taint nvidia.com/gpu=present:NoSchedule"
        if ACCELERATOR_LABEL not in pool.labels():
            yield f"GPU pool {pool.label} lacks the node label {ACCELERATOR_LABEL}"

    yield from each([lambda p=p: judge(p) for p in pools(r)])


def _provider_urn(reference: str | None, index: Mapping[str, Subject]) -> str | None:
    # The mock runtime records provider references as "<urn>::<id>"; the engine gives the URN.
    if not reference or reference in index:
        return reference
    return reference.rsplit("::", 1)[0]


def _subtree_clouds(root: str | None, children: Mapping[str | None, list[Subject]]) -> set[str]:
    clouds: set[str] = set()
    stack = list(children.get(root, []))
    while stack:
        node = stack.pop()
        if node.type in CLUSTERS:
            clouds.add(CLUSTERS[node.type])
        stack.extend(children.get(node.urn, []))
    return clouds


def cluster_clouds(workload: Subject, subjects: Sequence[Subject]) -> set[str]:
    """The clouds of the clusters a Kubernetes resource may be deployed to.

    Looks at the resource's Kubernetes provider: its kubeconfig's authentication command, then
    the clusters declared under the provider's nearest ancestor that declares any; without a
    provider, every cluster of the stack. Empty when the stack declares no cluster.
    """
    index = {s.urn: s for s in subjects}
    children: dict[str | None, list[Subject]] = {}
    for s in subjects:
        children.setdefault(s.parent if s.parent in index else None, []).append(s)
    provider = index.get(_provider_urn(workload.provider, index) or "")
    if provider is None or provider.type != K8S_PROVIDER:
        return _subtree_clouds(None, children)
    kubeconfig = provider.inputs.get("kubeconfig")
    if isinstance(kubeconfig, str) and not is_unknown(kubeconfig):
        hinted = {cloud for hint, cloud in _KUBECONFIG_HINTS.items() if hint in kubeconfig}
        if len(hinted) == 1:
            return hinted
    ancestor = provider.parent if provider.parent in index else None
    while ancestor is not None:
        clouds = _subtree_clouds(ancestor, children)
        if clouds:
            return clouds
        parent = index[ancestor].parent
        ancestor = parent if parent in index else None
    return _subtree_clouds(None, children)


def check_gpu_pod_tolerates_and_selects(
    subjects: Sequence[Subject], _cfg: Mapping[str, Any]
) -> Iterator[Any]:
    """GPU pods tolerate the GPU taint and select the accelerator label (and GKE's on GKE)."""
    for workload in (s for s in subjects if s.type in K8S_WORKLOADS):

        def judge(w: Subject = workload) -> Iterator[Any]:
            spec, where = _k8s.pod_spec(w)
            if not _k8s.requests_gpu(spec, where):
                return
            if not _k8s.tolerates_gpu_taint(spec, where):
                yield (w.urn, f"requests nvidia.com/gpu but does not tolerate {AKS_GPU_TAINT}")
            if not _k8s.selects_label(spec, ACCELERATOR_LABEL, where):
                yield (
                    w.urn,
                    f"requests nvidia.com/gpu but does not select the node label {ACCELERATOR_LABEL}",
                )
            if _k8s.selects_label(spec, GKE_ACCELERATOR_LABEL, where):
                return
            clouds = cluster_clouds(w, subjects)
            if clouds == {"gcp"}:
                yield (
                    w.urn,
                    f"runs on GKE and requests nvidia.com/gpu but does not select {GKE_ACCELERATOR_LABEL}",
                )
            elif "gcp" in clouds:
                yield Indeterminate(
                    urn=w.urn,
                    reason=(
                        f"it may run on one of several clusters ({', '.join(sorted(clouds))}); record its "
                        f"provider to tell whether GKE's {GKE_ACCELERATOR_LABEL} selector is needed"
                    ),
                )

        yield from each([judge], workload.urn)


def check_gpu_spot_has_ondemand_floor(subjects: Sequence[Subject], cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every spot GPU pool has an on-demand GPU pool with a floor of nodes in the same cluster."""
    floor = cfg["minOnDemandNodes"]
    on_demand: list[Pool] = []
    spot: list[Pool] = []
    unclassified = False  # some GPU pool's kind is unknown: it might be the floor
    for subject in (s for s in subjects if s.type in POOL_TYPES):
        try:
            for pool in pools(subject):
                if pool.is_gpu():
                    (spot if pool.is_spot() else on_demand).append(pool)
        except CannotCheck as exc:
            unclassified = True
            yield Indeterminate(exc.path, subject.urn)

    def judge(pool: Pool) -> Iterator[Any]:
        cluster = pool.cluster()
        accelerator = pool.labels().get(ACCELERATOR_LABEL)
        unsure = unclassified
        for other in on_demand:
            try:
                if other.cluster() != cluster:
                    continue
                if accelerator and other.labels().get(ACCELERATOR_LABEL) != accelerator:
                    continue
                if other.min_nodes() >= floor:
                    return
            except CannotCheck:
                unsure = True
        if unsure:
            yield Indeterminate(
                urn=pool.subject.urn, reason="a GPU pool that could be its on-demand floor has unknown inputs"
            )
            return
        wanted = f" of {accelerator}" if accelerator else ""
        yield (
            pool.subject.urn,
            f"spot GPU pool {pool.label} has no on-demand GPU pool{wanted} with at least {floor} node(s) "
            f"in cluster {cluster!r} to fall back on when spot capacity is reclaimed",
        )

    for pool in spot:
        yield from each([lambda pool=pool: judge(pool)], pool.subject.urn)
    yield from _provisioner_floors(subjects, floor)


CAPACITY_TYPE = "karpenter.sh/capacity-type"


def _provider_of(s: Subject) -> str | None:
    """The URN of a Kubernetes object's provider (the mock runtime records ``<urn>::<id>``)."""
    return s.provider.rsplit("::", 1)[0] if s.provider else None


def _provisioner_floors(subjects: Sequence[Subject], floor: int) -> Iterator[Any]:
    """``provisioning: auto`` pools: spot capacity a provisioner launches has an on-demand floor first.

    A Karpenter NodePool that may launch spot GPU nodes needs, on the same cluster (Kubernetes
    provider) and for the same pool label, an on-demand-only NodePool Karpenter tries first (a higher
    ``weight``: "NodePools", weight) whose GPU limit admits at least ``floor`` nodes. A GKE
    ComputeClass with a spot priority needs an on-demand priority before it (GKE tries priorities in
    order: "About custom ComputeClasses").
    """
    nodepools = [s for s in subjects if s.type == KARPENTER_NODEPOOL]

    def kinds(r: Subject) -> set[str]:
        for req in get_known(r.inputs, "spec.template.spec.requirements", []):
            if req.get("key") == CAPACITY_TYPE and req.get("operator") == "In":
                return {str(v) for v in req.get("values") or []}
        # Unconstrained, Karpenter launches on-demand only (docs, "NodePools": karpenter.sh/capacity-type).
        return {"on-demand"}

    def judge_nodepool(r: Subject) -> Iterator[Any]:
        if "spot" not in kinds(r) or get_known(r.inputs, ["spec", "limits", "nvidia.com/gpu"]) is None:
            return
        pool = get_known(r.inputs, "spec.template.metadata.labels", {}).get(POOL_LABEL)
        weight = get_known(r.inputs, "spec.weight", 0) or 0
        for other in nodepools:
            if other is r or _provider_of(other) != _provider_of(r) or "spot" in kinds(other):
                continue
            labels = get_known(other.inputs, "spec.template.metadata.labels", {})
            limit = get_known(other.inputs, ["spec", "limits", "nvidia.com/gpu"], 0)
            if (
                labels.get(POOL_LABEL) == pool
                and (get_known(other.inputs, "spec.weight", 0) or 0) > weight
                and float(limit) >= floor
            ):
                return
        yield (
            r.urn,
            f"Karpenter NodePool {r.name} may launch spot GPU nodes but no on-demand NodePool of the same pool "
            f"with a higher weight and room for {floor} node(s) comes first, so a spot reclaim can take every replica",
        )

    def judge_class(r: Subject) -> Iterator[Any]:
        for priority in get_known(r.inputs, "spec.priorities", []):
            if as_bool(priority.get("spot")) is True:
                yield (
                    r.urn,
                    f"ComputeClass {r.name} tries spot before any on-demand priority: put the pool's "
                    "on-demand floor (a node pool or an on-demand priority) first",
                )
                return
            if priority.get("nodepools") or priority.get("reservations"):
                return

    for r in nodepools:
        yield from each([lambda r=r: judge_nodepool(r)], r.urn)
    for r in (s for s in subjects if s.type == GKE_COMPUTE_CLASS):
        yield from each([lambda r=r: judge_class(r)], r.urn)


def check_cost_budget(_subjects: Sequence[Subject], cfg: Mapping[str, Any]) -> Iterator[Any]:
    """The stack's monthly estimate stays within its budget."""
    budget, monthly = cfg.get("budgetUsd"), cfg.get("monthlyUsd")
    if budget is None:
        return
    if monthly is None:
        yield Indeterminate(reason="a budget is set but no monthly estimate was given (config monthlyUsd)")
    elif monthly > budget:
        yield (None, f"estimated {monthly:,.2f} USD/month exceeds the budget of {budget:,.2f} USD/month")


RULES = (
    Rule(
        "gpu-pool-tainted",
        ADVISORY,
        f"GPU node pools carry the taint {AKS_GPU_TAINT} and the node label {ACCELERATOR_LABEL}.",
        (EKS_NODE_GROUP, AZ_AGENT_POOL, AZ_MANAGED_CLUSTER, GKE_NODE_POOL, GKE_CLUSTER),
        check_gpu_pool_tainted,
    ),
    Rule(
        "gpu-pod-tolerates-and-selects",
        ADVISORY,
        f"Pods requesting nvidia.com/gpu tolerate the GPU taint and select {ACCELERATOR_LABEL} "
        f"(and {GKE_ACCELERATOR_LABEL} on GKE) (stack: finds each workload's cluster).",
        (*K8S_WORKLOADS, K8S_PROVIDER, EKS_CLUSTER, AZ_MANAGED_CLUSTER, GKE_CLUSTER),
        check_gpu_pod_tolerates_and_selects,
        stack=True,
    ),
    Rule(
        "gpu-spot-has-ondemand-floor",
        ADVISORY,
        "Every spot GPU pool has an on-demand GPU pool (same cluster and accelerator) with a minimum of "
        "minOnDemandNodes; a Karpenter NodePool that may launch spot has an on-demand NodePool of the same "
        "pool tried first (higher weight) with room for minOnDemandNodes, and a ComputeClass an on-demand "
        "priority before its spot one (stack: joins pools by cluster).",
        (*POOL_TYPES, KARPENTER_NODEPOOL, GKE_COMPUTE_CLASS),
        check_gpu_spot_has_ondemand_floor,
        stack=True,
        config_schema={
            "minOnDemandNodes": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "Nodes the on-demand GPU pool keeps at minimum.",
            }
        },
    ),
    Rule(
        "cost-budget",
        ADVISORY,
        "The stack's monthly cost estimate (monthlyUsd) is within its budget (budgetUsd).",
        (),
        check_cost_budget,
        stack=True,
        config_schema={
            "monthlyUsd": {
                "type": "number",
                "minimum": 0,
                "description": "The stack's estimated cost, USD per month.",
            },
            "budgetUsd": {
                "type": "number",
                "minimum": 0,
                "description": "The stack's budget, USD per month.",
            },
        },
    ),
)
