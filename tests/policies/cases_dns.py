"""Cases for the global-name rules (``policies/aistack_rules/dns.py``), merged into CASES."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import DEPLOYMENT, Case, container, doc, res
from tests.policies.cases_deploy_serving import server

RECORD = "aws:route53/record:Record"
SERVICE = "kubernetes:core/v1:Service"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
ISSUER = "kubernetes:cert-manager.io/v1:Issuer"
ROLE = "aws:iam/role:Role"
OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
PICKER = {"aistack.io/router": "llm"}
HOST = "container.googleapis.com/v1/projects/p/locations/us-central1/clusters/central"
SUBJECT = "system:serviceaccount:serving:acme-dns01"


def record(health: Any = "hc-1234", policy: Any = None) -> dict[str, Any]:
    return res(
        RECORD,
        "chat-east-record",
        {
            "zoneId": "Z0123456789ABCDEFGHIJ",
            "name": "chat.ai.example.com",
            "type": "A",
            "setIdentifier": "east",
            "weightedRoutingPolicies": [{"weight": 255}] if policy is None else policy,
            "records": ["203.0.113.10"],
            **({"healthCheckId": health} if health is not None else {}),
        },
    )


def failover(kind: str, *, alias: Any = None, health: Any = None) -> dict[str, Any]:
    """A private-zone failover record: the PRIMARY an alias to the own cluster's internal NLB."""
    target = {"records": ["10.20.0.10"], "ttl": 30} if alias is None else {"aliases": [alias]}
    return res(
        RECORD,
        f"aws-private-names-chat-{kind.lower()}",
        {
            "zoneId": "Z0PRIVATE",
            "name": "chat.internal.example.com",
            "type": "A",
            "setIdentifier": f"chat-{kind.lower()}",
            "failoverRoutingPolicies": [{"type": kind}],
            **target,
            **({"healthCheckId": health} if health is not None else {}),
        },
    )


def nlb_alias(evaluate: Any = True) -> dict[str, Any]:
    return {
        "name": "internal-chat.elb.us-east-1.amazonaws.com",
        "zoneId": "Z26RNL4JYFTOTI",
        "evaluateTargetHealth": evaluate,
    }


def public_service(annotations: Any = None) -> dict[str, Any]:
    return res(
        SERVICE,
        "llm-public",
        {
            "metadata": {
                "name": "llm-public",
                "namespace": "serving",
                "labels": {"aistack.io/endpoint": "llm"},
                "annotations": annotations or {},
            },
            "spec": {
                "type": "LoadBalancer",
                "selector": PICKER,
                "ports": [{"port": 443, "targetPort": "https"}],
                "loadBalancerSourceRanges": ["203.0.113.0/24"],
            },
        },
    )


def proxy(secret: Any = "llm-tls") -> dict[str, Any]:
    volumes = [{"name": "tls", "secret": {"secretName": secret}}] if secret is not None else []
    spec = {
        "selector": {"matchLabels": PICKER},
        "template": {
            "metadata": {"labels": PICKER},
            "spec": {"containers": [container()], "volumes": volumes},
        },
    }
    return res(DEPLOYMENT, "llm-epp", {"metadata": {"name": "llm-epp", "namespace": "serving"}, "spec": spec})


def certificate(secret: str = "llm-tls") -> dict[str, Any]:
    return res(
        CERTIFICATE,
        "llm-tls",
        {"metadata": {"name": secret, "namespace": "serving"}, "spec": {"secretName": secret}},
    )


def keyed_server(key: Any = "llm-api-key") -> dict[str, Any]:
    resource = server()
    vllm = resource["inputs"]["spec"]["template"]["spec"]["containers"][0]
    vllm["env"] = (
        []
        if key is None
        else [{"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": key, "key": "api-key"}}}]
    )
    resource["inputs"]["spec"]["template"]["metadata"]["labels"]["aistack.io/endpoint"] = "llm"
    return resource


def issuer(
    role: Any = "arn:aws:iam::111122223333:role/stack-central-dns01", account: str = "acme-dns01"
) -> dict[str, Any]:
    return res(
        ISSUER,
        "central-tls-issuer",
        {
            "metadata": {"name": "aistack-acme", "namespace": "serving"},
            "spec": {
                "acme": {
                    "server": "https://acme-v02.api.letsencrypt.org/directory",
                    "solvers": [
                        {
                            "dns01": {
                                "route53": {
                                    "role": role,
                                    "hostedZoneID": "Z0123456789ABCDEFGHIJ",
                                    "auth": {"kubernetes": {"serviceAccountRef": {"name": account}}},
                                }
                            }
                        }
                    ],
                }
            },
        },
    )


def role(subject: str = SUBJECT, trust: Any = None) -> dict[str, Any]:
    policy = doc(
        {
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::111122223333:oidc-provider/{HOST}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{HOST}:sub": subject, f"{HOST}:aud": "sts.amazonaws.com"}},
        }
    )
    return res(
        ROLE, "central-dns01-role", {"name": "stack-central-dns01", "assumeRolePolicy": trust or policy}
    )


def oidc(url: str = f"https://{HOST}") -> dict[str, Any]:
    return res(OIDC, "central-dns01-oidc", {"url": url, "clientIdLists": ["sts.amazonaws.com"]})


DNS_CASES = {
    "dns-routed-record-health-check": Case(
        # Route 53's private failover: the PRIMARY follows the NLB's target health, the SECONDARY needs none.
        compliant=[record(), failover("PRIMARY", alias=nlb_alias()), failover("SECONDARY")],
        violating=[record(health=None)],
        unknown=[record(health=U)],
        message="weightedRoutingPolicies without healthCheckId",
    ),
    "k8s-public-entry-tls-and-key": Case(
        compliant=[public_service(), proxy(), certificate(), keyed_server()],
        violating=[public_service(), proxy(secret="other-tls"), certificate(), keyed_server()],
        unknown=[public_service(annotations=U), proxy(), certificate(), keyed_server()],
        message="reaches no pod that mounts a certificate a cert-manager Certificate in its namespace issues",
        orphaned=[public_service(), proxy(), keyed_server()],
    ),
    "deploy-dns01-role-trusts-solver": Case(
        compliant=[issuer(), role(), oidc()],
        violating=[issuer(), role(subject="system:serviceaccount:cert-manager:cert-manager"), oidc()],
        unknown=[issuer(), role(trust=U), oidc()],
        message="does not trust system:serviceaccount:serving:acme-dns01 (audience sts.amazonaws.com)",
        orphaned=[issuer()],
    ),
}
