"""Route 53: the DNS-01 role each serving cluster's cert-manager assumes, and the global weighted records.

:class:`Dns01Identity` (one per cluster serving a ``public-lb`` endpoint, on any cloud): an IAM OIDC
provider for the cluster's service-account issuer and a role trusting exactly cert-manager's solver
service account of that cluster (``components/k8s/tls.py``), allowed to change TXT records named
``_acme-challenge.<name>`` in the stack's hosted zone and nothing else. No access key exists anywhere.

:class:`GlobalName` (one per ``public-lb`` endpoint): per serving cluster an HTTPS health check of its
entry point (``/health`` through the endpoint's proxy, so a cluster with no ready model server fails it)
and a weighted ``A`` record of the global name carrying that check: Route 53 answers only with records
whose check passes, in proportion to their weights, and with all of them if every check fails
(Route 53 Developer Guide, "How Amazon Route 53 chooses records when health checking is configured").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from aistack.spec.dns import HEALTH_CHECKERS, REQUEST_INTERVAL_S
from components import contract
from components.aws.iam import document

HEALTH_PATH = "/health"
"""vLLM's liveness path, answered without the API key (the key guards ``/v1`` only), through the picker."""
TOKEN_AUDIENCE = "sts.amazonaws.com"

ROUTE53_HEALTH_CHECKERS = HEALTH_CHECKERS["route53"]
"""Where Route 53's health checkers connect from (sourced in ``aistack/spec/dns.py``)."""

NLB_ZONE_IDS = {
    # Network Load Balancers' canonical hosted zone per region (AWS General Reference, "Elastic Load
    # Balancing endpoints and quotas"; an NLB's CanonicalHostedZoneId in DescribeLoadBalancers, e.g.
    # Z26RNL4JYFTOTI for us-east-1). Checked 2026-12-05 against public records of both.
    "us-east-1": "Z26RNL4JYFTOTI",
    "us-east-2": "ZLMOA37VPKANP",
    "us-west-1": "Z24FKFUX50B4VW",
    "us-west-2": "Z18D5FSROUN65G",
    "eu-west-1": "Z2IFOLAFXWLO4F",
    "eu-central-1": "Z3F0SRJ5LGBH90",
}
"""Alias targets of NLB hostnames (an EKS entry point is an NLB's DNS name, not an IP)."""


def challenge_name(fqdn: str) -> str:
    """The TXT record an ACME DNS-01 challenge for ``fqdn`` writes (RFC 8555 section 8.4)."""
    return f"_acme-challenge.{fqdn}"


class Dns01Identity(contract.Component):
    """The role one cluster's cert-manager assumes to answer DNS-01 challenges in the stack's zone.

    Children: ``-oidc`` (IAM OIDC provider for the cluster's issuer, audience ``sts.amazonaws.com``),
    ``-role`` (trust: ``AssumeRoleWithWebIdentity`` by that provider, ``sub`` = the solver's service
    account, ``aud`` = STS) and ``-records`` (inline policy: ``ChangeResourceRecordSets`` for TXT records
    named ``_acme-challenge.<name>`` of the cluster's global names in the hosted zone,
    ``ListResourceRecordSets`` there, ``GetChange``).

    Outputs: ``role_arn``.
    """

    CLOUD = "aws"
    CONCEPT = "Dns01Identity"
    OUTPUTS = ("role_arn",)

    def __init__(
        self,
        name: str,
        *,
        issuer_url: pulumi.Input[str],
        subject: str,
        hosted_zone_id: str,
        names: list[str],
        physical_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        # One provider per issuer URL and account: an account that already registered this issuer (eksctl's
        # IRSA set-up) must import it (`pulumi import`), or the create fails with EntityAlreadyExists.
        provider = aws.iam.OpenIdConnectProvider(
            self.child("oidc"), url=issuer_url, client_id_lists=[TOKEN_AUDIENCE], opts=self.opts()
        )
        host = pulumi.Output.from_input(issuer_url).apply(lambda url: url.removeprefix("https://"))
        trust = document(
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider.arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": host.apply(lambda h: {f"{h}:sub": subject, f"{h}:aud": TOKEN_AUDIENCE})
                },
            }
        )
        role = aws.iam.Role(
            self.child("role"),
            name=physical_name,
            assume_role_policy=trust,
            # cert-manager's tokens live 10 minutes; an hour covers a slow order.
            max_session_duration=3600,
            opts=self.opts(),
        )
        zone = f"arn:aws:route53:::hostedzone/{hosted_zone_id}"
        aws.iam.RolePolicy(
            self.child("records"),
            role=role.id,
            # cert-manager's Route 53 guide (cert-manager.io/docs/configuration/acme/dns01/route53), narrowed
            # to TXT records of these names with Route 53's own condition keys.
            policy=document(
                {"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"},
                {"Effect": "Allow", "Action": "route53:ListResourceRecordSets", "Resource": zone},
                {
                    "Effect": "Allow",
                    "Action": "route53:ChangeResourceRecordSets",
                    "Resource": zone,
                    "Condition": {
                        "ForAllValues:StringEquals": {
                            "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
                            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                                challenge_name(n) for n in sorted(names)
                            ],
                        }
                    },
                },
            ),
            opts=self.opts(),
        )
        self.finish(role_arn=role.arn)


