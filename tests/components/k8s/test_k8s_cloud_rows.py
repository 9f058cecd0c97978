"""The serving layer on every cloud row: the same components, each cloud's data.

Each cloud's Kubernetes layer is declared against stand-in contract components of that cloud (see
``k8s_world``), so the Azure and GCP rows are exercised before their families land.
"""

from __future__ import annotations

import json

import pytest
import yaml

from aistack import crds, engine, manifests
from aistack.preview import report
from aistack.spec.endpoints import EndpointSpec
from components import gpu
from components.k8s import CLOUDS
from policies.aistack_rules import deploy_serving
from tests.components.k8s.k8s_world import (
    GPU,
    SAMPLES,
    kind,
    manifest,
    of_kind,
    pod_spec,
    serve_stand_in,
    serving,
    tolerates,
    validate,
)

BASIC = EndpointSpec(
    model="meta-llama/Llama-3.1-8B-Instruct",
    storage_uri="llama-3.1-8b-instruct",
    cluster="main",
    pool="gpu",
    store="models",
    cpu_request="3",
    memory_request="12Gi",
    max_model_len=16384,
    weights_uploaded=True,
)
EXPOSED = EndpointSpec.model_validate(
    {
        **BASIC.model_dump(),
        "gpus_per_replica": 2,
        "expose": "internal-lb",
        "scale_metric": "cpu",
        "ingress": {"host": "chat.example.com", "tls_secret": "chat-tls"},
    }
)

