"""Multi-node replicas: a model larger than one node served by a LeaderWorkerSet.

A replica whose ``gpus_per_replica`` exceeds one node's GPUs is one LWS group of
``nodes_per_replica`` pods, one per node: the leader (worker index 0) runs vLLM's API server and
node rank 0, the workers run ``vllm serve --headless`` with their rank. vLLM shards the model tensor
parallel over the GPUs of each node and pipeline parallel across the nodes, on its multiprocessing
backend joined through ``--nnodes``/``--node-rank``/``--master-addr`` (vLLM 0.34.0
``vllm/config/parallel.py`` and ``vllm/entrypoints/cli/serve.py`` ``run_headless``; no Ray cluster to
start). The shape otherwise follows vLLM's LWS deployment guide (docs.vllm.ai, Deployment, Frameworks,
LWS): ``size`` = nodes per replica, ``restartPolicy: RecreateGroupOnPodRestart`` (a lost rank breaks
the NCCL groups of every other, so the whole group restarts), only the leader behind the Service.

The LWS controller itself is installed per cluster that needs it from its pinned Helm chart
(:data:`LWS_CHART`); every LeaderWorkerSet ``depends_on`` the release (its CRD comes with the chart).
Rendered objects validate against the vendored CRD (``schemas/crds/lws``, ``aistack/crds.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from aistack.spec.endpoints import EndpointSpec
from components.k8s import charts

API_VERSION = "leaderworkerset.x-k8s.io/v1"
KIND = "LeaderWorkerSet"
NAMESPACE = "lws-system"
WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
"""Label LWS puts on every pod of a group: ``"0"`` on the leader, 1..size-1 on the workers."""
GROUP_KEY_LABEL = "leaderworkerset.sigs.k8s.io/group-key"
"""Label with the same value on every pod of one group (a hash LWS computes; known only at admission)."""
LEADER_ADDRESS = "$(LWS_LEADER_ADDRESS)"
"""The leader's DNS name, from the environment LWS injects into every pod of a group (expanded by the kubelet)."""
WORKER_INDEX = "$(LWS_WORKER_INDEX)"

LWS_CHART = charts.Chart(
    name="oci://registry.k8s.io/lws/charts/lws",
    version="1.0.0",
    repo="",
    # LWS 1.0.0 is the release llm-d's model-server orchestration guide recommends (llm-d.ai/docs, "LeaderWorkerSet",
    # `helm install lws oci://registry.k8s.io/lws/charts/lws --version 1.0.0`), after 0.11.1 (lws.sigs.k8s.io,
    # Installation). The vendored CRD is v0.10.0's, the newest in any stored snapshot: see schemas/crds/SOURCES.md.
    source="https://lws.sigs.k8s.io/docs/installation/ and https://llm-d.ai/docs/dev/architecture/"
    "model-server-orchestration/leaderworkerset, checked 2026-12-04",
)

CONTROLLER_IMAGE = f"registry.k8s.io/lws/lws:v{LWS_CHART.version}"
"""The controller image, pinned to the chart's release: the chart's values default the tag to ``main``
(``charts/lws/values.yaml``), which the release process replaces; aistack names it outright."""


def controller(name: str, *, opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    """The LWS controller (CRDs, webhook, manager) in ``lws-system``, as an atomic Helm Release."""
    namespace = k8s.core.v1.Namespace(
        f"{name}-namespace",
        metadata={"name": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "aistack"}},
        opts=opts,
    )
    # The chart's defaults are what upstream tests: its own webhook certificates, one manager replica.
    return charts.release(
        name,
        LWS_CHART,
        namespace=namespace.metadata.name,
        values={},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[namespace])),
    )


_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")


