"""GCP end of the site-to-site VPNs: an HA VPN gateway, a Cloud Router for BGP, tunnels per peer.

HA VPN's 99.99% SLA holds when every interface of the HA gateway and of the peer gateway carries a
tunnel (GCP, "HA VPN topologies"): to AWS four tunnels to a ``FOUR_IPS_REDUNDANCY`` external gateway
("Connect HA VPN to AWS peer gateways"), to Azure's active-active gateway two tunnels to a
``TWO_IPS_REDUNDANCY`` one.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

from aistack.spec.interconnect import Tunnel
from components import contract

REDUNDANCY = {2: "TWO_IPS_REDUNDANCY", 4: "FOUR_IPS_REDUNDANCY"}
"""The external gateway's redundancy type by its number of interfaces."""


class VpnGateway(contract.VpnGateway):
    """The VPC's HA VPN gateway and the Cloud Router that speaks BGP over its tunnels.

    Children: ``-ha-vpn`` (two interfaces, each with its own Google-assigned public address) and
    ``-vpn-router`` (the stack's GCP ASN; default advertisements: every subnetwork range of the region,
    secondary (pod) ranges included). The NAT router keeps its own, separate: a router's ASN is fixed
    at BGP setup and NAT needs none.

    Outputs: ``gateway_id``, ``outside_addresses`` (interface 0 and 1 addresses), and the ``router``
    (attribute) the tunnels' BGP sessions go on.
    """

    CLOUD = "gcp"

    def __init__(
        self,
        name: str,
        *,
        network_id: pulumi.Input[str],
        region: str,
        asn: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        gateway = gcp.compute.HaVpnGateway(
            self.child("ha-vpn"), network=network_id, region=region, stack_type="IPV4_ONLY", opts=self.opts()
        )
        self.router = gcp.compute.Router(
            self.child("vpn-router"),
            network=network_id,
            region=region,
            bgp={"asn": asn, "advertise_mode": "DEFAULT"},
            opts=self.opts(),
        )
        self.region = region
        self.finish(
            gateway_id=gateway.id,
            outside_addresses=[gateway.vpn_interfaces[i].ip_address for i in (0, 1)],
        )


class VpnTunnels(contract.VpnTunnels):
    """GCP's side of one pair: the peer as an external VPN gateway, the tunnels and their BGP sessions.

    Children: ``-peer`` (external VPN gateway, one interface per peer address), per tunnel ``-<tunnel>``
    (IKEv2, the tunnel's pre-shared key, on the HA interface and peer interface of the pair's plan),
    ``-<tunnel>-bgp-if`` (the router interface on GCP's address of the inside /30) and ``-<tunnel>-bgp``
    (the BGP peer: the other cloud's address and ASN); with no keys given, ``-random`` and the keys.

    Outputs: ``outside_addresses`` (empty: GCP's addresses are the gateway's).
    """

    CLOUD = "gcp"

    def declare(
        self,
        gateway: VpnGateway,
        tunnels: Sequence[Tunnel],
        peer_addresses: Sequence[pulumi.Input[str]],
        peer_asn: int,
        keys: dict[str, pulumi.Output[str]],
    ) -> None:
        peer = gcp.compute.ExternalVpnGateway(
            self.child("peer"),
            redundancy_type=REDUNDANCY[len(peer_addresses)],
            interfaces=[{"id": i, "ip_address": address} for i, address in enumerate(peer_addresses)],
            opts=self.opts(),
        )
        router = gateway.router
        for t in tunnels:
            other = t.peer_of("gcp")
            tunnel = gcp.compute.VPNTunnel(
                self.child(t.name),
                region=gateway.region,
                vpn_gateway=gateway.gateway_id,
                vpn_gateway_interface=t.side["gcp"],
                peer_external_gateway=peer.id,
                # Tunnel i ends on peer interface i: AWS's A1, A2, B1, B2; Azure's instance 0, 1.
                peer_external_gateway_interface=t.index,
                shared_secret=keys[t.name],
                router=router.id,
                ike_version=2,
                opts=self.opts(),
            )
            interface = gcp.compute.RouterInterface(
                self.child(f"{t.name}-bgp-if"),
                router=router.name,
                region=gateway.region,
                ip_range=f"{t.address('gcp')}/30",
                vpn_tunnel=tunnel.name,
                opts=self.opts(),
            )
            gcp.compute.RouterPeer(
                self.child(f"{t.name}-bgp"),
                router=router.name,
                region=gateway.region,
                interface=interface.name,
                peer_ip_address=t.address(other),
                peer_asn=peer_asn,
                advertised_route_priority=100,
                opts=self.opts(),
            )
        self.finish(outside_addresses=[])
