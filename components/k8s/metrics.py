"""The pods metrics pipeline: vLLM's queue and concurrency gauges, served to the HPA.

The serving HorizontalPodAutoscalers ask the custom metrics API (``custom.metrics.k8s.io``) for a
Pods metric per endpoint (``components/k8s/serving.py``, :func:`~components.k8s.serving.metric`).
Nothing in a fresh cluster answers it; this component declares what does, per the cloud row's
:class:`~components.k8s.clouds.PodMetrics`:

- ``prometheus-adapter`` (EKS, AKS): in ``aistack-metrics``, a Prometheus that scrapes only the
  serving pods' ``/metrics`` (discovering pods in the serving namespace alone, keeping only the
  gauges the HPAs use, two hours of history), and prometheus-adapter serving each gauge under its
  own name, per pod.
- ``gke-managed-prometheus`` (GKE): a ``PodMonitoring`` in the serving namespace for GKE's managed
  collectors (again only the gauges the HPAs use), and the Custom Metrics Stackdriver Adapter in
  ``custom-metrics``, which reads them back from Cloud Monitoring with the cloud identity its family
  declared and serves them as ``prometheus.googleapis.com|<metric>|gauge``.

Either adapter is an aggregated API server: delegated authentication and authorization, a
Service and ``APIService`` registrations. Both listen on 443, the one port every managed control
plane reaches webhooks and aggregated APIs on (GKE private clusters open only 443 and 10250 to the
nodes), as non-root through the namespaced ``net.ipv4.ip_unprivileged_port_start`` sysctl. The
API server skips TLS verification of the adapter's self-signed certificate, as both projects'
manifests do. Everything runs on the system pool, tolerates nothing and is non-root with a
read-only root filesystem.
"""

from __future__ import annotations

from typing import Any, get_args

import pulumi
import pulumi_kubernetes as k8s
import yaml

from aistack.spec.endpoints import ScaleMetric
from components import contract
from components.k8s import clouds
from components.k8s.pod import NOBODY, SYSTEM_NODES, checksum, container_security, pod_security
from components.k8s.serving import ENDPOINT_LABEL, PORT_NAME

POD_METRICS = tuple(m for m in get_args(ScaleMetric) if m != "cpu")
"""vLLM's gauges an endpoint may scale on (``EndpointSpec.scale_metric`` other than ``cpu``)."""

PROMETHEUS_IMAGE = "quay.io/prometheus/prometheus:v3.13.2"
"""Prometheus 3.13, the current long-term-support release (supported until July 2027); 3.5, the LTS
pinned before, left support in July 2026 (prometheus.io/docs/introduction/release-cycle; GitLab's
omnibus-gitlab!9666 moving to 3.13.2 for the same reason). Checked 2026-12-04."""
PROMETHEUS_ADAPTER_IMAGE = "registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0"
"""prometheus-adapter's latest release (kube-prometheus v0.16 pins the same)."""
STACKDRIVER_ADAPTER_IMAGE = "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.15.1-gke.0"
"""The release Google's production manifest pins (GoogleCloudPlatform/k8s-stackdriver,
``custom-metrics-stackdriver-adapter/deploy/production/adapter_new_resource_model.yaml``)."""

NAMESPACE = "aistack-metrics"
PROMETHEUS = "prometheus"
PROMETHEUS_PORT = 9090
ADAPTER_PORT = 443
SCRAPE_INTERVAL = "15s"
RETENTION = "2h"
"""The HPA reads the latest sample; two hours are enough to look back at a scaling decision."""
STACKDRIVER_NAMESPACE, STACKDRIVER_ACCOUNT = contract.ADDON_SERVICE_ACCOUNTS["metrics-adapter"]
UNPRIVILEGED_PORTS = [{"name": "net.ipv4.ip_unprivileged_port_start", "value": str(ADAPTER_PORT)}]
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def keep(metrics: tuple[str, ...]) -> str:
    """A Prometheus relabel regex (anchored by Prometheus) that keeps exactly these metric names."""
    return "|".join(metrics)


