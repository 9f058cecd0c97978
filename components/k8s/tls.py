"""Certificates for the global names of ``public-lb`` endpoints: cert-manager, ACME DNS-01 on Route 53.

Per serving cluster with a ``public-lb`` endpoint, :class:`ClusterTls` installs cert-manager from its
chart and declares an ACME ``Issuer`` in the serving namespace whose DNS-01 solver writes the
challenge's TXT record in the stack's Route 53 zone. It authenticates with no stored key, on every
cloud the same way: cert-manager asks the Kubernetes API for a short-lived token of the solver's own
service account (``-dns01``, audience ``sts.amazonaws.com``) and exchanges it with AWS STS
(``AssumeRoleWithWebIdentity``) for the role the AWS side declared for this cluster, which trusts
exactly that service account of this cluster's OIDC issuer (``components/aws/dns.py``). cert-manager
does this since v1.15.0 (``route53.auth.kubernetes.serviceAccountRef``; absent from
``pkg/apis/acme/v1/types_issuer.go`` at v1.14.0, present at v1.15.0 and v1.21.1).

What a first ``pulumi up`` does, in order:

1. The chart installs cert-manager and its CRDs; Helm reports the release ready once the controller,
   webhook and cainjector are (``atomic``). The Issuer and Certificates ``depends_on`` it.
2. Each Certificate carries ``pulumi.com/waitFor: condition=Ready``: the update waits while cert-manager
   registers the ACME account, writes ``_acme-challenge.<name>`` TXT, waits for it to propagate to the
   zone's name servers and the CA validates it (minutes), then writes the ``kubernetes.io/tls`` Secret.
3. The endpoint's picker pod mounts that Secret (its name flows from the Certificate, so the pod is
   created only after issuance) and its proxy serves TLS for the name.
4. The public Service then waits for the cloud's load balancer address; the Route 53 health checks and
   weighted records are created from it last, so the name resolves only once an entry point exists.

Several clusters validate the same name: cert-manager's Route 53 solver UPSERTs a one-value TXT record
(v1.21.1 ``pkg/issuer/acme/dns/route53/route53.go``, ``Present``), so two clusters validating at once
would overwrite each other's challenge. The orchestration (``components/dns.py``) orders each name's
Certificates one after the other across clusters.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from aistack.spec.dns import DnsSpec
from components import contract
from components.k8s import charts
from components.k8s.pod import SYSTEM_NODES

CHART = charts.Chart(
    name="cert-manager",
    version="v1.21.1",
    repo="https://charts.jetstack.io",
    source="github.com/cert-manager/cert-manager tag v1.21.1 (2026-07-29, commit 24e33194; the CRDs vendored in "
    "schemas/crds/cert-manager), newest release in the mirrored snapshot of 2026-08-22; checked 2026-12-05. "
    "cert-manager supports its two newest minors: 1.21 is the newest",
)
NAMESPACE = "cert-manager"
CONTROLLER = "cert-manager"
"""The controller's service account (the chart's fullname for release ``cert-manager``), which requests the
solver's token."""
API = "cert-manager.io/v1"
ISSUER = "aistack-acme"
SOLVER_ACCOUNT = "acme-dns01"
"""The service account whose tokens the DNS-01 role trusts (in the serving namespace)."""
TOKEN_AUDIENCE = "sts.amazonaws.com"
"""The audience cert-manager requests for the solver's token (v1.21.1 ``pkg/issuer/acme/dns/dns.go``)."""
ISSUANCE_TIMEOUT_S = 1200
"""How long ``pulumi up`` waits for a certificate: an ACME order with DNS-01 on Route 53 takes minutes
(the record must reach every authoritative server before the CA looks); a stuck order fails the update."""


def solver_subject(namespace: str) -> str:
    """The ``sub`` claim of the solver's tokens, which the DNS-01 role's trust policy names."""
    return f"system:serviceaccount:{namespace}:{SOLVER_ACCOUNT}"


def certificate_secret(endpoint: str) -> str:
    """The ``kubernetes.io/tls`` Secret holding an endpoint's certificate (in the serving namespace)."""
    return f"{endpoint}-tls"


