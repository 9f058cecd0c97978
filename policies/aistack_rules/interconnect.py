"""Site-to-site VPNs between clouds: redundant tunnels, generated keys, and what breaks a first deploy.

The graph is read through ``dependencies`` (the resources each one's inputs come from), which both the
offline engine and Pulumi's record, so the joins hold before any id is known.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .core import (
    MANDATORY,
    CannotCheck,
    Indeterminate,
    Rule,
    Subject,
    as_bool,
    each,
    get,
    get_known,
    is_unknown,
)
from .tokens import (
    AZ_SUBNET,
    AZ_VPN_CONNECTION,
    AZ_VPN_GATEWAY,
    EC2_VPN_CONNECTION,
    EC2_VPN_GATEWAY,
    EC2_VPN_GATEWAY_ATTACHMENT,
    EC2_VPN_PROPAGATION,
    GCE_EXTERNAL_VPN_GATEWAY,
    GCE_HA_VPN_GATEWAY,
    GCE_VPN_TUNNEL,
    RANDOM_PASSWORD,
)

PSK_INPUTS = {
    EC2_VPN_CONNECTION: ("tunnel1PresharedKey", "tunnel2PresharedKey"),
    GCE_VPN_TUNNEL: ("sharedSecret",),
    AZ_VPN_CONNECTION: ("sharedKey",),
}
"""Where each tunnel resource takes its pre-shared key."""


def _after(r: Subject, other: Subject) -> bool:
    return other.urn in r.dependencies


def check_vpn_ha(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every interface of an HA VPN gateway carries a tunnel, so a tunnel or an instance may go down.

    GCP's 99.99% SLA needs tunnels on both HA VPN interfaces and on every interface of the peer gateway
    (GCP, "HA VPN topologies"); an Azure gateway needs active-active with two IP configurations to end
    two peers' tunnels on both instances (Azure, "How to connect AWS and Azure using a BGP-enabled VPN
    gateway"); an AWS connection's two tunnels both need their inside range fixed, or AWS picks one the
    peer's BGP session was not configured for.
    """
    tunnels = [s for s in subjects if s.type == GCE_VPN_TUNNEL]

    def gcp_gateway(gateway: Subject, key: str, interfaces: Sequence[int]) -> Iterator[Any]:
        mine = [t for t in tunnels if _after(t, gateway)]
        used = set()
        for t in mine:
            value = get(t.inputs, "vpnGatewayInterface" if key == "ha" else "peerExternalGatewayInterface")
            used.add(int(value) if value is not None else None)
        missing = [i for i in interfaces if i not in used]
        if missing:
            yield (
                gateway.urn,
                f"interface(s) {', '.join(map(str, missing))} of {gateway.name!r} carry no tunnel: HA VPN's 99.99% "
                "SLA needs a tunnel on every interface of both gateways",
            )

    def external(gateway: Subject) -> Iterator[Any]:
        interfaces = get(gateway.inputs, "interfaces", []) or []
        ids = [int(get(i, "id", n, where=f"interfaces.{n}")) for n, i in enumerate(interfaces)]
        yield from gcp_gateway(gateway, "peer", ids)

    def azure(gateway: Subject) -> Iterator[Any]:
        if get(gateway.inputs, "gatewayType") not in (None, "Vpn"):
            return
        configs = get_known(gateway.inputs, "ipConfigurations", []) or []
        if as_bool(get(gateway.inputs, "activeActive")) is not True or len(configs) < 2:
            yield (
                gateway.urn,
                f"VPN gateway {gateway.name!r} is not active-active with two IP configurations: one instance ends "
                "every tunnel, and its maintenance takes the path down",
            )

    def aws(connection: Subject) -> Iterator[Any]:
        unset = [n for n in (1, 2) if get(connection.inputs, f"tunnel{n}InsideCidr") is None]
        if unset:
            yield (
                connection.urn,
                f"tunnel {' and '.join(map(str, unset))} of VPN connection {connection.name!r} has no inside CIDR: "
                "AWS picks one the peer's BGP session is not configured for, and that tunnel never comes up",
            )

    checks = []
    for s in subjects:
        if s.type == GCE_HA_VPN_GATEWAY:
            checks.append((s, lambda s=s: gcp_gateway(s, "ha", (0, 1))))
        elif s.type == GCE_EXTERNAL_VPN_GATEWAY:
            checks.append((s, lambda s=s: external(s)))
        elif s.type == AZ_VPN_GATEWAY:
            checks.append((s, lambda s=s: azure(s)))
        elif s.type == EC2_VPN_CONNECTION:
            checks.append((s, lambda s=s: aws(s)))
    for subject, check in checks:
        yield from each([check], subject.urn)


