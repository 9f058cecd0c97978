"""Public access and network exposure: buckets, storage accounts, firewalls, load balancers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import _aws, _gcp
from .core import MANDATORY, CannotCheck, Indeterminate, Rule, Subject, as_bool, as_list, each, get, get_known
from .tokens import (
    AZ_BLOB_CONTAINER,
    AZ_KEY_VAULT,
    AZ_KEY_VAULT_SECRET,
    AZ_NSG,
    AZ_SECURITY_RULE,
    AZ_STORAGE_ACCOUNT,
    EC2_DEFAULT_SECURITY_GROUP,
    EC2_SECURITY_GROUP,
    EC2_SECURITY_GROUP_RULE,
    GCE_FIREWALL,
    GCS_BUCKET,
    GCS_BUCKET_IAM_BINDING,
    GCS_BUCKET_IAM_MEMBER,
    GCS_BUCKET_IAM_POLICY,
    K8S_SERVICE,
    S3_ACL,
    S3_BUCKET,
    S3_POLICY,
    S3_PUBLIC_ACCESS_BLOCK,
    VPC_INGRESS_RULE,
)

WORLD_CIDRS = ("0.0.0.0/0", "::/0")
# Azure NSG source prefixes that mean "anyone on the internet".
_AZURE_WORLD = ("*", "internet", "any", "0.0.0.0", "0.0.0.0/0", "::/0")
_GCS_PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
_PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")

ALLOWED_PORTS_SCHEMA = {
    "allowedPorts": {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 65535},
        "default": [],
        "description": "TCP/UDP ports that may be open to the whole internet (e.g. [443] for a public load balancer).",
    }
}

# Internal load-balancer annotations, per the AWS Load Balancer Controller / in-tree AWS
# provider, AKS and GKE documentation.
_INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "internal",
    "cloud.google.com/load-balancer-type": "internal",
}


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def _span(low: Any, high: Any) -> tuple[int, int] | None:
    """A port range, or ``None`` for "all ports" (also for anything that is not a port number,
    so a malformed value is judged as wide open, never skipped)."""
    lo, hi = _number(low), _number(high)
    return (lo, hi) if lo is not None and hi is not None and lo <= hi else None


def _parse_span(text: Any) -> tuple[int, int] | None:
    """``"22"`` or ``"8000-8080"`` as a range; ``"*"`` (and anything else) as all ports."""
    low, _, high = str(text).partition("-")
    return _span(low, high or low)


def _describe(span: tuple[int, int] | None) -> str:
    if span is None:
        return "all ports"
    return f"port {span[0]}" if span[0] == span[1] else f"ports {span[0]}-{span[1]}"


def _exposed(span: tuple[int, int] | None, allowed: Sequence[int]) -> bool:
    if span is None:
        return True
    low, high = span
    return high - low + 1 > len(allowed) or any(p not in allowed for p in range(low, high + 1))


def _open_range(protocol: Any, span: tuple[int, int] | None, allowed: Sequence[int]) -> str | None:
    """What a rule opens, or ``None`` when it opens only allowed TCP/UDP ports."""
    proto = str(protocol).lower()
    if proto in ("tcp", "udp", "6", "17"):
        return f"{proto} {_describe(span)}" if _exposed(span, allowed) else None
    return f"protocol {protocol} (all ports)" if proto in ("-1", "all", "*") else f"protocol {protocol}"


def check_s3_public_access_block(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every bucket has a public access block with all four flags; no bucket policy is public."""
    for block in (s for s in subjects if s.type in S3_PUBLIC_ACCESS_BLOCK):
        for flag in _PAB_FLAGS:
            try:
                if as_bool(get(block.inputs, flag)) is not True:
                    yield (block.urn, f"{flag} is not true")
            except CannotCheck as exc:
                yield Indeterminate(exc.path, block.urn)
    for policy in (s for s in subjects if s.type in S3_POLICY):
        try:
            for i in _aws.public_allow_statements(policy.inputs.get("policy"), "policy"):
                yield (policy.urn, f"policy Statement {i} allows Principal '*' without a condition")
        except CannotCheck as exc:
            yield Indeterminate(exc.path, policy.urn)
    joined = _aws.join(subjects, S3_PUBLIC_ACCESS_BLOCK)
    for bucket in _aws.buckets(subjects):
        if joined.children[bucket.urn]:
            continue
        if joined.unplaced:
            yield Indeterminate(_aws.unplaced_path(joined), bucket.urn)
        else:
            yield joined.orphan(bucket, "BucketPublicAccessBlock")