def camel(value: Any) -> Any:
    """The Kubernetes (camelCase) form of a pod spec written for the typed SDK (snake_case keys).

    A custom resource's body is sent as is, so ``run_as_user`` must become ``runAsUser``. Only keys that
    are plain snake_case identifiers change: label, annotation, selector and resource keys (``aistack.io/pool``,
    ``nvidia.com/gpu``, ``ephemeral-storage``) hold no underscores and values are never touched.
    """
    if isinstance(value, Mapping):
        return {_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _key(key: str) -> str:
    if not _SNAKE.match(key):
        return key
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def parallel_args(spec: EndpointSpec, *, leader: bool) -> list[str]:
    """vLLM's multi-node arguments: pipeline stages across the nodes, this pod's rank and the leader's address."""
    return [
        f"--pipeline-parallel-size={spec.nodes_per_replica}",
        "--distributed-executor-backend=mp",
        f"--nnodes={spec.nodes_per_replica}",
        f"--node-rank={0 if leader else WORKER_INDEX}",
        f"--master-addr={LEADER_ADDRESS}",
        *([] if leader else ["--headless"]),
    ]


def same_group_zone(selector: Mapping[str, str]) -> dict:
    """Prefer the zone of the rest of the group: pipeline stages exchange activations every step.

    ``matchLabelKeys`` adds the pod's own group-key value to the selector (GA in Kubernetes 1.33), so the
    term means "pods of my group", which a template cannot name otherwise.
    """
    return {
        "affinity": {
            "pod_affinity": {
                "preferred_during_scheduling_ignored_during_execution": [
                    {
                        "weight": 100,
                        "pod_affinity_term": {
                            "label_selector": {"match_labels": dict(selector)},
                            "match_label_keys": [GROUP_KEY_LABEL],
                            "topology_key": "topology.kubernetes.io/zone",
                        },
                    }
                ]
            }
        }
    }


def _worker_metadata(template_metadata: Mapping[str, Any]) -> dict:
    """The leader's labels and annotations without the scrape ones: the workers serve no metrics port, but
    the node autoscalers must leave them alone as much as the leader (losing one restarts the group)."""
    annotations = {
        k: v
        for k, v in (template_metadata.get("annotations") or {}).items()
        if not k.startswith("prometheus.io/")
    }
    return {
        "labels": dict(template_metadata["labels"]),
        **({"annotations": annotations} if annotations else {}),
    }


def leader_worker_set(
    name: str,
    spec: EndpointSpec,
    *,
    metadata: Mapping[str, Any],
    template_metadata: Mapping[str, Any],
    leader: Mapping[str, Any],
    worker: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
) -> k8s.apiextensions.CustomResource:
    """The endpoint's LeaderWorkerSet: one group of ``nodes_per_replica`` pods per replica.

    Args:
        name: The Pulumi resource name.
        spec: The endpoint.
        metadata: The object's metadata (name, namespace, labels, annotations).
        template_metadata: Labels and annotations of the leader; the workers get them without the scrape
            annotations (which would point the metrics pipeline at a port they do not serve).
        leader: The leader's pod spec (snake_case, as :func:`components.k8s.serving.pod_spec` builds it).
        worker: The workers' pod spec.
        opts: Parent, provider and ``depends_on`` (the LWS controller's release among them).
    """
    body = {
        # As for the Deployment: 0 groups until the store holds the weights; afterwards the autoscaler owns
        # the count (LWS has a scale subresource whose selector picks the leaders).
        **({} if spec.weights_uploaded else {"replicas": 0}),
        # LeaderReady would wait for a leader that is ready only once every worker joined: a deadlock.
        "startupPolicy": "LeaderCreated",
        # A new group is up before an old one goes, as the Deployment's surge rollout.
        "rolloutStrategy": {
            "type": "RollingUpdate",
            "rollingUpdateConfiguration": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "leaderWorkerTemplate": {
            "size": spec.nodes_per_replica,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": {"metadata": dict(template_metadata), "spec": camel(leader)},
            "workerTemplate": {"metadata": _worker_metadata(template_metadata), "spec": camel(worker)},
        },
    }
    return k8s.apiextensions.CustomResource(
        name, api_version=API_VERSION, kind=KIND, metadata=dict(metadata), spec=body, opts=opts
    )
