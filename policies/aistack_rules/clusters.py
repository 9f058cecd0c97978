"""Managed Kubernetes control planes: private endpoints, audit logs, identity."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .core import MANDATORY, Rule, Subject, as_bool, each, get, get_known
from .network import WORLD_CIDRS
from .tokens import AZ_MANAGED_CLUSTER, BINAUTHZ_POLICY, EKS_CLUSTER, GKE_CLUSTER, GKE_NODE_POOL

_EKS_REQUIRED_LOGS = ("api", "audit", "authenticator")


def _allow_list(cidrs: list[Any], path: str) -> Iterator[str]:
    """Violations of an API allow-list that must be non-empty and exclude the whole internet."""
    if not cidrs:
        yield f"{path} is empty, so the API endpoint is open to the internet"
    for cidr in cidrs:
        if cidr in WORLD_CIDRS:
            yield f"{path} includes {cidr}"


def check_eks_private_endpoint(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """EKS API: private endpoint on; public endpoint off or allow-listed."""

    def private() -> Iterator[str]:
        if as_bool(get(r.inputs, "vpcConfig.endpointPrivateAccess")) is not True:
            yield "vpcConfig.endpointPrivateAccess is not true"

    def public() -> Iterator[str]:
        # EKS defaults: endpointPublicAccess true, publicAccessCidrs ["0.0.0.0/0"].
        if as_bool(get(r.inputs, "vpcConfig.endpointPublicAccess", True)) is False:
            return
        cidrs = get_known(r.inputs, "vpcConfig.publicAccessCidrs", [])
        yield from _allow_list(cidrs, "vpcConfig.publicAccessCidrs (public endpoint on)")

    yield from each([private, public])


def check_eks_logging(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """EKS control-plane logs include api, audit and authenticator."""
    enabled = get_known(r.inputs, "enabledClusterLogTypes", [])
    missing = [t for t in _EKS_REQUIRED_LOGS if t not in enabled]
    if missing:
        yield f"enabledClusterLogTypes lacks {', '.join(missing)}"


def check_aks_private_api(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """AKS API server: private cluster, or authorized IP ranges without the internet."""
    profile = "apiServerAccessProfile"
    if as_bool(get(r.inputs, f"{profile}.enablePrivateCluster")) is True:
        return
    ranges = get_known(r.inputs, f"{profile}.authorizedIPRanges", [])
    yield from _allow_list(ranges, f"{profile}.authorizedIPRanges (not a private cluster)")


def check_aks_aad_rbac(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """AKS: managed Entra ID integration, Azure RBAC for Kubernetes, no local accounts."""

    def flag(path: str, why: str) -> Any:
        def part() -> Iterator[str]:
            if as_bool(get(r.inputs, path)) is not True:
                yield f"{path} is not true ({why})"

        return part

    def k8s_rbac() -> Iterator[str]:
        if as_bool(get(r.inputs, "enableRBAC")) is False:
            yield "enableRBAC is false"

    yield from each(
        [
            flag("aadProfile.managed", "managed Entra ID integration"),
            flag("aadProfile.enableAzureRBAC", "authorize with Azure RBAC"),
            flag("disableLocalAccounts", "local accounts bypass Entra ID"),
            k8s_rbac,
        ]
    )


def check_aks_workload_identity(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """AKS: OIDC issuer and workload identity on, so pods use federated identities, not secrets."""

    def flag(path: str) -> Any:
        def part() -> Iterator[str]:
            if as_bool(get(r.inputs, path)) is not True:
                yield f"{path} is not true"

        return part

    yield from each([flag("oidcIssuerProfile.enabled"), flag("securityProfile.workloadIdentity.enabled")])


def check_gke_private(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """GKE: private nodes; control plane private, DNS-only, or allow-listed."""

    def nodes() -> Iterator[str]:
        if as_bool(get(r.inputs, "privateClusterConfig.enablePrivateNodes")) is not True:
            yield "privateClusterConfig.enablePrivateNodes is not true"

    def endpoint() -> Iterator[str]:
        if as_bool(get(r.inputs, "privateClusterConfig.enablePrivateEndpoint")) is True:
            return
        if as_bool(get(r.inputs, "controlPlaneEndpointsConfig.ipEndpointsConfig.enabled")) is False:
            return  # only the IAM-authenticated DNS endpoint is reachable
        networks = "masterAuthorizedNetworksConfig"
        if as_bool(get(r.inputs, f"{networks}.gcpPublicCidrsAccessEnabled")) is True:
            yield f"{networks}.gcpPublicCidrsAccessEnabled admits every Google Cloud address"
        blocks = get_known(r.inputs, f"{networks}.cidrBlocks", [])
        yield from _allow_list(
            [b.get("cidrBlock") for b in blocks], f"{networks}.cidrBlocks (public endpoint on)"
        )

    yield from each([nodes, endpoint])


def _metadata_mode(node_config: Any, where: str) -> Iterator[str]:
    mode = get(node_config, "workloadMetadataConfig.mode", where=where)
    if mode != "GKE_METADATA":
        yield f"{where}.workloadMetadataConfig.mode is {mode!r}; set GKE_METADATA so pods cannot read node credentials"


def check_gke_workload_identity(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """GKE: workload pool set on the cluster; node pools serve GKE_METADATA."""
    if r.type == GKE_NODE_POOL:
        yield from _metadata_mode(get(r.inputs, "nodeConfig", {}), "nodeConfig")
        return

    def pool() -> Iterator[str]:
        if not get(r.inputs, "workloadIdentityConfig.workloadPool"):
            yield "workloadIdentityConfig.workloadPool is not set"

    parts = [pool]
    if (
        as_bool(get(r.inputs, "removeDefaultNodePool")) is not True
        and get(r.inputs, "nodeConfig") is not None
    ):
        parts.append(lambda: _metadata_mode(get(r.inputs, "nodeConfig"), "nodeConfig"))
    for i, node_pool in enumerate(get(r.inputs, "nodePools", [])):
        where = f"nodePools.{i}.nodeConfig"
        parts.append(lambda np=node_pool, w=where: _metadata_mode(get(np, "nodeConfig", {}), w))
    yield from each(parts)


def check_gke_binary_authorization(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """GKE evaluates the project's Binary Authorization policy on every Pod."""
    mode = get(r.inputs, "binaryAuthorization.evaluationMode")
    legacy = as_bool(get(r.inputs, "binaryAuthorization.enabled")) or as_bool(
        get(r.inputs, "enableBinaryAuthorization")
    )
    if mode != "PROJECT_SINGLETON_POLICY_ENFORCE" and not legacy:
        yield (
            f"binaryAuthorization.evaluationMode is {mode!r}; set PROJECT_SINGLETON_POLICY_ENFORCE so only "
            "allow-listed images are admitted"
        )


