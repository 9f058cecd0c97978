"""First-deploy breakers: what makes a fresh ``pulumi up`` fail although every resource is valid alone.

These rules read the whole graph, above all its ordering: each resource's ``dependencies`` (its
``dependsOn`` and the resources its inputs come from) plus its explicit provider, which the
engine creates first. ``after(x, y)`` means "x is created after y has been created".

Sources for each failure are in the rule descriptions and ``docs/first-deploy.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import versions
from .core import MANDATORY, CannotCheck, Indeterminate, Rule, Subject, as_list, get, get_known, is_unknown
from .tokens import (
    AZ_AGENT_POOL,
    AZ_MANAGED_CLUSTER,
    AZ_ROLE_ASSIGNMENT,
    CLUSTERS,
    EC2_SUBNET,
    EKS_ADDON,
    EKS_CLUSTER,
    EKS_NODE_GROUP,
    GCP_KMS_KEY_IAM_MEMBER,
    GCP_PROJECT_IAM_MEMBER,
    GCP_SA_IAM_BINDING,
    GCP_SA_IAM_MEMBER,
    GCP_SECRET,
    GCS_BUCKET,
    GKE_CLUSTER,
    GKE_NODE_POOL,
    K8S_PROVIDER,
    LOCAL_COMMAND,
    TIME_SLEEP,
)

# Where each cluster type keeps its Kubernetes version.
VERSION_INPUT = {
    EKS_CLUSTER: "version",
    AZ_MANAGED_CLUSTER: "kubernetesVersion",
    GKE_CLUSTER: "minMasterVersion",
}

# EKS clusters created without self-managed add-ons have no pod network and no DNS until these exist.
EKS_CORE_ADDONS = ("vpc-cni", "coredns")

GCS_SERVICE_AGENT = "@gs-project-accounts.iam.gserviceaccount.com"
SECRET_MANAGER_AGENT = "@gcp-sa-secretmanager.iam.gserviceaccount.com"
WORKLOAD_POOL_MARKERS = (".svc.id.goog[", "/workloadIdentityPools/")


class Graph:
    """The stack's creation order: who is created before whom."""

    def __init__(self, subjects: Sequence[Subject]) -> None:
        self.by_urn = {s.urn: s for s in subjects}
        self._before: dict[str, set[str]] = {}

    def before(self, urn: str) -> set[str]:
        """Every URN created before ``urn`` (its dependencies and explicit provider, transitively)."""
        if urn in self._before:
            return self._before[urn]
        seen: set[str] = set()
        stack = [urn]
        while stack:
            subject = self.by_urn.get(stack.pop())
            if subject is None:
                continue
            for nxt in (*subject.dependencies, *([subject.provider] if subject.provider else [])):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        self._before[urn] = seen
        return seen

    def of_type(self, urns: set[str], *types: str) -> list[Subject]:
        """The resources among ``urns`` of one of ``types``, in URN order."""
        return [self.by_urn[u] for u in sorted(urns) if u in self.by_urn and self.by_urn[u].type in types]


def _minor(value: str) -> str:
    """``1.35`` from ``1.35``, ``1.35.2`` or ``1.35.2-gke.1962000``."""
    return ".".join(value.split("-")[0].split(".")[:2])


def check_version_supported(r: Subject, cfg: Mapping[str, Any]) -> Iterator[str]:
    """The cluster's Kubernetes minor is GA and in standard support on the stack's date."""
    path = VERSION_INPUT[r.type]
    value = get(r.inputs, path)
    if value is None:
        return  # the service creates it on its current default, which is in standard support
    on = versions.today(cfg.get("asOf") or None)
    problem = versions.support_problem(CLUSTERS[r.type], _minor(str(value)), on)
    if problem:
        yield f"{path} {value}: {problem}"


