"""The private network path between the stack's clouds: the site-to-site VPNs of ``aistack:interconnect``.

Each cloud taking part gets one VPN gateway (``<cloud>-vpn``, :class:`components.contract.VpnGateway`);
each pair then gets its tunnels on both sides (``<cloud>-vpn-<peer>``,
:class:`components.contract.VpnTunnels`), in the order the addresses become known: the pair's first
cloud (:data:`aistack.spec.interconnect.ORDER`) builds its side against the other's gateway addresses and
generates the tunnels' pre-shared keys; the second builds its side against the first's tunnel endpoints,
with the same keys. docs/multicloud.md, "Private path between clouds", draws the result.
"""

from __future__ import annotations

import importlib
from typing import Any

import pulumi

from aistack.spec import StackSpec
from aistack.spec.interconnect import ORDER, azure_bgp_addresses, tunnels
from components import contract


def _vpn(cloud: str) -> Any:
    return importlib.import_module(f"components.{cloud}.vpn")


def _gateway(spec: StackSpec, cloud: str, deployed: contract.CloudStack, prefix: str) -> contract.VpnGateway:
    """The cloud's VPN gateway on its network."""
    net = deployed.network
    assert net is not None, f"the {cloud} family declares no network"
    opts = pulumi.ResourceOptions(provider=deployed.provider)
    asn = getattr(spec.interconnect.asn, cloud)
    cloud_spec = spec.clouds.configured()[cloud]
    if cloud == "aws":
        return _vpn(cloud).VpnGateway(
            "aws-vpn", vpc_id=net.network_id, route_table_ids=net.node_route_table_ids, asn=asn, opts=opts
        )
    if cloud == "gcp":
        return _vpn(cloud).VpnGateway(
            "gcp-vpn", network_id=net.network_id, region=cloud_spec.region, asn=asn, opts=opts
        )
    return _vpn(cloud).VpnGateway(
        "azure-vpn",
        physical_name=f"{prefix}-vpn-gw",
        subscription_id=cloud_spec.subscription_id,
        resource_group_name=net.resource_group_name,
        gateway_subnet_id=net.gateway_subnet_id,
        location=cloud_spec.location,
        asn=asn,
        bgp_addresses=azure_bgp_addresses(spec.interconnect),
        tags=deployed.provider.default_tags,
        opts=opts,
    )


def deploy(spec: StackSpec, deployed: dict[str, contract.CloudStack], prefix: str) -> dict[str, Any]:
    """Declare every VPN the spec asks for; return what the stack exports about them (no secrets).

    Args:
        spec: The validated stack spec.
        deployed: Each configured cloud's family result (its ``network`` and provider).
        prefix: Prefix for explicit physical names, ``<project>-<stack>``.

    Returns:
        Pair → its tunnels' inside ranges and the gateways' public addresses (empty with no VPN).
    """
    ic = spec.interconnect
    clouds = [c for c in ORDER if ic.pairs_of(c)]
    gateways = {c: _gateway(spec, c, deployed[c], prefix) for c in clouds}
    exported: dict[str, Any] = {}
    for pair in sorted(ic.vpn, key=lambda p: list(TUNNEL_ORDER).index(p.key)):
        first, second = pair.clouds
        plan = tunnels(pair)
        near = _vpn(first).VpnTunnels(
            f"{first}-vpn-{second}",
            gateway=gateways[first],
            tunnels=plan,
            peer_addresses=gateways[second].outside_addresses,
            peer_asn=getattr(ic.asn, second),
            opts=pulumi.ResourceOptions(provider=deployed[first].provider),
        )
        # The far side meets each tunnel at the near side's endpoint for it: AWS's per-connection tunnel
        # addresses, else the near gateway's interface that ends the tunnel.
        ends = near.outside_addresses or [gateways[first].outside_addresses[t.side[first]] for t in plan]
        _vpn(second).VpnTunnels(
            f"{second}-vpn-{first}",
            gateway=gateways[second],
            tunnels=plan,
            peer_addresses=ends,
            peer_asn=getattr(ic.asn, first),
            keys=near.keys,
            opts=pulumi.ResourceOptions(provider=deployed[second].provider),
        )
        exported[pair.key] = {
            "tunnels": [t.cidr for t in plan],
            "addresses": {first: ends, second: gateways[second].outside_addresses},
        }
    return exported


TUNNEL_ORDER = ("aws-gcp", "aws-azure", "gcp-azure")
"""The pairs in declaration order (stable names and a readable preview)."""
