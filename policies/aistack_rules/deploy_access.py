"""First-deploy breakers about access: can ``pulumi up`` reach each cluster's API, and who may use it.

Graph rules for the ``deploy`` concern (docs/first-deploy.md):

- ``deploy-api-reachable``: a cluster that Kubernetes objects are declared on has an API the runner
  can reach: an allow-list of public addresses (never 0.0.0.0/0, never only private or documentation
  ranges), GKE's IAM-authenticated DNS endpoint, or, for a private-only API, a declared in-network
  runner (the ``aistack-deployer: in-network`` tag or label aistack writes on the cluster).
- ``deploy-cluster-admins``: someone besides the creator administers each cluster: an EKS access
  entry with ``AmazonEKSClusterAdminPolicy`` at cluster scope; on an AKS cluster authorizing with
  Azure RBAC, a role assignment of Azure Kubernetes Service RBAC Cluster Admin on it.
- ``aws-eks-no-creator-admin``: EKS does not make the creator a permanent cluster-admin
  (``accessConfig.bootstrapClusterCreatorAdminPermissions: false``; EKS's default is true).
- ``deploy-kubeconfig-noninteractive``: every Kubernetes provider carries a kubeconfig whose users
  sign in without a prompt: ``aws eks get-token`` with ``--role-arn``, ``kubelogin`` with a
  non-interactive ``--login``, ``gke-gcloud-auth-plugin``; no ``interactiveMode: Always``, no removed
  ``auth-provider`` plugins.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import MANDATORY, CannotCheck, Rule, Subject, as_bool, each, get, get_known, is_unknown
from .network import WORLD_CIDRS
from .tokens import (
    AZ_MANAGED_CLUSTER,
    AZ_ROLE_ASSIGNMENT,
    CLUSTERS,
    EKS_ACCESS_ENTRY,
    EKS_ACCESS_POLICY_ASSOCIATION,
    EKS_CLUSTER,
    GKE_CLUSTER,
    K8S_PROVIDER,
)

EKS_ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
DEPLOYER_TAG = "aistack-deployer"
"""Where aistack records a cluster's declared deployer path (components/access.py)."""

NON_INTERACTIVE_KUBELOGIN = ("azurecli", "spn", "workloadidentity", "msi", "azd", "azurepipelines")
"""kubelogin ``--login`` methods that never prompt (kubelogin docs, "Login Modes")."""


def _index(subjects: Sequence[Subject]) -> tuple[dict[str, Subject], dict[str | None, list[Subject]]]:
    index = {s.urn: s for s in subjects}
    children: dict[str | None, list[Subject]] = {}
    for s in subjects:
        children.setdefault(s.parent if s.parent in index else None, []).append(s)
    return index, children


def _provider_urn(reference: str | None, index: Mapping[str, Subject]) -> str | None:
    # The mock runtime records provider references as "<urn>::<id>"; the engine gives the URN.
    if not reference or reference in index:
        return reference
    return reference.rsplit("::", 1)[0]


def _subtree_clusters(root: str | None, children: Mapping[str | None, list[Subject]]) -> list[Subject]:
    found, stack = [], list(children.get(root, []))
    while stack:
        node = stack.pop()
        if node.type in CLUSTERS:
            found.append(node)
        stack.extend(children.get(node.urn, []))
    return found


def _clusters_of(provider: Subject, index: Mapping[str, Subject], children: Mapping) -> list[Subject]:
    """The clusters a Kubernetes provider points at: those under its nearest ancestor with any."""
    ancestor = provider.parent if provider.parent in index else None
    while ancestor is not None:
        found = _subtree_clusters(ancestor, children)
        if found:
            return found
        parent = index[ancestor].parent
        ancestor = parent if parent in index else None
    return _subtree_clusters(None, children)


def _deployer(cluster: Subject) -> Any:
    labels = "resourceLabels" if cluster.type == GKE_CLUSTER else "tags"
    return get(cluster.inputs, f"{labels}.{DEPLOYER_TAG}")


