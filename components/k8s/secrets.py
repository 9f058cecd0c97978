"""Endpoint API keys in the serving namespace, synced from the cloud's secret manager by ESO.

The family keeps each endpoint's key in its secret manager (:class:`components.contract.ApiKeys`);
this component installs the External Secrets Operator on the cluster and declares one
``SecretStore`` (the cloud's provider, authenticated as ESO's controller) and, per endpoint, an
``ExternalSecret`` that writes the Kubernetes Secret ``<endpoint>-api-key`` the server reads its key
from (``VLLM_API_KEY`` through ``secretKeyRef``, ``components/k8s/serving.py``).

What a first ``pulumi up`` needs, in order, and how it is met:

1. The identity binding and its grants exist before ESO's pod starts (Pod Identity and Azure
   workload identity act at pod creation; an Azure grant needs time to propagate): the release
   depends on the family's ``ApiKeys.ready``.
2. ESO's CRDs exist before the ``SecretStore``: the chart installs them (``installCRDs``) and every
   custom resource here ``depends_on`` the release, which Helm reports ready once ESO's
   controller, webhook and cert-controller are (``atomic``).
3. The Secret exists before the server's pod is created: the ``ExternalSecret`` carries
   ``pulumi.com/waitFor: condition=Ready`` (pulumi-kubernetes 4.18+: the update waits until ESO
   reports the sync) and each endpoint depends on it. Were the order lost, the pod would sit in
   ``CreateContainerConfigError`` ("secret ... not found") and start by itself once ESO syncs: the
   kubelet retries a missing ``secretKeyRef`` (kubernetes.io/docs/concepts/configuration/secret,
   "Using Secrets as environment variables": the pod is not started until the Secret exists).

The controller is scoped to the serving namespace (``scopedNamespace`` + ``scopedRBAC``) and the
cluster-wide kinds (``ClusterSecretStore``, ``ClusterExternalSecret``, push secrets, generators)
are neither installed nor processed: no other namespace can borrow the controller's cloud identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import contract
from components.k8s import charts, clouds
from components.k8s.pod import SYSTEM_NODES

CHART = charts.Chart(
    name="external-secrets",
    version="2.9.0",
    repo="https://charts.external-secrets.io",
    source="github.com/external-secrets/external-secrets tag helm-chart-2.9.0 (2026-08-08, appVersion v2.9.0, "
    "the CRDs vendored in schemas/crds/external-secrets), newest release in the mirrored snapshot; checked 2026-12-04",
)
NAMESPACE, SERVICE_ACCOUNT = contract.ADDON_SERVICE_ACCOUNTS["external-secrets"]
API_VERSION = "external-secrets.io/v1"
"""The ExternalSecret and SecretStore API ESO serves (its CRDs, vendored in schemas/crds/)."""

STORE = "aistack-api-keys"
"""The ``SecretStore`` in the serving namespace every endpoint's ``ExternalSecret`` reads through."""
REFRESH = "1h"
"""How often ESO re-reads a key: a rotated key reaches the Secret within the hour (the pods read it at start)."""
WAIT_READY = {"pulumi.com/waitFor": "condition=Ready"}
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


def values(cloud: str, identity: str | None, serving_namespace: str) -> dict[str, Any]:
    """The chart's values: scoped to the serving namespace, on the system pool, the cloud's identity wiring."""
    row = clouds.row(cloud)
    # Azure needs the client id on the service account; EKS Pod Identity and GKE principals name the
    # account themselves (contract.AddonIdentity), so nothing else is annotated.
    annotations = {"azure.workload.identity/client-id": identity} if cloud == "azure" and identity else {}
    # Only namespaced SecretStores and ExternalSecrets: the other kinds are neither installed nor processed.
    unused = (
        "ClusterExternalSecret",
        "ClusterSecretStore",
        "ClusterGenerator",
        "ClusterPushSecret",
        "PushSecret",
    )
    return {
        "installCRDs": True,
        "crds": {f"create{kind}": False for kind in unused},
        "processClusterExternalSecret": False,
        "processClusterStore": False,
        "processClusterGenerator": False,
        "processClusterPushSecret": False,
        "processPushSecret": False,
        "scopedNamespace": serving_namespace,
        "scopedRBAC": True,
        "rbac": {
            # SecretStores here name no service account to borrow a token from.
            "serviceAccountTokenCreate": False,
            "aggregateToView": False,
            "aggregateToEdit": False,
            "aggregateToAdmin": False,
        },
        "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": annotations},
        "podLabels": dict(row.pod_labels),
        "nodeSelector": SYSTEM_NODES,
        "webhook": {"nodeSelector": SYSTEM_NODES},
        "certController": {"nodeSelector": SYSTEM_NODES},
    }


