"""AWS end of the site-to-site VPNs: a virtual private gateway, customer gateways, VPN connections.

The recipe both peers document: one virtual private gateway on the VPC; per peer gateway interface a
customer gateway and a VPN connection of two tunnels, BGP over each (GCP, "Connect HA VPN to AWS peer
gateways"; Azure, "How to connect AWS and Azure using a BGP-enabled VPN gateway"). Routes the peers
advertise are propagated into the route tables the nodes use.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from aistack.spec.interconnect import Tunnel
from components import contract

IKE = {
    # GCP, "Connect HA VPN to AWS peer gateways", known issue: with AWS's default set of transform sets the
    # IKE SA payload is fragmented and Cloud VPN fails to rekey; offer one Phase 1 / Phase 2 combination
    # (IKEv2, AES-256-GCM-16 / AES256 with SHA2-256, DH group 20 as both Cloud VPN and Azure accept).
    "ike_versions": ["ikev2"],
    "phase1_encryption_algorithms": ["AES256"],
    "phase1_integrity_algorithms": ["SHA2-256"],
    "phase1_dh_group_numbers": [20],
    "phase2_encryption_algorithms": ["AES256"],
    "phase2_integrity_algorithms": ["SHA2-256"],
    "phase2_dh_group_numbers": [20],
}
"""One proposal per phase on every AWS tunnel, set on both tunnels of a connection."""


class VpnGateway(contract.VpnGateway):
    """The VPC's virtual private gateway, attached, its routes propagated to the node route tables.

    Children: ``-vgw`` (``amazon_side_asn`` = the stack's AWS ASN), ``-vgw-attachment``, and per zone
    ``-propagation-<zone>`` on the private route table of that zone. Each propagation depends on the
    attachment: EC2 refuses ``EnableVgwRoutePropagation`` for a gateway not yet attached to the VPC
    (aws-cloudformation/cloudformation-coverage-roadmap#1039; policy ``deploy-vpn-propagation-after-attach``).

    Outputs: ``gateway_id``, ``outside_addresses`` (empty: AWS's addresses come with each connection).
    """

    CLOUD = "aws"

    def __init__(
        self,
        name: str,
        *,
        vpc_id: pulumi.Input[str],
        route_table_ids: dict[str, pulumi.Input[str]],
        asn: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        vgw = aws.ec2.VpnGateway(
            self.child("vgw"),
            amazon_side_asn=str(asn),
            tags={"Name": self.child("vgw")},
            opts=self.opts(),
        )
        attachment = aws.ec2.VpnGatewayAttachment(
            self.child("vgw-attachment"), vpc_id=vpc_id, vpn_gateway_id=vgw.id, opts=self.opts()
        )
        for zone, table in sorted(route_table_ids.items()):
            aws.ec2.VpnGatewayRoutePropagation(
                self.child(f"propagation-{zone}"),
                vpn_gateway_id=vgw.id,
                route_table_id=table,
                opts=self.opts(depends_on=[attachment]),
            )
        self.finish(gateway_id=vgw.id, outside_addresses=[])


class VpnTunnels(contract.VpnTunnels):
    """AWS's side of one pair: two customer gateways and two VPN connections (four tunnels).

    Children: per peer interface ``i`` (0, 1) ``-cgw<i>`` (the peer's public address and ASN) and ``-vpn<i>``
    (type ``ipsec.1``, BGP: ``static_routes_only`` false, both tunnels' inside /30 and pre-shared key from the
    pair's plan, one IKEv2 proposal), and ``-random`` plus per tunnel ``-<tunnel>-psk`` unless the keys are
    given (the pair's other side made them).

    Outputs: ``outside_addresses``: the four tunnel endpoints, in tunnel order (connection 0's tunnel 1 and 2,
    then connection 1's).
    """

    CLOUD = "aws"

    def declare(
        self,
        gateway: VpnGateway,
        tunnels: Sequence[Tunnel],
        peer_addresses: Sequence[pulumi.Input[str]],
        peer_asn: int,
        keys: dict[str, pulumi.Output[str]],
    ) -> None:
        addresses: list[pulumi.Output[str]] = []
        for conn in (0, 1):
            mine = sorted((t for t in tunnels if t.side["aws"] == conn), key=lambda t: t.aws_tunnel)
            cgw = aws.ec2.CustomerGateway(
                self.child(f"cgw{conn}"),
                bgp_asn=str(peer_asn),
                ip_address=peer_addresses[conn],
                type="ipsec.1",
                tags={"Name": self.child(f"cgw{conn}")},
                opts=self.opts(),
            )
            options: dict[str, object] = {}
            for t in mine:
                options[f"tunnel{t.aws_tunnel}_inside_cidr"] = t.cidr
                options[f"tunnel{t.aws_tunnel}_preshared_key"] = keys[t.name]
                options |= {f"tunnel{t.aws_tunnel}_{k}": v for k, v in IKE.items()}
            vpn = aws.ec2.VpnConnection(
                self.child(f"vpn{conn}"),
                vpn_gateway_id=gateway.gateway_id,
                customer_gateway_id=cgw.id,
                type="ipsec.1",
                static_routes_only=False,
                tags={"Name": self.child(f"vpn{conn}")},
                **options,
                # The keys are generated values: keep them out of the engine's plain view of the inputs.
                opts=self.opts(additional_secret_outputs=["tunnel1PresharedKey", "tunnel2PresharedKey"]),
            )
            addresses += [vpn.tunnel1_address, vpn.tunnel2_address]
        self.finish(outside_addresses=addresses)
