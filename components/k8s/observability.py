"""GPU observability: NVIDIA's DCGM exporter where the cloud has none, and the series the dashboards use.

- EKS, AKS: the ``dcgm-exporter`` chart (pinned) runs on every GPU node, in its own namespace
  ``aistack-gpu-metrics``. It reads the GPUs through the driver (host devices come with the NVIDIA
  container runtime) and maps GPUs to pods through the kubelet's pod-resources socket, a host path,
  as root: no Pod Security level short of ``privileged`` admits a host path, so the namespace is
  ``privileged`` and holds nothing else; the serving namespace stays ``restricted``. Within that, it
  is as narrow as its chart allows: no ``SYS_ADMIN`` (only the profiling fields ``DCGM_FI_PROF_*``
  need it, and aistack collects none of them), every other capability dropped, no privilege
  escalation, no host network or PID namespace. The in-cluster Prometheus scrapes it
  (``components/k8s/metrics.py``, job ``dcgm-exporter``).
- GKE: the cluster's ``monitoring_config`` enables the managed ``DCGM`` package
  (``components/gcp/cluster.py``): GKE installs DCGM-Exporter and a ClusterPodMonitoring that sends
  the same ``DCGM_FI_*`` series to Managed Service for Prometheus. It needs managed Prometheus and
  GKE-installed drivers (the GPU pools' ``gpu_driver_installation_config``), both set by aistack
  (cloud.google.com/kubernetes-engine/docs/how-to/dcgm-metrics; on by default for clusters created at
  1.32.1-gke.1357000 or later).

``dashboards/serving.json`` (Grafana) and ``dashboards/alerts.yaml`` (Prometheus rules) are checked in;
:func:`series` reads the series they use, which is what the scrape configurations keep.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import contract, gpu
from components.k8s import charts, clouds

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
DASHBOARD = DASHBOARDS / "serving.json"
ALERTS = DASHBOARDS / "alerts.yaml"

CHART = charts.Chart(
    name="dcgm-exporter",
    version="4.8.2",
    repo="https://nvidia.github.io/dcgm-exporter/helm-charts",
    source="github.com/NVIDIA/dcgm-exporter tag 4.5.3-4.8.2 (2026-05-06), deployment/Chart.yaml: chart 4.8.2, image "
    "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless; newest tag in the mirrored snapshot, checked 2026-12-04",
)
NAMESPACE = "aistack-gpu-metrics"
RELEASE = "dcgm-exporter"
PORT = 9400
PORT_NAME = "metrics"
"""The chart's container port name (``deployment/templates/daemonset.yaml``)."""

COUNTERS = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    (
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "counter",
        "Number of remapped rows for uncorrectable errors",
    ),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
)
"""The fields the exporter collects: the chart's default counters without the profiling fields
(``DCGM_FI_PROF_*``, which need ``SYS_ADMIN``) and without encoder/decoder/vGPU fields serving never uses."""

_SERIES = re.compile(r"\b(vllm:[a-z0-9_:]+|DCGM_FI_[A-Z0-9_]+|up)\b")


def expressions() -> list[str]:
    """Every PromQL expression of the dashboard (targets, variable queries) and of the alert rules."""
    board = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    found += [v["definition"] for v in board["templating"]["list"] if "definition" in v]
    rules = yaml.safe_load(ALERTS.read_text())
    found += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return found


@cache
def series() -> tuple[str, ...]:
    """The series names the dashboard and alerts read (as exposed: ``_bucket``, ``_total`` included)."""
    return tuple(sorted({m for e in expressions() for m in _SERIES.findall(e)} - {"up"}))


def vllm_series() -> tuple[str, ...]:
    return tuple(s for s in series() if s.startswith("vllm:"))


def dcgm_series() -> tuple[str, ...]:
    return tuple(s for s in series() if s.startswith("DCGM_FI_"))


def scrape_job(namespace: str) -> dict[str, Any]:
    """The in-cluster Prometheus job for the exporter's pods in ``namespace``, keeping the dashboards' series.

    Each series keeps the exporter's own ``Hostname``, ``gpu`` and pod-mapping labels and gains ``node``.
    """
    return {
        "job_name": "dcgm-exporter",
        "kubernetes_sd_configs": [{"role": "pod", "namespaces": {"names": [namespace]}}],
        "relabel_configs": [
            {
                "source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                "regex": RELEASE,
                "action": "keep",
            },
            {
                "source_labels": ["__meta_kubernetes_pod_container_port_name"],
                "regex": PORT_NAME,
                "action": "keep",
            },
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
        ],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": "|".join(dcgm_series()), "action": "keep"}
        ],
    }


def values(cloud: str) -> dict[str, Any]:
    """The chart's values: GPU nodes only, their taints tolerated, no profiling capability, no ServiceMonitor."""
    row = clouds.row(cloud)
    return {
        "tolerations": [dict(gpu.GPU_TOLERATION), *map(dict, row.gpu_tolerations)],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": gpu.ACCELERATOR_LABEL, "operator": "Exists"}]}
                    ]
                }
            }
        },
        "securityContext": {
            # Root to read the kubelet's pod-resources socket; nothing more (the chart adds SYS_ADMIN for
            # DCGM_FI_PROF_* fields, not collected here).
            "runAsNonRoot": False,
            "runAsUser": 0,
            "capabilities": {"drop": ["ALL"]},
            "allowPrivilegeEscalation": False,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "hostNetwork": False,
        "hostPID": False,
        "customMetrics": "\n".join(", ".join(c) for c in COUNTERS) + "\n",
        # The in-cluster Prometheus discovers the pods itself; the Prometheus Operator's CRD is not installed.
        "serviceMonitor": {"enabled": False},
    }


class DcgmExporter(contract.Component):
    """NVIDIA's DCGM exporter on one cluster's GPU nodes (EKS, AKS; GKE runs its managed package).

    Children: ``-namespace`` (``aistack-gpu-metrics``, Pod Security ``privileged`` for the host path,
    nothing else runs there) and ``-release`` (the pinned chart, :func:`values`).

    Outputs: ``namespace``.
    """

    CLOUD = "k8s"
    CONCEPT = "DcgmExporter"
    OUTPUTS = ("namespace",)

    def __init__(self, name: str, *, cloud: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        namespace = k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={
                "name": NAMESPACE,
                "labels": {
                    "app.kubernetes.io/managed-by": "aistack",
                    # A host path (the kubelet's pod-resources socket) is admitted by `privileged` only.
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                },
            },
            opts=self.opts(),
        )
        charts.release(
            self.child("release"),
            CHART,
            namespace=namespace.metadata.name,
            values=values(cloud),
            release_name=RELEASE,
            opts=self.opts(depends_on=[namespace]),
        )
        self.finish(namespace=namespace.metadata.name)