class ClusterTls(contract.Component):
    """cert-manager on one cluster and the ACME Issuer for the stack's zone.

    Children: ``-namespace`` (``cert-manager``, restricted), ``-release`` (the chart, CRDs included, on
    the system pool), ``-solver`` (service account ``acme-dns01`` in the serving namespace), ``-token-role``
    and ``-token-binding`` (cert-manager's controller may create tokens of that one service account, and
    nothing else), ``-issuer`` (ACME, DNS-01 on Route 53 with ``role`` and ``serviceAccountRef``).

    Outputs: ``issuer`` (the Issuer's name).
    """

    CLOUD = "k8s"
    CONCEPT = "ClusterTls"
    OUTPUTS = ("issuer",)

    def __init__(
        self,
        name: str,
        *,
        dns: DnsSpec,
        serving_namespace: pulumi.Input[str],
        role_arn: pulumi.Input[str],
        aws_region: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        labels = {"app.kubernetes.io/managed-by": "aistack"}
        namespace = k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={
                "name": NAMESPACE,
                # cert-manager's chart runs non-root, no privilege escalation, all capabilities dropped,
                # RuntimeDefault seccomp: it meets the restricted standard.
                "labels": {
                    **labels,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=self.opts(),
        )
        self.release = charts.release(
            self.child("release"),
            CHART,
            namespace=namespace.metadata.name,
            values=values(),
            opts=self.opts(),
        )
        account = k8s.core.v1.ServiceAccount(
            self.child("solver"),
            metadata={"name": SOLVER_ACCOUNT, "namespace": serving_namespace, "labels": labels},
            # Nothing runs as it: cert-manager only requests its tokens.
            automount_service_account_token=False,
            opts=self.opts(),
        )
        meta = {"name": f"{SOLVER_ACCOUNT}-token", "namespace": serving_namespace, "labels": labels}
        role = k8s.rbac.v1.Role(
            self.child("token-role"),
            metadata=meta,
            rules=[
                {
                    "api_groups": [""],
                    "resources": ["serviceaccounts/token"],
                    "resource_names": [SOLVER_ACCOUNT],
                    "verbs": ["create"],
                }
            ],
            opts=self.opts(),
        )
        binding = k8s.rbac.v1.RoleBinding(
            self.child("token-binding"),
            metadata=meta,
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": NAMESPACE}],
            opts=self.opts(),
        )
        self.issuer_resource = k8s.apiextensions.CustomResource(
            self.child("issuer"),
            api_version=API,
            kind="Issuer",
            metadata={"name": ISSUER, "namespace": serving_namespace, "labels": labels},
            spec=issuer_spec(dns, role_arn, aws_region),
            # The kind comes with the chart; the token grant must exist before the first challenge.
            opts=self.opts(depends_on=[self.release, account, binding]),
        )
        self.finish(issuer=self.issuer_resource.metadata["name"])

    def certificate(
        self,
        endpoint: str,
        fqdn: str,
        *,
        namespace: pulumi.Input[str],
        after: pulumi.Resource | None = None,
    ) -> k8s.apiextensions.CustomResource:
        """The ``-<endpoint>-certificate`` child: the endpoint's certificate for its global name.

        ``after``: another cluster's Certificate for the same name, which must be issued first (their
        TXT challenges share one record name; see the module docs).
        """
        return k8s.apiextensions.CustomResource(
            self.child(f"{endpoint}-certificate"),
            api_version=API,
            kind="Certificate",
            metadata={
                "name": certificate_secret(endpoint),
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": endpoint, "app.kubernetes.io/managed-by": "aistack"},
                "annotations": {
                    "pulumi.com/waitFor": "condition=Ready",
                    "pulumi.com/timeoutSeconds": str(ISSUANCE_TIMEOUT_S),
                },
            },
            spec=certificate_spec(endpoint, fqdn),
            opts=self.opts(depends_on=[self.issuer_resource, *([after] if after else [])]),
        )


def values() -> dict:
    """The chart's values: its CRDs (kept if the release goes), everything on the system pool."""
    return {
        "crds": {"enabled": True, "keep": True},
        # One nodeSelector for the controller, webhook, cainjector and startup check (chart >= 1.19).
        "global": {"nodeSelector": dict(SYSTEM_NODES)},
    }


def issuer_spec(dns: DnsSpec, role_arn: pulumi.Input[str], aws_region: str) -> pulumi.Output[dict]:
    """The ACME Issuer (camelCase: a custom resource): DNS-01 on the stack's hosted zone only.

    ``region`` is the hint cert-manager needs outside EKS to scope STS credentials (the ``region``
    field's docs in ``types_issuer.go``: outside IRSA/Pod Identity nothing sets ``AWS_REGION``).
    """
    return pulumi.Output.from_input(role_arn).apply(
        lambda arn: {
            "acme": {
                "server": dns.acme_server,
                "email": dns.acme_email,
                # The ACME account's key, which cert-manager generates and keeps in this Secret.
                "privateKeySecretRef": {"name": f"{ISSUER}-account"},
                "solvers": [
                    {
                        "selector": {"dnsZones": [dns.zone]},
                        "dns01": {
                            "route53": {
                                "region": aws_region,
                                "hostedZoneID": dns.hosted_zone_id,
                                "role": arn,
                                "auth": {"kubernetes": {"serviceAccountRef": {"name": SOLVER_ACCOUNT}}},
                            }
                        },
                    }
                ],
            }
        }
    )


def certificate_spec(endpoint: str, fqdn: str) -> dict:
    """A certificate for one name, an ECDSA P-256 key replaced at each renewal."""
    return {
        "secretName": certificate_secret(endpoint),
        "dnsNames": [fqdn],
        "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": ISSUER},
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
    }
