"""The metrics KEDA scales serving endpoints on: vLLM's queue and concurrency gauges, the picker's queue.

Each endpoint's KEDA ``ScaledObject`` (``components/k8s/serving.py``) has Prometheus triggers that
query, per endpoint, vLLM's gauges (:data:`POD_METRICS`) and, for an endpoint that may scale to
zero, the endpoint picker's flow-control queue (:data:`EPP_QUEUE_METRIC`), the one signal that
exists while no server runs. This component declares where those series are collected, per the
cloud row's :class:`~components.k8s.clouds.PodMetrics`:

- ``in-cluster-prometheus`` (EKS, AKS): in ``aistack-metrics``, a Prometheus that scrapes only the
  serving pods' ``/metrics`` and the endpoint pickers' metrics port (pods in the serving namespace
  alone, keeping only the series the triggers use, two hours of history). KEDA queries it at
  ``http://prometheus.aistack-metrics.svc:9090``.
- ``gke-managed-prometheus`` (GKE): ``PodMonitoring`` objects in the serving namespace for GKE's
  managed collectors (again only the series the triggers use); KEDA queries Managed Service for
  Prometheus' Prometheus API as its operator's service account (``components/k8s/keda.py``).

Every series carries an ``endpoint`` label (the endpoint's name, from the pod's
:data:`~components.k8s.serving.ENDPOINT_LABEL` or :data:`EPP_LABEL`), so a trigger's query selects
one endpoint by name, whatever its pods are called.

The endpoint picker (the ``<endpoint>-epp`` Deployment of the routing layer,
``components/k8s/routing.py``) serves its metrics on port :data:`EPP_METRICS_PORT` without token
review (``--metrics-endpoint-auth=false``: no cluster-wide RBAC for it; the series stay inside the
cluster), so both scrapers read it like the model servers.

Everything runs on the system pool, tolerates nothing and is non-root with a read-only root
filesystem.
"""

from __future__ import annotations

from typing import Any, get_args

import pulumi
import pulumi_kubernetes as k8s
import yaml

from aistack.spec.endpoints import ScaleMetric
from components import contract
from components.k8s import clouds, observability
from components.k8s.pod import NOBODY, SYSTEM_NODES, checksum, container_security, pod_security
from components.k8s.routing import METRICS_PORT
from components.k8s.serving import ENDPOINT_LABEL, EPP_LABEL, EPP_QUEUE_METRIC, PORT_NAME

POD_METRICS = tuple(m for m in get_args(ScaleMetric) if m != "cpu")
"""vLLM's gauges KEDA scales an endpoint on (``EndpointSpec.scale_metric`` other than ``cpu``)."""
KEPT = tuple(dict.fromkeys(POD_METRICS + observability.vllm_series()))
"""What is kept of the serving pods' metrics: the scaling gauges and the series the dashboards and
alerts read (``dashboards/``)."""
EPP_METRICS = (EPP_QUEUE_METRIC,)
"""The endpoint picker's series KEDA reads (the scale-from-zero trigger)."""
EPP_METRICS_PORT = METRICS_PORT
"""The endpoint picker's metrics port (its ``--metrics-port`` default 9090, as the routing layer runs it)."""

PROMETHEUS_IMAGE = "quay.io/prometheus/prometheus:v3.13.2"
"""Prometheus 3.13, the current long-term-support release (supported until July 2027); 3.5, the LTS
pinned before, left support in July 2026 (prometheus.io/docs/introduction/release-cycle; GitLab's
omnibus-gitlab!9666 moving to 3.13.2 for the same reason). Checked 2026-12-04."""

NAMESPACE = "aistack-metrics"
PROMETHEUS = "prometheus"
PROMETHEUS_PORT = 9090
SCRAPE_INTERVAL = "15s"
RETENTION = "2h"
"""KEDA reads the latest sample; two hours are enough to look back at a scaling decision."""
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def keep(metrics: tuple[str, ...]) -> str:
    """A Prometheus relabel regex (anchored by Prometheus) that keeps exactly these metric names."""
    return "|".join(metrics)


