"""Cases for the site-to-site VPN rules (``policies/aistack_rules/interconnect.py``)."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import Case, res
from tests.policies.cases_deploy import after

HA = "gcp:compute/haVpnGateway:HaVpnGateway"
EXTERNAL = "gcp:compute/externalVpnGateway:ExternalVpnGateway"
TUNNEL = "gcp:compute/vPNTunnel:VPNTunnel"
AZ_GATEWAY = "azure-native:network:VirtualNetworkGateway"
AZ_SUBNET = "azure-native:network:Subnet"
AWS_CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
VGW = "aws:ec2/vpnGateway:VpnGateway"
ATTACHMENT = "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment"
PROPAGATION = "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation"
PASSWORD = "random:index/randomPassword:RandomPassword"

HA_GW = res(HA, "ha-vpn", {"region": "us-central1"})
PEER = res(EXTERNAL, "peer", {"redundancyType": "TWO_IPS_REDUNDANCY", "interfaces": [{"id": 0}, {"id": 1}]})
KEY = res(PASSWORD, "t0-psk", {"length": 40})


def tunnel(i: int, interface: Any = None, secret: Any = "generated", *deps: dict[str, Any]) -> dict[str, Any]:
    inputs = {"vpnGatewayInterface": i if interface is None else interface, "peerExternalGatewayInterface": i}
    return after(res(TUNNEL, f"t{i}", inputs | {"sharedSecret": secret}), *deps)


def azure_gateway(configs: int = 2, active: bool = True, subnet_id: Any = None) -> dict[str, Any]:
    subnet = (
        subnet_id
        or "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/GatewaySubnet"
    )
    return res(
        AZ_GATEWAY,
        "gw",
        {
            "gatewayType": "Vpn",
            "activeActive": active,
            "ipConfigurations": [{"name": f"c{i}", "subnet": {"id": subnet}} for i in range(configs)],
        },
    )


GATEWAY_SUBNET = res(
    AZ_SUBNET,
    "gateway-subnet",
    {"subnetName": "GatewaySubnet", "addressPrefix": "10.60.255.224/27"},
    outputs={
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/GatewaySubnet"
    },
)
AWS_BOTH = res(
    AWS_CONNECTION, "vpn0", {"tunnel1InsideCidr": "169.254.10.0/30", "tunnel2InsideCidr": "169.254.10.4/30"}
)

VGW_ATTACHED_LATER = res(VGW, "vgw", {"amazonSideAsn": "64512"})
ATTACH = after(res(ATTACHMENT, "vgw-attachment", {"vpcId": "vpc-1"}), VGW_ATTACHED_LATER)

INTERCONNECT_CASES = {
    "vpn-ha-tunnels": Case(
        compliant=[
            HA_GW,
            PEER,
            tunnel(0, None, "k", HA_GW, PEER),
            tunnel(1, None, "k", HA_GW, PEER),
            azure_gateway(),
            AWS_BOTH,
        ],
        violating=[HA_GW, PEER, tunnel(0, None, "k", HA_GW, PEER), azure_gateway(configs=1, active=False)],
        unknown=[HA_GW, tunnel(0, None, "k", HA_GW), tunnel(1, U, "k", HA_GW)],
        orphaned=[HA_GW],
        message="interface(s) 1 of 'ha-vpn' carry no tunnel",
    ),
    "vpn-psk-generated": Case(
        compliant=[KEY, tunnel(0, None, "generated-key", KEY)],
        violating=[tunnel(0, None, "hunter2hunter2")],
        unknown=[tunnel(0, None, U)],
        orphaned=[tunnel(0, None, "hunter2hunter2")],
        message="sharedSecret of 't0' is a literal, not a generated secret",
    ),
    "deploy-vpn-propagation-after-attach": Case(
        compliant=[
            after(res(PROPAGATION, "propagation-a", {"routeTableId": "rtb-1"}), VGW_ATTACHED_LATER, ATTACH),
            VGW_ATTACHED_LATER,
            ATTACH,
        ],
        violating=[
            after(res(PROPAGATION, "propagation-a", {"routeTableId": "rtb-1"}), VGW_ATTACHED_LATER),
            VGW_ATTACHED_LATER,
            ATTACH,
        ],
        unknown=[
            after(
                res(PROPAGATION, "propagation-a", {"routeTableId": "rtb-1"}), res(VGW, "vgw", {"vpcId": U})
            ),
            res(VGW, "vgw", {"vpcId": U}),
        ],
        orphaned=[
            after(res(PROPAGATION, "propagation-a", {"routeTableId": "rtb-1"}), VGW_ATTACHED_LATER),
            VGW_ATTACHED_LATER,
        ],
        message="does not wait for the attachment of gateway 'vgw' to the VPC",
    ),
    "deploy-azure-gateway-subnet": Case(
        compliant=[azure_gateway(), GATEWAY_SUBNET],
        violating=[
            azure_gateway(
                subnet_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"
            )
        ],
        unknown=[azure_gateway(subnet_id=U)],
        orphaned=[azure_gateway()],
        orphan_passes=True,
        message="Azure requires the subnet named GatewaySubnet",
    ),
}
