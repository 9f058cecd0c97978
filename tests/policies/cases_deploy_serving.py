"""Cases for the serving deploy rules (``policies/aistack_rules/deploy_serving.py``), merged into CASES."""

from __future__ import annotations

import json
from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import DEPLOYMENT, GPU_TOLERATION, Case, container, res

SERVICE = "kubernetes:core/v1:Service"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
LABELS = {"app": "llm"}

# Llama-3.1-8B BF16 on one L4 (sizing.memory.fit(..., gpu_mem_gib=22.32, max_model_len=16384)):
# 14.957 + 2 + 16,384 x 128 KiB (2 GiB) = 18.96 GiB <= 22.32 x 0.9 = 20.09 GiB.
FIGURES = {
    "model": "llama-3.1-8b",
    "precision": "bf16",
    "gpus": 1,
    "gpuMemGib": 22.32,
    "gpuMemoryUtilization": 0.9,
    "maxModelLen": 16384,
    "weightsGib": 14.957,
    "overheadGib": 2.0,
    "kvBytesPerToken": 131072,
    "maxSequences": 1,
}


def server(
    *,
    length: Any = 16384,
    figures: dict[str, Any] | None = None,
    weights: str | None = "uploaded",
    replicas: Any = None,
    timeout: str | None = "1800",
    deadline: Any = 1800,
    args: list[Any] | None = None,
    longest: Any = "300",
    grace: Any = 330,
) -> dict[str, Any]:
    """A vLLM Deployment as the serving component declares it (startup budget 90 x 10 s = 900 s; a 15 s
    preStop and a 300 s longest request in a 330 s grace period)."""
    annotations = {"aistack.io/gpu-memory": json.dumps(FIGURES if figures is None else figures)}
    if longest is not None:
        annotations["aistack.io/max-request-s"] = longest
    if weights is not None:
        annotations["aistack.io/weights"] = weights
    if timeout is not None:
        annotations["pulumi.com/timeoutSeconds"] = timeout
    vllm = container(
        command=["vllm", "serve"],
        args=args or ["/models/llama", f"--max-model-len={length}", "--gpu-memory-utilization=0.9"],
        resources={"requests": {"cpu": "3"}, "limits": {"memory": "12Gi", "nvidia.com/gpu": "1"}},
        startupProbe={
            "httpGet": {"path": "/health", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 90,
        },
        lifecycle={"preStop": {"sleep": {"seconds": 15}}},
    )
    spec: dict[str, Any] = {
        "selector": {"matchLabels": LABELS},
        "progressDeadlineSeconds": deadline,
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "terminationGracePeriodSeconds": grace,
                "containers": [vllm],
                "tolerations": [GPU_TOLERATION],
                "nodeSelector": {"aistack.io/accelerator": "L4-24GB"},
            },
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    metadata = {"name": "llm", "namespace": "serving", "annotations": annotations}
    return res(DEPLOYMENT, "llm", {"metadata": metadata, "spec": spec})


def service(annotations: dict[str, str], selector: Any = None) -> dict[str, Any]:
    return res(
        SERVICE,
        "llm",
        {
            "metadata": {"name": "llm", "namespace": "serving", "annotations": annotations},
            "spec": {"type": "ClusterIP", "selector": LABELS if selector is None else selector},
        },
    )


def pdb(**spec: Any) -> dict[str, Any]:
    return res(
        PDB,
        "llm",
        {"metadata": {"namespace": "serving"}, "spec": {"selector": {"matchLabels": LABELS}, **spec}},
    )


def hpa(minimum: int) -> dict[str, Any]:
    return res(
        HPA,
        "llm",
        {
            "metadata": {"namespace": "serving"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "llm"},
                "minReplicas": minimum,
                "maxReplicas": 4,
            },
        },
    )


def scaled(
    *, target: str = "llm", minimum: Any = 1, window: Any = 900, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    """A KEDA ScaledObject as the serving component declares it."""
    behavior = {"scaleDown": {"stabilizationWindowSeconds": window}}
    return res(
        SCALED_OBJECT,
        "llm-autoscaler",
        {
            "metadata": {"name": "llm", "namespace": "serving", "annotations": annotations or {}},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "minReplicaCount": minimum,
                "maxReplicaCount": 4,
                "advanced": {"horizontalPodAutoscalerConfig": {"name": "llm", "behavior": behavior}},
                "triggers": [],
            },
        },
    )


