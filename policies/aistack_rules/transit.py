"""Encryption in transit: TLS-only buckets, storage accounts, ingresses and load balancers."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import _aws
from .core import (
    MANDATORY,
    REMEDIATE,
    CannotCheck,
    Indeterminate,
    Rule,
    Subject,
    as_bool,
    each,
    get,
    get_known,
)
from .tokens import AZ_STORAGE_ACCOUNT, K8S_INGRESS, LB_LISTENER, S3_BUCKET, S3_POLICY

# ELB security policies whose lowest protocol is TLS 1.2 or 1.3 carry one of these markers in
# their name (ELBSecurityPolicy-TLS13-1-2-2021-06, ...-TLS-1-2-2017-01, ...-FS-1-2-Res-2020-10),
# per the Elastic Load Balancing security-policy tables.
_ELB_TLS12_POLICY = re.compile(r"TLS13-1-[23]|TLS-1-2|FS-1-2")
_AZURE_TLS_OK = ("TLS1_2", "TLS1_3")


def _policy_denies_insecure(document: Any, path: str, urn: str) -> Iterator[Any]:
    try:
        yield _aws.denies_insecure_transport(document, path)
    except CannotCheck as exc:
        yield Indeterminate(exc.path, urn)


def check_s3_deny_insecure_transport(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every S3 bucket has a policy denying requests without TLS."""
    joined = _aws.join(subjects, S3_POLICY)
    for bucket in _aws.buckets(subjects):
        documents = [(p.inputs.get("policy"), "policy", p.urn) for p in joined.children[bucket.urn]]
        if bucket.inputs.get("policy") is not None:
            documents.append((bucket.inputs["policy"], "policy", bucket.urn))
        verdicts = [v for doc in documents for v in _policy_denies_insecure(*doc)]
        if True in verdicts:
            continue
        unknown = [v for v in verdicts if isinstance(v, Indeterminate)]
        if unknown:
            yield unknown[0]
        elif documents:
            yield (
                documents[0][2],
                f"bucket {bucket.name!r}: the policy does not deny requests with aws:SecureTransport=false",
            )
        elif joined.unplaced:
            yield Indeterminate(_aws.unplaced_path(joined), bucket.urn)
        else:
            yield joined.orphan(bucket, "BucketPolicy denying requests with aws:SecureTransport=false")


def check_azure_https_tls12(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Storage accounts accept HTTPS only, TLS 1.2 or later."""

    def tls() -> Iterator[str]:
        version = get(r.inputs, "minimumTlsVersion")
        if version not in _AZURE_TLS_OK:
            yield f"minimumTlsVersion is {version!r} (Azure treats unset as TLS1_0); set TLS1_2"

    def https() -> Iterator[str]:
        # Unset means true since API version 2019-04-01 (azure-native v3 uses later versions).
        if as_bool(get(r.inputs, "enableHttpsTrafficOnly")) is False:
            yield "enableHttpsTrafficOnly is false; allow HTTPS only"

    yield from each([tls, https])


def remediate_azure_https_tls12(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Raise the minimum TLS version to 1.2 and force HTTPS: in-place account settings."""
    changes: dict[str, Any] = {}
    try:
        if get(inputs, "minimumTlsVersion") not in _AZURE_TLS_OK:
            changes["minimumTlsVersion"] = "TLS1_2"
    except CannotCheck:
        pass  # decided at apply, when the value is known
    try:
        if as_bool(get(inputs, "enableHttpsTrafficOnly")) is False:
            changes["enableHttpsTrafficOnly"] = True
    except CannotCheck:
        pass  # decided at apply, when the value is known
    return changes or None


def _covers(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host.count(".") == pattern.count(".")
    return pattern == host


def check_ingress_tls(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Ingresses terminate TLS for every host they route."""
    tls = get(r.inputs, "spec.tls", [])
    if not tls:
        yield "spec.tls is empty; serve the ingress over TLS"
        return
    tls_hosts = [
        h for i, entry in enumerate(tls) for h in get_known(entry, "hosts", [], where=f"spec.tls.{i}")
    ]
    for i, rule in enumerate(get(r.inputs, "spec.rules", [])):
        host = get(rule, "host", where=f"spec.rules.{i}")
        if host and not any(_covers(pattern, host) for pattern in tls_hosts):
            yield f"host {host!r} (spec.rules.{i}) has no spec.tls entry"


def check_lb_tls(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Load-balancer listeners serve TLS 1.2+ or only redirect HTTP to HTTPS."""
    protocol = get(r.inputs, "protocol", "HTTP")  # an ALB listener without protocol is HTTP
    if protocol == "HTTP":
        actions = get(r.inputs, "defaultActions", [])
        for i, action in enumerate(actions):
            path = f"defaultActions.{i}"
            redirect_to = get(action, "redirect.protocol", where=path)
            if get(action, "type", where=path) != "redirect" or redirect_to != "HTTPS":
                yield f"HTTP listener: {path} does not redirect to HTTPS"
        if not actions:
            yield "HTTP listener without actions; serve HTTPS or redirect to it"
    elif protocol in ("HTTPS", "TLS"):
        policy = get(r.inputs, "sslPolicy")
        if not policy:
            yield "sslPolicy is not set; the provider default ELBSecurityPolicy-2016-08 accepts TLS 1.0"
        elif not _ELB_TLS12_POLICY.search(policy):
            yield f"sslPolicy {policy!r} accepts TLS below 1.2; use ELBSecurityPolicy-TLS13-1-2-2021-06"
    # TCP/UDP listeners pass bytes through: TLS, if any, is end to end and not visible here.


RULES = (
    Rule(
        "aws-s3-deny-insecure-transport",
        MANDATORY,
        "Every S3 bucket has a bucket policy denying requests made without TLS (stack: joins BucketPolicy).",
        (*S3_BUCKET, *S3_POLICY),
        check_s3_deny_insecure_transport,
        stack=True,
    ),
    Rule(
        "azure-storage-https-tls12",
        REMEDIATE,
        "Storage accounts accept HTTPS only with TLS 1.2 or later (remediated in place).",
        (AZ_STORAGE_ACCOUNT,),
        check_azure_https_tls12,
        remediate=remediate_azure_https_tls12,
    ),
    Rule(
        "k8s-ingress-tls",
        MANDATORY,
        "Kubernetes ingresses terminate TLS for every host they route.",
        (K8S_INGRESS,),
        check_ingress_tls,
    ),
    Rule(
        "aws-lb-tls",
        MANDATORY,
        "Load-balancer listeners use a TLS 1.2+ security policy, or redirect HTTP to HTTPS.",
        LB_LISTENER,
        check_lb_tls,
    ),
)