def _runner_reachable(blocks: list[Any], path: str) -> Iterator[str]:
    """A public endpoint's allow-list: some public block a runner can come from, none the world."""
    if not blocks:
        yield f"{path} is empty, so the public endpoint is open to the whole internet"
        return
    world = [b for b in blocks if b in WORLD_CIDRS]
    if world:
        yield f"{path} includes {world[0]}: allow-list the runners' egress CIDRs instead"
        return
    if not any(_is_global(b) for b in blocks):
        yield (
            f"{path} holds only private, documentation or reserved ranges ({', '.join(map(str, blocks))}): "
            "no runner reaches a public endpoint from them"
        )


def _is_global(block: Any) -> bool:
    try:
        return ipaddress.ip_network(str(block), strict=False).is_global
    except ValueError:
        return False


def _private_only(cluster: Subject) -> Iterator[str]:
    if _deployer(cluster) != "in-network":
        yield (
            f"{cluster.name}: the Kubernetes API is private-only and no in-network runner path is declared "
            f"(tag {DEPLOYER_TAG}: in-network), so pulumi up from outside the network cannot apply the "
            "Kubernetes objects declared on it"
        )


def _reachable(cluster: Subject) -> Iterator[str]:
    inputs = cluster.inputs
    if cluster.type == EKS_CLUSTER:
        # EKS defaults: public endpoint on, open to 0.0.0.0/0.
        if as_bool(get(inputs, "vpcConfig.endpointPublicAccess", True)) is False:
            yield from _private_only(cluster)
            return
        cidrs = get_known(inputs, "vpcConfig.publicAccessCidrs", ["0.0.0.0/0"])
        yield from (f"{cluster.name}: {m}" for m in _runner_reachable(cidrs, "vpcConfig.publicAccessCidrs"))
    elif cluster.type == AZ_MANAGED_CLUSTER:
        profile = "apiServerAccessProfile"
        if as_bool(get(inputs, f"{profile}.enablePrivateCluster")) is True:
            yield from _private_only(cluster)
            return
        ranges = get_known(inputs, f"{profile}.authorizedIPRanges", [])
        yield from (
            f"{cluster.name}: {m}" for m in _runner_reachable(ranges, f"{profile}.authorizedIPRanges")
        )
    else:
        dns = "controlPlaneEndpointsConfig.dnsEndpointConfig.allowExternalTraffic"
        if as_bool(get(inputs, dns)) is True:
            return  # IAM-authenticated from anywhere
        if as_bool(get(inputs, "privateClusterConfig.enablePrivateEndpoint")) is True:
            yield from _private_only(cluster)
            return
        blocks = get_known(inputs, "masterAuthorizedNetworksConfig.cidrBlocks", None)
        if blocks is None:
            return  # no authorized networks: GKE's public endpoint takes any address (gcp-gke-private)
        path = "masterAuthorizedNetworksConfig.cidrBlocks"
        yield from (
            f"{cluster.name}: {m}" for m in _runner_reachable([b.get("cidrBlock") for b in blocks], path)
        )


