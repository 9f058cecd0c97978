"""``aistack:interconnect``: which cloud pairs get a VPN, ASNs, inside-tunnel ranges, and the tunnel plan."""

from __future__ import annotations

import ipaddress
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from aistack.errors import InputError
from aistack.spec import spec_from_config
from aistack.spec.interconnect import azure_bgp_addresses, peer_ranges, routed_ranges, tunnels

STACKS = Path(__file__).resolve().parents[2] / "stacks"
ALL_PAIRS = [{"between": ["aws", "gcp"]}, {"between": ["aws", "azure"]}, {"between": ["gcp", "azure"]}]


def multicloud_config() -> dict[str, Any]:
    return yaml.safe_load((STACKS / "Pulumi.multicloud.yaml").read_text())["config"]


def load(interconnect: Any, **changes: Any):
    config = multicloud_config()
    config["aistack:interconnect"] = interconnect
    config.update(changes)
    return spec_from_config(config, "stack.yaml")


def error(interconnect: Any, **changes: Any) -> str:
    with pytest.raises(InputError) as caught:
        load(interconnect, **changes)
    return caught.value.line()


def test_the_multicloud_stack_joins_every_pair():
    spec = load(multicloud_config()["aistack:interconnect"])
    assert [p.key for p in spec.interconnect.vpn] == ["aws-gcp", "aws-azure", "gcp-azure"]
    assert (spec.interconnect.asn.aws, spec.interconnect.asn.gcp, spec.interconnect.asn.azure) == (
        64512,
        64514,
        65010,
    )


def test_no_interconnect_by_default():
    config = multicloud_config()
    del config["aistack:interconnect"]
    assert spec_from_config(config, "stack.yaml").interconnect.vpn == []


def test_interconnected_ranges_never_overlap_in_the_multicloud_stack():
    """What BGP carries between the clouds (and what each cloud accepts from the others) is disjoint."""
    spec = load({"vpn": ALL_PAIRS})
    clouds = spec.clouds.configured()
    routed = {c: [ipaddress.ip_network(r) for r in routed_ranges(c, n)] for c, n in clouds.items()}
    for a, b in itertools.combinations(routed, 2):
        assert not any(x.overlaps(y) for x in routed[a] for y in routed[b]), (a, b)
    # Every other address block of the stack (Service ranges, the AKS overlay) stays clear of them too.
    blocks = [ipaddress.ip_network(c.service_cidr) for c in spec.clusters.values()]
    blocks.append(ipaddress.ip_network(clouds["azure"].pod_cidr))
    assert not any(b.overlaps(r) for b in blocks for rs in routed.values() for r in rs)
    assert peer_ranges(spec, "azure") == ["10.40.0.0/16", "10.50.0.0/20", "10.52.0.0/14"]


def test_a_pair_whose_ranges_overlap_is_refused_before_any_vpn():
    config = multicloud_config()
    config["aistack:clouds"]["gcp"]["cidr"] = "10.40.0.0/20"  # inside the AWS VPC
    config["aistack:interconnect"] = {"vpn": ALL_PAIRS}
    with pytest.raises(InputError) as caught:
        spec_from_config(config, "stack.yaml")
    assert "overlaps clouds.aws.cidr" in caught.value.line()


def test_a_pair_with_an_unconfigured_cloud():
    config = multicloud_config()
    del config["aistack:clouds"]["azure"]
    # Checked before the clusters and stores that still name azure: the pair is the first error.
    config["aistack:interconnect"] = {"vpn": [{"between": ["aws", "azure"]}]}
    with pytest.raises(InputError) as caught:
        spec_from_config(config, "stack.yaml")
    assert caught.value.line() == (
        "stack.yaml: aistack:interconnect.vpn.0.between: cloud 'azure' is not configured; configured: aws, gcp"
    )


