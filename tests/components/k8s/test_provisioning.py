"""provisioning: auto GPU pools: the provisioner objects each stack declares, their limits and placement.

The stack previews are the engine's record of what ``pulumi up`` would send; every provisioner object
in them is checked against the vendored (or, for GKE's ComputeClass, authored) CRD schema.
"""

from __future__ import annotations

from typing import Any

import pytest

from aistack import crds
from aistack.spec.clusters import GpuPoolSpec
from components.aws.karpenter import INTERRUPTION_EVENTS, controller_policy, queue_policy
from components.gcp.accelerators import machine_shape
from components.k8s import provisioning as prov
from tests.conftest import stack_names

PROVISIONER_KINDS = {
    "kubernetes:karpenter.sh/v1:NodePool",
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
    "kubernetes:karpenter.azure.com/v1beta1:AKSNodeClass",
    "kubernetes:cloud.google.com/v1:ComputeClass",
}


def _ints(value: Any) -> Any:
    """The engine records every number as a float; the API server reads integral JSON numbers as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


def _objects(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Provisioner objects by logical name, as manifests."""
    found = {}
    for r in report["resources"]:
        if r["type"] in PROVISIONER_KINDS:
            inputs = _ints(r["inputs"])
            found[r["name"]] = {
                "apiVersion": inputs["apiVersion"],
                "kind": inputs["kind"],
                "metadata": inputs["metadata"],
                "spec": inputs["spec"],
            }
    return found


def _resource(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in report["resources"] if r["name"] == name]
    return found


@pytest.mark.parametrize("stack", stack_names())
def test_every_provisioner_object_matches_its_schema(stack, preview):
    for name, manifest in _objects(preview(stack)).items():
        assert crds.problems(manifest) == [], name


@pytest.mark.parametrize("stack", ["dev", "azure-dev", "gcp-dev"])
def test_groups_stacks_declare_no_provisioner(stack, preview):
    report = preview(stack)
    assert _objects(report) == {}
    assert not [r for r in report["resources"] if "karpenter" in r["name"]]


def test_staging_karpenter_pools_follow_the_spot_pool_and_its_floor(preview):
    objects = _objects(preview("staging"))
    assert set(objects) == {
        "main-provisioner-a10g-class",
        "main-provisioner-a10g-nodes",
        "main-provisioner-a10g-ondemand",
    }
    floor, rest = (
        objects["main-provisioner-a10g-ondemand"]["spec"],
        objects["main-provisioner-a10g-nodes"]["spec"],
    )
    # One on-demand node first (weight, limit of its GPUs, removed only when empty), then spot with
    # on-demand fallback for the other three of max_nodes 4 (g5.xlarge .. 4xlarge: one A10G each).
    assert (floor["weight"], floor["limits"], floor["disruption"]["consolidationPolicy"]) == (
        100,
        {"nvidia.com/gpu": "1"},
        "WhenEmpty",
    )
    assert rest["limits"] == {"nvidia.com/gpu": "3"} and "weight" not in rest
    requirements = {r["key"]: r["values"] for r in rest["template"]["spec"]["requirements"]}
    assert requirements["karpenter.sh/capacity-type"] == ["spot", "on-demand"]
    assert requirements["node.kubernetes.io/instance-type"] == ["g5.xlarge", "g5.2xlarge", "g5.4xlarge"]
    assert requirements["topology.kubernetes.io/zone"] == ["us-east-1a", "us-east-1b"]
    assert requirements["kubernetes.io/arch"] == ["amd64"]
    template = rest["template"]
    assert template["metadata"]["labels"]["aistack.io/pool"] == "a10g"
    assert template["metadata"]["labels"]["aistack.io/accelerator"] == "A10G-24GB"
    assert template["spec"]["taints"] == [
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    ]
    assert template["spec"]["expireAfter"] == "720h"
    assert rest["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "10m",
        "budgets": [{"nodes": "1"}],
    }


