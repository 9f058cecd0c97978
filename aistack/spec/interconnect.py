"""Site-to-site VPNs between the clouds' networks (``aistack:interconnect``).

Each pair of configured clouds the stack names gets the HA recipe its two clouds document, with BGP
over IPsec; ``components/interconnect.py`` declares the resources and ``docs/multicloud.md`` ("Private
path between clouds") draws the topology. The numbers validated here are the ones the clouds refuse at
create time, so a stack that passes does not fail half-way through a 45-minute gateway build:

- BGP ASNs: AWS virtual private gateways take a private ASN, 64512–65534 or 4200000000–4294967294
  (EC2 API, ``CreateVpnGateway`` ``AmazonSideAsn``); so do Cloud Routers (Cloud Router docs, "ASN
  requirements"); Azure VPN gateways refuse 65515 and 65517–65520, which Azure reserves (Azure VPN
  Gateway, "About BGP": "ASNs reserved by Azure"). One ASN per cloud: each cloud has one gateway, and
  eBGP peers need different ASNs.
- Inside-tunnel ranges: a /30 of 169.254.0.0/16 per tunnel; AWS refuses 169.254.0.0/30 to
  169.254.5.0/30 and 169.254.169.252/30 and wants each unique across the connections of one gateway
  (EC2 API, ``VpnTunnelOptionsSpecification.TunnelInsideCidr``); an Azure gateway's custom BGP (APIPA)
  addresses must lie in 169.254.21.0–169.254.22.255 (learn.microsoft.com/azure/vpn-gateway/
  vpn-gateway-howto-aws-bgp and "About BGP"), so every tunnel touching Azure uses that range.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from aistack.spec.base import Cidr, Model

Cloud = Literal["aws", "azure", "gcp"]

ORDER = ("aws", "gcp", "azure")
"""How a pair's clouds are ordered in its key (``aws-gcp``, ``aws-azure``, ``gcp-azure``)."""

TUNNELS = {"aws-gcp": 4, "aws-azure": 4, "gcp-azure": 2}
"""Tunnels per pair in each cloud's documented HA topology (99.99% SLA on GCP, active-active on Azure):

- AWS↔GCP: two AWS VPN connections (two tunnels each) to the two HA VPN interfaces, four tunnels on
  a ``FOUR_IPS_REDUNDANCY`` external gateway (GCP, "Connect HA VPN to AWS peer gateways").
- AWS↔Azure: one AWS VPN connection per Azure gateway instance, four tunnels, four local network gateways
  (Azure, "How to connect AWS and Azure using a BGP-enabled VPN gateway").
- GCP↔Azure: HA VPN interface 0 to Azure instance 0, interface 1 to instance 1 on a ``TWO_IPS_REDUNDANCY``
  external gateway: every interface of both gateways carries a tunnel (GCP, "HA VPN topologies").
"""

DEFAULT_INSIDE = {
    "aws-gcp": ("169.254.10.0/30", "169.254.10.4/30", "169.254.10.8/30", "169.254.10.12/30"),
    # Azure's own AWS guide: connection A on 169.254.21.0/30 + 169.254.22.0/30, B on .4/30 of each.
    "aws-azure": ("169.254.21.0/30", "169.254.22.0/30", "169.254.21.4/30", "169.254.22.4/30"),
    "gcp-azure": ("169.254.21.8/30", "169.254.22.8/30"),
}
"""Inside-tunnel /30s per pair when the stack names none, in tunnel order; none shared between pairs."""

LINK_LOCAL = ipaddress.ip_network("169.254.0.0/16")
AWS_RESERVED = tuple(
    ipaddress.ip_network(c) for c in (*(f"169.254.{i}.0/30" for i in range(6)), "169.254.169.252/30")
)
AZURE_APIPA = (ipaddress.ip_network("169.254.21.0/24"), ipaddress.ip_network("169.254.22.0/24"))
AZURE_RESERVED_ASNS = frozenset({65515, 65517, 65518, 65519, 65520})


def pair_key(clouds: tuple[str, str] | list[str]) -> str:
    """``aws-gcp`` for ``[gcp, aws]``: the pair's clouds in :data:`ORDER`."""
    first, second = sorted(clouds, key=ORDER.index)
    return f"{first}-{second}"


def _private_asn(value: int) -> int:
    if not (64512 <= value <= 65534 or 4_200_000_000 <= value <= 4_294_967_294):
        raise ValueError(
            f"{value} is not a private ASN; use 64512–65534 or 4200000000–4294967294 (what AWS gateways and "
            "Cloud Routers accept)"
        )
    return value


