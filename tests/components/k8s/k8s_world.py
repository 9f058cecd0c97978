"""Helpers for the serving tests: whole-stack runs, Kubernetes semantics, and per-cloud stand-ins.

The stand-in cluster, store, identity and pool are real contract components (type tokens
``aistack:<cloud>:<Concept>``, the contract's outputs) with no cloud resources under them. They let
the serving layer be declared for the Azure and GCP rows before those families exist on main;
once a family lands, its stack previews exercise the same rows for real.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pulumi
import yaml

from aistack import crds, engine, manifests, preview
from aistack.preview import REPO
from aistack.spec import load_stack_file, stack_file
from components import contract
from components.k8s import CLOUDS
from components.k8s.routing import ROUTER_LABEL

GPU = "nvidia.com/gpu"
WORKLOAD_KINDS = (
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "ReplicaSet",
    "Pod",
    "LeaderWorkerSet",
)


@functools.cache
def stack_run(stack: str) -> tuple[Any, engine.ProgramRun]:
    """(spec, run) of a stack in ``stacks/``: every resource with inputs and mock outputs."""
    _, spec = load_stack_file(stack_file(REPO, stack))
    return spec, preview.execute(stack=stack)


def stack_names() -> list[str]:
    """Every stack in ``stacks/``."""
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (REPO / "stacks").glob("Pulumi.*.yaml")
    )


def kind(resource: engine.Resource) -> str | None:
    """The Kubernetes kind of a recorded resource (None for anything else)."""
    return (
        resource.type.rsplit(":", 1)[-1]
        if resource.type.startswith("kubernetes:") and resource.custom
        else None
    )


def of_kind(resources: list[engine.Resource], wanted: str) -> list[engine.Resource]:
    return [r for r in resources if kind(r) == wanted]


def serving(resources: list[engine.Resource], wanted: str) -> list[engine.Resource]:
    """Objects of one kind in the serving namespace (add-ons live elsewhere), the pickers' own excepted."""
    return [
        r
        for r in of_kind(resources, wanted)
        if r.inputs["metadata"].get("namespace") == contract.READER_NAMESPACE
        and ROUTER_LABEL not in (r.inputs["metadata"].get("labels") or {})
    ]


def routers(resources: list[engine.Resource], wanted: str) -> list[engine.Resource]:
    """Objects of one kind that belong to the endpoints' pickers (labelled ``aistack.io/router``)."""
    return [
        r for r in of_kind(resources, wanted) if ROUTER_LABEL in (r.inputs["metadata"].get("labels") or {})
    ]


def pod_templates(resource: engine.Resource) -> list[dict[str, Any]]:
    """The pod templates of a workload object: a LeaderWorkerSet's leader then worker template, else its one."""
    if kind(resource) == "LeaderWorkerSet":
        group = resource.inputs["spec"]["leaderWorkerTemplate"]
        return [group["leaderTemplate"], group["workerTemplate"]]
    if kind(resource) == "CronJob":
        return [resource.inputs["spec"]["jobTemplate"]["spec"]["template"]]
    return [resource.inputs["spec"]["template"]]


def pod_template(resource: engine.Resource) -> dict[str, Any]:
    """The pod template of a workload object (a LeaderWorkerSet's: its leader's, which serves the port)."""
    return pod_templates(resource)[0]


def pod_spec(resource: engine.Resource) -> dict[str, Any]:
    """The pod template spec of a workload object (a LeaderWorkerSet's: its leader's)."""
    return pod_template(resource)["spec"]


def pod_specs(resource: engine.Resource) -> list[dict[str, Any]]:
    """Every pod template spec of a workload object (leader and workers of a LeaderWorkerSet)."""
    return [t["spec"] for t in pod_templates(resource)]


def workloads(resources: list[engine.Resource]) -> list[engine.Resource]:
    return [r for r in resources if kind(r) in WORKLOAD_KINDS]


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def tolerates(tolerations: list[dict[str, Any]], key: str, value: str, effect: str) -> bool:
    """Whether a pod's tolerations admit a taint, with Kubernetes' matching rules."""
    for t in tolerations:
        operator = t.get("operator", "Equal")
        key_ok = t.get("key") == key or (not t.get("key") and operator == "Exists")
        value_ok = operator == "Exists" or t.get("value", "") == value
        effect_ok = not t.get("effect") or t["effect"] == effect
        if key_ok and value_ok and effect_ok:
            return True
    return False


def cluster_of(run: engine.ProgramRun, resource: engine.Resource) -> engine.Resource:
    """The cluster component whose Kubernetes provider a Kubernetes object uses."""
    by_urn = {r.urn: r for r in run.resources}
    provider = by_urn[resource.provider]
    return by_urn[provider.parent]