def _label(name: str) -> str:
    """Prometheus' service-discovery meta label of the pod label ``name``."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in name)


def _job(
    name: str, serving_namespace: str, label: str, port: dict[str, Any], metrics: tuple[str, ...]
) -> dict:
    """A pod scrape job: pods of the serving namespace carrying ``label``, on ``port``, keeping ``metrics``.

    ``port`` is the relabel rule that keeps the right container port. The pod label's value becomes
    the series' ``endpoint`` label; ``namespace`` and ``pod`` are kept too.
    """
    return {
        "job_name": name,
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [serving_namespace]}}],
        "relabel_configs": [
            {"source_labels": [_label(label)], "regex": ".+", "action": "keep"},
            port,
            {"source_labels": [_label(label)], "target_label": "endpoint"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ],
        "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": keep(metrics), "action": "keep"}],
    }


def prometheus_config(
    serving_namespace: str, metrics: tuple[str, ...] = POD_METRICS, gpu_namespace: str | None = None
) -> str:
    """Prometheus' configuration: the serving pods' server port and the pickers' metrics port.

    Serving pods are scraped on the server's named port, keeping ``metrics``; the pickers on
    :data:`EPP_METRICS_PORT`, keeping :data:`EPP_METRICS`. With ``gpu_namespace``, also the DCGM
    exporter's pods there (job ``dcgm-exporter``, keeping the series the dashboards use).
    """
    server_port = {
        "source_labels": ["__meta_kubernetes_pod_container_port_name"],
        "regex": PORT_NAME,
        "action": "keep",
    }
    epp_port = {
        "source_labels": ["__meta_kubernetes_pod_container_port_number"],
        "regex": str(EPP_METRICS_PORT),
        "action": "keep",
    }
    epp = _job("aistack-epp", serving_namespace, EPP_LABEL, epp_port, EPP_METRICS)
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": "10s"},
        "scrape_configs": [
            _job("aistack-serving", serving_namespace, ENDPOINT_LABEL, server_port, metrics),
            epp,
        ],
    }
    if gpu_namespace:
        config["scrape_configs"].append(observability.scrape_job(gpu_namespace))
    return yaml.safe_dump(config, sort_keys=False)


def _monitoring(label: str, port: str | int, metrics: tuple[str, ...], **endpoint: Any) -> dict[str, Any]:
    return {
        "selector": {"matchExpressions": [{"key": label, "operator": "Exists"}]},
        "endpoints": [
            {
                "port": port,
                "path": "/metrics",
                "interval": SCRAPE_INTERVAL,
                # Cloud Monitoring bills per sample: keep only what the triggers read.
                "metricRelabeling": [
                    {"sourceLabels": ["__name__"], "regex": keep(metrics), "action": "keep"}
                ],
                **endpoint,
            }
        ],
        # The endpoint's name, as the triggers select it (GMP adds namespace and cluster itself).
        "targetLabels": {"fromPod": [{"from": label, "to": "endpoint"}], "metadata": ["pod", "container"]},
    }


def pod_monitoring_spec(metrics: tuple[str, ...] = POD_METRICS) -> dict[str, Any]:
    """The serving pods' PodMonitoring spec for GKE's managed collectors (a custom resource: camelCase as is)."""
    return _monitoring(ENDPOINT_LABEL, PORT_NAME, metrics)


def epp_monitoring_spec() -> dict[str, Any]:
    """The pickers' PodMonitoring spec: their metrics port, keeping their queue."""
    return _monitoring(EPP_LABEL, EPP_METRICS_PORT, EPP_METRICS)