def check_gke_intranode_visibility(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Pod-to-pod traffic within a node passes the VPC (flow logs, firewall rules)."""
    if as_bool(get(r.inputs, "enableIntranodeVisibility")) is not True:
        yield "enableIntranodeVisibility is not true; traffic between pods of one node escapes flow logs"


def check_binauthz_default_deny(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """The Binary Authorization policy refuses (or, dry-run, logs) images outside its allow-list."""
    mode = get(r.inputs, "defaultAdmissionRule.evaluationMode")
    if mode == "ALWAYS_ALLOW":
        yield "defaultAdmissionRule.evaluationMode is 'ALWAYS_ALLOW'; deny (or require attestations) by default"
    if not get_known(r.inputs, "admissionWhitelistPatterns", []):
        yield "admissionWhitelistPatterns is empty; list the registries the stack pulls from"


RULES = (
    Rule(
        "gcp-gke-binary-authorization",
        MANDATORY,
        "GKE clusters enforce the project's Binary Authorization policy on every Pod.",
        (GKE_CLUSTER,),
        check_gke_binary_authorization,
    ),
    Rule(
        "gcp-gke-intranode-visibility",
        MANDATORY,
        "GKE clusters have intranode visibility on, so flow logs and firewall rules see pod-to-pod traffic.",
        (GKE_CLUSTER,),
        check_gke_intranode_visibility,
    ),
    Rule(
        "gcp-binauthz-default-deny",
        MANDATORY,
        "Binary Authorization policies deny by default and allow-list the stack's registries.",
        (BINAUTHZ_POLICY,),
        check_binauthz_default_deny,
    ),
    Rule(
        "aws-eks-private-endpoint",
        MANDATORY,
        "EKS clusters have the private API endpoint on and the public one off or allow-listed (no 0.0.0.0/0).",
        (EKS_CLUSTER,),
        check_eks_private_endpoint,
    ),
    Rule(
        "aws-eks-logging",
        MANDATORY,
        "EKS clusters send api, audit and authenticator control-plane logs.",
        (EKS_CLUSTER,),
        check_eks_logging,
    ),
    Rule(
        "azure-aks-private-api",
        MANDATORY,
        "AKS API servers are private, or restricted to authorized IP ranges without 0.0.0.0/0.",
        (AZ_MANAGED_CLUSTER,),
        check_aks_private_api,
    ),
    Rule(
        "azure-aks-aad-rbac",
        MANDATORY,
        "AKS clusters use managed Entra ID with Azure RBAC and have local accounts disabled.",
        (AZ_MANAGED_CLUSTER,),
        check_aks_aad_rbac,
    ),
    Rule(
        "azure-aks-workload-identity",
        MANDATORY,
        "AKS clusters enable the OIDC issuer and workload identity.",
        (AZ_MANAGED_CLUSTER,),
        check_aks_workload_identity,
    ),
    Rule(
        "gcp-gke-private",
        MANDATORY,
        "GKE clusters have private nodes and a private, DNS-only or allow-listed control-plane endpoint.",
        (GKE_CLUSTER,),
        check_gke_private,
    ),
    Rule(
        "gcp-gke-workload-identity",
        MANDATORY,
        "GKE clusters set a workload pool and every node pool uses the GKE metadata server.",
        (GKE_CLUSTER, GKE_NODE_POOL),
        check_gke_workload_identity,
    ),
)