# Per-cloud stand-in values in the shape each cloud's family outputs.
SAMPLES = {
    "aws": {
        "bucket_name": "aistack-models",
        "bucket_uri": "s3://aistack-models",
        "identity": "arn:aws:iam::111122223333:role/main-models-reader",
        "accelerator": "A10G-24GB",
        "store_provider": {"aws": {"service": "SecretsManager", "region": "us-east-1"}},
    },
    "azure": {
        "bucket_name": "aistackmodels",
        "bucket_uri": "https://aistackmodels.blob.core.windows.net/models",
        "identity": "2f1c7c5e-0000-4000-8000-00000000c11d",
        "accelerator": "A100-80GB",
        "store_provider": {
            "azurekv": {"authType": "WorkloadIdentity", "vaultUrl": "https://main-keys.vault.azure.net/"}
        },
    },
    "gcp": {
        "bucket_name": "aistack-models",
        "bucket_uri": "gs://aistack-models",
        "identity": "models-reader@aistack-dev.iam.gserviceaccount.com",
        "accelerator": "L4-24GB",
        "store_provider": {"gcpsm": {"projectID": "aistack-dev"}},
    },
}


def stand_in_stack(
    cloud: str,
    cluster: str = "main",
    store: str = "models",
    pool: str = "gpu",
    endpoints: tuple[str, ...] = ("chat", "exposed"),
) -> contract.CloudStack:
    """A CloudStack of contract components for ``cloud`` with the contract's outputs and no resources.

    It holds the add-on identities the cloud's row needs (the autoscaler's, KEDA's),
    as the cloud's family declares them, and the API keys of ``endpoints``.
    """
    sample = SAMPLES[cloud]

    def concept(base: type[contract.Component]) -> type[contract.Component]:
        return type(f"StandIn{cloud.title()}{base.CONCEPT}", (base,), {"CLOUD": cloud})

    stack = contract.CloudStack(provider=None)  # type: ignore[arg-type]
    c = concept(contract.Cluster)(cluster)
    c.finish(cluster_name=f"aistack-test-{cluster}", kubeconfig=pulumi.Output.secret("{}"))
    s = concept(contract.ObjectStore)(store)
    s.finish(bucket_name=sample["bucket_name"], bucket_uri=sample["bucket_uri"])
    i = concept(contract.WorkloadIdentity)(f"{cluster}-{store}-reader")
    i.finish(
        identity=sample["identity"],
        namespace=contract.READER_NAMESPACE,
        service_account=contract.reader_service_account(store),
    )
    p = concept(contract.GpuNodePool)(f"{cluster}-{pool}")
    p.finish(node_pool_names={"nodes": f"{cluster}-{pool}"})
    row = CLOUDS[cloud]
    for addon, needed in (
        ("cluster-autoscaler", row.needs_cluster_autoscaler),
        ("keda-operator", row.pod_metrics.reads_cloud),
    ):
        if needed:
            namespace, account = contract.ADDON_SERVICE_ACCOUNTS[addon]
            a = concept(contract.AddonIdentity)(f"{cluster}-{addon}-identity")
            a.finish(identity=f"{addon}-identity", namespace=namespace, service_account=account)
            stack.addon_identities[(cluster, addon)] = a
    k = concept(contract.ApiKeys)(f"{cluster}-api-keys")
    k.finish(
        secrets={e: f"{cluster}-{e}-api-key" for e in endpoints},
        secret_ids={e: f"{cluster}-{e}-api-key-id" for e in endpoints},
        store_provider=sample["store_provider"],
        identity=f"external-secrets-identity-{cloud}",
    )
    stack.api_keys[cluster] = k
    stack.clusters[cluster] = c
    stack.stores[store] = s
    stack.identities[(cluster, store)] = i
    stack.pools[(cluster, pool)] = p
    return stack


