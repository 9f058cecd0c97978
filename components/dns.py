"""One name with failover: the global names of ``public-lb`` endpoints, across every cloud.

:class:`GlobalNames` is declared once per stack with ``aistack:dns``, in three steps the composition
root (``__main__.py``) calls in order:

1. after every cloud family deployed its clusters: one :class:`components.aws.dns.Dns01Identity` per
   cluster serving a ``public-lb`` endpoint (an IAM role trusting that cluster's own token issuer);
2. while each cluster's Kubernetes layer is declared: :meth:`GlobalNames.entry` hands the cluster's
   cert-manager (:class:`components.k8s.tls.ClusterTls`) the role and returns the endpoint's
   :class:`~components.k8s.serving.PublicEntry` (its certificate, ordered after the same name's
   certificate on the previous cluster, and the load balancer's allow-list);
3. after every endpoint exists: :meth:`GlobalNames.publish` declares, per endpoint, a health check per
   cluster entry point and the weighted records (:class:`components.aws.dns.GlobalName`).

Only Route 53 is built (the spec refuses the other providers with the reason, ``aistack/spec/dns.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from aistack.spec import StackSpec
from components import contract
from components.aws.dns import Dns01Identity, Entry, GlobalName, weights
from components.k8s import clouds, tls
from components.k8s.serving import PublicEntry, ServingEndpoint

ROLE_NAME_MAX = 64
"""IAM role names are at most 64 characters (IAM quotas)."""


def public_shares(spec: StackSpec) -> list[tuple[str, str]]:
    """``(endpoint, cluster)`` for each cluster serving a ``public-lb`` endpoint, in the spec's share order."""
    return [(s.name, s.cluster) for s in spec.shares() if s.endpoint.expose == "public-lb"]


class GlobalNames:
    """The stack's global names: DNS-01 identities, certificates in order, health-checked records.

    Attributes:
        roles: Cluster → the DNS-01 role its cert-manager assumes.
        entries: ``(endpoint, cluster)`` → the cluster's served endpoint, once declared.
    """

    def __init__(
        self,
        spec: StackSpec,
        deployed: Mapping[str, contract.CloudStack],
        prefix: str,
        capacity: Mapping[tuple[str, str], Any] | None = None,
    ) -> None:
        """Declare the DNS-01 identities (step 1).

        Args:
            spec: The validated spec (``spec.dns`` set).
            deployed: What each cloud family declared, by cloud (its clusters, the AWS provider).
            prefix: ``<project>-<stack>``, for the roles' physical names.
            capacity: ``(endpoint, cluster)`` → that share's planned capacity
                (:func:`aistack.plan.capacity_by_share`; its ``tokens_per_s_at_max`` weighs the records).
                Equal weights for an endpoint where a share's figure is unknown, or without it.
        """
        if spec.dns is None:
            raise ValueError("GlobalNames needs aistack:dns")
        self.spec = spec
        self.dns = spec.dns
        self.capacity = capacity
        self.provider = deployed["aws"].provider
        clusters = {name: c for d in deployed.values() for name, c in d.clusters.items()}
        served: dict[str, list[str]] = {}
        for endpoint, cluster in public_shares(spec):
            served.setdefault(cluster, []).append(self.fqdn(endpoint))
        for cluster in served:
            if clusters[cluster].oidc_issuer_url is None:
                raise ValueError(
                    f"cluster {cluster}: its family set no oidc_issuer_url, which the DNS-01 role trusts"
                )
        self.roles: dict[str, Dns01Identity] = {
            cluster: Dns01Identity(
                f"{cluster}-dns01",
                issuer_url=clusters[cluster].oidc_issuer_url,
                subject=tls.solver_subject(contract.READER_NAMESPACE),
                hosted_zone_id=self.dns.hosted_zone_id or "",
                names=names,
                physical_name=f"{prefix}-{cluster}-dns01"[:ROLE_NAME_MAX],
                opts=pulumi.ResourceOptions(provider=self.provider),
            )
            for cluster, names in served.items()
        }
        self._issued: dict[str, pulumi.Resource] = {}
        self.entries: dict[tuple[str, str], ServingEndpoint] = {}

    def fqdn(self, endpoint: str) -> str:
        """An endpoint's global name."""
        return self.dns.fqdn(self.spec.endpoints[endpoint].hostname or "")

    def cluster_tls(
        self, cluster: str, serving_namespace: pulumi.Input[str], opts: pulumi.ResourceOptions
    ) -> tls.ClusterTls | None:
        """A serving cluster's cert-manager and Issuer (step 2), if it serves a ``public-lb`` endpoint."""
        if cluster not in self.roles:
            return None
        return tls.ClusterTls(
            f"{cluster}-tls",
            dns=self.dns,
            serving_namespace=serving_namespace,
            role_arn=self.roles[cluster].role_arn,
            aws_region=self.spec.clouds.configured()["aws"].region,
            opts=opts,
        )

    def entry(self, endpoint: str, cluster_tls: tls.ClusterTls, namespace: pulumi.Input[str]) -> PublicEntry:
        """The endpoint's certificate on this cluster and its load balancer's allow-list (step 2)."""
        fqdn = self.fqdn(endpoint)
        certificate = cluster_tls.certificate(
            endpoint, fqdn, namespace=namespace, after=self._issued.get(fqdn)
        )
        self._issued[fqdn] = certificate
        return PublicEntry(
            fqdn=fqdn,
            certificate=certificate,
            source_ranges=self.dns.source_ranges(),
        )

    def shares_capacity(self, endpoint: str, serving: list[str]) -> dict[str, float]:
        """Each serving cluster's planned tokens/s for the endpoint; all 1.0 where any figure is unknown."""
        found = {
            c: getattr((self.capacity or {}).get((endpoint, c)), "tokens_per_s_at_max", None) for c in serving
        }
        if any(v is None for v in found.values()):
            return dict.fromkeys(serving, 1.0)
        return {c: float(v) for c, v in found.items()}

    def publish(self) -> dict[str, GlobalName]:
        """A health-checked weighted record per serving cluster of each ``public-lb`` endpoint (step 3)."""
        names: dict[str, GlobalName] = {}
        by_endpoint: dict[str, list[str]] = {}
        for endpoint, cluster in public_shares(self.spec):
            by_endpoint.setdefault(endpoint, []).append(cluster)
        for endpoint, serving in by_endpoint.items():
            weight = weights(self.shares_capacity(endpoint, serving))
            entries = []
            for cluster in serving:
                cloud = self.spec.clusters[cluster].cloud
                entries.append(
                    Entry(
                        cluster=cluster,
                        address=self.entries[(endpoint, cluster)].entry_address,
                        kind=clouds.row(cloud).entry_address,
                        region=getattr(self.spec.clouds.configured()[cloud], "region", ""),
                        weight=weight[cluster],
                    )
                )
            names[endpoint] = GlobalName(
                f"{endpoint}-global-name",
                fqdn=self.fqdn(endpoint),
                hosted_zone_id=self.dns.hosted_zone_id or "",
                entries=entries,
                ttl_s=self.dns.ttl_s,
                failure_threshold=self.dns.failure_threshold,
                opts=pulumi.ResourceOptions(provider=self.provider),
            )
        return names
