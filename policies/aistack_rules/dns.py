"""The global name: weighted records that fail over, public entry points that are TLS and keyed, and
certificates whose DNS-01 role the cluster can assume.

What these rules prevent:

- a weighted (or failover, latency, geolocation) Route 53 record without a health check: Route 53 keeps
  answering with a cloud whose entry point is down, so a share of clients fails instead of failing over
  (Route 53 Developer Guide, "How Amazon Route 53 chooses records when health checking is configured");
- an internet-facing LoadBalancer Service whose pods do not terminate TLS from a certificate, or whose
  model servers take requests without the endpoint's API key: prompts and keys cross the internet in
  clear, or anyone in the allow-list is served (its source ranges: ``k8s-no-public-lb``);
- a cert-manager Issuer whose Route 53 DNS-01 solver assumes a role through a service-account token
  (``auth.kubernetes.serviceAccountRef``) the role does not trust: STS refuses
  ``AssumeRoleWithWebIdentity`` (no OIDC provider for the issuer, another ``sub`` or ``aud``), every
  challenge fails and a first ``pulumi up`` waits for a certificate that never comes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import MANDATORY, Rule, Subject, as_bool, each, get, get_known, parse_json_document
from .deploy_serving import REPLICATED, servers
from .network import _INTERNAL_LB_ANNOTATIONS
from .tokens import IAM_ROLE, K8S_SERVICE

ROUTE53_RECORD = "aws:route53/record:Record"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
ISSUER = "kubernetes:cert-manager.io/v1:Issuer"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ROUTING_POLICIES = (
    "weightedRoutingPolicies",
    "failoverRoutingPolicies",
    "latencyRoutingPolicies",
    "geolocationRoutingPolicies",
)
"""Record inputs that make Route 53 choose among records (those it can take out of an answer)."""
API_KEY_ENV = "VLLM_API_KEY"
ENDPOINT_LABEL = "aistack.io/endpoint"
STS_AUDIENCE = "sts.amazonaws.com"
"""cert-manager's default token audience for Route 53 (v1.21.1 ``pkg/issuer/acme/dns/dns.go``)."""


def _failover_type(r: Subject) -> Any:
    policies = get_known(r.inputs, "failoverRoutingPolicies", None) or []
    return get(policies[0], "type") if policies else None


def _alias_evaluates_target(r: Subject) -> bool:
    aliases = get(r.inputs, "aliases", None) or []
    return bool(aliases) and all(as_bool(get(a, "evaluateTargetHealth")) is True for a in aliases)