def check_k8s_after_nodes(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Each cluster's Kubernetes provider is created after a node pool and the core add-ons."""
    graph = Graph(subjects)
    for provider in (s for s in subjects if s.type == K8S_PROVIDER):
        before = graph.before(provider.urn)
        for cluster in graph.of_type(before, *CLUSTERS):
            yield from _nodes_ready(graph, provider, cluster, before)


def _nodes_ready(graph: Graph, provider: Subject, cluster: Subject, before: set[str]) -> Iterator[Any]:
    if cluster.type == AZ_MANAGED_CLUSTER:
        # AKS creates the system pool inline: the cluster is ready only once it has nodes.
        profiles = get(cluster.inputs, "agentPoolProfiles", [])
        if is_unknown(profiles):
            yield Indeterminate("agentPoolProfiles", cluster.urn)
        elif not profiles:
            yield (
                provider.urn,
                f"AKS cluster {cluster.name!r} has no inline agent pool, so objects have no nodes",
            )
        return
    pool_type = EKS_NODE_GROUP if cluster.type == EKS_CLUSTER else GKE_NODE_POOL
    pools = [p for p in graph.of_type(before, pool_type) if cluster.urn in graph.before(p.urn)]
    if not pools:
        yield (
            provider.urn,
            f"Kubernetes provider {provider.name!r} does not wait for a node pool of cluster {cluster.name!r}: "
            "its Deployments would start before there are nodes (add the system pool to its dependsOn)",
        )
    if cluster.type != EKS_CLUSTER:
        return
    names: set[str] = set()
    for addon in graph.of_type(before, EKS_ADDON):
        name = addon.inputs.get("addonName")
        if is_unknown(name):
            yield Indeterminate("addonName", addon.urn)
            return
        names.add(name)
    missing = [a for a in EKS_CORE_ADDONS if a not in names]
    if missing:
        yield (
            provider.urn,
            f"Kubernetes provider {provider.name!r} does not wait for the EKS add-ons {', '.join(missing)} of "
            f"cluster {cluster.name!r}: pods get no network or DNS until they exist",
        )


def check_eks_two_azs(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """EKS cluster subnets span at least two Availability Zones (else CreateCluster fails)."""
    subnets = {s.outputs.get("id"): s for s in subjects if s.type == EC2_SUBNET and s.outputs.get("id")}
    for cluster in (s for s in subjects if s.type == EKS_CLUSTER):
        try:
            ids = get_known(cluster.inputs, "vpcConfig.subnetIds", [])
        except CannotCheck as exc:
            yield Indeterminate(exc.path, cluster.urn)
            continue
        if any(i not in subnets for i in ids):
            # Subnets from outside the stack: their zones are not in the graph; two ids at least.
            if len(set(ids)) < 2:
                yield cluster.urn, "vpcConfig.subnetIds has fewer than two subnets; EKS requires two AZs"
            continue
        zones: set[str] = set()
        for subnet_id in ids:
            subnet = subnets[subnet_id]
            zone = subnet.inputs.get("availabilityZone") or subnet.inputs.get("availabilityZoneId")
            if is_unknown(zone) or zone is None:
                yield Indeterminate("availabilityZone", subnet.urn)
                break
            zones.add(zone)
        else:
            if len(zones) < 2:
                yield (
                    cluster.urn,
                    f"vpcConfig.subnetIds span {len(zones)} Availability Zone(s) ({', '.join(sorted(zones)) or 'none'}); "
                    "EKS requires subnets in at least two (InvalidParameterException)",
                )


def _workload_members(r: Subject) -> list[Any]:
    if r.type == GCP_SA_IAM_BINDING:
        return as_list(r.inputs.get("members"))
    return [r.inputs.get("member")]


def check_gke_wi_after_cluster(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """IAM grants to a GKE workload pool principal are created after a GKE cluster (which creates the pool)."""
    graph = Graph(subjects)
    types = (GCP_SA_IAM_MEMBER, GCP_SA_IAM_BINDING, GCP_PROJECT_IAM_MEMBER)
    for grant in (s for s in subjects if s.type in types):
        if graph.of_type(graph.before(grant.urn), GKE_CLUSTER):
            continue
        members = _workload_members(grant)
        if any(is_unknown(m) for m in members):
            if grant.inputs.get("role") == "roles/iam.workloadIdentityUser":
                yield Indeterminate("member", grant.urn)
            continue
        pool = [m for m in members if isinstance(m, str) and any(k in m for k in WORKLOAD_POOL_MARKERS)]
        if pool:
            yield (
                grant.urn,
                f"grants {grant.inputs.get('role')} to workload pool principal {pool[0]} without waiting for a GKE "
                "cluster: IAM rejects it in a new project (the pool exists once the first cluster does)",
            )


def _after_agent_grant(graph: Graph, r: Subject, agent: str, problem: str) -> Iterator[Any]:
    """``problem`` unless ``r`` is created after a Cloud KMS key grant to the service agent ``agent``.

    GCP services encrypt with their service agent's permission on the key: a resource naming a key the
    agent may not use yet is refused at creation. An unknown grantee cannot be judged yet.
    """
    grants = graph.of_type(graph.before(r.urn), GCP_KMS_KEY_IAM_MEMBER)
    members = [g.inputs.get("member") for g in grants]
    if any(isinstance(m, str) and m.endswith(agent) for m in members):
        return
    if any(is_unknown(m) for m in members):
        yield Indeterminate("member", next(g.urn for g in grants if is_unknown(g.inputs.get("member"))))
        return
    yield (r.urn, problem)


def check_gcs_cmek_after_grant(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A GCS bucket with a default KMS key is created after the Cloud Storage service agent's key grant."""
    graph = Graph(subjects)
    for bucket in (s for s in subjects if s.type == GCS_BUCKET):
        key = get(bucket.inputs, "encryption.defaultKmsKeyName")
        if not key:
            continue
        yield from _after_agent_grant(
            graph,
            bucket,
            GCS_SERVICE_AGENT,
            "encryption.defaultKmsKeyName is set but the bucket does not wait for a grant of the key to the Cloud "
            "Storage service agent (service-<project number>@gs-project-accounts): bucket creation fails",
        )


def check_secret_cmek_after_grant(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A Secret Manager secret with customer-managed keys is created after the Secret Manager agent's key grant.

    Secret Manager encrypts with the service agent's permission; a secret naming a key the agent may not
    use yet is refused (cloud.google.com/secret-manager/docs/cmek).
    """
    graph = Graph(subjects)
    for secret in (s for s in subjects if s.type == GCP_SECRET):
        replicas = get(secret.inputs, "replication.userManaged.replicas", [])
        keys = [get(r, "customerManagedEncryption.kmsKeyName") for r in replicas]
        keys.append(get(secret.inputs, "replication.auto.customerManagedEncryption.kmsKeyName"))
        if not any(keys):
            continue
        yield from _after_agent_grant(
            graph,
            secret,
            SECRET_MANAGER_AGENT,
            "names a customer-managed key but does not wait for a grant of the key to the Secret Manager "
            "service agent (service-<project number>@gcp-sa-secretmanager): secret creation fails",
        )


_DURATION_UNITS = {"h": 3600, "m": 60, "s": 1}


def _seconds(duration: str) -> float | None:
    """Seconds in a Go duration such as ``120s``, ``2m`` or ``1m30s``; ``None`` if it does not parse."""
    total, number = 0.0, ""
    for char in duration:
        if char.isdigit() or char == ".":
            number += char
        elif char in _DURATION_UNITS and number:
            total += float(number) * _DURATION_UNITS[char]
            number = ""
        else:
            return None
    return None if number else total


def check_azure_role_propagated(subjects: Sequence[Subject], cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Azure resources use a new role assignment only after a wait (time.Sleep) for it to propagate."""
    by_urn = {s.urn: s for s in subjects}
    least = cfg["minimumSeconds"]
    for r in subjects:
        if r.type == TIME_SLEEP and any(by_urn.get(d, r).type == AZ_ROLE_ASSIGNMENT for d in r.dependencies):
            duration = r.inputs.get("createDuration")
            if is_unknown(duration):
                yield Indeterminate("createDuration", r.urn)
                continue
            seconds = _seconds(str(duration or "0s"))
            if seconds is None or seconds < least:
                yield r.urn, f"createDuration {duration!r} waits less than {least:g}s for role assignments"
            continue
        if not r.type.startswith("azure-native:") or r.type == AZ_ROLE_ASSIGNMENT:
            continue
        for dep in r.dependencies:
            if dep in by_urn and by_urn[dep].type == AZ_ROLE_ASSIGNMENT:
                yield (
                    r.urn,
                    f"uses role assignment {by_urn[dep].name!r} as soon as it exists; Azure applies it minutes "
                    "later (KeyVaultAuthenticationFailure, LinkedAuthorizationFailed): depend on a time.Sleep "
                    "after it instead",
                )


def check_aks_pools_serial(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """The agent pools of one AKS cluster are created one after the other, never concurrently."""
    graph = Graph(subjects)
    by_cluster: dict[str, list[Subject]] = {}
    for pool in (s for s in subjects if s.type == AZ_AGENT_POOL):
        cluster = pool.inputs.get("resourceName")
        if is_unknown(cluster):
            yield Indeterminate("resourceName", pool.urn)
            continue
        by_cluster.setdefault(f"{pool.inputs.get('resourceGroupName')}/{cluster}", []).append(pool)
    for pools in by_cluster.values():
        for i, pool in enumerate(pools):
            for other in pools[:i]:
                if other.urn not in graph.before(pool.urn) and pool.urn not in graph.before(other.urn):
                    yield (
                        pool.urn,
                        f"is created concurrently with agent pool {other.name!r} of the same cluster; AKS "
                        "refuses a second agent pool operation while one runs (OperationNotAllowed): add a "
                        "dependency between them",
                    )


EKS_SCALING = ("scalingConfig.desiredSize", "scalingConfig.minSize", "scalingConfig.maxSize")


def check_eks_scaling_bounds(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """An EKS node group whose desired size is ignored gets new bounds only through a scaling command.

    The provider sends an ignored desired size as its stale value with a changed minimum, and EKS
    refuses a minimum above it ("Minimum capacity N can't be greater than desired size M",
    terraform-aws-eks #3306). So such a group also ignores its bounds, and a command created after
    it, rerun on its bounds (``triggers == [minSize, maxSize]``), applies them from the live size.
    """
    commands = [s for s in subjects if s.type == LOCAL_COMMAND]
    for group in (s for s in subjects if s.type == EKS_NODE_GROUP):
        if EKS_SCALING[0] not in group.ignore_changes:
            continue
        missing = [path for path in EKS_SCALING[1:] if path not in group.ignore_changes]
        if missing:
            yield (
                group.urn,
                f"ignores scalingConfig.desiredSize but not {', '.join(missing)}: raising minSize above the "
                "live desired size fails (EKS: 'Minimum capacity N can't be greater than desired size M')",
            )
            continue
        try:
            bounds = [get_known(group.inputs, f"scalingConfig.{key}") for key in ("minSize", "maxSize")]
        except CannotCheck as exc:
            yield Indeterminate(exc.path, group.urn)
            continue
        mine = [c for c in commands if group.urn in c.dependencies]
        if any(is_unknown(c.inputs.get("triggers")) for c in mine):
            yield Indeterminate("triggers", next(c.urn for c in mine if is_unknown(c.inputs.get("triggers"))))
            continue
        if not any(list(c.inputs.get("triggers") or ()) == bounds for c in mine):
            yield (
                group.urn,
                f"ignores its scaling bounds but no command after it applies minSize/maxSize {bounds} "
                "(a command:local:Command depending on it with triggers [minSize, maxSize])",
            )


AS_OF_SCHEMA = {
    "asOf": {
        "type": "string",
        "default": "",
        "description": "Judge support on this date (YYYY-MM-DD); empty: $AISTACK_AS_OF, else today (UTC).",
    }
}

RULES = (
    Rule(
        "deploy-kubernetes-version-supported",
        MANDATORY,
        "Clusters run a Kubernetes minor that is GA and in standard support on the stack's date (EKS extended "
        "support costs six times the control-plane price; AKS refuses new clusters on an end-of-life minor).",
        tuple(VERSION_INPUT),
        check_version_supported,
        config_schema=AS_OF_SCHEMA,
    ),
    Rule(
        "deploy-k8s-after-nodes",
        MANDATORY,
        "Each cluster's Kubernetes provider depends on a node pool of the cluster (and, on EKS, the vpc-cni and "
        "coredns add-ons), so no Kubernetes object starts before there are nodes, a pod network and DNS.",
        (K8S_PROVIDER, *CLUSTERS, EKS_NODE_GROUP, GKE_NODE_POOL, EKS_ADDON),
        check_k8s_after_nodes,
        stack=True,
    ),
    Rule(
        "deploy-eks-two-azs",
        MANDATORY,
        "EKS clusters get subnets in at least two Availability Zones (CreateCluster refuses fewer).",
        (EKS_CLUSTER, EC2_SUBNET),
        check_eks_two_azs,
        stack=True,
    ),
    Rule(
        "deploy-gke-wi-after-cluster",
        MANDATORY,
        "IAM grants to a GKE workload pool principal (<project>.svc.id.goog) depend on a GKE cluster, which "
        "creates the pool (else: 'Identity Pool does not exist').",
        (GCP_SA_IAM_MEMBER, GCP_SA_IAM_BINDING, GCP_PROJECT_IAM_MEMBER, GKE_CLUSTER),
        check_gke_wi_after_cluster,
        stack=True,
    ),
    Rule(
        "deploy-gcs-cmek-after-grant",
        MANDATORY,
        "A GCS bucket encrypted with a customer-managed key depends on the key's grant to the Cloud Storage "
        "service agent (else bucket creation is refused).",
        (GCS_BUCKET, GCP_KMS_KEY_IAM_MEMBER),
        check_gcs_cmek_after_grant,
        stack=True,
    ),
    Rule(
        "deploy-secret-cmek-after-grant",
        MANDATORY,
        "A Secret Manager secret encrypted with a customer-managed key depends on the key's grant to the "
        "Secret Manager service agent (else secret creation is refused).",
        (GCP_SECRET, GCP_KMS_KEY_IAM_MEMBER),
        check_secret_cmek_after_grant,
        stack=True,
    ),
    Rule(
        "deploy-eks-scaling-bounds",
        MANDATORY,
        "An EKS node group that ignores scalingConfig.desiredSize also ignores minSize and maxSize, and a "
        "command created after it with triggers [minSize, maxSize] applies them from the live desired size "
        "(else raising minSize above it fails).",
        (EKS_NODE_GROUP, LOCAL_COMMAND),
        check_eks_scaling_bounds,
        stack=True,
    ),
    Rule(
        "deploy-aks-pools-serial",
        MANDATORY,
        "The agent pools of one AKS cluster depend on each other in a chain, so AKS never sees two agent "
        "pool operations at once.",
        (AZ_AGENT_POOL,),
        check_aks_pools_serial,
        stack=True,
    ),
    Rule(
        "deploy-azure-role-propagated",
        MANDATORY,
        "Azure resources that need a new role assignment wait for it through a time.Sleep of at least "
        "minimumSeconds after it (Azure RBAC takes minutes to apply a new assignment).",
        (AZ_ROLE_ASSIGNMENT, TIME_SLEEP),
        check_azure_role_propagated,
        stack=True,
        config_schema={
            "minimumSeconds": {
                "type": "number",
                "default": 60,
                "minimum": 0,
                "description": "Shortest wait accepted after role assignments (seconds).",
            }
        },
    ),
)