@dataclass(frozen=True)
class Entry:
    """One cluster's entry point of a global name.

    Attributes:
        cluster: The serving cluster's name.
        address: The public load balancer's address (an IP, or an NLB's DNS name on EKS).
        kind: ``ip`` or ``hostname`` (what the cluster's cloud puts in the Service status).
        region: The cloud's region (an NLB's alias zone).
        weight: The record's weight, 0–255.
    """

    cluster: str
    address: pulumi.Input[str]
    kind: str
    region: str
    weight: int


class GlobalName(contract.Component):
    """One endpoint's global name: a health-checked weighted record per serving cluster.

    Children per cluster: ``-<cluster>-health`` (HTTPS ``/health`` on 443 of the entry point, SNI and Host
    the global name) and ``-<cluster>-record`` (weighted ``A`` record, ``set_identifier`` the cluster,
    ``health_check_id`` its check; an alias to the NLB on EKS, the load balancer's IP elsewhere).

    Outputs: ``fqdn``, ``health_check_ids`` (cluster → id).
    """

    CLOUD = "aws"
    CONCEPT = "GlobalName"
    OUTPUTS = ("fqdn", "health_check_ids")

    def __init__(
        self,
        name: str,
        *,
        fqdn: str,
        hosted_zone_id: str,
        entries: list[Entry],
        ttl_s: int,
        failure_threshold: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        checks = {}
        for entry in entries:
            ip = entry.kind == "ip"
            check = aws.route53.HealthCheck(
                self.child(f"{entry.cluster}-health"),
                type="HTTPS",
                resource_path=HEALTH_PATH,
                port=443,
                # With an IP, Route 53 connects to it and sends the global name as SNI and Host; with an NLB
                # name it resolves that name. Route 53 does not validate the certificate (Developer Guide,
                # "Values that you specify when you create or update health checks": HTTPS).
                ip_address=entry.address if ip else None,
                fqdn=fqdn if ip else entry.address,
                enable_sni=True,
                request_interval=REQUEST_INTERVAL_S,
                failure_threshold=failure_threshold,
                # The stack's tags come from the provider's default_tags; the console lists checks by Name.
                tags={"Name": f"{fqdn} {entry.cluster}"},
                opts=self.opts(),
            )
            checks[entry.cluster] = check.id
            target = (
                {"records": [entry.address], "ttl": ttl_s}
                if ip
                else {
                    "aliases": [
                        {
                            "name": entry.address,
                            "zone_id": nlb_zone(entry.region),
                            # The health check decides; the NLB's own target health would count a target
                            # that answers TCP but has no ready model server behind the proxy as healthy.
                            "evaluate_target_health": False,
                        }
                    ]
                }
            )
            aws.route53.Record(
                self.child(f"{entry.cluster}-record"),
                zone_id=hosted_zone_id,
                name=fqdn,
                type="A",
                set_identifier=entry.cluster,
                weighted_routing_policies=[{"weight": entry.weight}],
                health_check_id=check.id,
                **target,
                opts=self.opts(),
            )
        self.finish(fqdn=fqdn, health_check_ids=checks)


def nlb_zone(region: str) -> str:
    """The hosted zone of the region's Network Load Balancers (alias target)."""
    if region not in NLB_ZONE_IDS:
        raise ValueError(
            f"no Network Load Balancer hosted zone id recorded for {region}; add it to NLB_ZONE_IDS"
        )
    return NLB_ZONE_IDS[region]


def weights(capacities: Mapping[str, float]) -> dict[str, int]:
    """Record weights (1–255) proportional to each cluster's capacity; equal when nothing is known.

    Route 53 sends a record ``weight / sum of weights`` of the answers (Developer Guide, "Weighted
    routing"); 255 is its largest weight. No cluster gets 0: a zero-weight record is answered only when
    every other record is unhealthy, which would make a small cluster a cold standby instead of a share.
    """
    if not capacities:
        return {}
    top = max(capacities.values())
    if top <= 0:
        return {cluster: 1 for cluster in capacities}
    return {cluster: max(1, round(255 * value / top)) for cluster, value in capacities.items()}
