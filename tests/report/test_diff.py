"""The diff against a baseline preview: each change class, identity changes and protected resources."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pytest

from aistack import cost, diff, engine, preview
from aistack.errors import InputError
from sizing.plan import HOURS_PER_MONTH
from tests.report.factories import CATALOG, component, provider, resource


def report(*resources: dict) -> dict:
    """A preview report around these resources, priced with the test catalog."""
    return {
        "project": "aistack",
        "stack": "test",
        "resources": list(resources),
        "cost": cost.estimate(resources, catalog=CATALOG, prices=[]),
        "policy": {"violations": []},
    }


def compare(base: dict, head: dict, **kwargs) -> dict:
    kwargs.setdefault("base_cost", base["cost"])
    return diff.compare(base, head, **kwargs)


def names(entries: list[dict]) -> list[str]:
    return sorted(e["name"] for e in entries)


def store(name: str, *, protect: bool = False) -> list[dict]:
    """An object store component with its key, bucket and a non-stateful child."""
    parent = component("aws", "ObjectStore", name)
    return [
        parent,
        resource("aws:kms/key:Key", f"{name}-key", cloud="aws", parent=parent, protect=protect),
        resource(
            "aws:s3/bucket:Bucket",
            f"{name}-bucket",
            cloud="aws",
            parent=parent,
            protect=protect,
            inputs={"forceDestroy": False, "tags": {"aistack-purpose": "model-weights"}},
        ),
        resource(
            "aws:s3/bucketVersioning:BucketVersioning", f"{name}-versioning", cloud="aws", parent=parent
        ),
    ]


def test_create_update_delete_name_the_resources_and_the_changed_input_paths():
    role = resource(
        "aws:iam/role:Role",
        "reader",
        cloud="aws",
        inputs={"path": "/", "tags": {"team": "ml"}, "inlinePolicies": [{"name": "read", "policy": "a"}]},
    )
    # Same type, nothing in common: a deletion and a creation, not a rename.
    gone = resource("aws:iam/role:Role", "old-role", cloud="aws", inputs={"path": "/batch/"})
    changed = {
        **role,
        "inputs": {
            "path": "/svc/",
            "tags": {"team": "ml", "cost": "x"},
            "inlinePolicies": [{"name": "read", "policy": "b"}],
        },
    }
    added = resource("aws:iam/role:Role", "new-role", cloud="aws", inputs={"path": "/serving/"})
    result = compare(report(role, gone), report(changed, added))
    assert names(result["create"]) == ["new-role"]
    assert names(result["delete"]) == ["old-role"]
    (update,) = result["update"]
    assert update["name"] == "reader"
    assert update["changes"] == ["inlinePolicies[0].policy", "path", "tags.cost"]
    assert update["replaces"] == []
    assert result["replace_risk"] == [] and result["forbidden"] == []


def test_unchanged_resources_and_ignored_paths_are_not_updates():
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "pool",
        cloud="aws",
        inputs={"scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1}},
        ignore_changes=["scalingConfig.desiredSize"],
    )
    moved = {**group, "inputs": {"scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 2}}}
    assert compare(report(group), report(group))["update"] == []
    assert compare(report(group), report(moved))["update"] == []


def test_a_renamed_component_pairs_each_deleted_child_with_its_new_twin():
    result = compare(report(*store("models")), report(*store("weights")))
    pairs = {
        (r["old_urn"].rsplit("::", 1)[1], r["new_urn"].rsplit("::", 1)[1]) for r in result["replace_risk"]
    }
    assert pairs == {
        ("models", "weights"),
        ("models-key", "weights-key"),
        ("models-bucket", "weights-bucket"),
        ("models-versioning", "weights-versioning"),
    }
    reasons = {r["new_urn"].rsplit("::", 1)[1]: r["reason"] for r in result["replace_risk"]}
    assert reasons["weights"] == "new logical name without an alias"
    assert reasons["weights-bucket"] == "new logical name and parent without an alias"
    # Stateful children would be lost: the bucket and its key fail the check.
    assert names(result["forbidden"]) == ["models-bucket", "models-key"]
    bucket = next(f for f in result["forbidden"] if f["name"] == "models-bucket")
    assert bucket["reason"] == (
        "S3 bucket 'models-bucket' would be deleted; it reappears as 'weights-bucket' (add an alias to keep "
        "it). To allow it, add 'models' to aistack:allow_replace."
    )


def test_a_changed_type_under_the_same_name_is_an_identity_change():
    old = resource("aws:s3/bucketV2:BucketV2", "logs", cloud="aws")
    new = resource("aws:s3/bucket:Bucket", "logs", cloud="aws")
    result = compare(report(old), report(new))
    assert result["replace_risk"] == [
        {
            "old_urn": old["urn"],
            "new_urn": new["urn"],
            "type": "aws:s3/bucket:Bucket",
            "reason": "type changes from aws:s3/bucketV2:BucketV2",
        }
    ]


def test_deleting_a_protected_bucket_is_forbidden_and_fails_the_check():
    base = report(*store("models", protect=True))
    head = report(component("aws", "Network", "aws"))
    result = compare(base, head)
    assert names(result["delete"]) == ["models", "models-bucket", "models-key", "models-versioning"]
    assert all(d["protect"] for d in result["delete"] if d["name"] in ("models-bucket", "models-key"))
    assert names(result["forbidden"]) == ["models-bucket", "models-key"]
    assert "It is protected: Pulumi refuses until `protect` is lifted." in result["forbidden"][0]["reason"]
    assert preview.exit_code({**head, "diff": result}) == 1


@pytest.mark.parametrize(
    ("allowed", "still_forbidden"),
    [([], ["models-bucket", "models-key"]), (["models-bucket"], ["models-key"]), (["models"], [])],
)
def test_allow_replace_names_a_resource_or_its_component(allowed, still_forbidden):
    head = report(component("aws", "Network", "aws"))
    result = compare(report(*store("models")), head, allow_replace=allowed)
    assert names(result["forbidden"]) == still_forbidden
    assert preview.exit_code({**head, "diff": result}) == (1 if still_forbidden else 0)


def test_changing_an_input_that_replaces_a_stateful_resource_is_forbidden():
    cluster = resource(
        "aws:eks/cluster:Cluster",
        "main-eks",
        cloud="aws",
        inputs={"name": "aistack-dev-main", "vpcConfig": {"subnetIds": ["subnet-a"]}, "version": "1.33"},
    )
    renamed = {**cluster, "inputs": {**cluster["inputs"], "name": "aistack-dev-other"}}
    resubnetted = {
        **cluster,
        "inputs": {**cluster["inputs"], "vpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]}},
    }
    result = compare(report(cluster), report(renamed))
    assert result["update"][0]["replaces"] == ["name"]
    assert result["forbidden"][0]["reason"].startswith(
        "EKS cluster 'main-eks' would be replaced (changing name replaces it)"
    )
    # EKS updates subnets in place (terraform-provider-aws updateVPCConfig): an update, not a replacement.
    result = compare(report(cluster), report(resubnetted))
    assert result["update"][0]["changes"] == ["vpcConfig.subnetIds"]
    assert result["update"][0]["replaces"] == [] and result["forbidden"] == []


def test_replace_on_changes_marks_a_replacement_without_forbidding_a_stateless_resource():
    job = resource(
        "kubernetes:batch/v1:Job",
        "warmup",
        cloud="aws",
        inputs={"spec": {"image": "a"}},
        replace_on_changes=["spec"],
    )
    changed = {**job, "inputs": {"spec": {"image": "b"}}}
    result = compare(report(job), report(changed))
    assert result["update"][0]["replaces"] == ["spec.image"]
    assert result["forbidden"] == []


def _declare(new_name: str, *, alias: bool) -> list[dict]:
    """Run a store-like component under the recording engine, optionally aliased to its old name."""

    class Store(pulumi.ComponentResource):
        def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("aistack:aws:ObjectStore", name, None, opts)
            pulumi.CustomResource(
                "aws:s3/bucket:Bucket",
                f"{name}-bucket",
                {"forceDestroy": False},
                pulumi.ResourceOptions(parent=self),
            )

    def body() -> None:
        Store(new_name, pulumi.ResourceOptions(aliases=[pulumi.Alias(name="models")] if alias else None))

    run = engine.run_function(body, project="aistack", stack="test", config={})
    return [r.to_json() for r in run.resources]


def test_an_alias_turns_a_rename_into_an_update_of_the_same_resources():
    base = report(*_declare("models", alias=False))
    head = report(*_declare("weights", alias=True))
    bucket = next(r for r in head["resources"] if r["name"] == "weights-bucket")
    assert bucket["aliases"] == [bucket["urn"].replace("weights", "models")]
    result = compare(base, head)
    assert result["create"] == result["delete"] == result["replace_risk"] == result["forbidden"] == []
    renamed = {u["name"]: u["renamed_from"].rsplit("::", 1)[1] for u in result["update"]}
    assert renamed == {"weights": "models", "weights-bucket": "models-bucket"}


def test_without_the_alias_the_same_rename_is_forbidden():
    result = compare(report(*_declare("models", alias=False)), report(*_declare("weights", alias=False)))
    assert names(result["forbidden"]) == ["models-bucket"]


def test_cost_delta_is_the_difference_per_cloud_at_min_and_max():
    aws = provider("aws", "us-east-1")

    def pool(high: int) -> dict:
        return resource(
            "aws:eks/nodeGroup:NodeGroup",
            "l4",
            cloud="aws",
            provider=aws,
            inputs={"instanceTypes": ["g6.xlarge"], "scalingConfig": {"minSize": 1, "maxSize": high}},
        )

    result = compare(report(aws, pool(2)), report(aws, pool(5)))
    delta = result["cost_delta"]
    assert delta["monthly_usd"] == 0.0
    assert delta["monthly_usd_max"] == pytest.approx(0.80 * 3 * HOURS_PER_MONTH, abs=0.01)
    assert delta["by_cloud"] == {"aws": 0.0}
    assert result["update"][0]["changes"] == ["scalingConfig.maxSize"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read baseline"),
        ("{not json", "baseline is not JSON (line 1)"),
        (json.dumps({"stack": "dev"}), "resources: a baseline is the output of `preview --format json`"),
        (json.dumps({"resources": [{"urn": "u"}]}), "resources.0: each resource needs urn, type and name"),
    ],
)
def test_a_bad_baseline_is_a_one_line_error(tmp_path: Path, content, message):
    path = tmp_path / "base.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as err:
        diff.load_baseline(path)
    assert message in err.value.line()


def test_a_child_whose_every_input_changed_with_its_parents_rename_is_still_paired():
    def world(name: str) -> list[dict]:
        parent = component("aws", "ObjectStore", name)
        policy = resource(
            "aws:s3/bucketPolicy:BucketPolicy",
            f"{name}-tls-only",
            cloud="aws",
            parent=parent,
            inputs={
                "bucket": f"{name}-bucket-1234",
                "policy": f'{{"Resource": "arn:aws:s3:::{name}-bucket-1234"}}',
            },
        )
        return [parent, policy]

    result = compare(report(*world("models")), report(*world("weights")))
    pairs = sorted(
        (r["old_urn"].rsplit("::", 1)[1], r["new_urn"].rsplit("::", 1)[1]) for r in result["replace_risk"]
    )
    assert pairs == [("models", "weights"), ("models-tls-only", "weights-tls-only")]
