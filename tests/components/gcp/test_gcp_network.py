"""The GCP network: custom-mode VPC, node subnetwork with secondary ranges, Cloud NAT, firewall."""

from __future__ import annotations

import ipaddress

import pytest

NETWORK = "aistack:gcp:Network"


@pytest.fixture
def declared(gcp_stack):
    return gcp_stack()


def test_children_are_exactly_the_network_pieces(declared):
    (network,) = declared.of_type(NETWORK)
    assert network.name == "gcp"
    assert sorted((r.type, r.name) for r in declared.children(network)) == [
        ("gcp:compute/firewall:Firewall", "gcp-allow-health-checks"),
        ("gcp:compute/firewall:Firewall", "gcp-allow-internal"),
        ("gcp:compute/network:Network", "gcp-vpc"),
        ("gcp:compute/router:Router", "gcp-router"),
        ("gcp:compute/routerNat:RouterNat", "gcp-nat"),
        ("gcp:compute/subnetwork:Subnetwork", "gcp-nodes"),
    ]


def test_vpc_is_custom_mode(declared):
    assert declared.named("gcp-vpc").inputs["autoCreateSubnetworks"] is False


def test_subnetwork_carries_the_pod_range_and_the_clusters_service_range(declared):
    subnet = declared.named("gcp-nodes").inputs
    assert subnet["ipCidrRange"] == "10.50.0.0/20"
    assert subnet["region"] == "us-central1"
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.52.0.0/14"},
        {"rangeName": "services", "ipCidrRange": "10.56.0.0/20"},
    ]
    assert subnet["network"] == declared.named("gcp-vpc").outputs["id"]
    assert subnet["logConfig"]["metadata"] == "INCLUDE_ALL_METADATA"


def test_cloud_nat_serves_the_node_subnetwork_through_the_router(declared):
    router = declared.named("gcp-router")
    nat = declared.named("gcp-nat").inputs
    assert nat["router"] == router.outputs["name"]
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat["subnetworks"] == [
        {"name": declared.named("gcp-nodes").outputs["id"], "sourceIpRangesToNats": ["ALL_IP_RANGES"]}
    ]
    assert nat["logConfig"] == {"enable": True, "filter": "ERRORS_ONLY"}


def test_without_a_cluster_there_is_no_service_range(gcp_stack):
    declared = gcp_stack({"aistack:clusters": None})
    assert declared.named("gcp-nodes").inputs["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.52.0.0/14"}
    ]
    assert not declared.of_type("aistack:gcp:Cluster")


def test_no_firewall_rule_admits_the_world(declared):
    rules = declared.of_type("gcp:compute/firewall:Firewall")
    assert rules
    world = ipaddress.ip_network("0.0.0.0/0")
    for rule in rules:
        assert rule.inputs["direction"] == "INGRESS"
        for block in rule.inputs["sourceRanges"]:
            assert ipaddress.ip_network(block) != world, rule.name
            assert ipaddress.ip_network(block).prefixlen >= 14, f"{rule.name} admits a broad range {block}"


def test_internal_rule_is_limited_to_nodes_and_pods(declared):
    assert declared.named("gcp-allow-internal").inputs["sourceRanges"] == ["10.50.0.0/20", "10.52.0.0/14"]
    assert declared.named("gcp-allow-health-checks").inputs["sourceRanges"] == [
        "35.191.0.0/16",
        "130.211.0.0/22",
    ]


def test_every_zone_maps_to_the_regional_subnetwork(declared):
    subnet_id = declared.named("gcp-nodes").outputs["id"]
    pool = declared.named("main-l4-spot").inputs
    assert pool["nodeLocations"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert declared.named("main-gke").inputs["subnetwork"] == subnet_id