def check_vpn_psk_generated(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """A tunnel's pre-shared key comes from a generated secret (``random.RandomPassword``), never a literal.

    A key written in the program or the stack config is plain text in the repository; a generated one is a
    secret output, kept encrypted in state and fed to both ends of the tunnel.
    """
    generated = {s.urn for s in subjects if s.type == RANDOM_PASSWORD}
    for tunnel in (s for s in subjects if s.type in PSK_INPUTS):
        for key in PSK_INPUTS[tunnel.type]:
            value = tunnel.inputs.get(key)
            if value is None or generated.intersection(tunnel.dependencies):
                continue
            if is_unknown(value):
                yield Indeterminate(key, tunnel.urn)
                continue
            yield (
                tunnel.urn,
                f"{key} of {tunnel.name!r} is a literal, not a generated secret (random.RandomPassword): the key "
                "sits in plain text in the program or config",
            )


def check_propagation_after_attach(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Route propagation from a virtual private gateway waits for its attachment to the VPC.

    EC2 refuses ``EnableVgwRoutePropagation`` for a gateway not attached yet, also when the attachment is
    in the same update (aws-cloudformation/cloudformation-coverage-roadmap#1039).
    """
    gateways = [s for s in subjects if s.type == EC2_VPN_GATEWAY]
    attachments = [s for s in subjects if s.type == EC2_VPN_GATEWAY_ATTACHMENT]
    for propagation in (s for s in subjects if s.type == EC2_VPN_PROPAGATION):
        gateway = next((g for g in gateways if _after(propagation, g)), None)
        if gateway is None:
            continue  # a gateway from outside the stack: attached or not, the graph cannot say
        attached_at_create = gateway.inputs.get("vpcId")
        if is_unknown(attached_at_create):
            yield Indeterminate("vpcId", gateway.urn)
            continue
        mine = [a for a in attachments if _after(a, gateway)]
        if attached_at_create or any(_after(propagation, a) for a in mine):
            continue
        yield (
            propagation.urn,
            f"route propagation {propagation.name!r} does not wait for the attachment of gateway {gateway.name!r} "
            "to the VPC: EC2 refuses it (Gateway.NotAttached) on the first deploy",
        )


def check_azure_gateway_subnet(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """An Azure VPN gateway sits in a subnet named GatewaySubnet, /27 or larger, with no NSG.

    Azure refuses any other subnet name for a virtual network gateway, and recommends /27 or larger;
    NSGs on the GatewaySubnet are not supported (Azure VPN Gateway settings, "Gateway subnet").
    """
    subnets = {s.outputs.get("id"): s for s in subjects if s.type == AZ_SUBNET and s.outputs.get("id")}

    def judge(gateway: Subject) -> Iterator[Any]:
        for i, config in enumerate(get(gateway.inputs, "ipConfigurations", []) or []):
            subnet_id = get(config, "subnet.id", where=f"ipConfigurations.{i}")
            if subnet_id is None or not str(subnet_id).endswith("/subnets/GatewaySubnet"):
                yield (
                    gateway.urn,
                    f"VPN gateway {gateway.name!r} is placed in subnet {subnet_id!r}: Azure requires the subnet "
                    "named GatewaySubnet",
                )
                continue
            subnet = subnets.get(subnet_id)
            if subnet is None:
                continue  # a GatewaySubnet from outside the stack
            prefix = get_known(subnet.inputs, "addressPrefix")
            if prefix is not None and ipaddress.ip_network(prefix).prefixlen > 27:
                yield gateway.urn, f"its GatewaySubnet {prefix} is smaller than the /27 Azure asks for"
            if subnet.inputs.get("networkSecurityGroup"):
                yield (
                    gateway.urn,
                    "its GatewaySubnet has a network security group, which Azure does not support there",
                )

    for gateway in (s for s in subjects if s.type == AZ_VPN_GATEWAY):
        try:
            yield from judge(gateway)
        except CannotCheck as exc:
            yield Indeterminate(exc.path, gateway.urn)


NETWORK_RULES = (
    Rule(
        "vpn-ha-tunnels",
        MANDATORY,
        "Site-to-site VPNs keep working with a tunnel or gateway instance down: a tunnel on both HA VPN interfaces "
        "and every peer-gateway interface (GCP), active-active gateways (Azure), both tunnels of an AWS connection "
        "with their inside CIDR fixed (stack: joins tunnels to gateways).",
        (GCE_HA_VPN_GATEWAY, GCE_EXTERNAL_VPN_GATEWAY, GCE_VPN_TUNNEL, AZ_VPN_GATEWAY, EC2_VPN_CONNECTION),
        check_vpn_ha,
        stack=True,
    ),
    Rule(
        "vpn-psk-generated",
        MANDATORY,
        "Every VPN tunnel's pre-shared key is a generated secret (random.RandomPassword), never a literal in the "
        "program or config (stack: joins tunnels to the passwords they read).",
        (*PSK_INPUTS, RANDOM_PASSWORD),
        check_vpn_psk_generated,
        stack=True,
    ),
)

DEPLOY_RULES = (
    Rule(
        "deploy-vpn-propagation-after-attach",
        MANDATORY,
        "VPN route propagation into a route table waits for the virtual private gateway's attachment to the VPC "
        "(EC2 refuses it otherwise; stack: joins propagations, gateways and attachments).",
        (EC2_VPN_PROPAGATION, EC2_VPN_GATEWAY, EC2_VPN_GATEWAY_ATTACHMENT),
        check_propagation_after_attach,
        stack=True,
    ),
    Rule(
        "deploy-azure-gateway-subnet",
        MANDATORY,
        "An Azure VPN gateway is placed in the subnet named GatewaySubnet, /27 or larger, without an NSG (Azure "
        "refuses the gateway otherwise; stack: joins gateways and subnets).",
        (AZ_VPN_GATEWAY, AZ_SUBNET),
        check_azure_gateway_subnet,
        stack=True,
    ),
)
