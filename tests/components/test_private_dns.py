"""Private names: one zone per cloud network, each preferring its own entry point, failing over where it can."""

from __future__ import annotations

from types import SimpleNamespace

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from components.k8s import routing
from components.private_dns import ZONES, Entry

ZONE = "internal.example.com"
AWS_NET = SimpleNamespace(network_id="vpc-0123456789abcdef0")
GCP_NET = SimpleNamespace(network_id="projects/p/global/networks/aistack-vpc")
AZ_NET = SimpleNamespace(
    network_id="/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
    resource_group_name="rg",
)
SPECS = {
    "aws": SimpleNamespace(region="us-east-1"),
    "gcp": SimpleNamespace(region="us-central1", project="p"),
    "azure": SimpleNamespace(location="southcentralus"),
}
NETS = {"aws": AWS_NET, "gcp": GCP_NET, "azure": AZ_NET}
ENTRIES = [
    Entry("aws", "internal-chat-0123.elb.us-east-1.amazonaws.com", 8000),
    Entry("gcp", "10.50.0.7", 80),
    Entry("azure", "10.60.0.9", 8000),
]


def zones(entries: list[Entry]) -> None:
    providers = {
        "aws": aws.Provider("aws", region="us-east-1"),
        "gcp": gcp.Provider("gcp", project="p", region="us-central1"),
        "azure": azure_native.Provider(
            "azure", subscription_id="s", tenant_id="t", location="southcentralus"
        ),
    }
    for cloud, cls in ZONES.items():
        zone = cls(
            f"{cloud}-private-names",
            zone=ZONE,
            network=NETS[cloud],
            cloud_spec=SPECS[cloud],
            prefix="aistack-test",
            tags={"managed-by": "aistack"},
            opts=pulumi.ResourceOptions(provider=providers[cloud]),
        )
        zone.record("chat", "chat", entries)


def test_each_network_gets_the_zone(declare):
    run = declare(lambda: zones(ENTRIES))
    r53 = run.named("aws-private-names-zone")
    assert r53.inputs["name"] == ZONE
    assert r53.inputs["vpcs"] == [{"vpcId": AWS_NET.network_id, "vpcRegion": "us-east-1"}]
    cloud_dns = run.named("gcp-private-names-zone")
    assert (cloud_dns.inputs["dnsName"], cloud_dns.inputs["visibility"]) == (f"{ZONE}.", "private")
    assert cloud_dns.inputs["privateVisibilityConfig"] == {"networks": [{"networkUrl": GCP_NET.network_id}]}
    link = run.named("azure-private-names-zone-link")
    assert link.inputs["virtualNetwork"] == {"id": AZ_NET.network_id}
    assert link.inputs["registrationEnabled"] is False
    assert {r.type for r in run.resources if r.type.startswith("aistack:")} == {
        "aistack:aws:PrivateZone",
        "aistack:gcp:PrivateZone",
        "aistack:azure:PrivateZone",
    }


def test_route53_prefers_its_nlb_by_target_health_and_fails_over_to_the_other_clouds(declare):
    run = declare(lambda: zones(ENTRIES))
    primary = run.named("aws-private-names-chat-primary").inputs
    assert primary["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert primary["aliases"] == [
        {"name": ENTRIES[0].address, "zoneId": "Z26RNL4JYFTOTI", "evaluateTargetHealth": True}
    ]
    secondary = run.named("aws-private-names-chat-secondary").inputs
    assert secondary["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert (secondary["name"], secondary["type"], secondary["records"]) == (
        f"chat.{ZONE}",
        "A",
        ["10.50.0.7", "10.60.0.9"],
    )