# The facts each row must produce (from the clouds' documentation), checked against what is declared.
NEEDS_DEVICE_PLUGIN = {"aws": True, "azure": True, "gcp": False}
SA_ANNOTATION = {
    "aws": None,
    "azure": "azure.workload.identity/client-id",
    "gcp": "iam.gke.io/gcp-service-account",
}
POD_LABELS = {"aws": {}, "azure": {"azure.workload.identity/use": "true"}, "gcp": {}}
CLOUD_SELECTOR = {"aws": {}, "azure": {}, "gcp": {"cloud.google.com/gke-accelerator": "nvidia-l4"}}
# Where each cloud's streamer reads the BASIC endpoint's weights (the stand-in store's outputs), and the
# environment it needs for it (the streamer's docs/src/env-vars.md and usage.md).
STREAM_URI = {
    "aws": "s3://aistack-models/llama-3.1-8b-instruct",
    "azure": "az://models/llama-3.1-8b-instruct",
    "gcp": "gs://aistack-models/llama-3.1-8b-instruct",
}
STREAM_ENV = {
    "aws": {"AWS_REGION": "region-1"},
    "azure": {"AZURE_STORAGE_ACCOUNT_NAME": "aistackmodels"},
    "gcp": {},
}
# A replica over two 8-GPU nodes: a LeaderWorkerSet group on every cloud.
BIG = EndpointSpec.model_validate(
    {
        **BASIC.model_dump(),
        "gpus_per_replica": 16,
        "nodes_per_replica": 2,
        "memory_request": "512Gi",
        "shm_gib": 16,
        "node_cache_gib": 100,
    }
)
# Where KEDA queries the series: the in-cluster Prometheus, or (GKE) Managed Service for Prometheus' API as
# the KEDA operator's workload identity, selecting this cluster among the project's.
QUERY = {
    "aws": ("http://prometheus.aistack-metrics.svc:9090", None, ""),
    "azure": ("http://prometheus.aistack-metrics.svc:9090", None, ""),
    "gcp": (
        "https://monitoring.googleapis.com/v1/projects/aistack-test/location/global/prometheus",
        {"name": "aistack-gcp-monitoring"},
        ',cluster="aistack-test-main"',
    ),
}
INTERNAL_LB = {
    "aws": {
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
        # An NLB even from EKS's in-tree controller, which would otherwise make a Classic Load Balancer.
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
    },
    "azure": {"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
    "gcp": {"networking.gke.io/load-balancer-type": "Internal"},
}


def test_every_cloud_has_a_row():
    assert set(CLOUDS) == {"aws", "azure", "gcp"}


@pytest.fixture(params=sorted(CLOUDS))
def world(request, declare):
    cloud = request.param
    accelerator = SAMPLES[cloud]["accelerator"]

    def body():
        serve_stand_in(
            cloud,
            {"chat": BASIC, "exposed": EXPOSED, "big": BIG},
            accelerator=accelerator,
            region="region-1",
            project="aistack-test",
        )

    return cloud, declare(body)


def deployment(declared, name):
    return next(r for r in serving(declared.resources, "Deployment") if r.inputs["metadata"]["name"] == name)


def test_objects_use_the_clusters_provider_and_belong_to_its_cloud(world):
    cloud, declared = world
    provider = declared.named("main-k8s")
    cluster = declared.named("main")
    assert provider.type == "pulumi:providers:kubernetes" and provider.parent == cluster.urn
    objects = [r for r in declared.resources if kind(r)]
    assert objects and all(r.provider == provider.urn for r in objects)
    assert {r.cloud for r in objects} == {cloud}
    # The kubeconfig stays secret on its way into the provider.
    assert engine.mask(provider.inputs)["kubeconfig"] == engine.SECRET_MASK


def test_device_plugin_only_where_the_cloud_lacks_one(world):
    cloud, declared = world
    plugins = of_kind(declared.resources, "DaemonSet")
    runtime = declared.named("main-gpu-runtime")
    assert runtime.type == "aistack:k8s:GpuRuntime"
    assert bool(plugins) is NEEDS_DEVICE_PLUGIN[cloud]
    for plugin in plugins:
        spec = pod_spec(plugin)
        assert plugin.parent == runtime.urn
        assert tolerates(spec["tolerations"], gpu.TAINT_KEY, gpu.TAINT_VALUE, gpu.TAINT_EFFECT)
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        assert terms == [{"matchExpressions": [{"key": gpu.ACCELERATOR_LABEL, "operator": "Exists"}]}]
        assert spec["priorityClassName"] == "system-node-critical"
        assert plugin.inputs["metadata"]["namespace"] == "kube-system"


def test_service_account_carries_the_clouds_identity_binding(world):
    cloud, declared = world
    # The store readers (on GKE the namespace also holds the pickers' metrics reader).
    (account,) = [
        a
        for a in serving(declared.resources, "ServiceAccount")
        if "aistack.io/store" in a.inputs["metadata"]["labels"]
    ]
    meta = account.inputs["metadata"]
    assert (meta["namespace"], meta["name"]) == ("aistack-serving", "models-reader")
    expected = {SA_ANNOTATION[cloud]: SAMPLES[cloud]["identity"]} if SA_ANNOTATION[cloud] else {}
    assert meta.get("annotations", {}) == expected
    assert account.inputs["automountServiceAccountToken"] is False
    for name in ("chat", "exposed"):
        template = deployment(declared, name).inputs["spec"]["template"]
        assert template["spec"]["serviceAccountName"] == "models-reader"
        assert POD_LABELS[cloud].items() <= template["metadata"]["labels"].items()


def test_gpu_pods_tolerate_the_taint_and_select_the_accelerator(world):
    cloud, declared = world
    accelerator = SAMPLES[cloud]["accelerator"]
    for name, endpoint in (("chat", BASIC), ("exposed", EXPOSED)):
        spec = pod_spec(deployment(declared, name))
        assert tolerates(spec["tolerations"], gpu.TAINT_KEY, gpu.TAINT_VALUE, gpu.TAINT_EFFECT)
        assert spec["nodeSelector"] == {
            gpu.POOL_LABEL: "gpu",
            gpu.ACCELERATOR_LABEL: accelerator,
            **CLOUD_SELECTOR[cloud],
        }
        (server,) = spec["containers"]
        gpus = str(endpoint.gpus_per_replica)
        assert server["resources"]["limits"][GPU] == server["resources"]["requests"][GPU] == gpus
        assert f"--tensor-parallel-size={gpus}" in server["args"]


def test_weights_stream_from_the_clouds_store(world):
    cloud, declared = world
    (server,) = pod_spec(deployment(declared, "chat"))["containers"]
    assert "initContainers" not in pod_spec(deployment(declared, "chat"))
    assert server["args"][0] == STREAM_URI[cloud]
    assert "--load-format=runai_streamer" in server["args"]
    # One GPU: nothing to distribute; the read buffer is bounded by the pod's memory, not the streamer's 40 GB.
    (extra,) = [a for a in server["args"] if a.startswith("--model-loader-extra-config=")]
    assert json.loads(extra.partition("=")[2]) == {"distributed": False, "memory_limit": 5 * 2**30}
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert STREAM_ENV[cloud].items() <= env.items()
    assert ("AZURE_STORAGE_ACCOUNT_NAME" in env) is (cloud == "azure")
    # Config and tokenizer land in a writable cache; nothing comes from the hub, and no token is needed.
    assert env["VLLM_ASSETS_CACHE"].startswith("/tmp/") and env["HF_HUB_OFFLINE"] == "1"
    assert not any("TOKEN" in key for key in env)
    mounts = {m["mountPath"] for m in server["volumeMounts"]}
    assert mounts == {"/dev/shm", "/tmp"}
    assert server["resources"]["requests"]["ephemeral-storage"] == "10Gi"


def test_multi_node_endpoint_is_a_leader_worker_set_on_every_cloud(world):
    cloud, declared = world
    (lws,) = serving(declared.resources, "LeaderWorkerSet")
    assert lws.inputs["metadata"]["name"] == "big"
    assert deploy_serving.servers(lws)  # the policy pack sees its vLLM server
    group = lws.inputs["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2
    for template in (group["leaderTemplate"], group["workerTemplate"]):
        (server,) = template["spec"]["containers"]
        assert server["resources"]["limits"][GPU] == "8"
        assert "--tensor-parallel-size=8" in server["args"] and "--pipeline-parallel-size=2" in server["args"]
        assert server["args"][0] == STREAM_URI[cloud]
        assert POD_LABELS[cloud].items() <= template["metadata"]["labels"].items()
        # The opt-in cache: the streamer writes what it reads to the node's disk.
        env = {e["name"]: e.get("value") for e in server["env"]}
        assert env["RUNAI_STREAMER_CACHE_DIR"] == "/cache"
        assert {"name": "cache", "emptyDir": {"sizeLimit": "100Gi"}} in template["spec"]["volumes"]
        assert server["resources"]["requests"]["ephemeral-storage"] == "110Gi"
        assert (
            crds.problems(
                {**{k: lws.inputs[k] for k in ("apiVersion", "kind", "metadata")}, "spec": lws.inputs["spec"]}
            )
            == []
        )
    scaled = next(
        r for r in of_kind(declared.resources, "ScaledObject") if r.inputs["metadata"]["name"] == "big"
    )
    assert scaled.inputs["spec"]["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "big",
    }
    release = declared.named("main-lws")
    assert release.inputs["version"] == "1.0.0" and release.urn in lws.dependencies


def test_no_lws_controller_without_a_multi_node_endpoint(declare):
    def body():
        serve_stand_in("aws", {"chat": BASIC}, region="region-1")

    declared = declare(body)
    releases = [r.name for r in declared.resources if r.type == "kubernetes:helm.sh/v3:Release"]
    assert "main-lws" not in releases and releases  # KEDA's release only
    assert not serving(declared.resources, "LeaderWorkerSet")


def test_exposure_internal_lb_and_tls_ingress(world):
    cloud, declared = world
    services = {r.inputs["metadata"]["name"]: r for r in serving(declared.resources, "Service")}
    assert services["chat"].inputs["spec"]["type"] == "ClusterIP"
    # No load-balancer annotations: only the await bound (the rollout's deadline, 2 x load_timeout_s).
    assert services["chat"].inputs["metadata"]["annotations"] == {"pulumi.com/timeoutSeconds": "1800"}
    exposed = services["exposed"].inputs
    if CLOUDS[cloud].routing.gateway_class:
        # GKE: internal-lb is the inference Gateway (an HTTPRoute to the pool), the Service stays in-cluster.
        assert exposed["spec"]["type"] == "ClusterIP"
        (route,) = of_kind(declared.resources, "HTTPRoute")
        assert route.inputs["metadata"]["name"] == "exposed"
    else:
        assert exposed["spec"]["type"] == "LoadBalancer"
        assert INTERNAL_LB[cloud].items() <= exposed["metadata"]["annotations"].items()
        assert not of_kind(declared.resources, "HTTPRoute")
    (ingress,) = of_kind(declared.resources, "Ingress")
    assert ingress.inputs["spec"]["tls"] == [{"hosts": ["chat.example.com"], "secretName": "chat-tls"}]
    assert ingress.inputs["spec"]["rules"][0]["host"] == "chat.example.com"
    assert declared.named("exposed").type == "aistack:k8s:ServingEndpoint"


def test_autoscalers_and_disruption_budgets(world):
    cloud, declared = world
    scaled = {r.inputs["metadata"]["name"]: r for r in of_kind(declared.resources, "ScaledObject")}
    assert set(scaled) == {"chat", "exposed", "big"}
    for so in scaled.values():
        crds.validate(manifest(so))
        # ScaledObjects need KEDA's CRDs and webhook: they wait for its release.
        assert any(d.endswith("main-keda-release") for d in so.dependencies)
    chat = scaled["chat"].inputs["spec"]
    url, auth, cluster = QUERY[cloud]
    selector = f'namespace="aistack-serving",endpoint="chat"{cluster}'
    assert [(t["name"], t["metadata"]["query"], t["metadata"]["threshold"]) for t in chat["triggers"]] == [
        ("queue", f"sum(vllm:num_requests_waiting{{{selector}}})", "4"),
        ("running", f"sum(vllm:num_requests_running{{{selector}}})", "204.8"),
    ]
    for trigger in chat["triggers"]:
        assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
        assert trigger["metadata"]["serverAddress"] == url
        assert trigger.get("authenticationRef") == auth
    assert chat["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "chat"}
    assert (chat["minReplicaCount"], chat["maxReplicaCount"]) == (BASIC.min_replicas, BASIC.max_replicas)
    # The CPU fallback is the only trigger, and KEDA refuses `fallback` next to it.
    exposed = scaled["exposed"].inputs["spec"]
    assert exposed["triggers"] == [
        {"type": "cpu", "name": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}}
    ]
    assert "fallback" not in exposed and chat["fallback"] == {"failureThreshold": 3, "replicas": 1}
    pdbs = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]
        for r in of_kind(declared.resources, "PodDisruptionBudget")
        if r.inputs["metadata"]["namespace"] == "aistack-serving"
    }
    assert pdbs["chat"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"aistack.io/endpoint": "chat"}}}
    # KEDA owns the replica count.
    assert "replicas" not in deployment(declared, "chat").inputs["spec"]


