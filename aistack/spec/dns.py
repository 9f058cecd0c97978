"""The global name: one DNS name over every cluster that serves an endpoint, with failover.

An endpoint with ``expose: public-lb`` and ``hostname: chat`` is reached at ``chat.<zone>``: each
serving cluster publishes the endpoint's proxy on a public load balancer restricted to
``allowed_cidrs`` (plus the DNS provider's health checkers), with TLS for that name (cert-manager,
ACME DNS-01 on the zone) and the endpoint's API key; the provider answers with a weighted record per
cluster, each tied to a health check of that cluster's entry point (docs/multicloud.md, "One name").
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from aistack.spec.base import WORLD, Cidr, Model

ZONE_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
"""A public DNS zone name, lowercase, without the trailing dot."""

LABEL_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
"""One DNS label (RFC 1123): the endpoint's name inside the zone."""

LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
"""Let's Encrypt's production ACME directory (letsencrypt.org/docs/acme-protocol-updates)."""

REFUSED_PROVIDERS = {
    "cloud-dns": "aistack builds the health-checked global record on Route 53 only. Cloud DNS can do it "
    "(weighted routing policies on a public zone with health checks of external endpoints, which need the "
    "organization constraint compute.disableInternetNetworkEndpointGroup lifted: Cloud DNS, 'Configure DNS "
    "routing policies and health checks'), but aistack does not declare it yet (docs/multicloud.md, 'One "
    "name'); use provider: route53",
    "azure-dns": "aistack builds the health-checked global record on Route 53 only; Azure's equivalent (a "
    "weighted Traffic Manager profile with endpoint monitoring and a CNAME in Azure DNS) is not built yet "
    "(docs/multicloud.md, 'One name'); use provider: route53",
}
"""Providers the spec names but aistack does not deploy, and why (the validation error says so)."""


HEALTH_CHECKERS = {
    "route53": (
        "15.177.0.0/18",
        "54.183.255.128/26",
        "54.228.16.0/26",
        "54.232.40.64/26",
        "54.241.32.64/26",
        "54.243.31.192/26",
        "54.244.52.192/26",
        "54.245.168.0/26",
        "54.248.220.0/26",
        "54.250.253.192/26",
        "54.251.31.128/26",
        "54.252.79.128/26",
        "54.252.254.192/26",
        "54.255.254.192/26",
        "107.23.255.0/26",
        "176.34.159.192/26",
        "177.71.207.128/26",
    ),
}
"""Where each provider's health checkers connect from. Route 53: the IPv4 prefixes of ``"service":
"ROUTE53_HEALTHCHECKS"`` in https://ip-ranges.amazonaws.com/ip-ranges.json, aws partition (the China
partition's 52.80/52.83 prefixes left out), as Route 53's guide says to allow ("IP address ranges of Amazon
Route 53 servers"). Read 2026-12-05 from published copies of the file (the file itself is not reachable from
this build machine): re-check at each release with
``jq -r '.prefixes[] | select(.service=="ROUTE53_HEALTHCHECKS") | .ip_prefix'``."""


REQUEST_INTERVAL_S = 30
"""Route 53's standard health-check interval, seconds (the fast 10 s one is billed extra)."""


class DnsSpec(Model):
    """Where the global names of ``public-lb`` endpoints live, and how their certificates are issued."""

    provider: Literal["route53", "cloud-dns", "azure-dns"] = Field(
        description="DNS service holding the zone and answering for the global names: `route53` (weighted "
        "records with a Route 53 health check per cluster entry point). `cloud-dns` and `azure-dns` are "
        "refused with the reason (docs/multicloud.md, 'One name')."
    )
    zone: str = Field(
        pattern=ZONE_PATTERN,
        description="An existing public zone the stack adds records to, e.g. `ai.example.com` (not created "
        "by the stack: its delegation from the parent zone is yours).",
    )
    hosted_zone_id: str | None = Field(
        default=None,
        pattern=r"^Z[A-Z0-9]{1,31}$",
        description="Route 53 hosted zone id of `zone` (e.g. `Z0123456789ABCDEFGHIJ`); required with "
        "`provider: route53`. The records and cert-manager's DNS-01 role are confined to it.",
    )
    acme_email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$",
        description="Contact address of the ACME account (expiry and policy notices from the CA).",
    )
    acme_server: str = Field(
        default=LETS_ENCRYPT,
        pattern=r"^https://[^\s]+$",
        description="ACME directory URL; default Let's Encrypt production. Its staging directory "
        "(`https://acme-staging-v02.api.letsencrypt.org/directory`) avoids the production rate limits "
        "while trying a stack out, with certificates clients do not trust.",
    )
    allowed_cidrs: list[Cidr] = Field(
        min_length=1,
        description="Client address ranges the public load balancers admit (IPv4 CIDRs; never "
        "`0.0.0.0/0`). The provider's published health-checker ranges are added by the program.",
    )
    ttl_s: int = Field(
        default=60,
        ge=10,
        le=300,
        description="TTL of the weighted records, seconds: how long resolvers may keep sending clients to "
        "an entry point after its health check fails (Route 53 stops answering with it within about "
        "`failure_threshold` x 30 s).",
    )
    failure_threshold: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Consecutive failed checks (30 s apart) before an entry point counts as unhealthy and its "
        "record stops being answered (Route 53 `failure_threshold`, default 3).",
    )

    @field_validator("allowed_cidrs")
    @classmethod
    def _not_world(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            if cidr == str(WORLD):
                raise ValueError(
                    "0.0.0.0/0 would open the model servers to the internet; list your clients' ranges "
                    "(the API key alone is not a network boundary)"
                )
        return cidrs

    @model_validator(mode="after")
    def _provider(self) -> DnsSpec:
        if self.provider in REFUSED_PROVIDERS:
            raise ValueError(f"provider {self.provider!r}: {REFUSED_PROVIDERS[self.provider]}")
        if self.provider == "route53" and self.hosted_zone_id is None:
            raise ValueError(
                "provider route53 needs hosted_zone_id: the id of the existing public hosted zone of "
                f"{self.zone} (Route 53 console, or `aws route53 list-hosted-zones-by-name --dns-name {self.zone}`)"
            )
        return self

    def source_ranges(self) -> tuple[str, ...]:
        """What a public entry point admits: the stack's clients, then the provider's health checkers."""
        return (*self.allowed_cidrs, *HEALTH_CHECKERS.get(self.provider, ()))

    def fqdn(self, hostname: str) -> str:
        """The global name of an endpoint: ``<hostname>.<zone>``."""
        return f"{hostname}.{self.zone}"