def prometheus_config(serving_namespace: str, metrics: tuple[str, ...] = POD_METRICS) -> str:
    """Prometheus' configuration: scrape the serving pods' server port and keep only ``metrics``.

    Targets are the pods of ``serving_namespace`` carrying the endpoint label, on the server's
    named port; each series is labelled with its ``namespace`` and ``pod``, which the adapter maps
    to Kubernetes objects.
    """
    label = "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in ENDPOINT_LABEL)
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": "10s"},
        "scrape_configs": [
            {
                "job_name": "aistack-serving",
                "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [serving_namespace]}}],
                "relabel_configs": [
                    {"source_labels": [label], "regex": ".+", "action": "keep"},
                    {
                        "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                        "regex": PORT_NAME,
                        "action": "keep",
                    },
                    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
                    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
                ],
                "metric_relabel_configs": [
                    {"source_labels": ["__name__"], "regex": keep(metrics), "action": "keep"}
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def adapter_config(metrics: tuple[str, ...] = POD_METRICS) -> str:
    """prometheus-adapter's rules: each gauge as a per-pod custom metric under its own name.

    The value for a pod sums the pod's series (vLLM labels each engine's gauge separately).
    """
    rules = [
        {
            "seriesQuery": f'{metric}{{namespace!="",pod!=""}}',
            "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
            "name": {"matches": "^(.*)$", "as": "${1}"},
            "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
        }
        for metric in metrics
    ]
    return yaml.safe_dump({"rules": rules}, sort_keys=False)


def pod_monitoring_spec(metrics: tuple[str, ...] = POD_METRICS) -> dict[str, Any]:
    """The PodMonitoring spec for GKE's managed collectors (a custom resource: camelCase as is)."""
    return {
        "selector": {"matchExpressions": [{"key": ENDPOINT_LABEL, "operator": "Exists"}]},
        "endpoints": [
            {
                "port": PORT_NAME,
                "path": "/metrics",
                "interval": SCRAPE_INTERVAL,
                # Cloud Monitoring bills per sample: keep only what the HPAs read.
                "metricRelabeling": [
                    {"sourceLabels": ["__name__"], "regex": keep(metrics), "action": "keep"}
                ],
            }
        ],
        # The Stackdriver adapter maps a series to its pod by the `pod` label.
        "targetLabels": {"metadata": ["pod", "container"]},
    }


class MetricsPipeline(contract.Component):
    """What serves vLLM's gauges to a cluster's HorizontalPodAutoscalers (see the module docstring).

    Children, ``prometheus-adapter`` pipeline: ``-namespace`` (``aistack-metrics``, restricted),
    ``-prometheus-account``, ``-prometheus-role`` and ``-prometheus-role-binding`` (read pods in
    the serving namespace only), ``-prometheus-config``, ``-prometheus`` (Deployment),
    ``-prometheus-service``, then the adapter. ``gke-managed-prometheus`` pipeline:
    ``-pod-monitoring`` (in the serving namespace), ``-namespace`` (``custom-metrics``,
    restricted), then the adapter. The adapter: ``-adapter-account`` (the service account the
    cloud's AddonIdentity names, where the adapter calls the cloud), ``-adapter-config`` (prometheus-adapter's rules),
    ``-auth-delegator``, ``-auth-reader``, ``-resource-reader`` and ``-resource-reader-binding``,
    ``-adapter`` (Deployment), ``-adapter-service``, ``-api-<version>`` per ``APIService``.

    Outputs: ``metrics`` (the custom metric names served, as the HPAs ask for them), ``adapter``
    (``namespace/deployment``).
    """

    CLOUD = "k8s"
    CONCEPT = "MetricsPipeline"
    OUTPUTS = ("metrics", "adapter")

    def __init__(
        self,
        name: str,
        *,
        cloud: str,
        serving_namespace: pulumi.Input[str],
        identity: contract.AddonIdentity | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        row = clouds.row(cloud)
        if row.pod_metrics.pipeline == "prometheus-adapter":
            adapter = self._in_cluster(serving_namespace)
        else:
            adapter = self._gke_managed(serving_namespace, identity)
        self.finish(
            metrics=[row.pod_metrics.hpa_name(m) for m in POD_METRICS],
            adapter=pulumi.Output.concat(adapter.metadata.namespace, "/", adapter.metadata.name),
        )

    def _namespace(self, name: str) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={"name": name, "labels": {"app.kubernetes.io/managed-by": "aistack", **RESTRICTED}},
            opts=self.opts(),
        )

    def _in_cluster(self, serving_namespace: pulumi.Input[str]) -> k8s.apps.v1.Deployment:
        """Prometheus and prometheus-adapter in ``aistack-metrics``."""
        namespace = self._namespace(NAMESPACE).metadata.name
        labels = {"app.kubernetes.io/name": PROMETHEUS, "app.kubernetes.io/managed-by": "aistack"}
        account = k8s.core.v1.ServiceAccount(
            self.child("prometheus-account"),
            metadata={"name": PROMETHEUS, "namespace": namespace, "labels": labels},
            opts=self.opts(),
        )
        # Pod discovery in the serving namespace, nothing else: a Role there, not a ClusterRole.
        reader = {"name": "aistack-prometheus", "namespace": serving_namespace, "labels": labels}
        role = k8s.rbac.v1.Role(
            self.child("prometheus-role"),
            metadata=reader,
            rules=[{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
            opts=self.opts(),
        )
        k8s.rbac.v1.RoleBinding(
            self.child("prometheus-role-binding"),
            metadata=reader,
            role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name},
            subjects=[{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": namespace}],
            opts=self.opts(),
        )
        config_text = prometheus_config(contract.READER_NAMESPACE)
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
        rules = adapter_config()
        adapter_config_map = k8s.core.v1.ConfigMap(
            self.child("adapter-config"),
            metadata={"name": "prometheus-adapter", "namespace": namespace},
            data={"config.yaml": rules},
            opts=self.opts(),
        )
        url = pulumi.Output.concat(
            "http://", service.metadata.name, ".", namespace, f".svc:{PROMETHEUS_PORT}/"
        )
        return self._adapter(
            namespace=namespace,
            name="prometheus-adapter",
            prefix="aistack-metrics-adapter",
            image=PROMETHEUS_ADAPTER_IMAGE,
            args=[
                pulumi.Output.concat("--prometheus-url=", url),
                "--config=/etc/adapter/config.yaml",
                "--metrics-relist-interval=1m",
                f"--secure-port={ADAPTER_PORT}",
                "--cert-dir=/tmp/cert",
            ],
            # kube-prometheus' sizing of the same adapter.
            resources={
                "requests": {"cpu": "102m", "memory": "180Mi"},
                "limits": {"cpu": "250m", "memory": "180Mi"},
            },
            # Custom metrics of pods: the adapter lists the pods a query names, in their namespace.
            reads=[
                {"api_groups": [""], "resources": ["namespaces", "pods"], "verbs": ["get", "list", "watch"]}
            ],
            versions=("v1beta1",),
            config=(adapter_config_map, rules),
        )

    def _gke_managed(
        self, serving_namespace: pulumi.Input[str], identity: contract.AddonIdentity | None
    ) -> k8s.apps.v1.Deployment:
        """A PodMonitoring for GKE's managed collectors and the Custom Metrics Stackdriver Adapter."""
        if identity is None:
            raise ValueError("the Stackdriver adapter reads Cloud Monitoring: its AddonIdentity is required")
        k8s.apiextensions.CustomResource(
            self.child("pod-monitoring"),
            api_version="monitoring.googleapis.com/v1",
            kind="PodMonitoring",
            metadata={
                "name": "aistack-serving",
                "namespace": serving_namespace,
                "labels": {"app.kubernetes.io/managed-by": "aistack"},
            },
            spec=pod_monitoring_spec(),
            opts=self.opts(),
        )
        namespace = self._namespace(STACKDRIVER_NAMESPACE).metadata.name
        return self._adapter(
            namespace=namespace,
            name=STACKDRIVER_ACCOUNT,
            prefix="custom-metrics",
            image=STACKDRIVER_ADAPTER_IMAGE,
            command=["/adapter"],
            args=["--use-new-resource-model=true", f"--secure-port={ADAPTER_PORT}", "--cert-dir=/tmp/cert"],
            # Google's production manifest sizes it at 250m and 400Mi.
            resources={
                "requests": {"cpu": "250m", "memory": "400Mi"},
                "limits": {"cpu": "250m", "memory": "400Mi"},
            },
            # Google's manifest: the resources the adapter maps metrics onto.
            reads=[
                {
                    "api_groups": [""],
                    "resources": ["pods", "nodes", "nodes/stats"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
            versions=("v1beta1", "v1beta2"),
            identity=identity,
        )

    def _adapter(
        self,
        *,
        namespace: pulumi.Input[str],
        name: str,
        prefix: str,
        image: str,
        args: list[Any],
        resources: dict[str, Any],
        reads: list[dict[str, Any]],
        versions: tuple[str, ...],
        command: list[str] | None = None,
        config: tuple[k8s.core.v1.ConfigMap, str] | None = None,
        identity: contract.AddonIdentity | None = None,
    ) -> k8s.apps.v1.Deployment:
        """An aggregated API server for ``custom.metrics.k8s.io``, with its delegated auth and reads."""
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "aistack"}
        account = k8s.core.v1.ServiceAccount(
            self.child("adapter-account"),
            metadata={"name": name, "namespace": namespace, "labels": labels},
            # An AddonIdentity names this namespace and service account itself (a direct principal grant);
            # the grant exists before the adapter first asks for a token.
            opts=self.opts(depends_on=[identity] if identity else []),
        )
        subject = [{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": namespace}]
        k8s.rbac.v1.ClusterRoleBinding(
            self.child("auth-delegator"),
            metadata={"name": f"{prefix}-auth-delegator", "labels": labels},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            subjects=subject,
            opts=self.opts(),
        )
        k8s.rbac.v1.RoleBinding(
            self.child("auth-reader"),
            metadata={"name": f"{prefix}-auth-reader", "namespace": "kube-system", "labels": labels},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            subjects=subject,
            opts=self.opts(),
        )
        reader = k8s.rbac.v1.ClusterRole(
            self.child("resource-reader"),
            metadata={"name": f"{prefix}-resource-reader", "labels": labels},
            rules=reads,
            opts=self.opts(),
        )
        k8s.rbac.v1.ClusterRoleBinding(
            self.child("resource-reader-binding"),
            metadata={"name": f"{prefix}-resource-reader", "labels": labels},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": reader.metadata.name,
            },
            subjects=subject,
            opts=self.opts(),
        )
        mounts = [{"name": "tmp", "mount_path": "/tmp"}]
        volumes: list[dict[str, Any]] = [{"name": "tmp", "empty_dir": {}}]
        template_annotations = {}
        if config:
            config_map, text = config
            mounts.append({"name": "config", "mount_path": "/etc/adapter", "read_only": True})
            volumes.append({"name": "config", "config_map": {"name": config_map.metadata.name}})
            template_annotations["aistack.io/config-sha256"] = checksum(text)
        probe = {"port": "https", "scheme": "HTTPS"}
        deployment = k8s.apps.v1.Deployment(
            self.child("adapter"),
            metadata={"name": name, "namespace": namespace, "labels": labels},
            spec={
                "replicas": 1,
                "selector": {"match_labels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": labels, "annotations": template_annotations},
                    "spec": {
                        "service_account_name": account.metadata.name,
                        "node_selector": SYSTEM_NODES,
                        "security_context": pod_security(NOBODY, sysctls=UNPRIVILEGED_PORTS),
                        "containers": [
                            {
                                "name": name,
                                "image": image,
                                **({"command": command} if command else {}),
                                "args": args,
                                "ports": [
                                    {"name": "https", "container_port": ADAPTER_PORT, "protocol": "TCP"}
                                ],
                                "readiness_probe": {
                                    "http_get": {"path": "/readyz", **probe},
                                    "period_seconds": 10,
                                },
                                "liveness_probe": {
                                    "http_get": {"path": "/livez", **probe},
                                    "period_seconds": 10,
                                    "failure_threshold": 5,
                                },
                                "resources": resources,
                                "security_context": container_security(NOBODY),
                                "volume_mounts": mounts,
                            }
                        ],
                        "volumes": volumes,
                    },
                },
            },
            opts=self.opts(),
        )
        service = _cluster_service(self, "adapter-service", name, namespace, labels, "https", ADAPTER_PORT)
        for priority, version in enumerate(versions, start=1):
            k8s.apiregistration.v1.APIService(
                self.child(f"api-{version}"),
                metadata={"name": f"{version}.custom.metrics.k8s.io", "labels": labels},
                spec={
                    "group": "custom.metrics.k8s.io",
                    "version": version,
                    "service": {"name": service.metadata.name, "namespace": namespace, "port": ADAPTER_PORT},
                    # The adapter serves a self-signed certificate it makes at start (both projects' manifests).
                    "insecure_skip_tls_verify": True,
                    "group_priority_minimum": 100,
                    "version_priority": 100 * priority,
                },
                opts=self.opts(depends_on=[deployment]),
            )
        return deployment


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