def check_routed_record_health_check(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """A Route 53 record with a routing policy carries a health check, or follows its target's health.

    What Route 53 takes as health-aware (Developer Guide, "Values specific for failover alias records" and
    "Configuring failover in a private hosted zone"): a ``healthCheckId``; an alias with
    ``evaluateTargetHealth`` (the record inherits the load balancer's own target health: the only way in a
    private hosted zone, whose private addresses Route 53's checkers cannot reach); and a SECONDARY failover
    record without a check, which Route 53 considers healthy, the answer of last resort.
    """
    routed = [key for key in ROUTING_POLICIES if get_known(r.inputs, key, None)]
    if not routed:
        return
    if get(r.inputs, "healthCheckId") or _alias_evaluates_target(r):
        return
    if routed == ["failoverRoutingPolicies"] and _failover_type(r) == "SECONDARY":
        return
    yield (
        f"{routed[0]} without healthCheckId: Route 53 keeps answering with this record when its target "
        "is down; associate a health check of the target (or alias a load balancer with "
        "evaluateTargetHealth: true)"
    )


def _namespace(r: Subject) -> Any:
    return get(r.inputs, "metadata.namespace", "default")


def _internet_facing(service: Subject) -> bool:
    if get(service.inputs, "spec.type") != "LoadBalancer":
        return False
    annotations = get_known(service.inputs, "metadata.annotations", {})
    return not any(str(annotations.get(k, "")).lower() == v for k, v in _INTERNAL_LB_ANNOTATIONS.items())


def _labels(workload: Subject) -> Mapping[str, Any]:
    return get_known(workload.inputs, "spec.template.metadata.labels", {})


def _secret_volumes(workload: Subject) -> set[str]:
    volumes = get_known(workload.inputs, "spec.template.spec.volumes", [])
    return {str(get(v, "secret.secretName")) for v in volumes if get(v, "secret.secretName")}


def _keyed(workload: Subject) -> bool:
    for path, container in servers(workload):
        env = {str(get(e, "name", where=path)): e for e in get_known(container, "env", [], where=path)}
        if not get(env.get(API_KEY_ENV, {}), "valueFrom.secretKeyRef.name", where=path):
            return False
    return True


def check_public_entry_tls_and_key(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Internet-facing LoadBalancer Services reach pods serving a certificate, in front of keyed servers."""
    workloads = [s for s in subjects if s.type in REPLICATED]
    certificates = [s for s in subjects if s.type == CERTIFICATE]

    def judge(service: Subject) -> Iterator[Any]:
        if not _internet_facing(service):
            return
        ns = _namespace(service)
        selector = get_known(service.inputs, "spec.selector", {})
        selected = [
            w
            for w in workloads
            if _namespace(w) == ns and selector and all(_labels(w).get(k) == v for k, v in selector.items())
        ]
        issued = {str(get(c.inputs, "spec.secretName")) for c in certificates if _namespace(c) == ns}
        if not selected or not any(_secret_volumes(w) & issued for w in selected):
            yield (
                service.urn,
                f"internet-facing Service {service.name} reaches no pod that mounts a certificate a cert-manager "
                "Certificate in its namespace issues: terminate TLS at its pods (expose: public-lb does)",
            )
        endpoint = get_known(service.inputs, "metadata.labels", {}).get(ENDPOINT_LABEL)
        behind = [w for w in workloads if _namespace(w) == ns and servers(w)]
        if endpoint is not None:
            behind = [w for w in behind if _labels(w).get(ENDPOINT_LABEL) == endpoint]
        unkeyed = [w.name for w in behind if not _keyed(w)]
        if unkeyed:
            yield (
                service.urn,
                f"internet-facing Service {service.name} fronts model servers {unkeyed} that take requests "
                f"without an API key: set {API_KEY_ENV} from a secretKeyRef",
            )

    for service in (s for s in subjects if s.type == K8S_SERVICE):
        yield from each([lambda s=service: judge(s)], service.urn)


def _web_identity_trust(role: Subject) -> list[Mapping[str, Any]]:
    policy = parse_json_document(get(role.inputs, "assumeRolePolicy"), "assumeRolePolicy")
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    return [
        s
        for s in statements
        if s.get("Effect") == "Allow"
        and "sts:AssumeRoleWithWebIdentity"
        in ([s.get("Action")] if isinstance(s.get("Action"), str) else s.get("Action", []))
    ]


def check_dns01_role_trusts_solver(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A Route 53 DNS-01 solver that assumes a role with a service-account token names a declared role
    trusting that service account (``sub``), cert-manager's audience (``aud``) and a declared IAM OIDC
    provider for the issuer the condition keys name."""
    roles = [s for s in subjects if s.type == IAM_ROLE]
    providers = [s for s in subjects if s.type == OIDC_PROVIDER]

    def judge(issuer: Subject) -> Iterator[Any]:
        ns = _namespace(issuer)
        for i, solver in enumerate(get_known(issuer.inputs, "spec.acme.solvers", [])):
            route53 = (solver.get("dns01") or {}).get("route53") or {}
            account = ((route53.get("auth") or {}).get("kubernetes") or {}).get("serviceAccountRef") or {}
            if not account:
                continue
            where = f"spec.acme.solvers.{i}.dns01.route53"
            arn = str(get(issuer.inputs, f"{where}.role", ""))
            audiences = account.get("audiences") or [STS_AUDIENCE]
            subject = f"system:serviceaccount:{ns}:{account.get('name')}"
            role_name = arn.rsplit("/", 1)[-1] if ":role/" in arn else None
            found = [r for r in roles if role_name and get(r.inputs, "name") == role_name]
            if not found:
                yield (
                    issuer.urn,
                    f"{where}.role {arn or '(none)'} is not a role declared in the stack: its trust for "
                    f"{subject} cannot be checked; declare the DNS-01 role with the stack",
                )
                continue
            if not _trusts(found[0], subject, audiences, providers):
                yield (
                    issuer.urn,
                    f"{where}: role {role_name} does not trust {subject} (audience {audiences[0]}) through a "
                    "declared IAM OIDC provider for the cluster's issuer: STS refuses AssumeRoleWithWebIdentity "
                    "and no certificate is issued",
                )

    for issuer in (s for s in subjects if s.type == ISSUER):
        yield from each([lambda s=issuer: judge(s)], issuer.urn)


def _trusts(role: Subject, subject: str, audiences: list[str], providers: list[Subject]) -> bool:
    """Whether a web-identity statement of ``role`` admits ``subject`` with one of ``audiences`` from a
    declared OIDC provider (its URL without the scheme prefixes the condition keys) that lists it."""
    for statement in _web_identity_trust(role):
        equals = (statement.get("Condition") or {}).get("StringEquals") or {}
        for provider in providers:
            host = str(get(provider.inputs, "url", "")).removeprefix("https://")
            clients = get_known(provider.inputs, "clientIdLists", [])
            if (
                equals.get(f"{host}:sub") == subject
                and equals.get(f"{host}:aud") in audiences
                and equals.get(f"{host}:aud") in clients
            ):
                return True
    return False


NETWORK_RULES = (
    Rule(
        "dns-routed-record-health-check",
        MANDATORY,
        "Every Route 53 record with a weighted, failover, latency or geolocation routing policy carries a "
        "health check (healthCheckId) or aliases a target with evaluateTargetHealth, so a failed target drops "
        "out of the answers; a SECONDARY failover record may have none (the answer of last resort).",
        (ROUTE53_RECORD,),
        check_routed_record_health_check,
    ),
    Rule(
        "k8s-public-entry-tls-and-key",
        MANDATORY,
        "Every internet-facing LoadBalancer Service selects pods mounting a certificate a cert-manager "
        "Certificate in its namespace issues, and the model servers behind it require an API key from a "
        "Secret (stack: joins Services, workloads and Certificates).",
        (K8S_SERVICE, *REPLICATED, CERTIFICATE),
        check_public_entry_tls_and_key,
        stack=True,
    ),
)

DEPLOY_RULES = (
    Rule(
        "deploy-dns01-role-trusts-solver",
        MANDATORY,
        "Every cert-manager Issuer whose Route 53 DNS-01 solver uses a service-account token names a declared "
        "IAM role trusting that service account and audience through a declared IAM OIDC provider (stack: "
        "joins Issuers, roles and OIDC providers).",
        (ISSUER, IAM_ROLE, OIDC_PROVIDER),
        check_dns01_role_trusts_solver,
        stack=True,
    ),
)
