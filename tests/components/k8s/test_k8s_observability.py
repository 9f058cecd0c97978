"""GPU observability: the checked-in dashboard and alerts read only real series, and both pipelines collect them."""

from __future__ import annotations

import json

import pytest
import yaml

from components import gpu
from components.k8s import CLOUDS, metrics, observability
from tests.components.k8s.k8s_world import stack_run

EXPORTED = yaml.safe_load((observability.DASHBOARDS / "exported_metrics.yaml").read_text())
SUFFIXES = {
    # vLLM exposes through prometheus_client: histograms as _bucket/_sum/_count, counters as _total.
    "vllm": {"histograms": ("_bucket", "_sum", "_count"), "counters": ("_total",), "gauges": ("",)},
    # dcgm-exporter writes each field under its own name, counters included (no _total).
    "dcgm": {"counters": ("",), "gauges": ("",), "labels": ("",)},
}


def exposed(source: str) -> set[str]:
    """Every series name a source exposes."""
    return {
        name + suffix
        for kind, suffixes in SUFFIXES[source].items()
        for name in EXPORTED[source].get(kind, [])
        for suffix in suffixes
    }


def test_every_series_the_dashboard_and_alerts_read_is_exported():
    used = set(observability.series())
    assert used == set(observability.vllm_series()) | set(observability.dcgm_series())
    unknown = used - exposed("vllm") - exposed("dcgm")
    assert not unknown, f"not exported by vLLM or dcgm-exporter: {sorted(unknown)}"
    # The exporter aistack runs collects each DCGM field the dashboards read, and nothing outside the defaults.
    collected = {field for field, _, _ in observability.COUNTERS}
    assert set(observability.dcgm_series()) <= collected <= exposed("dcgm")
    assert not any(field.startswith("DCGM_FI_PROF_") for field in collected)


def test_the_check_has_teeth():
    # Hidden since vLLM 0.12 (renamed vllm:inter_token_latency_seconds): a panel on it would stay empty.
    assert "vllm:time_per_output_token_seconds_bucket" not in exposed("vllm")
    assert "vllm:num_requests_waiting_total" not in exposed("vllm")
    assert "DCGM_FI_DEV_GPU_UTILISATION" not in exposed("dcgm")


def test_dashboard_has_the_vllm_and_gpu_panels():
    board = json.loads(observability.DASHBOARD.read_text())
    assert board["uid"] == "aistack-serving" and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    wanted = {
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket",
        "vllm:kv_cache_usage_perc",
        "vllm:generation_tokens_total",
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_POWER_USAGE",
        "DCGM_FI_DEV_XID_ERRORS",
    }
    shown = {s for p in panels for t in p["targets"] for s in wanted if s in t["expr"]}
    assert shown == wanted
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and all(
            t["expr"].count("(") == t["expr"].count(")") for t in panel["targets"]
        )
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()


def test_alert_rules_cover_the_failures_that_matter():
    rules = yaml.safe_load(observability.ALERTS.read_text())
    by_name = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert set(by_name) >= {
        "VllmServerDown",
        "VllmQueueGrowing",
        "VllmKvCacheSaturated",
        "GpuXidError",
        "DcgmMissing",
    }
    for rule in by_name.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["expr"].count("(") == rule["expr"].count(")")
    # The server-down rule names the job both pipelines give the serving pods.
    assert 'job="aistack-serving"' in by_name["VllmServerDown"]["expr"]
    assert "DCGM_FI_DEV_XID_ERRORS" in by_name["GpuXidError"]["expr"]


@pytest.mark.parametrize("stack", ["dev", "azure-dev"])
def test_dcgm_exporter_runs_on_gpu_nodes_only_and_is_scraped(stack):
    _, run = stack_run(stack)
    (release,) = [r for r in run.resources if r.name == "main-dcgm-release"]
    assert (release.inputs["chart"], release.inputs["version"]) == (
        "dcgm-exporter",
        observability.CHART.version,
    )
    assert release.inputs["namespace"] == observability.NAMESPACE
    values = release.inputs["values"]
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    assert values["hostNetwork"] is False and values["hostPID"] is False
    assert dict(gpu.GPU_TOLERATION) in values["tolerations"]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchExpressions": [{"key": "aistack.io/accelerator", "operator": "Exists"}]}]
    assert values["serviceMonitor"] == {"enabled": False}
    (namespace,) = [r for r in run.resources if r.name == "main-dcgm-namespace"]
    assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    (serving_ns,) = [r for r in run.resources if r.name == "main-serving-namespace"]
    assert serving_ns.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (config,) = [r for r in run.resources if r.name == "main-pod-metrics-prometheus-config"]
    jobs = {
        j["job_name"]: j for j in yaml.safe_load(config.inputs["data"]["prometheus.yml"])["scrape_configs"]
    }
    dcgm = jobs["dcgm-exporter"]
    assert dcgm["kubernetes_sd_configs"] == [
        {"role": "pod", "namespaces": {"names": [observability.NAMESPACE]}}
    ]
    assert set(dcgm["metric_relabel_configs"][0]["regex"].split("|")) == set(observability.dcgm_series())
    kept = set(jobs["aistack-serving"]["metric_relabel_configs"][0]["regex"].split("|"))
    assert kept == set(metrics.POD_METRICS) | set(observability.vllm_series())
    # Prometheus may list the exporter's pods: a Role in that namespace only.
    roles = [r for r in run.resources if r.name == "main-pod-metrics-prometheus-gpu-role"]
    assert [r.inputs["metadata"]["namespace"] for r in roles] == [observability.NAMESPACE]


def test_gke_uses_its_managed_dcgm_and_keeps_the_dashboards_vllm_series():
    spec, run = stack_run("gcp-dev")
    assert not CLOUDS["gcp"].device_plugin
    assert not [r for r in run.resources if r.type == "kubernetes:helm.sh/v3:Release" and "dcgm" in r.name]
    (cluster,) = [r for r in run.resources if r.type == "gcp:container/cluster:Cluster"]
    monitoring = cluster.inputs["monitoringConfig"]
    assert "DCGM" in monitoring["enableComponents"] and monitoring["managedPrometheus"]["enabled"] is True
    # The model servers' PodMonitoring (the pickers have their own).
    (pod_monitoring,) = [
        r
        for r in run.resources
        if r.type.endswith(":PodMonitoring") and r.inputs["metadata"]["name"] == "aistack-serving"
    ]
    kept = set(pod_monitoring.inputs["spec"]["endpoints"][0]["metricRelabeling"][0]["regex"].split("|"))
    assert kept == set(metrics.POD_METRICS) | set(observability.vllm_series())