@pytest.mark.parametrize(
    ("interconnect", "message"),
    [
        ({"vpn": [{"between": ["aws", "aws"]}]}, "a VPN joins two different clouds, got ['aws', 'aws']"),
        (
            {"vpn": [{"between": ["aws", "gcp"]}, {"between": ["gcp", "aws"]}]},
            "the pair aws-gcp is already vpn[0]",
        ),
        ({"vpn": [{"between": ["aws", "oracle"]}]}, "Input should be 'aws', 'azure' or 'gcp'"),
        ({"asn": {"aws": 65000, "gcp": 65000}}, "each cloud needs its own ASN for eBGP between them"),
        ({"asn": {"gcp": 7224}}, "7224 is not a private ASN; use 64512–65534 or 4200000000–4294967294"),
        ({"asn": {"azure": 65515}}, "Azure reserves ASN 65515"),
        (
            {"vpn": [{"between": ["gcp", "azure"], "inside_cidrs": ["169.254.21.8/30"]}]},
            "inside_cidrs: the gcp-azure topology has 2 tunnels, got 1",
        ),
        (
            {"vpn": [{"between": ["gcp", "azure"], "inside_cidrs": ["169.254.21.8/29", "169.254.22.8/30"]}]},
            "inside_cidrs: 169.254.21.8/29 is not a /30 of 169.254.0.0/16",
        ),
        (
            {"vpn": [{"between": ["gcp", "azure"], "inside_cidrs": ["169.254.30.0/30", "169.254.22.8/30"]}]},
            "inside_cidrs: 169.254.30.0/30 is outside Azure's APIPA range 169.254.21.0–169.254.22.255",
        ),
        (
            {
                "vpn": [
                    {
                        "between": ["aws", "gcp"],
                        "inside_cidrs": [
                            "169.254.2.0/30",
                            "169.254.10.4/30",
                            "169.254.10.8/30",
                            "169.254.10.12/30",
                        ],
                    }
                ]
            },
            "inside_cidrs: AWS reserves 169.254.2.0/30",
        ),
        (
            {
                "vpn": [
                    {"between": ["aws", "azure"]},
                    {"between": ["gcp", "azure"], "inside_cidrs": ["169.254.21.0/30", "169.254.22.8/30"]},
                ]
            },
            "inside range 169.254.21.0/30 (gcp-azure) overlaps 169.254.21.0/30 (aws-azure)",
        ),
    ],
)
def test_refused_interconnects(interconnect: dict[str, Any], message: str):
    line = error(interconnect)
    assert line.startswith("stack.yaml: aistack:interconnect"), line
    assert message in line


def test_tunnel_plan_follows_each_documented_topology():
    spec = load({"vpn": ALL_PAIRS})
    plans = {p.key: tunnels(p) for p in spec.interconnect.vpn}
    aws_gcp = plans["aws-gcp"]
    # GCP "Connect HA VPN to AWS peer gateways": interface 0 → A1, A2; interface 1 → B1, B2.
    assert [(t.side["aws"], t.aws_tunnel, t.side["gcp"]) for t in aws_gcp] == [
        (0, 1, 0),
        (0, 2, 0),
        (1, 1, 1),
        (1, 2, 1),
    ]
    # AWS takes the first host of each inside /30 (its side is fixed), the peer the second.
    assert [(t.address("aws"), t.address("gcp")) for t in aws_gcp[:2]] == [
        ("169.254.10.1", "169.254.10.2"),
        ("169.254.10.5", "169.254.10.6"),
    ]
    # Azure's AWS guide: connection A on 169.254.21.0/30 and 169.254.22.0/30 to instance 0, B to instance 1.
    assert [(t.cidr, t.side["azure"]) for t in plans["aws-azure"]] == [
        ("169.254.21.0/30", 0),
        ("169.254.22.0/30", 0),
        ("169.254.21.4/30", 1),
        ("169.254.22.4/30", 1),
    ]
    assert [(t.side["gcp"], t.side["azure"]) for t in plans["gcp-azure"]] == [(0, 0), (1, 1)]
    assert azure_bgp_addresses(spec.interconnect) == {
        0: ["169.254.21.2", "169.254.22.2", "169.254.21.10"],
        1: ["169.254.21.6", "169.254.22.6", "169.254.22.10"],
    }
    every = [ipaddress.ip_network(t.cidr) for plan in plans.values() for t in plan]
    assert not any(a.overlaps(b) for a, b in itertools.combinations(every, 2))