def serve_stand_in(
    cloud: str,
    endpoints: dict[str, Any],
    *,
    accelerator: str | None = None,
    prepare: Any = None,
    **kwargs: Any,
) -> None:
    """Declare ``serve_cluster`` for ``endpoints`` on a stand-in ``cloud`` stack (call inside a ``declare`` body).

    ``accelerator`` defaults to the cloud's sample; ``prepare(stack)`` may alter the stand-in first;
    other keyword arguments (``region``, ``project``) go to ``serve_cluster``.
    """
    from components.k8s import serve_cluster

    stack = stand_in_stack(cloud, endpoints=tuple(endpoints))
    if prepare is not None:
        prepare(stack)
    serve_cluster(
        "main",
        stack.clusters["main"],
        cloud=cloud,
        kubernetes_version="1.33",
        endpoints=endpoints,
        accelerators={"gpu": accelerator or SAMPLES[cloud]["accelerator"]},
        deployed=stack,
        **kwargs,
    )


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_TARGET_REF = _closed(
    {"group": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": "string"}},
    ("group", "kind", "name"),
)
_METADATA = {"type": "object"}
HEALTHCHECKPOLICY_SCHEMA = _closed(
    {
        "apiVersion": {"const": "networking.gke.io/v1"},
        "kind": {"const": "HealthCheckPolicy"},
        "metadata": _METADATA,
        "spec": _closed(
            {
                "targetRef": _TARGET_REF,
                "default": _closed(
                    {
                        "timeoutSec": {"type": "integer", "minimum": 1, "maximum": 300},
                        "checkIntervalSec": {"type": "integer", "minimum": 1, "maximum": 300},
                        "config": _closed(
                            {
                                "type": {"enum": ["HTTP", "HTTPS", "HTTP2", "GRPC", "TCP"]},
                                "httpHealthCheck": _closed(
                                    {
                                        "requestPath": {"type": "string", "pattern": "^/"},
                                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                                    }
                                ),
                            },
                            ("type",),
                        ),
                    }
                ),
            },
            ("targetRef", "default"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
"""GKE's HealthCheckPolicy fields (GKE, "Configure Gateway resources using Policies": health check;
GKE publishes no CRD file to vendor), unknown fields refused."""
GCPBACKENDPOLICY_SCHEMA = _closed(
    {
        "apiVersion": {"const": "networking.gke.io/v1"},
        "kind": {"const": "GCPBackendPolicy"},
        "metadata": _METADATA,
        "spec": _closed(
            {
                "targetRef": _TARGET_REF,
                "default": _closed({"timeoutSec": {"type": "integer", "minimum": 1, "maximum": 2147483647}}),
            },
            ("targetRef", "default"),
        ),
    },
    ("apiVersion", "kind", "metadata", "spec"),
)
"""GKE's GCPBackendPolicy fields used here (same reference: backend service timeout)."""

CUSTOM_RESOURCES = {
    ("networking.gke.io/v1", "HealthCheckPolicy"): HEALTHCHECKPOLICY_SCHEMA,
    ("networking.gke.io/v1", "GCPBackendPolicy"): GCPBACKENDPOLICY_SCHEMA,
}


def manifest(resource: engine.Resource) -> dict[str, Any]:
    """A declared Kubernetes object as its manifest (whole-number doubles back to integers)."""
    return manifests.plain(dict(resource.inputs))


def validate(manifest: dict[str, Any], version: str) -> None:
    """Validate a manifest strictly: built-in kinds against the Kubernetes schema of ``version``,
    custom resources against their vendored CRD (``aistack/crds.py``) or, where the vendor publishes
    none, their API reference."""
    schema = CUSTOM_RESOURCES.get((manifest["apiVersion"], manifest["kind"]))
    if schema is not None:
        jsonschema.validate(manifest, schema)
    elif crds.is_builtin(manifest["apiVersion"]):
        kubernetes_validate.validate(manifest, version, strict=True)
    else:
        crds.validate(manifest)


def pod_identity_role(
    run: engine.ProgramRun, eks: engine.Resource, namespace: str, account: str
) -> tuple[engine.Resource, list[engine.Resource], list[engine.Resource]]:
    """The IAM role EKS Pod Identity gives ``namespace/account`` on cluster ``eks``, checked to trust
    exactly that cluster, namespace and account; with its inline policies and managed attachments."""
    (association,) = [
        r
        for r in run.resources
        if r.type == "aws:eks/podIdentityAssociation:PodIdentityAssociation"
        and (r.inputs["clusterName"], r.inputs["namespace"], r.inputs["serviceAccount"])
        == (eks.outputs["name"], namespace, account)
    ]
    (role,) = [
        r
        for r in run.resources
        if r.type == "aws:iam/role:Role" and r.outputs["arn"] == association.inputs["roleArn"]
    ]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {
        "aws:RequestTag/eks-cluster-arn": eks.outputs["arn"],
        "aws:RequestTag/kubernetes-namespace": namespace,
        "aws:RequestTag/kubernetes-service-account": account,
    }
    on_role = [r for r in run.resources if r.inputs.get("role") == role.outputs["id"]]
    inline = [r for r in on_role if r.type == "aws:iam/rolePolicy:RolePolicy"]
    managed = [r for r in on_role if r.type.startswith("aws:iam/rolePolicyAttachment")]
    return role, inline, managed


@functools.cache
def internal_multicloud(private_zone: str | None = None) -> tuple[Any, Any]:
    """The multicloud stack with its ``chat`` endpoint inside the networks (``internal-lb``, no global name);
    with ``private_zone``, ``chat`` keeps its hostname there (``aistack:interconnect.private_zone``)."""
    document = yaml.safe_load((REPO / "stacks/Pulumi.multicloud.yaml").read_text())
    config = document["config"]
    del config["aistack:dns"]
    chat = config["aistack:endpoints"]["chat"]
    chat["expose"] = "internal-lb"
    if private_zone is None:
        del chat["hostname"]
    else:
        config["aistack:interconnect"]["private_zone"] = private_zone
    path = Path(tempfile.mkdtemp()) / "Pulumi.multicloud.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    _, spec = load_stack_file(path)
    return spec, preview.execute(stack_path=path)