def test_stopping_replicas_drain_and_node_autoscalers_leave_them(world):
    _, declared = world
    chat = deployment(declared, "chat").inputs
    pod = chat["spec"]["template"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert annotations["karpenter.sh/do-not-disrupt"] == "true"
    (server,) = pod["spec"]["containers"]
    # 15 s preStop while endpoints drop the pod, then the longest request, then the engine's exit.
    assert server["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert pod["spec"]["terminationGracePeriodSeconds"] == 15 + BASIC.max_request_s + 15
    assert chat["metadata"]["annotations"]["aistack.io/max-request-s"] == str(BASIC.max_request_s)


def test_every_rows_objects_validate_against_the_kubernetes_schema(world, tmp_path):
    _, declared = world
    written = manifests.write(report(declared.run), tmp_path)
    assert {yaml.safe_load(p.read_text())["kind"] for p in written} >= {"Deployment", "Service", "Ingress"}
    for path in written:
        validate(yaml.safe_load(path.read_text()), "1.33")


def test_gke_names_every_accelerator_it_offers():
    # Every canonical accelerator GKE offers has a gke-accelerator value; others are refused clearly.
    row = CLOUDS["gcp"]
    assert row.node_selector("p", "H100-80GB")["cloud.google.com/gke-accelerator"] == "nvidia-h100-80gb"
    with pytest.raises(ValueError, match="A10G-24GB has no cloud.google.com/gke-accelerator value"):
        row.node_selector("p", "A10G-24GB")


SERVING_RULES = {rule.id for rule in deploy_serving.RULES}
"""The serving deploy rules (the stand-in cluster's kubeconfig is the access rules' business)."""


def test_server_arguments_and_memory_figures(world):
    _, declared = world
    chat = deployment(declared, "chat")
    args = chat.inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--max-model-len=16384" in args and "--gpu-memory-utilization=0.9" in args
    figures = json.loads(chat.inputs["metadata"]["annotations"]["aistack.io/gpu-memory"])
    assert (figures["model"], figures["maxModelLen"], figures["kvBytesPerToken"]) == (
        "llama-3.1-8b",
        16384,
        131072,
    )
    assert figures["weightsGib"] == 16_060_522_496 / 2**30 and figures["gpus"] == 1


def test_uploaded_weights_run_under_the_autoscaler_and_are_awaited(world):
    _, declared = world
    chat = deployment(declared, "chat")
    assert "replicas" not in chat.inputs["spec"]
    annotations = chat.inputs["metadata"]["annotations"]
    assert annotations["aistack.io/weights"] == "uploaded"
    # Awaited exactly as long as Kubernetes gives the rollout (2 x load_timeout_s).
    assert annotations["pulumi.com/timeoutSeconds"] == "1800"
    assert chat.inputs["spec"]["progressDeadlineSeconds"] == 1800
    (ingress,) = of_kind(declared.resources, "Ingress")
    # Created after its Service: only the controller's address is awaited, within the default 10 minutes.
    assert not ingress.inputs["metadata"].get("annotations")
    deploy = [v for v in report(declared.run)["policy"]["violations"] if v["policy"] in SERVING_RULES]
    assert deploy == []


def test_pending_weights_hold_the_endpoint_at_zero_and_skip_the_front_awaits(declare):
    pending = EXPOSED.model_copy(update={"weights_uploaded": False})

    def body():
        serve_stand_in("aws", {"exposed": pending}, region="region-1")

    declared = declare(body)
    held = deployment(declared, "exposed")
    assert held.inputs["spec"]["replicas"] == 0
    assert held.inputs["metadata"]["annotations"]["aistack.io/weights"] == "pending"
    (service,) = serving(declared.resources, "Service")
    assert service.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    (ingress,) = of_kind(declared.resources, "Ingress")
    assert ingress.inputs["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    deploy = [v for v in report(declared.run)["policy"]["violations"] if v["policy"] in SERVING_RULES]
    assert deploy == []