def test_cloud_dns_health_checks_its_internal_lb_and_backs_up_to_the_others(declare):
    run = declare(lambda: zones(ENTRIES))
    policy = run.named("gcp-private-names-chat").inputs["routingPolicy"]["primaryBackup"]
    (lb,) = policy["primary"]["internalLoadBalancers"]
    assert (lb["loadBalancerType"], lb["ipAddress"], lb["port"], lb["networkUrl"]) == (
        "regionalL7ilb",
        "10.50.0.7",
        "80",
        GCP_NET.network_id,
    )
    # The AWS NLB is a name: an A record's backup holds the IP entry points only.
    assert policy["backupGeos"] == [{"location": "us-central1", "rrdatas": ["10.60.0.9"]}]
    assert policy["trickleRatio"] == 0


def test_azure_answers_with_its_own_entry_point(declare):
    run = declare(lambda: zones(ENTRIES))
    record = run.named("azure-private-names-chat").inputs
    assert (record["recordType"], record["relativeRecordSetName"]) == ("A", "chat")
    assert record["aRecords"] == [{"ipv4Address": "10.60.0.9"}]


def test_a_cloud_without_a_share_points_at_the_others(declare):
    run = declare(lambda: zones([ENTRIES[0]]))  # served on AWS only
    assert run.named("gcp-private-names-chat").inputs["type"] == "CNAME"
    assert run.named("gcp-private-names-chat").inputs["rrdatas"] == [f"{ENTRIES[0].address}."]
    assert run.named("azure-private-names-chat").inputs["cnameRecord"] == {"cname": ENTRIES[0].address}
    # Route 53 has only its own: the PRIMARY alias alone, no SECONDARY.
    assert [r.name for r in run.of_type("aws:route53/record:Record")] == ["aws-private-names-chat-primary"]


def test_the_program_declares_a_zone_on_every_network_when_asked(tmp_path):
    import yaml

    from aistack import preview as preview_mod
    from tests.conftest import REPO

    document = yaml.safe_load((REPO / "stacks" / "Pulumi.multicloud.yaml").read_text())
    document["config"]["aistack:interconnect"]["private_zone"] = ZONE
    path = tmp_path / "Pulumi.multicloud.yaml"
    path.write_text(yaml.safe_dump(document))
    run = preview_mod.execute(stack_path=path)
    zones = {
        r.type for r in run.resources if r.type.startswith("aistack:") and r.type.endswith(":PrivateZone")
    }
    assert zones == {"aistack:aws:PrivateZone", "aistack:gcp:PrivateZone", "aistack:azure:PrivateZone"}
    vpc = next(r for r in run.resources if r.type == "aws:ec2/vpc:Vpc")
    r53 = next(r for r in run.resources if r.type == "aws:route53/zone:Zone")
    assert r53.inputs["vpcs"][0]["vpcId"] == vpc.outputs["id"]


# ---------------------------------------------------------------- the program: multicloud chat on internal-lb
def private_multicloud():
    from tests.components.k8s.k8s_world import internal_multicloud

    return internal_multicloud(private_zone=ZONE)


def by_name(run, name):
    (found,) = [r for r in run.resources if r.name == name]
    return found


def entry_urns(run) -> dict[str, str]:
    """Each serving cluster's internal entry point: the LoadBalancer Service (EKS/AKS), the Gateway (GKE)."""
    return {
        "aws": by_name(run, "east-chat-service").urn,
        "azure": by_name(run, "south-chat-service").urn,
        "gcp": by_name(run, "central-routing-gateway").urn,
    }


def test_every_private_zone_names_the_multicloud_endpoint():
    spec, run = private_multicloud()
    assert run.outputs["private_names"] == {"chat": f"chat.{ZONE}"}
    records = sorted(
        r.name
        for r in run.resources
        if r.type
        in (
            "aws:route53/record:Record",
            "gcp:dns/recordSet:RecordSet",
            "azure-native:privatedns:PrivateRecordSet",
        )
    )
    assert records == [
        "aws-private-names-chat-primary",
        "aws-private-names-chat-secondary",
        "azure-private-names-chat",
        "gcp-private-names-chat",
    ]
    assert {s.cluster for s in spec.shares() if s.name == "chat"} == {"east", "central", "south"}


