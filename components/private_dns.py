"""Private names: ``internal-lb`` endpoints resolvable by one name inside every cloud's network.

With ``aistack:interconnect.private_zone`` each configured cloud gets a private zone of that name on its
network (:class:`PrivateZone`); :meth:`PrivateNames.publish` then writes, per endpoint with a hostname,
a record in every zone that prefers the zone's own cloud's entry point and fails over to the others over
the site-to-site VPN where the cloud's private DNS can:

- Route 53 (private hosted zone): a PRIMARY failover alias to the cluster's internal NLB with
  ``evaluate_target_health`` (Route 53 cannot send its health checkers to private addresses, but an alias to
  an ELB follows the load balancer's own target health: Route 53, "Health checking in private hosted zones"
  and alias ``EvaluateTargetHealth``), and a SECONDARY record with the other clouds' entry points.
- Cloud DNS (private zone): a primary-backup routing policy whose primary is the internal load balancer
  (Cloud DNS health-checks internal load balancers itself: "Configure DNS routing policies and health
  checks"), the backup the other clouds' addresses.
- Azure Private DNS: no health-aware routing (Traffic Manager probes from the internet only): an A record
  with the zone's own entry point, else the others'. Failover there is the client's (retry another name).

Entry points are load-balancer addresses: an AKS internal load balancer's and the GKE inference Gateway's are
IPs; an EKS internal NLB's is a DNS name, which another cloud's A record cannot hold, so other zones list the
IP entry points and fall back to a CNAME only when the NLB is all there is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from aistack.spec import StackSpec
from components import contract, naming

TTL_S = 30
"""Record TTL: how long a resolver may keep answering with an entry point that stopped being healthy."""

NLB_ZONE_IDS = {
    "us-east-1": "Z26RNL4JYFTOTI",
    "us-east-2": "ZLMOA37VPKANP",
    "us-west-1": "Z24FKFUX50B4VW",
    "us-west-2": "Z18D5FSROUN65G",
    "eu-west-1": "Z2IFOLAFXWLO4F",
    "eu-west-2": "ZD4D7Y8KGAS4G",
    "eu-central-1": "Z3F0SRJ5LGBH90",
    "ap-southeast-1": "ZKVM6ETL9YU8P",
    "ap-southeast-2": "ZCT6FZBF4DROD",
    "ap-northeast-1": "Z31USIVHYNEOWT",
    "ap-south-1": "ZVDDRBQ08TROA",
    "sa-east-1": "ZTK26PT1VY4CU",
    "ca-central-1": "Z2EPGBWURTVAEP",
}
"""Route 53 hosted zone of Network Load Balancers per region, for alias records (AWS General Reference,
"Elastic Load Balancing endpoints and quotas", NLB column; as in hashicorp/aws's ``aws_lb_hosted_zone_id``).
The offline engine answers no lookups, hence the table; a region missing here gets a plain record."""

NAMED_ENTRY = frozenset({"aws"})
"""Clouds whose internal entry point is a DNS name (EKS: the internal NLB), not an IP."""


@dataclass(frozen=True)
class Entry:
    """One cluster's internal entry point for an endpoint.

    Attributes:
        cloud: The cluster's cloud.
        address: The load balancer's address (an IP, or the NLB's DNS name on AWS).
        port: The port it listens on.
    """

    cloud: str
    address: pulumi.Input[str]
    port: int


class PrivateZone(contract.Component):
    """One cloud's private zone, visible only inside its network.

    Children: AWS ``-zone`` (Route 53 private hosted zone associated with the VPC); GCP ``-zone`` (Cloud DNS
    private zone visible to the VPC); Azure ``-zone`` and ``-zone-link`` (Private DNS zone linked to the VNet,
    no auto-registration). Records are added by :meth:`record`: ``-<endpoint>`` (and ``-<endpoint>-primary`` /
    ``-<endpoint>-secondary`` for Route 53's failover pair).

    Outputs: ``zone_id``.
    """

    CONCEPT = "PrivateZone"
    OUTPUTS = ("zone_id",)

    def __init__(
        self,
        name: str,
        *,
        zone: str,
        network: contract.Network,
        cloud_spec: Any,
        prefix: str,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        cloud = self.cloud = self.CLOUD
        self.zone, self.spec, self.network = zone, cloud_spec, network
        if cloud == "aws":
            self.resource = aws.route53.Zone(
                self.child("zone"),
                name=zone,
                vpcs=[{"vpc_id": network.network_id, "vpc_region": cloud_spec.region}],
                comment="aistack private names of internal-lb endpoints",
                opts=self.opts(),
            )
            zone_id: pulumi.Output[str] = self.resource.zone_id
        elif cloud == "gcp":
            self.resource = gcp.dns.ManagedZone(
                self.child("zone"),
                name=naming.gcp(prefix, "private-names"),
                dns_name=f"{zone}.",
                visibility="private",
                private_visibility_config={"networks": [{"network_url": network.network_id}]},
                description="aistack private names of internal-lb endpoints",
                opts=self.opts(),
            )
            zone_id = self.resource.name
        else:
            self.resource = azure_native.privatedns.PrivateZone(
                self.child("zone"),
                resource_group_name=network.resource_group_name,
                private_zone_name=zone,
                location="global",
                tags=dict(tags),
                opts=self.opts(),
            )
            azure_native.privatedns.VirtualNetworkLink(
                self.child("zone-link"),
                resource_group_name=network.resource_group_name,
                private_zone_name=self.resource.name,
                virtual_network={"id": network.network_id},
                registration_enabled=False,
                location="global",
                tags=dict(tags),
                opts=self.opts(),
            )
            zone_id = self.resource.name
        self.finish(zone_id=zone_id)

    def record(self, endpoint: str, hostname: str, entries: Sequence[Entry]) -> None:
        """Write ``hostname`` for ``endpoint``: this cloud's entry point first, the others as failover."""
        own = next((e for e in entries if e.cloud == self.cloud), None)
        others = [e for e in entries if e.cloud != self.cloud]
        ips = [e.address for e in others if e.cloud not in NAMED_ENTRY]
        named = [e.address for e in others if e.cloud in NAMED_ENTRY]
        fqdn = f"{hostname}.{self.zone}"
        if own is None:
            self._plain(endpoint, fqdn, ips, named)
        elif self.cloud == "aws":
            self._route53_failover(endpoint, fqdn, own, ips)
        elif self.cloud == "gcp" and ips:
            self._cloud_dns_primary_backup(endpoint, fqdn, own, ips)
        else:
            self._plain(endpoint, fqdn, [own.address], [])

    def _plain(self, endpoint: str, fqdn: str, ips: list[Any], named: list[Any]) -> None:
        """An A record with the IPs, else a CNAME to the first named entry point."""
        if not ips and not named:
            return
        kind, values = ("A", ips) if ips else ("CNAME", named[:1])
        if self.cloud == "aws":
            aws.route53.Record(
                self.child(endpoint),
                zone_id=self.resource.zone_id,
                name=fqdn,
                type=kind,
                ttl=TTL_S,
                records=values,
                opts=self.opts(),
            )
        elif self.cloud == "gcp":
            values = values if kind == "A" else [pulumi.Output.concat(values[0], ".")]
            gcp.dns.RecordSet(
                self.child(endpoint),
                managed_zone=self.resource.name,
                name=f"{fqdn}.",
                type=kind,
                ttl=TTL_S,
                rrdatas=values,
                opts=self.opts(),
            )
        else:
            records = (
                {"a_records": [{"ipv4_address": ip} for ip in values]}
                if kind == "A"
                else {"cname_record": {"cname": values[0]}}
            )
            azure_native.privatedns.PrivateRecordSet(
                self.child(endpoint),
                resource_group_name=self.network.resource_group_name,
                private_zone_name=self.resource.name,
                record_type=kind,
                relative_record_set_name=fqdn.removesuffix(f".{self.zone}"),
                ttl=TTL_S,
                **records,
                opts=self.opts(),
            )

    def _route53_failover(self, endpoint: str, fqdn: str, own: Entry, ips: list[Any]) -> None:
        zone_id = NLB_ZONE_IDS.get(self.spec.region)
        if zone_id is None:
            self._plain(endpoint, fqdn, [], [own.address])
            return
        aws.route53.Record(
            self.child(f"{endpoint}-primary"),
            zone_id=self.resource.zone_id,
            name=fqdn,
            type="A",
            set_identifier=f"{endpoint}-aws",
            failover_routing_policies=[{"type": "PRIMARY"}],
            aliases=[{"name": own.address, "zone_id": zone_id, "evaluate_target_health": True}],
            opts=self.opts(),
        )
        if ips:
            aws.route53.Record(
                self.child(f"{endpoint}-secondary"),
                zone_id=self.resource.zone_id,
                name=fqdn,
                type="A",
                ttl=TTL_S,
                set_identifier=f"{endpoint}-other-clouds",
                failover_routing_policies=[{"type": "SECONDARY"}],
                records=ips,
                opts=self.opts(),
            )

    def _cloud_dns_primary_backup(self, endpoint: str, fqdn: str, own: Entry, ips: list[Any]) -> None:
        gcp.dns.RecordSet(
            self.child(endpoint),
            managed_zone=self.resource.name,
            name=f"{fqdn}.",
            type="A",
            ttl=TTL_S,
            routing_policy={
                "primary_backup": {
                    "primary": {
                        "internal_load_balancers": [
                            {
                                # GKE's inference Gateway (gke-l7-rilb): a regional internal Application LB.
                                "load_balancer_type": "regionalL7ilb",
                                "ip_address": own.address,
                                "port": str(own.port),
                                "ip_protocol": "tcp",
                                "network_url": self.network.network_id,
                                "project": self.spec.project,
                                "region": self.spec.region,
                            }
                        ]
                    },
                    "backup_geos": [{"location": self.spec.region, "rrdatas": ips}],
                    # No share of traffic to the backup while the primary is healthy.
                    "trickle_ratio": 0,
                }
            },
            opts=self.opts(),
        )


class AwsPrivateZone(PrivateZone):
    """Route 53 private hosted zone (``aistack:aws:PrivateZone``)."""

    CLOUD = "aws"


class GcpPrivateZone(PrivateZone):
    """Cloud DNS private zone (``aistack:gcp:PrivateZone``)."""

    CLOUD = "gcp"


class AzurePrivateZone(PrivateZone):
    """Azure Private DNS zone (``aistack:azure:PrivateZone``)."""

    CLOUD = "azure"


ZONES = {"aws": AwsPrivateZone, "gcp": GcpPrivateZone, "azure": AzurePrivateZone}


class PrivateNames:
    """The private zone of every configured cloud, and the records of each private endpoint."""

    def __init__(self, spec: StackSpec, deployed: Mapping[str, contract.CloudStack], prefix: str) -> None:
        zone = spec.interconnect.private_zone
        assert zone is not None
        self.spec = spec
        self.zones = {
            cloud: ZONES[cloud](
                f"{cloud}-private-names",
                zone=zone,
                network=d.network,
                cloud_spec=spec.clouds.configured()[cloud],
                prefix=prefix,
                tags=getattr(d.provider, "default_tags", {}),
                opts=pulumi.ResourceOptions(provider=d.provider),
            )
            for cloud, d in deployed.items()
            if d.network is not None
        }

    def publish(self, endpoint: str, hostname: str, entries: Sequence[Entry]) -> dict[str, str]:
        """Write the endpoint's name in every zone; returns cloud → the name (the same everywhere)."""
        for zone in self.zones.values():
            zone.record(endpoint, hostname, entries)
        return {cloud: f"{hostname}.{zone.zone}" for cloud, zone in self.zones.items()}

    def publish_served(self, served: Mapping[tuple[str, str], Any]) -> dict[str, str]:
        """Publish every ``internal-lb`` endpoint with a hostname, one entry per serving share.

        Args:
            served: ``(endpoint, cluster)`` → its :class:`~components.k8s.serving.ServingEndpoint`
                (``entry_address`` / ``entry_port``: the records depend on the load balancers' addresses).

        Returns:
            Endpoint → its private name.
        """
        entries: dict[str, list[Entry]] = {}
        for share in self.spec.shares():
            endpoint = share.endpoint
            if endpoint.expose != "internal-lb" or endpoint.hostname is None:
                continue
            serving = served[(share.name, share.cluster)]
            entries.setdefault(share.name, []).append(
                Entry(
                    cloud=self.spec.clusters[share.cluster].cloud,
                    address=serving.entry_address,
                    port=serving.entry_port,
                )
            )
        names = {}
        for name, found in entries.items():
            hostname = self.spec.endpoints[name].hostname or ""
            self.publish(name, hostname, found)
            names[name] = f"{hostname}.{self.spec.interconnect.private_zone}"
        return names