class Asns(Model):
    """The BGP ASN of each cloud's VPN gateway (one gateway per cloud, shared by its pairs)."""

    aws: int = Field(
        default=64512,
        description="ASN of the AWS virtual private gateway (`amazon_side_asn`; AWS's default 64512). "
        "Private ASNs only: 64512–65534 or 4200000000–4294967294. Fixed once the gateway exists.",
    )
    gcp: int = Field(
        default=64514,
        description="ASN of the GCP Cloud Router that speaks BGP over the HA VPN tunnels (private ASNs only).",
    )
    azure: int = Field(
        default=65010,
        description="ASN of the Azure VPN gateway (private ASNs only; not 65515 or 65517–65520, which Azure "
        "reserves).",
    )

    @field_validator("aws", "gcp", "azure")
    @classmethod
    def _private(cls, value: int) -> int:
        return _private_asn(value)

    @field_validator("azure")
    @classmethod
    def _azure(cls, value: int) -> int:
        if value in AZURE_RESERVED_ASNS:
            raise ValueError(f"Azure reserves ASN {value} (65515, 65517–65520) for its own gateways")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> Asns:
        if len({self.aws, self.gcp, self.azure}) < 3:
            raise ValueError(
                f"each cloud needs its own ASN for eBGP between them (aws {self.aws}, gcp {self.gcp}, "
                f"azure {self.azure})"
            )
        return self


class VpnPair(Model):
    """A site-to-site VPN between two clouds' networks, in the HA topology both clouds document."""

    between: list[Cloud] = Field(
        min_length=2,
        max_length=2,
        description="The two clouds it joins, e.g. `[aws, gcp]`; both configured under `aistack:clouds`.",
    )
    inside_cidrs: list[Cidr] | None = Field(
        default=None,
        description="One /30 of 169.254.0.0/16 per tunnel, in tunnel order (aws-gcp and aws-azure 4, gcp-azure "
        "2): the BGP link addresses (the AWS or first cloud takes the first host, the other the second). "
        "Tunnels touching Azure use 169.254.21.0–169.254.22.255 (Azure's APIPA range); AWS refuses "
        "169.254.0.0/30–169.254.5.0/30 and 169.254.169.252/30. Omit for non-overlapping defaults.",
    )

    @field_validator("between")
    @classmethod
    def _two(cls, between: list[str]) -> list[str]:
        if between[0] == between[1]:
            raise ValueError(f"a VPN joins two different clouds, got {between}")
        return between

    @property
    def key(self) -> str:
        """The pair's name in resource names: ``aws-gcp``, ``aws-azure`` or ``gcp-azure``."""
        return pair_key(self.between)

    @property
    def clouds(self) -> tuple[str, str]:
        """The two clouds in :data:`ORDER`."""
        first, second = self.key.split("-")
        return first, second

    @property
    def tunnels(self) -> tuple[str, ...]:
        """The inside /30 of each tunnel, in tunnel order."""
        return tuple(self.inside_cidrs) if self.inside_cidrs is not None else DEFAULT_INSIDE[self.key]

    @model_validator(mode="after")
    def _inside(self) -> VpnPair:
        if self.inside_cidrs is None:
            return self
        want = TUNNELS[self.key]
        if len(self.inside_cidrs) != want:
            raise ValueError(
                f"inside_cidrs: the {self.key} topology has {want} tunnels, got {len(self.inside_cidrs)}"
            )
        for text in self.inside_cidrs:
            net = ipaddress.ip_network(text)
            if net.prefixlen != 30 or not net.subnet_of(LINK_LOCAL):
                raise ValueError(f"inside_cidrs: {text} is not a /30 of 169.254.0.0/16")
            if "aws" in self.clouds and any(net.overlaps(r) for r in AWS_RESERVED):
                raise ValueError(
                    f"inside_cidrs: AWS reserves {text} (169.254.0.0/30–169.254.5.0/30, 169.254.169.252/30)"
                )
            if "azure" in self.clouds and not any(net.subnet_of(r) for r in AZURE_APIPA):
                raise ValueError(
                    f"inside_cidrs: {text} is outside Azure's APIPA range 169.254.21.0–169.254.22.255, where an "
                    "Azure VPN gateway's custom BGP addresses must lie"
                )
        if len(set(self.inside_cidrs)) < want:
            raise ValueError(f"inside_cidrs: a /30 is given twice in {self.inside_cidrs}")
        return self


class InterconnectSpec(Model):
    """Private network paths between the stack's clouds: which pairs get a site-to-site VPN."""

    vpn: list[VpnPair] = Field(
        default_factory=list,
        description="Pairs of configured clouds joined by an HA site-to-site VPN with BGP, e.g. "
        "`[{between: [aws, gcp]}, {between: [aws, azure]}, {between: [gcp, azure]}]`.",
    )
    asn: Asns = Field(default_factory=Asns, description="BGP ASN of each cloud's VPN gateway.")
    private_zone: str | None = Field(
        default=None,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="A private DNS zone created in every configured cloud's network (Route 53 private hosted "
        "zone, Cloud DNS private zone, Azure Private DNS zone), e.g. `internal.example.com`: `internal-lb` "
        "endpoints with a `hostname` resolve there to their clusters' internal entry points, each cloud "
        'preferring its own (docs/multicloud.md, "Private names"). Use a name no public zone answers for '
        "inside the networks: a private zone shadows a public zone of the same name there.",
    )

    @model_validator(mode="after")
    def _pairs(self) -> InterconnectSpec:
        seen: dict[str, int] = {}
        owner: dict[str, str] = {}
        for i, pair in enumerate(self.vpn):
            if pair.key in seen:
                raise ValueError(f"vpn[{i}]: the pair {pair.key} is already vpn[{seen[pair.key]}]")
            seen[pair.key] = i
            for cidr in pair.tunnels:
                for other, who in owner.items():
                    if ipaddress.ip_network(cidr).overlaps(ipaddress.ip_network(other)):
                        raise ValueError(
                            f"vpn[{i}]: inside range {cidr} ({pair.key}) overlaps {other} ({who}); each tunnel "
                            "needs its own /30 (a cloud's gateway holds the tunnels of all its pairs)"
                        )
                owner[cidr] = pair.key
        return self

    def pairs_of(self, cloud: str) -> list[VpnPair]:
        """The pairs a cloud takes part in."""
        return [p for p in self.vpn if cloud in p.clouds]

    def peers_of(self, cloud: str) -> list[str]:
        """The clouds a cloud has a VPN to."""
        return [c for p in self.pairs_of(cloud) for c in p.clouds if c != cloud]