HELD = server(weights="pending", replicas=0)

LWS = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
STREAM_ARGS = [
    "s3://models-bucket/llama",
    "--max-model-len=16384",
    "--gpu-memory-utilization=0.9",
    "--load-format=runai_streamer",
]


def streaming(
    uri: Any = "s3://models-bucket/llama",
    *,
    extra: list[Any] | None = None,
    env: Any = None,
    labels: dict[str, str] | None = None,
    account: Any = "models-reader",
) -> dict[str, Any]:
    """A Deployment streaming its weights from an object store, as the serving component declares it."""
    args = [uri, *(STREAM_ARGS[1:] if extra is None else extra)]
    deployment = server(args=args)
    pod = deployment["inputs"]["spec"]["template"]
    if account is not None:
        pod["spec"]["serviceAccountName"] = account
    if env is not None:
        pod["spec"]["containers"][0]["env"] = env
    if labels is not None:
        pod["metadata"]["labels"] = {**LABELS, **labels}
    return deployment


KEY_REF = {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "llm-api-key", "key": "api-key"}}}


def keyed() -> dict[str, Any]:
    """A vLLM server taking its API key from the ``llm-api-key`` Secret."""
    deployment = server()
    deployment["inputs"]["spec"]["template"]["spec"]["containers"][0]["env"] = [KEY_REF]
    return deployment


def synced(target: Any = "llm-api-key", namespace: str = "serving") -> dict[str, Any]:
    """An ExternalSecret syncing the key into ``target`` (as components/k8s/secrets.py declares it)."""
    return res(
        "kubernetes:external-secrets.io/v1:ExternalSecret",
        f"sync-{namespace}",
        {"metadata": {"name": "llm-key", "namespace": namespace}, "spec": {"target": {"name": target}}},
    )


ACCOUNT = res(
    "kubernetes:core/v1:ServiceAccount",
    "models-reader",
    {"metadata": {"name": "models-reader", "namespace": "serving"}, "automountServiceAccountToken": False},
)


def lws(
    *,
    size: Any = 2,
    gpus: str = "8",
    tensor: int = 8,
    pipeline: int = 2,
    nodes: int | None = None,
    worker_gpus: str | None = None,
    startup: str = "LeaderCreated",
    worker_account: str = "models-reader",
) -> dict[str, Any]:
    """A LeaderWorkerSet of vLLM pods: tensor parallel within a node, pipeline parallel across nodes."""
    nodes = size if nodes is None else nodes

    def template(rank: Any, gpu: str, account: str) -> dict[str, Any]:
        vllm = container(
            command=["vllm", "serve"],
            args=[
                *STREAM_ARGS,
                f"--tensor-parallel-size={tensor}",
                f"--pipeline-parallel-size={pipeline}",
                f"--nnodes={nodes}",
                f"--node-rank={rank}",
            ],
            resources={"limits": {"memory": "1Ti", "nvidia.com/gpu": gpu}},
        )
        spec = {"containers": [vllm], "serviceAccountName": account, "tolerations": [GPU_TOLERATION]}
        return {"metadata": {"labels": LABELS}, "spec": spec}

    annotations = {"aistack.io/weights": "uploaded", "pulumi.com/timeoutSeconds": "7200"}
    group = {
        "size": size,
        "restartPolicy": "RecreateGroupOnPodRestart",
        "leaderTemplate": template(0, gpus, "models-reader"),
        "workerTemplate": template("$(LWS_WORKER_INDEX)", worker_gpus or gpus, worker_account),
    }
    spec = {"startupPolicy": startup, "leaderWorkerTemplate": group}
    return res(
        LWS,
        "llm",
        {"metadata": {"name": "llm", "namespace": "serving", "annotations": annotations}, "spec": spec},
    )


