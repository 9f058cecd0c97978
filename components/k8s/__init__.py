"""The Kubernetes layer on every cluster: GPU runtime, node and pod autoscaling, serving endpoints.

Works on any cloud family: it reads the family's :class:`~components.contract.CloudStack` and the
cloud's row in :mod:`components.k8s.clouds`, and talks to each cluster through one explicit
Kubernetes provider built from that cluster's kubeconfig output. Each cluster gets what its cloud
lacks: the NVIDIA device plugin, the Cluster Autoscaler (EKS), and, where it serves endpoints, KEDA
and the metrics pipeline KEDA's triggers query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pulumi
import pulumi_kubernetes as k8s

from aistack.errors import InputError
from aistack.spec import EndpointSpec, StackSpec
from components import contract
from components.k8s import autoscaler, multinode, observability
from components.k8s.autoscaler import ClusterAutoscaler
from components.k8s.clouds import CLOUDS, CloudServing
from components.k8s.keda import Keda
from components.k8s.metrics import MetricsPipeline
from components.k8s.observability import DcgmExporter
from components.k8s.provisioning import GpuProvisioner
from components.k8s.routing import ClusterRouting, EndpointRouter
from components.k8s.runtime import GpuRuntime
from components.k8s.secrets import ApiKeySync
from components.k8s.serving import Scaling, ServingEndpoint, ServingNamespace

if TYPE_CHECKING:
    from components.dns import GlobalNames

__all__ = [
    "CLOUDS",
    "CloudServing",
    "ClusterAutoscaler",
    "ClusterRouting",
    "EndpointRouter",
    "GpuProvisioner",
    "GpuRuntime",
    "Keda",
    "MetricsPipeline",
    "ServingEndpoint",
    "ServingNamespace",
    "check",
    "cluster_provider",
    "deploy_serving",
]


def check(spec: StackSpec, file: str) -> None:
    """Refuse, before anything is declared, a cluster whose add-ons have no pinned release.

    Raises:
        InputError: a cluster on a cloud that needs the Cluster Autoscaler runs a Kubernetes minor
            version no autoscaler release is pinned for.
    """
    for name, cluster in spec.clusters.items():
        if (
            CLOUDS[cluster.cloud].needs_cluster_autoscaler
            and cluster.kubernetes_version not in autoscaler.IMAGES
        ):
            raise InputError(
                file,
                f"aistack:clusters.{name}.kubernetes_version",
                f"the Cluster Autoscaler that {cluster.cloud} clusters need has no release pinned for "
                f"{cluster.kubernetes_version}; use one of {', '.join(autoscaler.IMAGES)}",
            )


def cluster_provider(name: str, cluster: contract.Cluster) -> k8s.Provider:
    """The cluster's Kubernetes provider, a child of the cluster so its objects belong to the cluster's cloud.

    The kubeconfig is the cluster's secret output; nothing is read from the ambient kubeconfig. The
    provider depends on the cluster's ``ready`` resources (system pool, core add-ons): every object
    uses it, so none starts before there are nodes, a pod network and DNS (policy
    ``deploy-k8s-after-nodes``).
    """
    return k8s.Provider(
        f"{name}-k8s",
        kubeconfig=cluster.kubeconfig,
        opts=pulumi.ResourceOptions(parent=cluster, depends_on=list(cluster.ready)),
    )


def deploy_serving(
    spec: StackSpec, deployed: contract.CloudStack, names: GlobalNames | None = None
) -> dict[tuple[str, str], ServingEndpoint]:
    """Declare the GPU runtime on every cluster a family deployed, and the endpoints they serve.

    Args:
        spec: The validated stack spec (its validators guarantee every endpoint's cluster, pool and
            store exist and that the cluster may read the store).
        deployed: What one cloud family declared.
        names: The stack's global names (``aistack:dns``), which ``public-lb`` endpoints need.

    Returns:
        The shares declared, by (endpoint, cluster): each serving cluster deploys its share of an endpoint.
    """
    endpoints: dict[tuple[str, str], ServingEndpoint] = {}
    for cname, cluster in deployed.clusters.items():
        cspec = spec.clusters[cname]
        cloud = spec.clouds.configured()[cspec.cloud]
        proxy_only = getattr(cloud, "proxy_only_cidr", None)
        served = serve_cluster(
            cname,
            cluster,
            cloud=cspec.cloud,
            kubernetes_version=cspec.kubernetes_version,
            endpoints={s.name: s.endpoint for s in spec.shares() if s.cluster == cname},
            accelerators={pool: p.accelerator for pool, p in cspec.gpu_pools.items()},
            deployed=deployed,
            region=getattr(cloud, "region", None),
            project=getattr(cloud, "project", None),
            gateway_sources=(proxy_only,) if proxy_only else (),
            shared=frozenset(n for n, e in spec.endpoints.items() if e.serve_from is not None),
            names=names,
        )
        endpoints |= {(ename, cname): endpoint for ename, endpoint in served.items()}
    return endpoints


def serve_cluster(
    name: str,
    cluster: contract.Cluster,
    *,
    cloud: str,
    kubernetes_version: str,
    endpoints: Mapping[str, EndpointSpec],
    accelerators: Mapping[str, str],
    deployed: contract.CloudStack,
    region: str | None = None,
    gateway_sources: tuple[str, ...] = (),
    project: str | None = None,
    shared: frozenset[str] = frozenset(),
    names: GlobalNames | None = None,
) -> dict[str, ServingEndpoint]:
    """Declare one cluster's Kubernetes layer, all as children of the cluster component.

    Children of ``cluster``: its Kubernetes provider ``<name>-k8s``, the ``<name>-gpu-runtime``, the
    ``<name>-cluster-autoscaler`` where the cloud does not scale node pools itself, the
    ``<name>-provisioner`` (:class:`GpuProvisioner`) when the family planned one for ``provisioning:
    auto`` pools and, when it serves endpoints, the ``<name>-lws`` controller when one of them spans
    several nodes, the ``<name>-serving`` namespace with one reader service account per store
    those endpoints read, ``<name>-keda``, the ``<name>-pod-metrics`` pipeline KEDA queries (unless
    every endpoint scales on CPU and never to zero), the ``<name>-routing`` APIs and inference Gateway
    (:class:`ClusterRouting`), then one :class:`ServingEndpoint` per endpoint: named after the endpoint,
    or ``<name>-<endpoint>`` for the ``shared`` ones (served from several clusters: each cluster's share
    needs its own logical name; its Kubernetes objects keep the endpoint's name).

    Args:
        name: The cluster's spec name.
        cluster: The cluster component (its ``kubeconfig`` output builds the provider).
        cloud: The cluster's cloud (selects the row in :data:`CLOUDS`).
        kubernetes_version: The cluster's Kubernetes minor version (pins the autoscaler release).
        endpoints: The endpoints served on this cluster, by name.
        accelerators: The cluster's GPU pools → canonical accelerator.
        deployed: The family's stores, identities (by ``(cluster, store)``), add-on identities (by
            ``(cluster, add-on)``) and pools.
        region: The cloud's region, for the weight streamer and the autoscaler that want it.
        gateway_sources: Address ranges the cloud's inference Gateway reaches pods from (GKE: the
            proxy-only subnetwork), admitted by the endpoints' NetworkPolicies where it routes them.
        project: The cloud's project (Google Cloud), whose Managed Service for Prometheus KEDA queries.
        names: The stack's global names: a cluster serving a ``public-lb`` endpoint gets cert-manager and
            its Issuer (``<name>-tls``), and each such endpoint its certificate and public entry.
    """
    provider = deployed.kubernetes[name] = cluster_provider(name, cluster)
    opts = pulumi.ResourceOptions(parent=cluster, provider=provider)
    row = CLOUDS[cloud]
    runtime = GpuRuntime(f"{name}-gpu-runtime", cloud=cloud, opts=opts)
    # GPU metrics where the cloud has no managed DCGM (GKE's is enabled on the cluster itself).
    dcgm = DcgmExporter(f"{name}-dcgm", cloud=cloud, opts=opts) if row.device_plugin else None
    plan = deployed.provisioning.get(name)
    provisioner = (
        GpuProvisioner(
            f"{name}-provisioner",
            manifests=plan.manifests,
            karpenter=plan.karpenter,
            opts=pulumi.ResourceOptions(parent=cluster, provider=provider, depends_on=list(plan.after)),
        )
        if plan is not None
        else None
    )
    if row.needs_cluster_autoscaler:
        ClusterAutoscaler(
            f"{name}-cluster-autoscaler",
            cloud=cloud,
            cluster_name=cluster.cluster_name,
            kubernetes_version=kubernetes_version,
            identity=_addon_identity(deployed, name, "cluster-autoscaler"),
            region=region,
            opts=opts,
        )
    if not endpoints:
        return {}
    namespace = ServingNamespace(
        f"{name}-serving",
        cloud=cloud,
        identities={
            store: deployed.identities[(name, store)]
            for store in sorted({e.store for e in endpoints.values()})
        },
        opts=opts,
    )
    reads_cloud = row.pod_metrics.reads_cloud
    keda = Keda(
        f"{name}-keda",
        cloud=cloud,
        serving_namespace=namespace.namespace,
        identity=_addon_identity(deployed, name, "keda-operator") if reads_cloud else None,
        opts=opts,
    )
    # CPU triggers read the resource metrics API: a pipeline only when a trigger queries Prometheus.
    queried = any(e.scale_metric != "cpu" or e.min_replicas == 0 for e in endpoints.values())
    pipeline = (
        MetricsPipeline(
            f"{name}-pod-metrics",
            cloud=cloud,
            serving_namespace=namespace.namespace,
            project=project,
            gpu_namespace=observability.NAMESPACE if dcgm else None,
            opts=opts,
        )
        if queried
        else None
    )
    scaling = Scaling(
        query_url=pipeline.query_url if pipeline else "",
        keda=keda.release,
        trigger_auth=keda.trigger_auth if reads_cloud else None,
        # Managed Service for Prometheus holds every cluster of the project: select this one.
        cluster=cluster.cluster_name if reads_cloud else None,
    )
    routing = ClusterRouting(
        f"{name}-routing", cloud=cloud, namespace=namespace.namespace, endpoints=endpoints, opts=opts
    )
    keys = ApiKeySync(
        f"{name}-api-keys-sync",
        cloud=cloud,
        keys=deployed.api_keys[name],
        serving_namespace=namespace.namespace,
        opts=opts,
    )
    # Multi-node endpoints are LeaderWorkerSets: the cluster runs the LWS controller only when one needs it.
    lws = (
        multinode.controller(f"{name}-lws", opts=opts)
        if any(e.multi_node for e in endpoints.values())
        else None
    )
    public = [e for e, spec in endpoints.items() if spec.expose == "public-lb"]
    if public and names is None:
        raise ValueError(
            f"cluster {name} serves public-lb endpoints {public}: the stack's global names are required"
        )
    cluster_tls = names.cluster_tls(name, namespace.namespace, opts) if names and public else None
    served = {
        ename: ServingEndpoint(
            f"{name}-{ename}" if ename in shared else ename,
            endpoint,
            endpoint=ename,
            cloud=cloud,
            accelerator=accelerators[endpoint.pool],
            store=deployed.stores[endpoint.store],
            namespace=namespace.namespace,
            scaling=scaling,
            region=region,
            cluster_routing=routing,
            gateway_sources=gateway_sources,
            node_selector=plan.selectors.get(endpoint.pool, {}) if plan else {},
            tolerations=plan.tolerations.get(endpoint.pool, []) if plan else [],
            # The synced ExternalSecret's name (a data dependency): the pod waits for ESO's sync.
            api_key_secret=keys.synced[ename].metadata["name"],
            lws_controller=lws if endpoint.multi_node else None,
            public=names.entry(ename, cluster_tls, namespace.namespace)
            if names and cluster_tls and ename in public
            else None,
            opts=pulumi.ResourceOptions(
                parent=cluster,
                provider=provider,
                # Pods need their service account, GPUs advertised by the runtime, and the pool's nodes
                # (its managed groups, or the provisioner objects that make them).
                # Not the metrics pipeline: until it answers, KEDA's fallback holds at least one replica.
                depends_on=[namespace, runtime, *_capacity(deployed, provisioner, name, endpoint.pool)],
            ),
        )
        for ename, endpoint in endpoints.items()
    }
    if names is not None:
        names.entries.update({(ename, name): served[ename] for ename in public})
    return served


def _capacity(
    deployed: contract.CloudStack, provisioner: GpuProvisioner | None, cluster: str, pool: str
) -> list[pulumi.Resource]:
    """What makes a pool's nodes: its managed groups, its provisioner objects, or both (a GKE floor)."""
    found: list[pulumi.Resource] = []
    if (cluster, pool) in deployed.pools:
        found.append(deployed.pools[(cluster, pool)])
    if provisioner is not None:
        found.extend(provisioner.resources.get(pool, []))
    if not found:
        raise KeyError(f"the family declared neither a pool nor provisioner objects for {cluster}/{pool}")
    return found


def _addon_identity(deployed: contract.CloudStack, cluster: str, addon: str) -> contract.AddonIdentity:
    """The add-on identity a family declared for a cluster, or a clear error naming what is missing."""
    identity = deployed.addon_identities.get((cluster, addon))
    if identity is None:
        raise KeyError(f"the family declared no {addon} AddonIdentity for cluster {cluster!r}")
    return identity