def check_s3_no_public_acl(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """S3 ACLs grant nothing to everyone or to all AWS accounts."""

    def canned() -> Iterator[str]:
        acl = get(r.inputs, "acl")
        if acl in _aws.PUBLIC_CANNED_ACLS:
            yield f"acl is {acl!r}"

    def grants() -> Iterator[str]:
        if r.type in S3_BUCKET:  # deprecated inline grants: [{type, uri, permissions}]
            found = [
                (f"grants.{i}.uri", get(g, "uri", where=f"grants.{i}"))
                for i, g in enumerate(get(r.inputs, "grants", []))
            ]
        else:
            base = "accessControlPolicy.grants"
            found = [
                (f"{base}.{i}.grantee.uri", get(g, "grantee.uri", where=f"{base}.{i}"))
                for i, g in enumerate(get(r.inputs, base, []))
            ]
        for path, uri in found:
            if uri in _aws.PUBLIC_GROUP_URIS:
                yield f"{path} grants to {uri.rsplit('/', 1)[-1]}"

    yield from each([canned, grants])


def check_azure_storage_no_public(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Storage accounts and containers allow no anonymous access and no open network access."""
    if r.type == AZ_BLOB_CONTAINER:
        access = get(r.inputs, "publicAccess", "None")
        if access != "None":
            yield f"publicAccess is {access!r}; set 'None'"
        return

    def blobs() -> Iterator[str]:
        # Unset is false (documented default of the API versions azure-native v3 uses).
        if as_bool(get(r.inputs, "allowBlobPublicAccess")) is True:
            yield "allowBlobPublicAccess is true"

    def network() -> Iterator[str]:
        if get(r.inputs, "publicNetworkAccess") in ("Disabled", "SecuredByPerimeter"):
            return
        if get(r.inputs, "networkRuleSet.defaultAction", "Allow") != "Deny":
            yield (
                "reachable from any network: set publicNetworkAccess='Disabled' (private endpoint) "
                "or networkRuleSet.defaultAction='Deny' with allow-listed networks"
            )

    yield from each([blobs, network])


def check_azure_secret_vault_private(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A Key Vault holding secrets (endpoint API keys) is reachable through private endpoints only.

    Joins each ``keyvault:Secret`` to its vault by ``vaultName`` (the vault's ``vaultName`` input, or
    its ``name`` output). Key-only vaults (AKS KMS, storage CMK) are left alone: AKS KMS cannot
    reach a vault behind a firewall without API server VNet integration.
    """
    vaults = [s for s in subjects if s.type == AZ_KEY_VAULT]
    for secret in (s for s in subjects if s.type == AZ_KEY_VAULT_SECRET):

        def judge(secret: Subject = secret) -> Iterator[Any]:
            name = get(secret.inputs, "vaultName")
            holders = [
                v for v in vaults if name in (get_known(v.inputs, "vaultName", None), v.outputs.get("name"))
            ]
            if not holders:
                yield (
                    secret.urn,
                    f"secret {secret.name} names vault {name!r}, which the stack does not declare",
                )
            for vault in holders:
                if get(vault.inputs, "properties.publicNetworkAccess", "Enabled") != "Disabled":
                    yield (
                        vault.urn,
                        f"Key Vault {vault.name} holds secrets but answers on its public endpoint: set "
                        "properties.publicNetworkAccess='Disabled' and reach it through a private endpoint",
                    )

        yield from each([judge], secret.urn)


def check_gcs_no_public(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """GCS buckets enforce public access prevention and uniform access; no IAM grant to everyone."""
    if r.type == GCS_BUCKET:

        def prevention() -> Iterator[str]:
            value = get(r.inputs, "publicAccessPrevention")
            if value != "enforced":
                yield f"publicAccessPrevention is {value!r}; set 'enforced'"

        def uniform() -> Iterator[str]:
            if as_bool(get(r.inputs, "uniformBucketLevelAccess")) is not True:
                yield "uniformBucketLevelAccess is not true (object ACLs stay possible)"

        yield from each([prevention, uniform])
        return
    if r.type == GCS_BUCKET_IAM_POLICY:
        members = [
            (f"policyData binding {b.get('role')!r}", m)
            for b in _gcp.policy_bindings(r.inputs)
            for m in as_list(b.get("members"))
        ]
    elif r.type == GCS_BUCKET_IAM_BINDING:
        members = [("members", m) for m in get_known(r.inputs, "members", [])]
    else:
        members = [("member", get(r.inputs, "member"))]
    for where, member in members:
        if member in _GCS_PUBLIC_MEMBERS:
            yield f"{where} grants to {member}"


def _aws_ingress_entries(r: Subject) -> list[tuple[str, Mapping[str, Any], list[Any]]]:
    """``(path, entry, source CIDRs)`` of the ingress permissions a resource declares."""
    if r.type in (EC2_SECURITY_GROUP, EC2_DEFAULT_SECURITY_GROUP):
        return [
            (f"ingress.{i}", e, [*get_known(e, "cidrBlocks", []), *get_known(e, "ipv6CidrBlocks", [])])
            for i, e in enumerate(get(r.inputs, "ingress", []))
        ]
    if r.type == EC2_SECURITY_GROUP_RULE:
        if get(r.inputs, "type") != "ingress":
            return []
        sources = [*get_known(r.inputs, "cidrBlocks", []), *get_known(r.inputs, "ipv6CidrBlocks", [])]
        return [("", r.inputs, sources)]
    return [("", r.inputs, [get(r.inputs, "cidrIpv4"), get(r.inputs, "cidrIpv6")])]


def check_aws_sg_no_world_ingress(r: Subject, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Security groups admit nothing from 0.0.0.0/0 or ::/0 except allowed ports."""
    for path, entry, sources in _aws_ingress_entries(r):
        world = [c for c in sources if c in WORLD_CIDRS]
        if not world:
            continue
        protocol = get(entry, "ipProtocol" if r.type == VPC_INGRESS_RULE else "protocol", "-1")
        span = _span(get(entry, "fromPort"), get(entry, "toPort"))
        opened = _open_range(protocol, span, cfg["allowedPorts"])
        if opened:
            yield f"{path + ': ' if path else ''}{opened} open to {', '.join(world)}"


def _azure_ports(rule: Mapping[str, Any], where: str) -> list[tuple[int, int] | None]:
    """Destination port ranges of an NSG rule; ``None`` stands for all ports."""
    ranges = [
        get(rule, "destinationPortRange", where=where),
        *get_known(rule, "destinationPortRanges", [], where=where),
    ]
    return [_parse_span(value) for value in ranges if value is not None] or [None]


def check_azure_nsg_no_internet_ingress(r: Subject, cfg: Mapping[str, Any]) -> Iterator[Any]:
    """NSG rules allow no inbound traffic from the internet except allowed ports."""
    rules = [(f"securityRules.{i}", rule) for i, rule in enumerate(get(r.inputs, "securityRules", []))]
    if r.type == AZ_SECURITY_RULE:
        rules = [("", r.inputs)]

    def judge(where: str, rule: Mapping[str, Any]) -> Iterator[str]:
        if get(rule, "direction", where=where) != "Inbound" or get(rule, "access", where=where) != "Allow":
            return
        sources = [
            get(rule, "sourceAddressPrefix", where=where),
            *get_known(rule, "sourceAddressPrefixes", [], where=where),
        ]
        world = [s for s in sources if isinstance(s, str) and s.lower() in _AZURE_WORLD]
        if not world:
            return
        label = get(rule, "name", where=where) or where or r.name
        for span in _azure_ports(rule, where):
            if _exposed(span, cfg["allowedPorts"]):
                yield f"rule {label!r} allows {_describe(span)} inbound from {world[0]}"

    yield from each([lambda w=w, rule=rule: judge(w, rule) for w, rule in rules])


def check_gcp_firewall_no_world_ingress(r: Subject, cfg: Mapping[str, Any]) -> Iterator[str]:
    """Firewall rules admit nothing from 0.0.0.0/0 or ::/0 except allowed ports."""
    if get(r.inputs, "direction", "INGRESS") != "INGRESS" or as_bool(get(r.inputs, "disabled")) is True:
        return
    sources = get_known(r.inputs, "sourceRanges", [])
    # With no source at all GCP applies an ingress rule to every source (0.0.0.0/0).
    if not sources and not get(r.inputs, "sourceTags") and not get(r.inputs, "sourceServiceAccounts"):
        sources = ["0.0.0.0/0 (no source given)"]
    world = [s for s in sources if s.split(" ")[0] in WORLD_CIDRS]
    if not world:
        return
    for i, allow in enumerate(get(r.inputs, "allows", [])):
        protocol = get(allow, "protocol", where=f"allows.{i}")
        ports = get_known(allow, "ports", [], where=f"allows.{i}")
        for span in [_parse_span(p) for p in ports] or [None]:
            opened = _open_range(protocol, span, cfg["allowedPorts"])
            if opened:
                yield f"allows.{i}: {opened} open to {world[0]}"


GCP_HEALTH_CHECK_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
"""Google Cloud load-balancer health-check probe ranges."""


def check_gcp_health_check_ports(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Firewall rules for Google's health-check ranges open named ports only, never every port."""
    if get(r.inputs, "direction", "INGRESS") != "INGRESS":
        return
    sources = get_known(r.inputs, "sourceRanges", [])
    if not set(sources) & set(GCP_HEALTH_CHECK_RANGES):
        return
    for i, allow in enumerate(get(r.inputs, "allows", [])):
        protocol = get(allow, "protocol", where=f"allows.{i}")
        ports = get(allow, "ports", where=f"allows.{i}")
        if not ports:
            yield f"allows.{i}: every {protocol} port is open to the health-check ranges; list the serving ports"


def check_k8s_no_public_lb(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """LoadBalancer services are internal or allow-list their sources."""
    if get(r.inputs, "spec.type") != "LoadBalancer":
        return
    annotations = get_known(r.inputs, "metadata.annotations", {})
    for key, value in _INTERNAL_LB_ANNOTATIONS.items():
        if str(annotations.get(key, "")).lower() == value:
            return
    ranges = get_known(r.inputs, "spec.loadBalancerSourceRanges", [])
    if ranges and not set(ranges) & set(WORLD_CIDRS):
        return
    yield (
        "type LoadBalancer is internet-facing: annotate it internal for your cloud "
        "(e.g. service.beta.kubernetes.io/aws-load-balancer-scheme: internal) or set spec.loadBalancerSourceRanges"
    )


RULES = (
    Rule(
        "gcp-health-check-ports",
        MANDATORY,
        "Firewall rules admitting Google's health-check ranges open the serving ports only.",
        (GCE_FIREWALL,),
        check_gcp_health_check_ports,
    ),
    Rule(
        "aws-s3-public-access-block",
        MANDATORY,
        "Every S3 bucket has a public access block with all four flags true, and no bucket policy "
        "allows Principal '*' unconditionally (stack: joins BucketPublicAccessBlock and BucketPolicy).",
        (*S3_BUCKET, *S3_PUBLIC_ACCESS_BLOCK, *S3_POLICY),
        check_s3_public_access_block,
        stack=True,
    ),
    Rule(
        "aws-s3-no-public-acl",
        MANDATORY,
        "S3 ACLs (BucketAcl or a bucket's inline acl/grants) grant nothing to AllUsers or AuthenticatedUsers.",
        (*S3_ACL, *S3_BUCKET),
        check_s3_no_public_acl,
    ),
    Rule(
        "azure-storage-no-public",
        MANDATORY,
        "Storage accounts disallow anonymous blob access and open network access; containers are not public.",
        (AZ_STORAGE_ACCOUNT, AZ_BLOB_CONTAINER),
        check_azure_storage_no_public,
    ),
    Rule(
        "azure-secret-vault-private",
        MANDATORY,
        "Key Vaults holding secrets (endpoint API keys) disable public network access "
        "(stack: joins secrets to vaults by vaultName).",
        (AZ_KEY_VAULT, AZ_KEY_VAULT_SECRET),
        check_azure_secret_vault_private,
        stack=True,
    ),
    Rule(
        "gcp-gcs-no-public",
        MANDATORY,
        "GCS buckets enforce public access prevention and uniform bucket-level access; no IAM grant to "
        "allUsers or allAuthenticatedUsers.",
        (GCS_BUCKET, GCS_BUCKET_IAM_MEMBER, GCS_BUCKET_IAM_BINDING, GCS_BUCKET_IAM_POLICY),
        check_gcs_no_public,
    ),
    Rule(
        "aws-sg-no-world-ingress",
        MANDATORY,
        "Security groups admit no traffic from 0.0.0.0/0 or ::/0, except on configured allowedPorts.",
        (EC2_SECURITY_GROUP, EC2_DEFAULT_SECURITY_GROUP, EC2_SECURITY_GROUP_RULE, VPC_INGRESS_RULE),
        check_aws_sg_no_world_ingress,
        config_schema=ALLOWED_PORTS_SCHEMA,
    ),
    Rule(
        "azure-nsg-no-internet-ingress",
        MANDATORY,
        "Network security groups allow no inbound traffic from the internet, except on configured allowedPorts.",
        (AZ_NSG, AZ_SECURITY_RULE),
        check_azure_nsg_no_internet_ingress,
        config_schema=ALLOWED_PORTS_SCHEMA,
    ),
    Rule(
        "gcp-firewall-no-world-ingress",
        MANDATORY,
        "Firewall rules admit no traffic from 0.0.0.0/0 or ::/0, except on configured allowedPorts.",
        (GCE_FIREWALL,),
        check_gcp_firewall_no_world_ingress,
        config_schema=ALLOWED_PORTS_SCHEMA,
    ),
    Rule(
        "k8s-no-public-lb",
        MANDATORY,
        "Kubernetes LoadBalancer services are internal, or restrict loadBalancerSourceRanges.",
        (K8S_SERVICE,),
        check_k8s_no_public_lb,
    ),
)