def test_each_zone_prefers_its_own_cluster_and_fails_over_to_the_others():
    _, run = private_multicloud()
    urns = entry_urns(run)
    primary = by_name(run, "aws-private-names-chat-primary")
    secondary = by_name(run, "aws-private-names-chat-secondary")
    # Route 53: the own NLB by its target health; the GKE Gateway's and AKS LB's addresses after it.
    assert primary.inputs["failoverRoutingPolicies"] == [{"type": "PRIMARY"}]
    assert primary.inputs["aliases"][0]["evaluateTargetHealth"] is True
    assert urns["aws"] in primary.dependencies and urns["aws"] not in secondary.dependencies
    assert secondary.inputs["failoverRoutingPolicies"] == [{"type": "SECONDARY"}]
    assert len(secondary.inputs["records"]) == 2
    assert {urns["gcp"], urns["azure"]} <= set(secondary.dependencies)
    # Cloud DNS: the own inference Gateway health-checked on its listener, AKS behind it (the NLB is a name).
    gcp_record = by_name(run, "gcp-private-names-chat")
    policy = gcp_record.inputs["routingPolicy"]["primaryBackup"]
    assert policy["primary"]["internalLoadBalancers"][0]["port"] == str(routing.GATEWAY_PORT)
    assert len(policy["backupGeos"][0]["rrdatas"]) == 1
    assert {urns["gcp"], urns["azure"]} <= set(gcp_record.dependencies)
    assert urns["aws"] not in gcp_record.dependencies
    # Azure Private DNS: its own internal LB only (no health-aware routing there).
    azure_record = by_name(run, "azure-private-names-chat")
    assert len(azure_record.inputs["aRecords"]) == 1
    assert urns["azure"] in azure_record.dependencies
    assert not {urns["aws"], urns["gcp"]} & set(azure_record.dependencies)


def test_the_private_records_pass_every_mandatory_rule():
    from aistack import preview as preview_mod

    _, run = private_multicloud()
    violations = preview_mod.report(run)["policy"]["violations"]
    assert [v for v in violations if v["level"] == "mandatory"] == []
    # Not even an advisory "cannot check": the alias target's unknown name does not hide its evaluateTargetHealth.
    private = {r.urn for r in run.resources if "-private-names-" in r.name}
    assert private and not [v for v in violations if v.get("urn") in private]


def test_a_private_name_needs_the_private_zone(tmp_path):
    import pytest
    import yaml

    from aistack.errors import InputError
    from aistack.spec import load_stack_file
    from tests.conftest import REPO

    document = yaml.safe_load((REPO / "stacks" / "Pulumi.multicloud.yaml").read_text())
    config = document["config"]
    del config["aistack:dns"]
    config["aistack:endpoints"]["chat"]["expose"] = "internal-lb"
    path = tmp_path / "Pulumi.multicloud.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(InputError) as err:
        load_stack_file(path)
    line = err.value.line()
    assert "endpoints.chat.hostname" in line and "aistack:interconnect.private_zone" in line
    assert "\n" not in line


def test_a_private_name_is_one_endpoint_s():
    import copy

    import pytest

    from aistack.errors import InputError
    from aistack.spec import spec_from_config
    from tests.spec.test_spec_gcp import _multicloud

    config = _multicloud({})
    config["aistack:endpoints"]["chat"]["expose"] = "internal-lb"
    config["aistack:interconnect"]["private_zone"] = ZONE
    spec_from_config(copy.deepcopy(config), "stack.yaml", from_file=False)
    config["aistack:endpoints"]["chat2"] = copy.deepcopy(config["aistack:endpoints"]["chat"])
    with pytest.raises(InputError) as caught:
        spec_from_config(copy.deepcopy(config), "stack.yaml", from_file=False)
    assert caught.value.key == "aistack:endpoints.chat.hostname"
    assert "already the hostname of endpoint 'chat2'" in caught.value.line()