def external_secret_spec(endpoint: str, remote_key: str) -> dict[str, Any]:
    """The ``ExternalSecret`` spec writing ``<endpoint>-api-key`` (key ``api-key``) from the remote secret."""
    return {
        "refreshInterval": REFRESH,
        "secretStoreRef": {"kind": "SecretStore", "name": STORE},
        "target": {
            "name": contract.api_key_secret(endpoint),
            # ESO owns the Secret; deleting the ExternalSecret keeps it, so a serving pod never loses its key.
            "creationPolicy": "Owner",
            "deletionPolicy": "Retain",
        },
        "data": [{"secretKey": contract.API_KEY_FIELD, "remoteRef": {"key": remote_key}}],
    }


class ApiKeySync(contract.Component):
    """ESO on one cluster, and the serving namespace's ``SecretStore`` and ``ExternalSecret`` per endpoint.

    Children: ``-namespace`` (``external-secrets``, restricted), ``-release`` (the pinned chart,
    after the family's identity is ready), ``-store`` (``SecretStore`` ``aistack-api-keys``), and per
    endpoint ``-<endpoint>`` (``ExternalSecret``, awaited until synced).

    Outputs: ``secrets`` (endpoint → Kubernetes Secret name).
    """

    CLOUD = "k8s"
    CONCEPT = "ApiKeySync"
    OUTPUTS = ("secrets",)

    def __init__(
        self,
        name: str,
        *,
        cloud: str,
        keys: contract.ApiKeys,
        serving_namespace: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        namespace = k8s.core.v1.Namespace(
            self.child("namespace"),
            metadata={"name": NAMESPACE, "labels": {"app.kubernetes.io/managed-by": "aistack", **RESTRICTED}},
            opts=self.opts(),
        )
        release = charts.release(
            self.child("release"),
            CHART,
            namespace=namespace.metadata.name,
            values=pulumi.Output.all(keys.identity, serving_namespace).apply(
                lambda args: values(cloud, args[0], args[1])
            ),
            # The serving namespace holds the scoped Role; the identity must work when the pod starts.
            opts=self.opts(depends_on=[namespace, *keys.ready]),
        )
        store = k8s.apiextensions.CustomResource(
            self.child("store"),
            api_version=API_VERSION,
            kind="SecretStore",
            metadata={
                "name": STORE,
                "namespace": serving_namespace,
                "labels": {"app.kubernetes.io/managed-by": "aistack"},
                "annotations": WAIT_READY,
            },
            spec={"provider": keys.store_provider},
            opts=self.opts(depends_on=[release]),
        )
        synced: dict[str, Any] = {}
        for endpoint, remote in keys.secrets.items():
            secret = k8s.apiextensions.CustomResource(
                self.child(endpoint),
                api_version=API_VERSION,
                kind="ExternalSecret",
                metadata={
                    "name": contract.api_key_secret(endpoint),
                    "namespace": serving_namespace,
                    "labels": {"app.kubernetes.io/managed-by": "aistack", "aistack.io/endpoint": endpoint},
                    "annotations": WAIT_READY,
                },
                spec=pulumi.Output.from_input(remote).apply(
                    lambda key, e=endpoint: external_secret_spec(e, key)
                ),
                opts=self.opts(depends_on=[store]),
            )
            synced[endpoint] = secret
        self.synced: Mapping[str, k8s.apiextensions.CustomResource] = synced
        self.finish(secrets={e: contract.api_key_secret(e) for e in synced})
