"""The multicloud stack's site-to-site VPNs: both ends of every tunnel agree, keys stay secret, first deploys hold."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from typing import Any

import pytest

from aistack import engine
from aistack import preview as preview_mod
from tests.components.k8s.k8s_world import internal_multicloud

RANDOM = "random:index/randomPassword:RandomPassword"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


@pytest.fixture(scope="module")
def run() -> engine.ProgramRun:
    return preview_mod.execute(stack="multicloud")


def of_type(run: engine.ProgramRun, type_: str) -> list[engine.Resource]:
    return [r for r in run.resources if r.type == type_]


def named(run: engine.ProgramRun, name: str) -> engine.Resource:
    (found,) = [r for r in run.resources if r.name == name]
    return found


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET.items() <= value.items()


def test_each_pair_in_its_documented_topology(run):
    counts = Counter(r.type for r in run.resources)
    # AWS: one gateway, per peer (GCP, Azure) two customer gateways and two connections of two tunnels.
    assert counts["aws:ec2/vpnGateway:VpnGateway"] == 1
    assert counts["aws:ec2/customerGateway:CustomerGateway"] == 4
    assert counts["aws:ec2/vpnConnection:VpnConnection"] == 4
    # GCP: one HA gateway, 4 tunnels to AWS and 2 to Azure, each with its BGP interface and peer.
    assert counts["gcp:compute/haVpnGateway:HaVpnGateway"] == 1
    assert counts["gcp:compute/vPNTunnel:VPNTunnel"] == 6
    assert (
        counts["gcp:compute/routerPeer:RouterPeer"]
        == counts["gcp:compute/routerInterface:RouterInterface"]
        == 6
    )
    redundancy = {
        r.name: r.inputs["redundancyType"]
        for r in of_type(run, "gcp:compute/externalVpnGateway:ExternalVpnGateway")
    }
    assert redundancy == {
        "gcp-vpn-aws-peer": "FOUR_IPS_REDUNDANCY",
        "gcp-vpn-azure-peer": "TWO_IPS_REDUNDANCY",
    }
    # Azure: one active-active gateway, a local network gateway and a connection per remote tunnel.
    assert counts["azure-native:network:VirtualNetworkGateway"] == 1
    assert counts["azure-native:network:LocalNetworkGateway"] == 6
    assert counts["azure-native:network:VirtualNetworkGatewayConnection"] == 6
    # One key per tunnel: 4 + 4 + 2.
    assert len([r for r in of_type(run, RANDOM) if r.name.endswith("-psk")]) == 10


def test_both_ends_share_one_generated_secret_key_per_tunnel(run):
    keys = {r.urn: r.name for r in of_type(run, RANDOM) if r.name.endswith("-psk")}
    used: dict[str, list[str]] = {}
    fields = {
        "aws:ec2/vpnConnection:VpnConnection": ("tunnel1PresharedKey", "tunnel2PresharedKey"),
        "gcp:compute/vPNTunnel:VPNTunnel": ("sharedSecret",),
        "azure-native:network:VirtualNetworkGatewayConnection": ("sharedKey",),
    }
    for type_, inputs in fields.items():
        for tunnel in of_type(run, type_):
            for field in inputs:
                assert is_secret(tunnel.inputs[field]), (tunnel.name, field)
                (source,) = tunnel.property_dependencies[field]
                used.setdefault(keys[source], []).append(tunnel.name)
    # Every key feeds exactly its tunnel's two ends, on the two clouds of its pair.
    assert len(used) == 10
    for key, ends in used.items():
        pair = key.split("-t")[0].split("-", 3)[-1]  # aws-vpn-gcp-aws-gcp-t0-psk → aws-gcp
        assert sorted(end.split("-")[0] for end in ends) == sorted(pair.split("-")), (key, ends)
    # No key reaches a stack output.
    assert "PresharedKey" not in json.dumps(run.outputs, default=str)
    assert SECRET["4dabf18193072939515e22adb298388d"] not in json.dumps(
        run.outputs["interconnect"], default=str
    )


def test_bgp_sessions_agree_on_both_sides(run):
    aws = {r.name: r.inputs for r in of_type(run, "aws:ec2/vpnConnection:VpnConnection")}
    assert [aws["aws-vpn-gcp-vpn0"][f"tunnel{n}InsideCidr"] for n in (1, 2)] == [
        "169.254.10.0/30",
        "169.254.10.4/30",
    ]
    assert aws["aws-vpn-gcp-vpn0"]["staticRoutesOnly"] is False
    # One IKEv2 proposal per phase on AWS (GCP's known rekey issue with AWS's default transform sets).
    assert aws["aws-vpn-gcp-vpn0"]["tunnel1IkeVersions"] == ["ikev2"]
    assert aws["aws-vpn-gcp-vpn0"]["tunnel2Phase1EncryptionAlgorithms"] == ["AES256"]
    cgw = {r.name: r.inputs["bgpAsn"] for r in of_type(run, "aws:ec2/customerGateway:CustomerGateway")}
    assert cgw == {
        "aws-vpn-gcp-cgw0": "64514",
        "aws-vpn-gcp-cgw1": "64514",
        "aws-vpn-azure-cgw0": "65010",
        "aws-vpn-azure-cgw1": "65010",
    }
    assert named(run, "aws-vpn-vgw").inputs["amazonSideAsn"] == "64512"

    # GCP's Cloud Router: its address is the second host, the AWS peer the first, on the same /30.
    iface = named(run, "gcp-vpn-aws-aws-gcp-t1-bgp-if").inputs
    peer = named(run, "gcp-vpn-aws-aws-gcp-t1-bgp").inputs
    assert iface["ipRange"] == "169.254.10.6/30"
    assert (peer["peerIpAddress"], peer["peerAsn"]) == ("169.254.10.5", 64512)
    assert named(run, "gcp-vpn-vpn-router").inputs["bgp"]["asn"] == 64514
    tunnel = named(run, "gcp-vpn-aws-aws-gcp-t2").inputs
    assert (tunnel["vpnGatewayInterface"], tunnel["peerExternalGatewayInterface"], tunnel["ikeVersion"]) == (
        1,
        2,
        2,
    )
    # The external gateway lists the AWS tunnel endpoints in tunnel order (A1, A2, B1, B2).
    aws_out = {r.name: r.outputs for r in of_type(run, "aws:ec2/vpnConnection:VpnConnection")}
    ends = [aws_out[f"aws-vpn-gcp-vpn{c}"][f"tunnel{n}Address"] for c in (0, 1) for n in (1, 2)]
    assert [i["ipAddress"] for i in named(run, "gcp-vpn-aws-peer").inputs["interfaces"]] == ends

    # Azure: each local network gateway is one AWS tunnel; BGP to AWS's first host with AWS's ASN.
    lng = named(run, "azure-vpn-aws-aws-azure-t2-lng").inputs
    assert lng["gatewayIpAddress"] == aws_out["aws-vpn-azure-vpn1"]["tunnel1Address"]
    assert lng["bgpSettings"] == {"asn": 64512, "bgpPeeringAddress": "169.254.21.5"}
    gateway = named(run, "azure-vpn-gw").inputs
    custom = [p["customBgpIpAddresses"] for p in gateway["bgpSettings"]["bgpPeeringAddresses"]]
    assert custom == [
        ["169.254.21.2", "169.254.22.2", "169.254.21.10"],
        ["169.254.21.6", "169.254.22.6", "169.254.22.10"],
    ]
    conn = named(run, "azure-vpn-aws-aws-azure-t2").inputs
    assert conn["enableBgp"] is True and conn["connectionProtocol"] == "IKEv2"
    assert [c["customBgpIpAddress"] for c in conn["gatewayCustomBgpIpAddresses"]] == [
        "169.254.21.2",
        "169.254.21.6",
    ]
    # GCP's Azure peer: Azure instances' public addresses on the two interfaces.
    azure_ips = [named(run, f"azure-vpn-gw-ip{i}").outputs["ipAddress"] for i in (0, 1)]
    assert [i["ipAddress"] for i in named(run, "gcp-vpn-azure-peer").inputs["interfaces"]] == azure_ips


def test_azure_gateway_survives_a_first_up(run):
    gw = named(run, "azure-vpn-gw")
    assert gw.inputs["activeActive"] is True and gw.inputs["sku"] == {"name": "VpnGw2AZ", "tier": "VpnGw2AZ"}
    assert gw.custom_timeouts == {"create": "120m", "update": "120m", "delete": "120m"}
    # AZ gateways take zone-redundant Standard addresses: all three zones, not the stack's two.
    for i in (0, 1):
        ip = named(run, f"azure-vpn-gw-ip{i}").inputs
        assert (ip["zones"], ip["sku"]["name"], ip["publicIPAllocationMethod"]) == (
            ["1", "2", "3"],
            "Standard",
            "Static",
        )
    subnet = named(run, "azure-gateway-subnet")
    assert subnet.inputs["subnetName"] == "GatewaySubnet"
    assert subnet.inputs["addressPrefix"] == "10.60.255.224/27"
    assert "networkSecurityGroup" not in subnet.inputs
    nodes, endpoints = named(run, "azure-nodes"), named(run, "azure-endpoints")
    assert not any(
        ipaddress.ip_network(subnet.inputs["addressPrefix"]).overlaps(
            ipaddress.ip_network(s.inputs["addressPrefix"])
        )
        for s in (nodes, endpoints)
    )
    # Azure takes one subnet write per VNet at a time.
    assert endpoints.urn in subnet.dependencies
    assert all(c["subnet"]["id"].endswith("/subnets/GatewaySubnet") for c in gw.inputs["ipConfigurations"])


def test_vgw_routes_reach_every_node_route_table_after_the_attachment(run):
    attachment = named(run, "aws-vpn-vgw-attachment")
    tables = {
        r.outputs["id"] for r in of_type(run, "aws:ec2/routeTable:RouteTable") if "private-rt" in r.name
    }
    propagations = of_type(run, "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation")
    assert {p.inputs["routeTableId"] for p in propagations} == tables and len(tables) == 2
    assert all(attachment.urn in p.dependencies for p in propagations)


def test_other_clouds_reach_serving_ports_only_on_azure():
    # On the stack's internal-lb variant: the multicloud chat itself is public-lb (docs/multicloud.md, "One name").
    _, internal = internal_multicloud()
    rules = {r["name"]: r for r in named(internal, "azure-nsg").inputs["securityRules"]}
    peers = ["10.40.0.0/16", "10.50.0.0/20", "10.52.0.0/14"]
    allow, deny = rules["allow-peer-clouds-serving"], rules["deny-peer-clouds-other"]
    assert (allow["access"], allow["protocol"], allow["sourceAddressPrefixes"]) == ("Allow", "Tcp", peers)
    assert allow["destinationPortRanges"] == ["8000"]
    assert (deny["access"], deny["destinationPortRange"], deny["sourceAddressPrefixes"]) == (
        "Deny",
        "*",
        peers,
    )
    assert allow["priority"] < deny["priority"] < 65000  # before Azure's AllowVnetInBound


def test_new_policies_pass_on_the_stack(preview):
    report = preview("multicloud")
    ids = {
        "vpn-ha-tunnels",
        "vpn-psk-generated",
        "deploy-vpn-propagation-after-attach",
        "deploy-azure-gateway-subnet",
    }
    assert [v for v in report["policy"]["violations"] if v["policy"] in ids] == []
    lines = [line for line in report["cost"]["lines"] if "vpn" in line["urn"]]
    assert sum(line["monthly_usd"] for line in lines if "vpnConnection" in line["urn"]) == pytest.approx(
        4 * 36.5
    )
    assert sum(line["monthly_usd"] for line in lines if "vPNTunnel" in line["urn"]) == pytest.approx(6 * 36.5)


def test_a_stack_without_interconnect_declares_no_vpn():
    run = preview_mod.execute(stack="azure-dev")
    assert not [
        r for r in run.resources if "vpn" in r.type.lower() or "Gateway" in r.type and "Nat" not in r.type
    ]
    assert "interconnect" not in run.outputs
    rules = [
        r["name"] for r in next(r for r in run.resources if r.name == "azure-nsg").inputs["securityRules"]
    ]
    assert rules == ["deny-internet-inbound"]
