"""KEDA, the autoscaler of every serving endpoint, installed from its pinned Helm chart.

KEDA turns each endpoint's ``ScaledObject`` (``components/k8s/serving.py``) into a
HorizontalPodAutoscaler it owns, fed through its own metrics API server
(``external.metrics.k8s.io``), and scales the workload between 0 and 1 replica itself. It
replaces the prometheus-adapter / Custom Metrics Stackdriver Adapter path: llm-d scales on KEDA
and plans to deprecate the adapter path, KServe deprecated its HPA path (``serving_anchors.md``).

What a first ``pulumi up`` needs, per cloud:

- The control plane calls KEDA's metrics API server (an ``APIService``) and its admission webhook
  (it validates every ScaledObject) on the pods' ports. GKE private clusters admit only 443 and
  10250 from the control plane to the nodes (GKE, "Add firewall rules for specific use cases";
  KEDA's "Cluster" page: GKE needs 6443 opened for the metrics server), so both listen on 443
  instead of 6443 and 9443, as non-root through the namespaced sysctl
  ``net.ipv4.ip_unprivileged_port_start`` (allowed by the restricted Pod Security Standard). EKS
  nodes sit in the cluster security group, which admits all traffic from the control plane (EKS
  user guide, "View Amazon EKS security group requirements"); AKS reaches pods through its
  konnectivity tunnel. Port 443 works on all three, so no firewall rule is added.
- On GKE the operator queries Managed Service for Prometheus as its own Kubernetes service account
  (``keda/keda-operator``): the family grants that principal ``roles/monitoring.viewer``
  (``components/gcp/identity.py``) and the serving namespace holds a ``TriggerAuthentication``
  with ``podIdentity.provider: gcp`` (KEDA's Prometheus scaler then signs queries with the
  workload identity's token: ``pkg/scalers/prometheus_scaler.go``, ``gcp.GetGCPOAuth2HTTPTransport``).
- Its custom resources need the chart's CRDs: every ScaledObject and TriggerAuthentication
  ``depends_on`` the release.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import contract
from components.k8s import charts, clouds
from components.k8s.pod import SYSTEM_NODES

CHART = charts.Chart(
    name="keda",
    version="2.20.2",
    repo="https://kedacore.github.io/charts",
    source="https://github.com/kedacore/charts keda/Chart.yaml (version and appVersion 2.20.2, the newest "
    "tag in the mirrored kedacore/keda and kedacore/charts snapshots, 2026-07-31); KEDA 2.20 is tested on "
    "Kubernetes 1.33-1.35 (keda.sh/docs/2.20/operate/cluster, Kubernetes Compatibility). Checked 2026-12-04: "
    "KEDA 2.21 (tested on 1.34-1.36) is out, but no snapshot of its chart or CRDs is reachable offline; "
    "bump chart and schemas/crds/keda together at the next fetch.",
)
"""KEDA's chart (its images come from the chart's appVersion)."""
IMAGES = tuple(
    f"ghcr.io/kedacore/{image}:{CHART.version}"
    for image in ("keda", "keda-metrics-apiserver", "keda-admission-webhooks")
)
"""The images the chart runs (its values ``image.*``: registry ghcr.io, tag = appVersion = chart version);
listed for the admission allow-list (``components/images.py``)."""

API = "keda.sh/v1alpha1"
"""The API version of KEDA's ScaledObject and TriggerAuthentication (``schemas/crds/keda``)."""
UID = 65532
"""The user KEDA's images run as (distroless ``nonroot``: ``USER 65532:65532`` in kedacore/keda's
Dockerfile and Dockerfile.adapter at v2.20.2)."""
NAMESPACE, OPERATOR = contract.ADDON_SERVICE_ACCOUNTS["keda-operator"]
PORT = 443
"""Port KEDA's metrics API server and webhook listen on (see the module docstring)."""
TRIGGER_AUTH = "aistack-gcp-monitoring"
"""The TriggerAuthentication (GKE) the serving ScaledObjects name for Managed Service for Prometheus."""
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def values() -> dict:
    """The chart's values: aistack's changes from the chart's defaults, each for a reason above."""
    pod = {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    on_443 = {**pod, "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": str(PORT)}]}
    budget = {"maxUnavailable": 1}
    return {
        # One copy of each component; the budget documents that a drain may move it (never blocks).
        "podDisruptionBudget": {"operator": budget, "metricServer": budget, "webhooks": budget},
        "podSecurityContext": {"operator": pod, "metricServer": on_443, "webhooks": on_443},
        "service": {"portHttpsTarget": PORT},
        "webhooks": {"port": PORT},
        "nodeSelector": dict(SYSTEM_NODES),
        # The chart's default `Always` pulls on every restart; the tag is pinned by the chart.
        "image": {"pullPolicy": "IfNotPresent"},
    }


class Keda(contract.Component):
    """KEDA in its own namespace on the system pool, and what serving ScaledObjects need of it.

    Children: ``-namespace`` (``keda``, enforcing the ``restricted`` Pod Security Standard),
    ``-release`` (the pinned chart, see :func:`values`) and, where the cloud's Prometheus is read
    with the cloud identity (GKE), ``-trigger-auth``: the ``TriggerAuthentication`` ``podIdentity:
    gcp`` in the serving namespace.

    Outputs: ``namespace``, ``trigger_auth`` (its name, or ``None``).
    """

    CLOUD = "k8s"
    CONCEPT = "Keda"
    OUTPUTS = ("namespace", "trigger_auth")

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
        reads_cloud = clouds.row(cloud).pod_metrics.reads_cloud
        if reads_cloud and identity is None:
            raise ValueError("KEDA reads the cloud's Prometheus with its AddonIdentity: identity is required")
        namespace = k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={"name": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "aistack", **RESTRICTED}},
            opts=self.opts(),
        )
        self.release = charts.release(
            self.child("release"),
            CHART,
            namespace=namespace.metadata.name,
            values=values(),
            # The operator's first query needs its cloud grant (GKE).
            opts=self.opts(depends_on=[namespace, *([identity] if identity else [])]),
        )
        trigger_auth = None
        if reads_cloud:
            auth = k8s.apiextensions.CustomResource(
                self.child("trigger-auth"),
                api_version=API,
                kind="TriggerAuthentication",
                metadata={
                    "name": TRIGGER_AUTH,
                    "namespace": serving_namespace,
                    "labels": {"app.kubernetes.io/managed-by": "aistack"},
                },
                spec=trigger_auth_spec(),
                opts=self.opts(depends_on=[self.release]),
            )
            trigger_auth = auth.metadata["name"]
        self.finish(namespace=namespace.metadata.name, trigger_auth=trigger_auth)


def trigger_auth_spec() -> dict:
    """The TriggerAuthentication spec: the KEDA operator's own workload identity (no Google service account)."""
    return {"podIdentity": {"provider": "gcp"}}