DEPLOY_SERVING_CASES: dict[str, Case] = {
    "deploy-model-fits-gpus": Case(
        compliant=[server()],
        # vLLM's default context for Llama 3.1: 16 GiB of KV on top of 17 GiB.
        violating=[server(length=131072, figures=FIGURES | {"maxModelLen": 131072})],
        unknown=[server(args=["/models/llama", U, "--gpu-memory-utilization=0.9"])],
        message="= 32.96 GiB > 20.09 GiB usable (1 x 22.32 GiB x 0.9): vLLM refuses to start",
    ),
    "deploy-weights-way-in": Case(
        compliant=[HELD],
        violating=[server(weights="pending")],
        unknown=[server(weights="pending", replicas=U)],
        message="servers would crash-loop on an empty store",
    ),
    "deploy-streamer-source": Case(
        compliant=[streaming()],
        # Without the streamer, vLLM pulls only config and tokenizer files and finds no weights.
        violating=[streaming(extra=STREAM_ARGS[1:3])],
        unknown=[streaming(uri=U)],
        message="without --load-format runai_streamer: vLLM pulls only the config and tokenizer",
    ),
    "deploy-api-key-in-cluster": Case(
        compliant=[keyed(), synced()],
        # Synced, but into another namespace than the server's.
        violating=[keyed(), synced(namespace="other")],
        unknown=[keyed(), synced(target=U)],
        message="takes VLLM_API_KEY from Secret serving/llm-api-key, which is not declared or synced in the stack",
        orphaned=[keyed()],
    ),
    "deploy-streamer-identity": Case(
        compliant=[streaming(), ACCOUNT],
        violating=[streaming(account="weights-reader"), ACCOUNT],
        unknown=[streaming(account=U), ACCOUNT],
        message="streams its weights as service account serving/weights-reader, which the stack does not declare",
        orphaned=[streaming()],
    ),
    "deploy-lws-group": Case(
        compliant=[lws()],
        # Two pods of 8 GPUs told to build a 4 x 2 replica: ranks 8..15 have nothing to do.
        violating=[lws(tensor=4)],
        unknown=[lws(size=U)],
        message="tensor parallel 4 x pipeline parallel 2 = 8 GPUs, but the group has 2 pods x 8 GPUs = 16",
    ),
    "deploy-rollout-await": Case(
        compliant=[server()],
        violating=[server(timeout=None)],
        unknown=[server(deadline=U)],
        message="pulumi up stops waiting after 600 s (pulumi.com/timeoutSeconds) but",
    ),
    "deploy-service-await": Case(
        compliant=[HELD, service({"pulumi.com/skipAwait": "true"})],
        violating=[HELD, service({})],
        unknown=[HELD, service({}, selector=U)],
        message="which is held at 0 replicas: pulumi up fails after 600 s; set pulumi.com/skipAwait",
        orphaned=[HELD],
        orphan_passes=True,
    ),
    "deploy-pdb-allows-eviction": Case(
        compliant=[server(), hpa(2), pdb(minAvailable=1)],
        violating=[server(), hpa(1), pdb(minAvailable=1)],
        unknown=[server(), hpa(1), pdb(minAvailable=U)],
        message="keeps minAvailable 1 of llm, which may run only 1: no pod can be evicted",
        orphaned=[pdb(minAvailable=1)],
        orphan_passes=True,
    ),
    "deploy-scaledobject-target": Case(
        compliant=[server(), scaled()],
        violating=[server(), scaled(target="other")],
        unknown=[server(), scaled(target=U)],
        message="ScaledObject llm-autoscaler scales Deployment other, which the stack does not declare",
        orphaned=[server()],
    ),
    "deploy-scale-down-after-load": Case(
        compliant=[server(), scaled()],
        violating=[server(), scaled(window=300)],
        unknown=[server(), scaled(window=U)],
        message="scales llm down after 300 s of lower demand, but a replica may take 900 s to load",
        orphaned=[scaled()],
        orphan_passes=True,
    ),
    "deploy-drain-covers-requests": Case(
        compliant=[server()],
        violating=[server(grace=60)],
        unknown=[server(grace=U)],
        message="terminationGracePeriodSeconds (60) is below spec.template.spec.containers.0's preStop (15 s) plus",
    ),
}