def test_staging_ec2_node_class_is_hardened(preview):
    spec = _objects(preview("staging"))["main-provisioner-a10g-class"]["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": prov.AL2023_ALIAS}]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (volume,) = spec["blockDeviceMappings"]
    assert volume["ebs"] == {
        "volumeSize": "200Gi",
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    assert len(spec["subnetSelectorTerms"]) == 2 and len(spec["securityGroupSelectorTerms"]) == 1
    assert "role" not in spec and spec["instanceProfile"]
    assert spec["tags"]["aistack-stack"] == "staging"


def test_karpenter_runs_on_the_system_nodes_after_its_crds_and_identity(preview):
    report = preview("staging")
    chart = _resource(report, "main-provisioner-karpenter")
    crd_chart = _resource(report, "main-provisioner-karpenter-crd")
    values = chart["inputs"]["values"]
    assert chart["inputs"]["chart"] == prov.KARPENTER_CHART.name
    assert chart["inputs"]["version"] == crd_chart["inputs"]["version"] == "1.14.1"
    assert values["nodeSelector"] == {"aistack.io/pool": "system"}
    assert crd_chart["urn"] in chart["dependencies"]
    # The NodePools wait for the controller's chart (and so its CRDs).
    pool = _resource(report, "main-provisioner-a10g-nodes")
    assert chart["urn"] in pool["dependencies"]
    access = _resource(report, "main-karpenter-identity-node-access")
    assert access["inputs"]["type"] == "EC2_LINUX"
    provisioner = _resource(report, "main-provisioner")
    assert access["urn"] in provisioner["dependencies"]


def test_the_serving_pods_wait_for_their_provisioner(preview):
    report = preview("staging")
    deployment = next(
        r
        for r in report["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment" and r["name"] == "chat-deployment"
    )
    endpoint = _resource(report, "chat")
    nodepool = _resource(report, "main-provisioner-a10g-nodes")
    assert nodepool["urn"] in endpoint["dependencies"]
    assert deployment["inputs"]["spec"]["template"]["spec"]["nodeSelector"]["aistack.io/pool"] == "a10g"


def test_prod_limits_come_from_the_sizing_plan(preview):
    report = preview("prod")
    plan = {p["workload"]: p for p in report["sizing"]["pools"]}
    objects = _objects(report)
    h100 = objects["main-provisioner-h100-nodes"]["spec"]
    types = {r["key"]: r["values"] for r in h100["template"]["spec"]["requirements"]}[
        "node.kubernetes.io/instance-type"
    ]
    h100_plan = [p for p in plan.values() if p["instance_type"] in types]
    assert h100_plan
    assert h100["limits"] == {"nvidia.com/gpu": str(8 * sum(p["max_nodes"] for p in h100_plan))}
    assert objects["main-provisioner-a10g-ondemand"]["spec"]["limits"] == {"nvidia.com/gpu": "2"}


def test_multicloud_gke_compute_class_priorities_and_floor(preview):
    report = preview("multicloud")
    objects = _objects(report)
    l4 = objects["central-provisioner-l4-class"]["spec"]
    floor_pool = _resource(report, "central-l4-ondemand")
    # First the floor's managed node pool (by the name GKE gives it, an output of that pool).
    (floor_name,) = l4["priorities"][0]["nodepools"]
    assert floor_name.startswith("central-l4-ondemand")
    assert floor_pool["urn"] in _resource(report, "central-provisioner-l4-class")["dependencies"]
    assert [p.get("spot") for p in l4["priorities"][1:]] == [True, False]
    assert l4["priorities"][1]["gpu"] == {"type": "nvidia-l4", "count": 1, "driverVersion": "latest"}
    assert l4["activeMigration"] == {"optimizeRulePriority": True}
    assert l4["nodePoolAutoCreation"] == {"enabled": True}
    assert l4["whenUnsatisfiable"] == "DoNotScaleUp"
    # The floor's managed node pool joins the class through its label and taint.
    config = floor_pool["inputs"]["nodeConfig"]
    assert config["labels"]["cloud.google.com/compute-class"] == "aistack-l4"
    assert {
        "key": "cloud.google.com/compute-class",
        "value": "aistack-l4",
        "effect": "NO_SCHEDULE",
    } in config["taints"]
    assert not [r for r in report["resources"] if r["name"] in ("central-l4-spot", "central-a100-nodes")]
    a100 = objects["central-provisioner-a100-class"]["spec"]
    assert [p.get("spot") for p in a100["priorities"]] == [False]
    # The pods select the class and tolerate its taint.
    pod = next(
        r["inputs"]["spec"]["template"]["spec"]
        for r in report["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment"
        and r["inputs"]["spec"]["template"]["spec"]["nodeSelector"].get("aistack.io/pool") == "l4"
    )
    assert pod["nodeSelector"]["cloud.google.com/compute-class"] == "aistack-l4"
    assert {
        "key": "cloud.google.com/compute-class",
        "operator": "Equal",
        "value": "aistack-l4",
        "effect": "NoSchedule",
    } in pod["tolerations"]


def test_multicloud_gke_auto_provisioning_limits_cover_every_pool(preview):
    gke = next(r for r in preview("multicloud")["resources"] if r["type"] == "gcp:container/cluster:Cluster")
    autoscaling = gke["inputs"]["clusterAutoscaling"]
    assert autoscaling["enabled"] is True
    limits = {x["resourceType"]: x["maximum"] for x in autoscaling["resourceLimits"]}
    # l4: the plan's 10 x g2-standard-8 (8 vCPU, 32 GiB, 1 L4: chat's GCP share at its max);
    # a100: 2 x a2-ultragpu-1g (12 vCPU, 170 GiB, 1 A100); system: 3 x e2-standard-2 (2 vCPU, 8 GiB).
    assert limits == {
        "cpu": 10 * 8 + 2 * 12 + 3 * 2,
        "memory": 10 * 32 + 2 * 170 + 3 * 8,
        "nvidia-l4": 10,
        "nvidia-a100-80gb": 2,
    }
    assert autoscaling["autoProvisioningDefaults"]["serviceAccount"]


def test_multicloud_aks_runs_node_auto_provisioning_with_a_fixed_system_pool(preview):
    report = preview("multicloud")
    aks = next(r for r in report["resources"] if r["type"] == "azure-native:containerservice:ManagedCluster")
    assert aks["inputs"]["nodeProvisioningProfile"] == {"mode": "Auto", "defaultNodePools": "None"}
    (system,) = aks["inputs"]["agentPoolProfiles"]
    assert system["enableAutoScaling"] is False and system["count"] == 3
    assert "minCount" not in system and "maxCount" not in system
    assert aks["inputs"]["networkProfile"]["networkPluginMode"] == "overlay"
    assert aks["inputs"]["networkProfile"]["networkDataplane"] == "cilium"
    assert not [r for r in report["resources"] if r["type"] == "azure-native:containerservice:AgentPool"]
    nodes = _objects(report)["south-provisioner-a10-nodes"]["spec"]
    assert nodes["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.azure.com",
        "kind": "AKSNodeClass",
        "name": "aistack-a10",
    }


def test_provisioner_objects_are_priced_from_the_plan(preview):
    lines = {x["urn"].rsplit("::", 1)[1]: x for x in preview("staging")["cost"]["lines"]}
    floor = lines["main-provisioner-a10g-ondemand"]
    assert (
        floor["monthly_usd"] == floor["monthly_usd_max"] > 0 and "1 × g5.xlarge on-demand" in floor["basis"]
    )
    rest = lines["main-provisioner-a10g-nodes"]
    assert (
        rest["monthly_usd"] == 0 and rest["monthly_usd_max"] > 0 and "0–3 × g5.xlarge spot" in rest["basis"]
    )


# ---------------------------------------------------------------- rendering, unit level


def _pool(**changes: Any) -> GpuPoolSpec:
    fields = {
        "accelerator": "A10G-24GB",
        "instance_types": ["g5.xlarge", "g5.12xlarge"],
        "capacity": "on-demand",
        "min_nodes": 0,
        "max_nodes": 3,
        "provisioning": "auto",
    }
    return GpuPoolSpec(**(fields | changes))


def test_capacity_types_put_reservations_first_and_fall_back_to_on_demand():
    assert prov.capacity_types("spot", reserved=True) == ["reserved", "spot", "on-demand"]
    assert prov.capacity_types("on-demand", reserved=False) == ["on-demand"]


def test_gpu_limit_counts_the_largest_node():
    (only,) = prov.karpenter_pools(
        "x",
        pool="p",
        spec=_pool(),
        node_class=("g", "K", "x"),
        gpus_per_node=prov.gpus_per_node("aws", ["g5.xlarge", "g5.12xlarge"]),
        zone_values=None,
    ).values()
    assert only["spec"]["limits"] == {"nvidia.com/gpu": "12"}  # 3 nodes x 4 GPUs (g5.12xlarge)
    assert crds.problems(only) == []


def test_unknown_gpu_count_is_refused():
    with pytest.raises(ValueError, match="no known GPU count for p9.huge"):
        prov.gpus_per_node("aws", ["g5.xlarge", "p9.huge"])


def test_reservations_select_capacity_reservations_and_the_reserved_capacity_type():
    spec = _pool(reservations=["cr-0123456789abcdef0"])
    node_class = prov.ec2_node_class(
        "x",
        instance_profile="p",
        subnet_ids=["subnet-1"],
        security_group_id="sg-1",
        disk_gib=100,
        reservations=spec.reservations,
        tags={},
    )
    assert node_class["spec"]["capacityReservationSelectorTerms"] == [{"id": "cr-0123456789abcdef0"}]
    assert crds.problems(node_class) == []
    (pool,) = prov.karpenter_pools(
        "x", pool="p", spec=spec, node_class=("g", "K", "x"), gpus_per_node=1, zone_values=None
    ).values()
    kinds = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}[
        "karpenter.sh/capacity-type"
    ]
    assert kinds == ["reserved", "on-demand"]


def test_gcp_reservations_are_the_first_priorities():
    spec = _pool(
        accelerator="L4-24GB", instance_types=["g2-standard-8"], capacity="spot", reservations=["l4-block"]
    )
    doc = prov.compute_class(
        "c",
        pool="l4",
        spec=spec,
        machine_type="g2-standard-8",
        accelerator_type="nvidia-l4",
        gpus_per_node=1,
        driver="DEFAULT",
        zones=["us-central1-a"],
        service_account="sa@p.iam.gserviceaccount.com",
        floor_node_pool=None,
    )
    assert doc["spec"]["priorities"][0]["reservations"] == {
        "affinity": "Specific",
        "specific": [{"name": "l4-block"}],
    }
    assert [p.get("spot") for p in doc["spec"]["priorities"]] == [None, True, False]
    assert crds.problems(doc) == []


def test_controller_policy_is_scoped_to_the_cluster():
    policy = controller_policy(
        "arn:aws:eks:us-east-1:111122223333:cluster/c1",
        "c1",
        "arn:aws:sqs:us-east-1:111122223333:q",
        "arn:aws:iam::111122223333:role/nodes",
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["AllowPassingInstanceRole"]["Resource"] == "arn:aws:iam::111122223333:role/nodes"
    assert by_sid["AllowPassingInstanceRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}
    }
    assert by_sid["AllowScopedDeletion"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/c1": "owned"
    }
    assert by_sid["AllowInterruptionQueueActions"]["Resource"] == "arn:aws:sqs:us-east-1:111122223333:q"
    assert all(s["Resource"] != "*" or s["Action"] != "*" for s in policy["Statement"])
    assert by_sid["AllowRegionalReadActions"]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": "us-east-1"}
    }


def test_interruption_queue_takes_eventbridge_over_tls_only():
    policy = queue_policy("arn:aws:sqs:us-east-1:1:q")
    allow, deny = policy["Statement"]
    assert allow["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(INTERRUPTION_EVENTS) == {"health", "spot", "rebalance", "state", "reservation"}


def test_machine_shape_from_catalog_or_name():
    assert machine_shape("g2-standard-8") == (8, 32)
    assert machine_shape("e2-highmem-4") == (4, 32)
    with pytest.raises(
        ValueError, match="no vCPU and memory figures for GCP machine type 'ct5lp-hightpu-4t'"
    ):
        machine_shape("ct5lp-hightpu-4t")


def test_no_auto_pool_means_no_autoprovisioning_block(preview):
    gke = next(r for r in preview("gcp-dev")["resources"] if r["type"] == "gcp:container/cluster:Cluster")
    assert "clusterAutoscaling" not in gke["inputs"]
