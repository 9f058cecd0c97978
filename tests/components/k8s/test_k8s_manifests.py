"""`preview --manifests DIR`: one YAML file per Kubernetes object, valid against the Kubernetes schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from aistack import manifests
from aistack.preview import REPO, report
from components.k8s import CLOUDS
from tests.components.k8s.k8s_world import stack_names, stack_run, validate

STACKS = stack_names()
SERVING_KINDS = {
    "Namespace",
    "ServiceAccount",
    "Service",
    "ScaledObject",
    "PodDisruptionBudget",
}
# Where KEDA's triggers read the series, per pipeline.
METRICS_KINDS = {
    "in-cluster-prometheus": {"ConfigMap", "Role", "RoleBinding"},
    "gke-managed-prometheus": {"PodMonitoring", "TriggerAuthentication"},
}
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("stack", STACKS)
def test_manifests_validate_against_the_clusters_kubernetes_version(stack, tmp_path):
    spec, run = stack_run(stack)
    written = manifests.write(report(run), tmp_path)
    # Helm releases are not objects of the API: the manifests leave them out.
    kubernetes = [
        r for r in run.resources if r.type.startswith("kubernetes:") and r.custom and r.type != HELM_RELEASE
    ]
    assert len(written) == len(kubernetes)
    for path in written:
        cluster = path.parent.name.removesuffix("-k8s")
        version = spec.clusters[cluster].kubernetes_version
        # Strict: unknown fields are errors, so a misspelt field cannot pass silently.
        validate(load(path), version)
    for cluster, cspec in spec.clusters.items():
        objects = [load(p) for p in written if p.parent.name == f"{cluster}-k8s"]
        kinds = {o["kind"] for o in objects}
        row = CLOUDS[cspec.cloud]
        # The NVIDIA device plugin, where the cluster's cloud does not run one itself.
        assert ("DaemonSet" in kinds) is row.device_plugin
        # The Cluster Autoscaler, where the cloud does not scale node pools itself.
        autoscalers = [
            o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "cluster-autoscaler"
        ]
        assert len(autoscalers) == row.needs_cluster_autoscaler
        served = [e for e in spec.endpoints.values() if e.cluster == cluster]
        if served:
            assert kinds >= SERVING_KINDS | METRICS_KINDS[row.pod_metrics.pipeline]
            # A Deployment per one-node endpoint, a LeaderWorkerSet per multi-node one.
            workloads = {"LeaderWorkerSet" if e.multi_node else "Deployment" for e in served}
            assert kinds >= workloads


def test_a_broken_manifest_fails_validation(tmp_path):
    """The schema check has teeth: a misspelt field and a wrong type are refused."""
    _, run = stack_run("dev")
    (path,) = [
        p for p in manifests.write(report(run), tmp_path) if p.name == "deployment-aistack-serving-chat.yaml"
    ]
    deployment = load(path)
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.33", strict=True)
    deployment = load(path)
    deployment["spec"]["progressDeadlineSeconds"] = "an hour"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.33", strict=True)


def test_manifest_shape(tmp_path):
    _, run = stack_run("dev")
    files = {p.relative_to(tmp_path).as_posix(): p for p in manifests.write(report(run), tmp_path)}
    assert set(files) == {
        "main-k8s/daemonset-kube-system-nvidia-device-plugin.yaml",
        # The DCGM exporter's namespace (its chart is a Helm Release).
        "main-k8s/namespace-aistack-gpu-metrics.yaml",
        # The Cluster Autoscaler (EKS).
        "main-k8s/serviceaccount-kube-system-cluster-autoscaler.yaml",
        "main-k8s/clusterrole-cluster-autoscaler.yaml",
        "main-k8s/clusterrolebinding-cluster-autoscaler.yaml",
        "main-k8s/role-kube-system-cluster-autoscaler.yaml",
        "main-k8s/rolebinding-kube-system-cluster-autoscaler.yaml",
        "main-k8s/deployment-kube-system-cluster-autoscaler.yaml",
        # Serving.
        "main-k8s/namespace-aistack-serving.yaml",
        "main-k8s/serviceaccount-aistack-serving-models-reader.yaml",
        "main-k8s/deployment-aistack-serving-chat.yaml",
        "main-k8s/service-aistack-serving-chat.yaml",
        "main-k8s/scaledobject-aistack-serving-chat.yaml",
        "main-k8s/poddisruptionbudget-aistack-serving-chat.yaml",
        # Routing: the InferencePool API, the pool, its endpoint picker and the model servers' NetworkPolicy.
        "main-k8s/customresourcedefinition-inferencepools.inference.networking.k8s.io.yaml",
        "main-k8s/inferencepool-aistack-serving-chat.yaml",
        "main-k8s/networkpolicy-aistack-serving-chat.yaml",
        "main-k8s/serviceaccount-aistack-serving-chat-epp.yaml",
        "main-k8s/role-aistack-serving-chat-epp.yaml",
        "main-k8s/rolebinding-aistack-serving-chat-epp.yaml",
        "main-k8s/configmap-aistack-serving-chat-epp.yaml",
        "main-k8s/deployment-aistack-serving-chat-epp.yaml",
        "main-k8s/service-aistack-serving-chat-epp.yaml",
        # The API key: ESO's namespace (its chart is a Helm Release, not a manifest), the store, the sync.
        "main-k8s/namespace-external-secrets.yaml",
        "main-k8s/secretstore-aistack-serving-aistack-api-keys.yaml",
        "main-k8s/externalsecret-aistack-serving-chat-api-key.yaml",
        # KEDA (its chart is a Helm release, no manifest) and the Prometheus its triggers query.
        "main-k8s/namespace-keda.yaml",
        "main-k8s/namespace-aistack-metrics.yaml",
        "main-k8s/serviceaccount-aistack-metrics-prometheus.yaml",
        "main-k8s/role-aistack-serving-aistack-prometheus.yaml",
        "main-k8s/rolebinding-aistack-serving-aistack-prometheus.yaml",
        "main-k8s/role-aistack-gpu-metrics-aistack-prometheus.yaml",
        "main-k8s/rolebinding-aistack-gpu-metrics-aistack-prometheus.yaml",
        "main-k8s/configmap-aistack-metrics-prometheus.yaml",
        "main-k8s/deployment-aistack-metrics-prometheus.yaml",
        "main-k8s/service-aistack-metrics-prometheus.yaml",
    }
    deployment = load(files["main-k8s/deployment-aistack-serving-chat.yaml"])
    assert list(deployment)[:3] == ["apiVersion", "kind", "metadata"]
    assert deployment["apiVersion"] == "apps/v1" and deployment["kind"] == "Deployment"
    # Whole numbers come back as integers, not the wire format's doubles.
    assert deployment["spec"]["progressDeadlineSeconds"] == 1800
    # Held at 0 replicas until the stack says the weights are uploaded.
    assert deployment["spec"]["replicas"] == 0
    assert deployment["metadata"]["annotations"]["aistack.io/weights"] == "pending"
    assert load(files["main-k8s/namespace-aistack-serving.yaml"])["apiVersion"] == "v1"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aistack", "preview", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_writes_manifests(tmp_path):
    out = tmp_path / "manifests"
    done = run_cli("--stack", "staging", "--format", "json", "--manifests", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    objects = [
        r
        for r in result["resources"]
        if r["type"].startswith("kubernetes:") and r["custom"] and r["type"] != HELM_RELEASE
    ]
    files = sorted(out.rglob("*.yaml"))
    # 30 serving, routing and add-on objects (KEDA and its Prometheus included), 6 of the API keys (ESO's
    # namespace, store, sync) and DCGM (its namespace, Prometheus' Role and binding there), and Karpenter's EC2NodeClass
    # and two NodePools (provisioning: auto); Helm releases (KEDA, Karpenter) are not API objects and are not
    # written.
    assert len(files) == len(objects) == 39
    assert done.stderr.strip() == f"wrote 39 Kubernetes manifests under {out}"
    for path in files:
        validate(load(path), "1.33")


def test_cli_refuses_a_file_as_manifest_directory(tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    done = run_cli("--stack", "dev", "--manifests", str(target))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: arguments: --manifests: {target} exists and is not a directory"