def routed_ranges(cloud: str, network: object) -> list[str]:
    """The address ranges of a cloud's network that its peers reach over the VPN (and accept from).

    AWS: the VPC (EKS pods take VPC addresses). GCP: the node subnetwork and its pod range (VPC-native
    pods keep their addresses towards RFC 1918 destinations: GKE's ip-masq-agent does not masquerade
    them). Azure: the VNet; the AKS pod overlay is not routable, pods leave from their node's address.
    """
    ranges = [network.cidr]
    if cloud == "gcp":
        ranges.append(network.pods_cidr)
    return ranges


@dataclass(frozen=True)
class Tunnel:
    """One IPsec tunnel of a pair, with BGP over its inside /30.

    Attributes:
        pair: The pair's key (``aws-gcp``...).
        index: The tunnel's position in the pair (names: ``<pair>-t<index>``).
        cidr: Its inside /30.
        first: The pair's first cloud (:data:`ORDER`); it takes the /30's first host (AWS must: its side of a
            tunnel is always the first host of the inside CIDR).
        second: The other cloud, on the second host.
        side: Cloud → which part of its gateway ends the tunnel: the AWS VPN connection (0 or 1; tunnel 1 or 2
            of it is :attr:`aws_tunnel`), the GCP HA VPN interface (0 or 1), the Azure gateway instance (0 or 1).
        aws_tunnel: 1 or 2 on AWS pairs, else 0.
    """

    pair: str
    index: int
    cidr: str
    first: str
    second: str
    side: dict[str, int]
    aws_tunnel: int = 0

    def address(self, cloud: str) -> str:
        """The cloud's BGP address on this tunnel."""
        hosts = list(ipaddress.ip_network(self.cidr).hosts())
        return str(hosts[0] if cloud == self.first else hosts[1])

    def peer_of(self, cloud: str) -> str:
        """The other cloud of the tunnel."""
        return self.second if cloud == self.first else self.first

    @property
    def name(self) -> str:
        """``<pair>-t<index>``: the suffix of the tunnel's resources on both sides."""
        return f"{self.pair}-t{self.index}"


def tunnels(pair: VpnPair) -> list[Tunnel]:
    """A pair's tunnels in its clouds' documented HA topology (see :data:`TUNNELS`).

    AWS pairs: tunnels 0–1 are the two tunnels of AWS connection A (whose customer gateway is the peer's
    interface/instance 0), 2–3 those of connection B (the peer's interface/instance 1); on GCP they land on
    external-gateway interfaces 0–3 (A1, A2, B1, B2) as "Connect HA VPN to AWS peer gateways" lays out.
    GCP↔Azure: tunnel i joins HA VPN interface i and Azure instance i.
    """
    first, second = pair.clouds
    result = []
    for i, cidr in enumerate(pair.tunnels):
        if first == "aws":
            side = {"aws": i // 2, second: i // 2}
            result.append(Tunnel(pair.key, i, cidr, first, second, side, aws_tunnel=i % 2 + 1))
        else:
            result.append(Tunnel(pair.key, i, cidr, first, second, {first: i, second: i}))
    return result


def azure_bgp_addresses(spec: InterconnectSpec) -> dict[int, list[str]]:
    """Azure gateway instance → its custom (APIPA) BGP addresses: its side of every tunnel it ends."""
    found: dict[int, list[str]] = {0: [], 1: []}
    for pair in spec.pairs_of("azure"):
        for tunnel in tunnels(pair):
            found[tunnel.side["azure"]].append(tunnel.address("azure"))
    return found


def peer_ranges(spec: object, cloud: str) -> list[str]:
    """The routed ranges of every cloud ``cloud`` has a VPN to (``spec`` a :class:`~aistack.spec.StackSpec`)."""
    configured = spec.clouds.configured()  # type: ignore[attr-defined]
    return [r for peer in spec.interconnect.peers_of(cloud) for r in routed_ranges(peer, configured[peer])]  # type: ignore[attr-defined]
