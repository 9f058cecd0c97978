"""Azure end of the site-to-site VPNs: an active-active, zone-redundant VPN gateway with BGP.

The recipe Azure documents for AWS ("How to connect AWS and Azure using a BGP-enabled VPN gateway"): an
active-active gateway (two instances, two public addresses) with custom APIPA BGP addresses, one local
network gateway and one connection per remote tunnel. The same shape serves GCP's HA VPN, whose Cloud
Router also peers on link-local addresses.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_azure_native as azure_native

from aistack.spec.interconnect import Tunnel
from components import contract

SKU = "VpnGw2AZ"
"""Zone-redundant, 1.25 Gbps aggregate, BGP and active-active (Azure VPN Gateway SKUs). The AZ SKUs are
what Azure now sells for new gateways (non-AZ VpnGw1–5 are being migrated to AZ); ``VpnGw1AZ`` exists
only in Generation 1, hence VpnGw2AZ on Generation 2."""

GATEWAY_TIMEOUT = "120m"
"""Create/update/delete bound for the gateway: Azure says a VPN gateway takes 45 minutes or more to
create (learn.microsoft.com/azure/vpn-gateway/tutorial-create-gateway-portal), and providers' default
bounds time out before it is done (pulumi/pulumi-azure#551; Azure/terraform-azurerm-avm-ptn-vnetgateway#136
raised azapi's to 2 h)."""

ZONE_REDUNDANT = ["1", "2", "3"]
"""An AZ gateway's public addresses are zone-redundant: every zone of the region, not the stack's subset (a
public IP is zonal in one zone or zone-redundant in all; Azure VPN Gateway, "About zone-redundant virtual
network gateways")."""

IP_CONFIGS = ("default", "activeActive")
"""The gateway's two IP configurations, instance 0 and 1."""


class VpnGateway(contract.VpnGateway):
    """The VNet's active-active VPN gateway in its GatewaySubnet, with BGP on APIPA addresses.

    Children: ``-gw-ip0`` / ``-gw-ip1`` (Standard, static, zone-redundant public addresses, one per
    instance) and ``-gw`` (route-based, ``VpnGw2AZ`` Generation 2, active-active, BGP with the stack's Azure
    ASN and per instance the custom APIPA addresses of every tunnel it ends; 120-minute custom timeouts).

    Outputs: ``gateway_id``, ``outside_addresses`` (instance 0 and 1 public addresses); attributes
    ``ip_configuration_ids`` (instance → the ARM id connections name for custom BGP addresses).
    """

    CLOUD = "azure"

    def __init__(
        self,
        name: str,
        *,
        physical_name: str,
        subscription_id: str,
        resource_group_name: pulumi.Input[str],
        gateway_subnet_id: pulumi.Input[str],
        location: str,
        asn: int,
        bgp_addresses: dict[int, list[str]],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        where = {"resource_group_name": resource_group_name, "location": location, "tags": tags}
        ips = [
            azure_native.network.PublicIPAddress(
                self.child(f"gw-ip{i}"),
                sku={"name": "Standard", "tier": "Regional"},
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                zones=ZONE_REDUNDANT,
                **where,
                opts=self.opts(),
            )
            for i in (0, 1)
        ]
        # The gateway's own id names its IP configurations, so it gets a fixed name and the ids are built.
        self.ip_configuration_ids = {
            i: pulumi.Output.concat(
                f"/subscriptions/{subscription_id}/resourceGroups/",
                resource_group_name,
                f"/providers/Microsoft.Network/virtualNetworkGateways/{physical_name}/ipConfigurations/{config}",
            )
            for i, config in enumerate(IP_CONFIGS)
        }
        gateway = azure_native.network.VirtualNetworkGateway(
            self.child("gw"),
            virtual_network_gateway_name=physical_name,
            gateway_type="Vpn",
            vpn_type="RouteBased",
            vpn_gateway_generation="Generation2",
            sku={"name": SKU, "tier": SKU},
            active_active=True,
            enable_bgp=True,
            ip_configurations=[
                {
                    "name": config,
                    "private_ip_allocation_method": "Dynamic",
                    "public_ip_address": {"id": ips[i].id},
                    "subnet": {"id": gateway_subnet_id},
                }
                for i, config in enumerate(IP_CONFIGS)
            ],
            bgp_settings={
                "asn": asn,
                "bgp_peering_addresses": [
                    {
                        "ipconfiguration_id": self.ip_configuration_ids[i],
                        "custom_bgp_ip_addresses": bgp_addresses[i],
                    }
                    for i in (0, 1)
                ],
            },
            **where,
            opts=self.opts(
                custom_timeouts=pulumi.CustomTimeouts(
                    create=GATEWAY_TIMEOUT, update=GATEWAY_TIMEOUT, delete=GATEWAY_TIMEOUT
                )
            ),
        )
        self.resource_group_name = resource_group_name
        self.location = location
        self.tags = tags
        self.finish(gateway_id=gateway.id, outside_addresses=[ip.ip_address for ip in ips])


def _sibling(t: Tunnel, tunnels: Sequence[Tunnel]) -> Tunnel:
    """The pair's tunnel on the other Azure instance in the same position (for its custom BGP address)."""
    return next(s for s in tunnels if s.side["azure"] != t.side["azure"] and s.aws_tunnel == t.aws_tunnel)


class VpnTunnels(contract.VpnTunnels):
    """Azure's side of one pair: a local network gateway and a connection per remote tunnel.

    Children: per tunnel ``-<tunnel>-lng`` (the remote tunnel endpoint, its ASN and BGP address) and
    ``-<tunnel>`` (IPsec, IKEv2, BGP, the tunnel's pre-shared key, and custom BGP addresses for both gateway
    instances: this tunnel's APIPA address on its instance, the sibling tunnel's on the other, as Azure's AWS
    guide sets them); with no keys given, ``-random`` and the keys.

    Outputs: ``outside_addresses`` (empty: Azure's addresses are the gateway's).
    """

    CLOUD = "azure"

    def declare(
        self,
        gateway: VpnGateway,
        tunnels: Sequence[Tunnel],
        peer_addresses: Sequence[pulumi.Input[str]],
        peer_asn: int,
        keys: dict[str, pulumi.Output[str]],
    ) -> None:
        """``peer_addresses``: the remote endpoint of each tunnel, in tunnel order."""
        where = {
            "resource_group_name": gateway.resource_group_name,
            "location": gateway.location,
            "tags": gateway.tags,
        }
        for t, address in zip(tunnels, peer_addresses, strict=True):
            other = t.peer_of("azure")
            local = azure_native.network.LocalNetworkGateway(
                self.child(f"{t.name}-lng"),
                gateway_ip_address=address,
                # With BGP the remote prefixes are learned; the peer's BGP address is all Azure needs.
                bgp_settings={"asn": peer_asn, "bgp_peering_address": t.address(other)},
                **where,
                opts=self.opts(),
            )
            sibling = _sibling(t, tunnels)
            addresses = {t.side["azure"]: t.address("azure"), sibling.side["azure"]: sibling.address("azure")}
            azure_native.network.VirtualNetworkGatewayConnection(
                self.child(t.name),
                connection_type="IPsec",
                connection_protocol="IKEv2",
                virtual_network_gateway1={"id": gateway.gateway_id},
                local_network_gateway2={"id": local.id},
                shared_key=keys[t.name],
                enable_bgp=True,
                gateway_custom_bgp_ip_addresses=[
                    {
                        "ip_configuration_id": gateway.ip_configuration_ids[i],
                        "custom_bgp_ip_address": addresses[i],
                    }
                    for i in (0, 1)
                ],
                **where,
                opts=self.opts(),
            )
        self.finish(outside_addresses=[])
