"""How stack rules join resources: S3 children to buckets, pools to clusters, pods to clusters."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN, evaluate
from tests.policies.cases import (
    AGENT_POOL,
    AKS,
    BUCKET,
    BUCKET_POLICY,
    GKE,
    KMS_RULES,
    NODE_POOL,
    PAB,
    PAB_ON,
    SSE,
    TLS_DENY,
    doc,
    eks_pool,
    gke_cluster_with_provider,
    gpu_deployment,
    res,
)

S3_RULES = ("aws-s3-bucket-has-sse", "aws-s3-deny-insecure-transport", "aws-s3-public-access-block")


def findings(resources: list[dict[str, Any]], *rule_ids: str, **kwargs: Any) -> list[tuple[str, str, str]]:
    """(policy, level, resource name) of the findings of ``rule_ids``."""
    return [
        (f["policy"], f["level"], (f["urn"] or "").rsplit("::", 1)[-1])
        for f in evaluate(resources, environment=kwargs.pop("environment", "prod"), **kwargs)
        if f["policy"] in rule_ids
    ]


def secured(bucket_ref: Any, **extra: Any) -> list[dict[str, Any]]:
    """The three children that secure a bucket, all naming it by ``bucket_ref``."""
    return [
        res(SSE, "sse", {"bucket": bucket_ref, "rules": KMS_RULES}, **extra),
        res(PAB, "pab", {"bucket": bucket_ref} | PAB_ON, **extra),
        res(BUCKET_POLICY, "tls", {"bucket": bucket_ref, "policy": doc(TLS_DENY)}, **extra),
    ]


def test_children_join_by_logical_name_when_the_bucket_is_auto_named() -> None:
    assert findings([res(BUCKET, "weights", {}), *secured("weights")], *S3_RULES) == []


def test_children_join_by_explicit_physical_name() -> None:
    assert (
        findings([res(BUCKET, "weights", {"bucket": "acme-weights"}), *secured("acme-weights")], *S3_RULES)
        == []
    )
    # With an explicit name, the logical name is not a join key.
    assert {
        f[0]
        for f in findings(
            [res(BUCKET, "weights", {"bucket": "acme-weights"}), *secured("weights")], *S3_RULES
        )
    } == set(S3_RULES)


def test_children_join_by_the_physical_name_the_mocks_returned() -> None:
    # The offline engine auto-names like Pulumi: the name is only in the recorded outputs.
    bucket = res(BUCKET, "weights", {}, outputs={"bucket": "weights-1a2b3c4d", "id": "weights-1a2b3c4d"})
    assert findings([bucket, *secured("weights-1a2b3c4d")], *S3_RULES) == []
    assert {f[0] for f in findings([bucket, *secured("weights")], *S3_RULES)} == set(S3_RULES)


def test_inline_pools_join_standalone_pools_by_the_cluster_name_output() -> None:
    gpu = {"vmSize": "Standard_NC24ads_A100_v4", "nodeLabels": {"aistack.io/accelerator": "A100-80GB"}}
    cluster = res(
        AKS,
        "aks",
        {"agentPoolProfiles": [{"name": "floor", "mode": "User", "count": 1.0} | gpu]},
        outputs={"name": "aks-5e6f7a8b"},
    )
    spot = res(AGENT_POOL, "spot", {"resourceName": "aks-5e6f7a8b", "scaleSetPriority": "Spot"} | gpu)
    assert findings([cluster, spot], "gpu-spot-has-ondemand-floor") == []


def test_children_join_by_property_dependency_when_the_reference_is_unknown() -> None:
    bucket = res(BUCKET, "weights", {})
    children = secured(UNKNOWN, property_dependencies={"bucket": [bucket["urn"]]})
    assert findings([bucket, *children], *S3_RULES) == []


def test_a_child_naming_an_undeclared_bucket_is_named_in_the_orphan_message() -> None:
    result = evaluate(
        [res(BUCKET, "weights", {}), res(SSE, "sse", {"bucket": "weights-id", "rules": KMS_RULES})]
    )
    (message,) = [f["message"] for f in result if f["policy"] == "aws-s3-bucket-has-sse"]
    assert message == (
        "bucket 'weights' has no BucketServerSideEncryptionConfiguration; "
        "BucketServerSideEncryptionConfiguration 'sse' names bucket 'weights-id', which this stack does not declare"
    )


def test_a_bucket_with_an_unknown_name_makes_unmatched_children_undecidable() -> None:
    resources = [res(BUCKET, "weights", {"bucket": UNKNOWN}), *secured("acme-weights")]
    assert findings(resources, *S3_RULES) == [
        ("aws-s3-bucket-has-sse", "advisory", "weights"),
        ("aws-s3-deny-insecure-transport", "advisory", "weights"),
        ("aws-s3-public-access-block", "advisory", "weights"),
    ]


def test_deprecated_inline_bucket_settings_count() -> None:
    inline = {
        "serverSideEncryptionConfiguration": {
            "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}
        },
        "policy": doc(TLS_DENY),
    }
    resources = [res(BUCKET, "legacy", inline), res(PAB, "pab", {"bucket": "legacy"} | PAB_ON)]
    assert findings(resources, *S3_RULES, "aws-s3-sse-kms") == []
    weak = {
        "serverSideEncryptionConfiguration": {
            "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
        }
    }
    assert findings([res(BUCKET, "legacy", weak)], "aws-s3-sse-kms") == [
        ("aws-s3-sse-kms", "mandatory", "legacy")
    ]


def test_v2_bucket_types_join_too() -> None:
    resources = [
        res("aws:s3/bucketV2:BucketV2", "old", {}),
        res(
            "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
            "sse",
            {"bucket": "old", "rules": KMS_RULES},
        ),
    ]
    assert findings(resources, "aws-s3-bucket-has-sse") == []
    assert findings(resources[:1], "aws-s3-bucket-has-sse") == [("aws-s3-bucket-has-sse", "mandatory", "old")]


def test_a_public_bucket_policy_is_reported_on_the_policy() -> None:
    public = doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::w/*",
        },
        TLS_DENY,
    )
    resources = [
        res(BUCKET, "w", {}),
        *secured("w")[:2],
        res(BUCKET_POLICY, "open", {"bucket": "w", "policy": public}),
    ]
    assert findings(resources, *S3_RULES) == [("aws-s3-public-access-block", "mandatory", "open")]


# ------------------------------------------------------------------ GPU pools and clusters


def test_spot_floor_joins_gke_pools_by_cluster_id_and_name() -> None:
    def pool(name: str, spot: bool, minimum: float, cluster: str) -> dict[str, Any]:
        config = {
            "machineType": "g2-standard-8",
            "spot": spot,
            "labels": {"aistack.io/accelerator": "L4-24GB"},
        }
        return res(
            NODE_POOL,
            name,
            {"cluster": cluster, "nodeConfig": config, "autoscaling": {"minNodeCount": minimum}},
        )

    joined = [
        pool("spot", True, 0.0, "projects/p/locations/us-central1/clusters/main"),
        pool("floor", False, 1.0, "main"),
    ]
    assert findings(joined, "gpu-spot-has-ondemand-floor") == []


def test_spot_floor_counts_inline_aks_pools_of_the_same_cluster() -> None:
    gpu = {"vmSize": "Standard_NC24ads_A100_v4", "nodeLabels": {"aistack.io/accelerator": "A100-80GB"}}
    cluster = res(AKS, "aks", {"agentPoolProfiles": [{"name": "floor", "mode": "User", "count": 1.0} | gpu]})
    spot = res(AGENT_POOL, "spot", {"resourceName": "aks", "scaleSetPriority": "Spot", "minCount": 0.0} | gpu)
    assert findings([cluster, spot], "gpu-spot-has-ondemand-floor") == []
    other = res(AGENT_POOL, "spot", {"resourceName": "elsewhere", "scaleSetPriority": "Spot"} | gpu)
    assert findings([cluster, other], "gpu-spot-has-ondemand-floor") == [
        ("gpu-spot-has-ondemand-floor", "mandatory", "spot")
    ]


def test_spot_floor_needs_the_same_accelerator_and_the_configured_size() -> None:
    spot = eks_pool("spot", "SPOT", 0.0)
    other_gpu = eks_pool("floor", "ON_DEMAND", 1.0, labels={"aistack.io/accelerator": "L4-24GB"})
    assert findings([spot, other_gpu], "gpu-spot-has-ondemand-floor") == [
        ("gpu-spot-has-ondemand-floor", "mandatory", "spot")
    ]
    floor = eks_pool("floor", "ON_DEMAND", 1.0)
    config = {"gpu-spot-has-ondemand-floor": {"minOnDemandNodes": 2}}
    assert findings([spot, floor], "gpu-spot-has-ondemand-floor", config=config) == [
        ("gpu-spot-has-ondemand-floor", "mandatory", "spot")
    ]


def test_spot_floor_is_an_environment_choice() -> None:
    spot_only = [eks_pool("spot", "SPOT", 0.0)]
    assert findings(spot_only, "gpu-spot-has-ondemand-floor", environment="dev") == []
    assert findings(spot_only, "gpu-spot-has-ondemand-floor", environment="staging") == [
        ("gpu-spot-has-ondemand-floor", "advisory", "spot")
    ]
    assert findings(spot_only, "gpu-spot-has-ondemand-floor", environment="prod") == [
        ("gpu-spot-has-ondemand-floor", "mandatory", "spot")
    ]


def test_gpu_pod_cluster_is_found_from_the_kubeconfig_of_its_provider() -> None:
    provider = res(
        "pulumi:providers:kubernetes",
        "k8s",
        {"kubeconfig": "users: [{user: {exec: {command: gke-gcloud-auth-plugin}}}]"},
    )
    eks = res("aws:eks/cluster:Cluster", "eks", {})
    pod = gpu_deployment(provider=provider["urn"])
    assert findings([provider, eks, pod], "gpu-pod-tolerates-and-selects") == [
        ("gpu-pod-tolerates-and-selects", "mandatory", "llm")
    ]


def test_gpu_pod_on_one_of_several_clouds_without_a_provider_cannot_be_decided() -> None:
    pod = gpu_deployment()
    found = evaluate(
        [res(GKE, "gke", {}), res("aws:eks/cluster:Cluster", "eks", {}), pod], environment="prod"
    )
    (finding,) = [f for f in found if f["policy"] == "gpu-pod-tolerates-and-selects"]
    assert finding["level"] == "advisory"
    assert finding["message"].startswith("cannot check: it may run on one of several clusters (aws, gcp)")


def test_gpu_pod_that_neither_tolerates_nor_selects_gets_both_findings() -> None:
    pod = gpu_deployment(tolerations=[], selector={})
    messages = [
        f["message"]
        for f in evaluate([pod], environment="prod")
        if f["policy"] == "gpu-pod-tolerates-and-selects"
    ]
    assert messages == [
        "requests nvidia.com/gpu but does not tolerate nvidia.com/gpu=present:NoSchedule",
        "requests nvidia.com/gpu but does not select the node label aistack.io/accelerator",
    ]


def test_gpu_pod_parented_under_a_gke_component_needs_the_gke_selector() -> None:
    component, cluster, provider = gke_cluster_with_provider()
    pod = gpu_deployment(provider=provider["urn"])
    eks_elsewhere = res("aws:eks/cluster:Cluster", "eks", {})
    assert findings([component, cluster, provider, eks_elsewhere, pod], "gpu-pod-tolerates-and-selects") == [
        ("gpu-pod-tolerates-and-selects", "mandatory", "llm")
    ]


# --- provisioning: auto: the spot floor is a NodePool tried first, or a ComputeClass priority before spot ---

NODEPOOL_T = "kubernetes:karpenter.sh/v1:NodePool"
CLASS_T = "kubernetes:cloud.google.com/v1:ComputeClass"
FLOOR = "gpu-spot-has-ondemand-floor"


def karpenter(name: str, kinds: list[str], *, weight: Any = None, limit: Any = "4", pool: str = "a10g"):
    spec: dict[str, Any] = {
        "template": {
            "metadata": {"labels": {"aistack.io/pool": pool}},
            "spec": {
                "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": kinds}]
            },
        },
        "limits": {"nvidia.com/gpu": limit},
    }
    if weight is not None:
        spec["weight"] = weight
    return res(
        NODEPOOL_T,
        name,
        {"spec": spec},
        provider="urn:pulumi:test::cases::pulumi:providers:kubernetes::c-k8s::id",
    )


def test_a_spot_nodepool_needs_an_on_demand_nodepool_of_its_pool_tried_first() -> None:
    spot = karpenter("spot", ["spot", "on-demand"], limit="8")
    assert findings([spot, karpenter("floor", ["on-demand"], weight=100, limit="1")], FLOOR) == []
    # No floor, a floor of another pool, or one Karpenter does not try first: spot can take every replica.
    assert findings([spot], FLOOR) == [(FLOOR, "mandatory", "spot")]
    assert findings([spot, karpenter("floor", ["on-demand"], weight=100, pool="h100")], FLOOR) == [
        (FLOOR, "mandatory", "spot")
    ]
    assert findings([spot, karpenter("floor", ["on-demand"])], FLOOR) == [(FLOOR, "mandatory", "spot")]
    # Dev disables the rule; an on-demand-only NodePool needs no floor.
    assert findings([spot], FLOOR, environment="dev") == []
    assert findings([karpenter("od", ["on-demand"])], FLOOR) == []


def test_a_nodepool_whose_floor_limit_is_unknown_cannot_be_judged_yet() -> None:
    spot = karpenter("spot", ["spot", "on-demand"])
    found = evaluate([spot, karpenter("floor", ["on-demand"], weight=100, limit=UNKNOWN)], environment="prod")
    assert [(f["policy"], f["level"]) for f in found if f["policy"] == FLOOR] == [(FLOOR, "advisory")]


def test_a_compute_class_puts_an_on_demand_priority_before_spot() -> None:
    gpu = {"machineType": "g2-standard-8", "gpu": {"type": "nvidia-l4", "count": 1}}
    first = res(CLASS_T, "cc", {"spec": {"priorities": [{"nodepools": ["l4-floor"]}, {**gpu, "spot": True}]}})
    assert findings([first], FLOOR) == []
    spot_first = res(CLASS_T, "cc", {"spec": {"priorities": [{**gpu, "spot": True}, {**gpu, "spot": False}]}})
    assert findings([spot_first], FLOOR) == [(FLOOR, "mandatory", "cc")]
