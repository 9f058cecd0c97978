"""Azure network: resource group, VNet, node and endpoint subnets, NAT egress, NSG, blob private DNS."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_azure_native as azure_native

from aistack.spec.clouds import AzureCloudSpec, zone_index
from components import contract

BLOB_PRIVATE_DNS_ZONE = "privatelink.blob.core.windows.net"
"""The private DNS zone blob private endpoints register in (Azure public cloud)."""
VAULT_PRIVATE_DNS_ZONE = "privatelink.vaultcore.azure.net"
"""The private DNS zone Key Vault private endpoints register in (Azure public cloud; learn.microsoft.com
/azure/private-link/private-endpoint-dns, "Security": Key Vault, group ``vault``)."""


def subnet_blocks(cidr: str) -> tuple[str, str]:
    """The (nodes, endpoints) CIDR blocks of a VNet.

    Nodes take the first half: Azure subnets span every zone and pods use the CNI overlay, so one
    node subnet serves all zones and pools. Private endpoints take the first sixteenth of the
    second half; the rest stays free for later subnets.
    """
    net = ipaddress.ip_network(cidr)
    nodes, rest = net.subnets(new_prefix=net.prefixlen + 1)
    endpoints = next(rest.subnets(new_prefix=net.prefixlen + 4))
    return str(nodes), str(endpoints)


GATEWAY_SUBNET = "GatewaySubnet"
"""The name Azure requires of the subnet a VPN gateway is deployed to (learn.microsoft.com/azure/vpn-gateway/
vpn-gateway-about-vpn-gateway-settings, "Gateway subnet": named exactly ``GatewaySubnet``, /27 or larger, no
network security group; the gateway's create fails otherwise)."""


def gateway_subnet_block(cidr: str) -> str:
    """The VNet's last /27: the GatewaySubnet, clear of the node and endpoint subnets (:func:`subnet_blocks`)."""
    return str(list(ipaddress.ip_network(cidr).subnets(new_prefix=27))[-1])


def peer_rules(peer_ranges: list[str], ports: list[int]) -> list[dict[str, object]]:
    """NSG rules for the clouds joined by VPN: their ranges reach the serving ports, nothing else.

    Azure's default ``AllowVnetInBound`` (priority 65000) admits whatever the ``VirtualNetwork`` tag covers,
    which includes address space learned from a VPN gateway (Azure, "Virtual network service tags":
    VirtualNetwork includes "connected on-premises address spaces"): without these two rules every port of
    every node would be open to the other clouds.
    """
    if not peer_ranges:
        return []
    ports = sorted(set(ports))
    allow = {
        "name": "allow-peer-clouds-serving",
        "priority": 300,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": "Tcp",
        "source_address_prefixes": list(peer_ranges),
        "source_port_range": "*",
        "destination_address_prefix": "VirtualNetwork",
        "destination_port_ranges": [str(p) for p in ports],
        "description": "The other clouds' nodes and pods reach the internal load balancers of the serving "
        "endpoints over the site-to-site VPN, on the serving ports only.",
    }
    deny = {
        "name": "deny-peer-clouds-other",
        "priority": 310,
        "direction": "Inbound",
        "access": "Deny",
        "protocol": "*",
        "source_address_prefixes": list(peer_ranges),
        "source_port_range": "*",
        "destination_address_prefix": "*",
        "destination_port_range": "*",
        "description": "Nothing else from the other clouds' ranges (the VPN would otherwise count as VirtualNetwork).",
    }
    return [allow, deny] if ports else [deny]


def public_entry_rule(sources: list[str]) -> list[dict[str, object]]:
    """The NSG rule letting ``sources`` reach the public load balancers of ``public-lb`` endpoints on 443.

    AKS writes the Service's ``loadBalancerSourceRanges`` into the NSG it manages on the nodes' NICs, not
    into a subnet NSG the stack brings (AKS, "Network security groups": a custom subnet NSG must allow the
    load balancer's traffic itself); the subnet NSG's deny-internet rule below would otherwise drop the
    clients and the health checkers. AKS's load balancer rules use floating IP, so the packets keep the
    public frontend as destination: the rule names the port, not an address.
    """
    if not sources:
        return []
    return [
        {
            "name": "allow-public-entry",
            "priority": 200,
            "direction": "Inbound",
            "access": "Allow",
            "protocol": "Tcp",
            "source_address_prefixes": list(sources),
            "source_port_range": "*",
            "destination_address_prefix": "*",
            "destination_port_range": "443",
            "description": "Clients and the DNS provider's health checkers reach the public-lb endpoints' load "
            "balancers (TLS, API key) on 443 only.",
        }
    ]


# The NSG's built-in DenyAllInBound (priority 65500) already drops internet traffic; this rule
# states the intent in the inputs that policies and reviewers read.
DENY_INTERNET_INBOUND = {
    "name": "deny-internet-inbound",
    "priority": 4096,
    "direction": "Inbound",
    "access": "Deny",
    "protocol": "*",
    "source_address_prefix": "Internet",
    "source_port_range": "*",
    "destination_address_prefix": "*",
    "destination_port_range": "*",
    "description": "No inbound traffic from the internet: the API server is private or allow-listed, "
    "services are internal.",
}


class Network(contract.Network):
    """The resource group and VNet every Azure resource of the stack lives in.

    Storage is reached through a private endpoint (not a service endpoint with network rules): the
    storage account then turns public network access off entirely, and blob traffic from nodes
    stays on private addresses resolved by the ``privatelink.blob.core.windows.net`` zone. A
    service endpoint would keep the account's public endpoint reachable by configuration.

    Children: ``-rg`` (the resource group, protected in production), ``-vnet``, ``-nat-ip``
    (Standard static public IP) and ``-nat`` (NAT gateway, in the first zone), ``-nsg`` (no
    inbound allow from the internet), ``-nodes`` (node subnet: NAT egress, NSG, no default
    outbound access), ``-endpoints`` (private endpoint subnet, NSG enforced on endpoints),
    ``-blob-dns`` (private DNS zone for blob endpoints) and ``-blob-dns-link`` (linked to the VNet),
    ``-vault-dns`` and ``-vault-dns-link`` (the same for Key Vault endpoints); with ``gateway_subnet``,
    ``-gateway-subnet`` (the ``GatewaySubnet`` a VPN gateway needs, the VNet's last /27, no NSG); with
    ``peer_ranges``, two NSG rules that let the other clouds reach the serving ports only (:func:`peer_rules`).

    Outputs: ``network_id`` (VNet id), ``node_subnet_ids`` (zone → node subnet id; the one node
    subnet spans every zone), ``resource_group_name``, ``endpoint_subnet_id``, ``blob_dns_zone_id``,
    ``vault_dns_zone_id``, ``gateway_subnet_id`` (``None`` without ``gateway_subnet``).
    """

    CLOUD = "azure"
    OUTPUTS = (
        "network_id",
        "node_subnet_ids",
        "resource_group_name",
        "endpoint_subnet_id",
        "blob_dns_zone_id",
        "vault_dns_zone_id",
        "gateway_subnet_id",
    )

    def __init__(
        self,
        name: str,
        spec: AzureCloudSpec,
        *,
        resource_group: str,
        tags: dict[str, str],
        protect: bool,
        gateway_subnet: bool = False,
        peer_ranges: list[str] | None = None,
        serving_ports: list[int] | None = None,
        public_sources: list[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the spec: ``gateway_subnet`` adds the VPN gateway's subnet; ``peer_ranges`` (the
        other clouds' routed ranges over the VPN) may reach ``serving_ports`` only; ``public_sources`` (the
        allow-list of ``public-lb`` endpoints and the DNS provider's health checkers) reach their public
        load balancers on 443 (:func:`public_entry_rule`)."""
        super().__init__(name, opts)
        if spec.nat != "single":
            raise ValueError("Azure supports nat: single only (see components.registry.UNSUPPORTED)")
        where = {"location": spec.location, "tags": tags}
        group = azure_native.resources.ResourceGroup(
            self.child("rg"), resource_group_name=resource_group, **where, opts=self.opts(protect=protect)
        )
        rg = group.name
        vnet = azure_native.network.VirtualNetwork(
            self.child("vnet"),
            resource_group_name=rg,
            address_space={"address_prefixes": [spec.cidr]},
            **where,
            opts=self.opts(),
        )
        nat_zone = sorted(spec.zones, key=zone_index)[0]
        nat_ip = azure_native.network.PublicIPAddress(
            self.child("nat-ip"),
            resource_group_name=rg,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            zones=[nat_zone],
            **where,
            opts=self.opts(),
        )
        nat = azure_native.network.NatGateway(
            self.child("nat"),
            resource_group_name=rg,
            sku={"name": "Standard"},
            public_ip_addresses=[{"id": nat_ip.id}],
            idle_timeout_in_minutes=4,
            zones=[nat_zone],
            **where,
            opts=self.opts(),
        )
        nsg = azure_native.network.NetworkSecurityGroup(
            self.child("nsg"),
            resource_group_name=rg,
            security_rules=[
                *public_entry_rule(public_sources or []),
                *peer_rules(peer_ranges or [], serving_ports or []),
                DENY_INTERNET_INBOUND,
            ],
            **where,
            opts=self.opts(),
        )
        nodes_block, endpoints_block = subnet_blocks(spec.cidr)
        nodes = azure_native.network.Subnet(
            self.child("nodes"),
            resource_group_name=rg,
            virtual_network_name=vnet.name,
            address_prefix=nodes_block,
            nat_gateway={"id": nat.id},
            network_security_group={"id": nsg.id},
            default_outbound_access=False,
            private_endpoint_network_policies="Disabled",
            opts=self.opts(),
        )
        endpoints = azure_native.network.Subnet(
            self.child("endpoints"),
            resource_group_name=rg,
            virtual_network_name=vnet.name,
            address_prefix=endpoints_block,
            network_security_group={"id": nsg.id},
            default_outbound_access=False,
            private_endpoint_network_policies="Enabled",
            # Azure rejects concurrent writes to two subnets of one VNet.
            opts=self.opts(depends_on=[nodes]),
        )
        gateway = None
        if gateway_subnet:
            gateway = azure_native.network.Subnet(
                self.child("gateway-subnet"),
                resource_group_name=rg,
                virtual_network_name=vnet.name,
                subnet_name=GATEWAY_SUBNET,
                address_prefix=gateway_subnet_block(spec.cidr),
                # One subnet write at a time per VNet (as above).
                opts=self.opts(depends_on=[endpoints]),
            )
        zones = {
            kind: self._private_zone(kind, zone_name, rg=rg, vnet=vnet, tags=tags)
            for kind, zone_name in (("blob", BLOB_PRIVATE_DNS_ZONE), ("vault", VAULT_PRIVATE_DNS_ZONE))
        }
        self.finish(
            network_id=vnet.id,
            node_subnet_ids={z: nodes.id for z in sorted(spec.zones, key=zone_index)},
            resource_group_name=rg,
            endpoint_subnet_id=endpoints.id,
            blob_dns_zone_id=zones["blob"].id,
            vault_dns_zone_id=zones["vault"].id,
            gateway_subnet_id=gateway.id if gateway else None,
        )

    def _private_zone(
        self,
        kind: str,
        zone_name: str,
        *,
        rg: pulumi.Input[str],
        vnet: azure_native.network.VirtualNetwork,
        tags: dict[str, str],
    ) -> azure_native.privatedns.PrivateZone:
        """``-<kind>-dns``: the private DNS zone ``zone_name``, linked to the VNet (``-<kind>-dns-link``)."""
        zone = azure_native.privatedns.PrivateZone(
            self.child(f"{kind}-dns"),
            resource_group_name=rg,
            private_zone_name=zone_name,
            location="global",
            tags=tags,
            opts=self.opts(),
        )
        azure_native.privatedns.VirtualNetworkLink(
            self.child(f"{kind}-dns-link"),
            resource_group_name=rg,
            private_zone_name=zone.name,
            virtual_network={"id": vnet.id},
            registration_enabled=False,
            location="global",
            tags=tags,
            opts=self.opts(),
        )
        return zone