def check_api_reachable(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Clusters with Kubernetes objects on them have an API the deploying runner can reach."""
    index, children = _index(subjects)
    used = {
        _provider_urn(s.provider, index) for s in subjects if s.type.startswith("kubernetes:") and s.provider
    }
    targets: dict[str, Subject] = {}
    for urn in used:
        provider = index.get(urn or "")
        if provider is not None and provider.type == K8S_PROVIDER:
            targets.update({c.urn: c for c in _clusters_of(provider, index, children)})
    for cluster in targets.values():
        yield from each([lambda c=cluster: ((c.urn, m) for m in _reachable(c))], cluster.urn)


def _same(value: Any, *candidates: Any) -> bool | None:
    """Whether a join key matches; ``None`` when it is unknown during preview."""
    if is_unknown(value):
        return None
    return value is not None and value in [c for c in candidates if c is not None]


def _belongs(partner: Subject, cluster: Subject, key: str, *candidates: Any) -> bool:
    """Join a partner to its cluster by ``key``; by the shared parent while the key is unknown."""
    matched = _same(partner.inputs.get(key), *candidates)
    return partner.parent == cluster.parent if matched is None else matched


def _eks_admins(cluster: Subject, subjects: Sequence[Subject]) -> Iterator[str]:
    name = cluster.inputs.get("name") or cluster.outputs.get("name")
    entries = [
        s for s in subjects if s.type == EKS_ACCESS_ENTRY and _belongs(s, cluster, "clusterName", name)
    ]
    admins = [
        s
        for s in subjects
        if s.type == EKS_ACCESS_POLICY_ASSOCIATION
        and _belongs(s, cluster, "clusterName", name)
        and get(s.inputs, "policyArn") == EKS_ADMIN_POLICY
        and get(s.inputs, "accessScope.type") == "cluster"
    ]
    if not admins:
        yield (
            f"EKS cluster {cluster.name} has no access entry with AmazonEKSClusterAdminPolicy at cluster "
            "scope: only its creator (if bootstrapped) can administer it"
        )
        return
    principals = {get(e.inputs, "principalArn") for e in entries}
    for association in admins:
        principal = get(association.inputs, "principalArn")
        if principal not in principals:
            yield f"EKS admin policy association {association.name} names {principal}, which has no access entry"


def _aks_admins(cluster: Subject, subjects: Sequence[Subject]) -> Iterator[str]:
    if as_bool(get(cluster.inputs, "aadProfile.enableAzureRBAC")) is not True:
        return  # Kubernetes RBAC: aadProfile.adminGroupObjectIDs are cluster-admin
    name = cluster.inputs.get("resourceName") or cluster.outputs.get("name")
    cluster_id = cluster.outputs.get("id")

    def on_cluster(assignment: Subject) -> bool:
        scope = assignment.inputs.get("scope")
        if is_unknown(scope):
            return assignment.parent == cluster.parent
        return isinstance(scope, str) and (
            scope == cluster_id or (bool(name) and scope.endswith(f"/managedClusters/{name}"))
        )

    admins = [
        s
        for s in subjects
        if s.type == AZ_ROLE_ASSIGNMENT
        and on_cluster(s)
        and str(get(s.inputs, "roleDefinitionId", "")).endswith(AKS_RBAC_CLUSTER_ADMIN)
    ]
    if not admins:
        yield (
            f"AKS cluster {cluster.name} authorizes with Azure RBAC but no principal holds Azure Kubernetes "
            f"Service RBAC Cluster Admin ({AKS_RBAC_CLUSTER_ADMIN}) on it: the deployer gets 403 on "
            "cluster-scoped objects"
        )


def check_cluster_admins(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every EKS and Azure-RBAC AKS cluster names admins besides its creator."""
    for cluster in subjects:
        judge = {EKS_CLUSTER: _eks_admins, AZ_MANAGED_CLUSTER: _aks_admins}.get(cluster.type)
        if judge is not None:
            yield from each([lambda c=cluster, j=judge: ((c.urn, m) for m in j(c, subjects))], cluster.urn)


def check_no_creator_admin(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """EKS: the cluster creator gets no permanent cluster-admin access entry."""
    flag = as_bool(get(r.inputs, "accessConfig.bootstrapClusterCreatorAdminPermissions"))
    if flag is not False:
        state = "is true" if flag else "is not set (EKS defaults to true)"
        yield (
            f"accessConfig.bootstrapClusterCreatorAdminPermissions {state}: whoever creates the cluster keeps "
            "a permanent cluster-admin access entry; set it false and grant admins through access entries"
        )


def _kubeconfig(value: Any) -> Mapping[str, Any]:
    """The kubeconfig document; undecidable when unknown, masked (a report's ``[secret]``) or unparsable."""
    if isinstance(value, Mapping):
        return value
    if is_unknown(value) or not isinstance(value, str):
        raise CannotCheck("kubeconfig")
    try:
        config = json.loads(value)
    except json.JSONDecodeError:
        import yaml  # a dependency of the pulumi SDK; kubeconfigs are often YAML

        try:
            config = yaml.safe_load(value)
        except yaml.YAMLError:
            raise CannotCheck("kubeconfig") from None
    if not isinstance(config, Mapping):
        raise CannotCheck("kubeconfig")
    return config


def _flag(args: list[Any], *names: str) -> Any:
    """The value of a command-line flag given as ``--flag value`` or ``--flag=value``."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if isinstance(arg, str) and arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def _user_problems(user: Mapping[str, Any], who: str) -> Iterator[str]:
    if "auth-provider" in user:
        yield f"{who} uses an auth-provider plugin, removed from kubectl and client-go; use an exec plugin"
        return
    spec = user.get("exec")
    if not isinstance(spec, Mapping):
        if not any(
            k in user for k in ("token", "tokenFile", "client-certificate-data", "client-certificate")
        ):
            yield f"{who} has no credentials: every request would be anonymous"
        return
    if spec.get("interactiveMode") == "Always":
        yield f"{who}'s exec plugin has interactiveMode: Always, which needs a terminal"
    command = str(spec.get("command", "")).rsplit("/", 1)[-1]
    args = list(spec.get("args") or [])
    if command == "kubelogin":
        login = _flag(args, "--login", "-l")
        if login is None:
            yield (
                f"{who}: kubelogin has no --login, so it falls back to AAD_LOGIN_METHOD or the interactive "
                f"device-code flow; pass one of {', '.join(NON_INTERACTIVE_KUBELOGIN)}"
            )
        elif login not in NON_INTERACTIVE_KUBELOGIN:
            yield f"{who}: kubelogin --login {login} prompts; use one of {', '.join(NON_INTERACTIVE_KUBELOGIN)}"
    elif command == "aws" and "get-token" in args and _flag(args, "--role-arn") is None:
        yield (
            f"{who}: aws eks get-token has no --role-arn, so it signs in as whatever identity the runner "
            "has, which holds no access entry unless it created the cluster"
        )


def check_kubeconfig_noninteractive(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Kubernetes providers carry a kubeconfig that signs in without a prompt."""
    value = get(r.inputs, "kubeconfig")
    if value is None:
        yield "no kubeconfig: the provider would read the runner's ambient ~/.kube/config or in-cluster config"
        return
    users = [u for u in _kubeconfig(value).get("users") or [] if isinstance(u, Mapping)]
    if not users:
        yield "the kubeconfig names no user"
    for entry in users:
        user = entry.get("user")
        yield from _user_problems(user if isinstance(user, Mapping) else {}, f"user {entry.get('name')!r}")


RULES = (
    Rule(
        "deploy-api-reachable",
        MANDATORY,
        "Clusters with Kubernetes objects have an API the runner reaches: allow-listed public CIDRs (not "
        "0.0.0.0/0), GKE's DNS endpoint, or a declared in-network runner for a private-only API.",
        (EKS_CLUSTER, AZ_MANAGED_CLUSTER, GKE_CLUSTER, K8S_PROVIDER),
        check_api_reachable,
        stack=True,
    ),
    Rule(
        "deploy-cluster-admins",
        MANDATORY,
        "EKS clusters grant AmazonEKSClusterAdminPolicy through access entries; Azure-RBAC AKS clusters assign "
        "Azure Kubernetes Service RBAC Cluster Admin on the cluster.",
        (
            EKS_CLUSTER,
            EKS_ACCESS_ENTRY,
            EKS_ACCESS_POLICY_ASSOCIATION,
            AZ_MANAGED_CLUSTER,
            AZ_ROLE_ASSIGNMENT,
        ),
        check_cluster_admins,
        stack=True,
    ),
    Rule(
        "aws-eks-no-creator-admin",
        MANDATORY,
        "EKS clusters set accessConfig.bootstrapClusterCreatorAdminPermissions false (no permanent admin for "
        "the creator).",
        (EKS_CLUSTER,),
        check_no_creator_admin,
    ),
    Rule(
        "deploy-kubeconfig-noninteractive",
        MANDATORY,
        "Kubernetes providers carry a kubeconfig that signs in without a prompt (EKS token with a role, "
        "kubelogin with a non-interactive login, gke-gcloud-auth-plugin).",
        (K8S_PROVIDER,),
        check_kubeconfig_noninteractive,
    ),
)