class MetricsPipeline(contract.Component):
    """Where KEDA's triggers read vLLM's gauges and the pickers' queue (see the module docstring).

    Children, ``in-cluster-prometheus``: ``-namespace`` (``aistack-metrics``, restricted),
    ``-prometheus-account``, ``-prometheus-role`` and ``-prometheus-role-binding`` (read pods in
    the serving namespace only), ``-prometheus-config``, ``-prometheus`` (Deployment),
    ``-prometheus-service``. ``gke-managed-prometheus``: ``-pod-monitoring`` and
    ``-epp-monitoring`` (in the serving namespace).

    Outputs: ``metrics`` (the series the triggers may query), ``query_url`` (the Prometheus API KEDA
    queries).
    """

    CLOUD = "k8s"
    CONCEPT = "MetricsPipeline"
    OUTPUTS = ("metrics", "query_url")

    def __init__(
        self,
        name: str,
        *,
        cloud: str,
        serving_namespace: pulumi.Input[str],
        project: str | None = None,
        gpu_namespace: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the usual: ``project``, the Google Cloud project whose Managed Service for
        Prometheus KEDA queries (GKE only); ``gpu_namespace``, where the DCGM exporter runs (EKS, AKS)."""
        super().__init__(name, opts)
        row = clouds.row(cloud)
        if row.pod_metrics.pipeline == "in-cluster-prometheus":
            url = self._in_cluster(serving_namespace, gpu_namespace)
        else:
            if not project:
                raise ValueError(
                    "KEDA queries Managed Service for Prometheus in a project: project is required"
                )
            self._gke_managed(serving_namespace)
            url = pulumi.Output.from_input(clouds.GMP_QUERY_URL.format(project=project))
        self.finish(metrics=[*POD_METRICS, *EPP_METRICS], query_url=url)

    def _namespace(self, name: str) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={"name": name, "labels": {"app.kubernetes.io/managed-by": "aistack", **RESTRICTED}},
            opts=self.opts(),
        )

    def _in_cluster(
        self, serving_namespace: pulumi.Input[str], gpu_namespace: str | None = None
    ) -> pulumi.Output[str]:
        """Prometheus in ``aistack-metrics`` (and the DCGM exporter's scrape); returns its query URL."""
        namespace = self._namespace(NAMESPACE).metadata.name
        labels = {"app.kubernetes.io/name": PROMETHEUS, "app.kubernetes.io/managed-by": "aistack"}
        account = k8s.core.v1.ServiceAccount(
            self.child("prometheus-account"),
            metadata={"name": PROMETHEUS, "namespace": namespace, "labels": labels},
            opts=self.opts(),
        )
        # Pod discovery in the serving namespace, nothing else: a Role there, not a ClusterRole.
        role_meta = {"name": "aistack-prometheus", "namespace": serving_namespace, "labels": labels}
        role = k8s.rbac.v1.Role(
            self.child("prometheus-role"),
            metadata=role_meta,
            rules=[{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
            opts=self.opts(),
        )
        subject = {"kind": "ServiceAccount", "name": account.metadata.name, "namespace": namespace}
        k8s.rbac.v1.RoleBinding(
            self.child("prometheus-role-binding"),
            metadata=role_meta,
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[subject],
            opts=self.opts(),
        )
        if gpu_namespace:
            # Pod discovery in the DCGM exporter's namespace too, again a Role there only.
            gpu_meta = {"name": "aistack-prometheus", "namespace": gpu_namespace, "labels": labels}
            gpu_role = k8s.rbac.v1.Role(
                self.child("prometheus-gpu-role"),
                metadata=gpu_meta,
                rules=[{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
                opts=self.opts(),
            )
            k8s.rbac.v1.RoleBinding(
                self.child("prometheus-gpu-role-binding"),
                metadata=gpu_meta,
                role_ref={
                    "api_group": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": gpu_role.metadata.name,
                },
                subjects=[subject],
                opts=self.opts(),
            )
        config_text = prometheus_config(contract.READER_NAMESPACE, KEPT, gpu_namespace)
        config = k8s.core.v1.ConfigMap(
            self.child("prometheus-config"),
            metadata={"name": PROMETHEUS, "namespace": namespace, "labels": labels},
            data={"prometheus.yml": config_text},
            opts=self.opts(),
        )
        k8s.apps.v1.Deployment(
            self.child("prometheus"),
            metadata={"name": PROMETHEUS, "namespace": namespace, "labels": labels},
            spec={
                "replicas": 1,
                "selector": {"match_labels": {"app.kubernetes.io/name": PROMETHEUS}},
                # One writer of the TSDB directory at a time.
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {"aistack.io/config-sha256": checksum(config_text)},
                    },
                    "spec": {
                        "service_account_name": account.metadata.name,
                        "node_selector": SYSTEM_NODES,
                        "security_context": pod_security(NOBODY),
                        "containers": [
                            {
                                "name": PROMETHEUS,
                                "image": PROMETHEUS_IMAGE,
                                "args": [
                                    "--config.file=/etc/prometheus/prometheus.yml",
                                    "--storage.tsdb.path=/prometheus",
                                    f"--storage.tsdb.retention.time={RETENTION}",
                                    f"--web.listen-address=:{PROMETHEUS_PORT}",
                                ],
                                "ports": [
                                    {"name": "web", "container_port": PROMETHEUS_PORT, "protocol": "TCP"}
                                ],
                                "readiness_probe": {
                                    "http_get": {"path": "/-/ready", "port": "web"},
                                    "period_seconds": 10,
                                },
                                "liveness_probe": {
                                    "http_get": {"path": "/-/healthy", "port": "web"},
                                    "period_seconds": 30,
                                },
                                # kube-prometheus requests 400Mi for a whole cluster's metrics; this scrapes a
                                # few series per serving pod. Limit = request: its memory is never overcommitted.
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "400Mi"},
                                    "limits": {"cpu": "500m", "memory": "400Mi"},
                                },
                                "security_context": container_security(NOBODY),
                                "volume_mounts": [
                                    {"name": "config", "mount_path": "/etc/prometheus", "read_only": True},
                                    {"name": "data", "mount_path": "/prometheus"},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "config_map": {"name": config.metadata.name}},
                            {"name": "data", "empty_dir": {"size_limit": "1Gi"}},
                        ],
                    },
                },
            },
            opts=self.opts(),
        )
        service = _cluster_service(
            self, "prometheus-service", PROMETHEUS, namespace, labels, "web", PROMETHEUS_PORT
        )
        return pulumi.Output.concat(
            "http://", service.metadata.name, ".", namespace, f".svc:{PROMETHEUS_PORT}"
        )

    def _gke_managed(self, serving_namespace: pulumi.Input[str]) -> None:
        """PodMonitorings for GKE's managed collectors: the model servers and the pickers."""
        labels = {"app.kubernetes.io/managed-by": "aistack"}
        for suffix, name, spec in (
            ("pod-monitoring", "aistack-serving", pod_monitoring_spec(KEPT)),
            ("epp-monitoring", "aistack-epp", epp_monitoring_spec()),
        ):
            k8s.apiextensions.CustomResource(
                self.child(suffix),
                api_version="monitoring.googleapis.com/v1",
                kind="PodMonitoring",
                metadata={"name": name, "namespace": serving_namespace, "labels": labels},
                spec=spec,
                opts=self.opts(),
            )


def _cluster_service(
    owner: contract.Component,
    suffix: str,
    app: str,
    namespace: str,
    labels: dict[str, str],
    port_name: str,
    port: int,
) -> k8s.core.v1.Service:
    """A ClusterIP Service in front of the pods labelled ``app.kubernetes.io/name: <app>``."""
    return k8s.core.v1.Service(
        owner.child(suffix),
        metadata={"name": app, "namespace": namespace, "labels": labels},
        spec={
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": app},
            "ports": [{"name": port_name, "port": port, "target_port": port_name, "protocol": "TCP"}],
        },
        opts=owner.opts(),
    )
