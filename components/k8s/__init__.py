"""The Kubernetes layer on every cluster: GPU runtime and serving endpoints.

Works on any cloud family: it reads the family's :class:`~components.contract.CloudStack` and the
cloud's row in :mod:`components.k8s.clouds`, and talks to each cluster through one explicit
Kubernetes provider built from that cluster's kubeconfig output.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_kubernetes as k8s

from aistack.spec import EndpointSpec, StackSpec
from components import contract
from components.k8s.clouds import CLOUDS, CloudServing
from components.k8s.runtime import GpuRuntime
from components.k8s.serving import ServingEndpoint, ServingNamespace

__all__ = [
    "CLOUDS",
    "CloudServing",
    "GpuRuntime",
    "ServingEndpoint",
    "ServingNamespace",
    "cluster_provider",
    "deploy_serving",
]


def cluster_provider(name: str, cluster: contract.Cluster) -> k8s.Provider:
    """The cluster's Kubernetes provider, a child of the cluster so its objects belong to the cluster's cloud.

    The kubeconfig is the cluster's secret output; nothing is read from the ambient kubeconfig.
    """
    return k8s.Provider(
        f"{name}-k8s", kubeconfig=cluster.kubeconfig, opts=pulumi.ResourceOptions(parent=cluster)
    )


def deploy_serving(spec: StackSpec, deployed: contract.CloudStack) -> dict[str, ServingEndpoint]:
    """Declare the GPU runtime on every cluster a family deployed, and the endpoints they serve.

    Args:
        spec: The validated stack spec (its validators guarantee every endpoint's cluster, pool and
            store exist and that the cluster may read the store).
        deployed: What one cloud family declared.

    Returns:
        The endpoints declared, by name.
    """
    endpoints: dict[str, ServingEndpoint] = {}
    for cname, cluster in deployed.clusters.items():
        cspec = spec.clusters[cname]
        endpoints |= serve_cluster(
            cname,
            cluster,
            cloud=cspec.cloud,
            endpoints={name: e for name, e in spec.endpoints.items() if e.cluster == cname},
            accelerators={pool: p.accelerator for pool, p in cspec.gpu_pools.items()},
            deployed=deployed,
            region=getattr(spec.clouds.configured()[cspec.cloud], "region", None),
        )
    return endpoints


def serve_cluster(
    name: str,
    cluster: contract.Cluster,
    *,
    cloud: str,
    endpoints: Mapping[str, EndpointSpec],
    accelerators: Mapping[str, str],
    deployed: contract.CloudStack,
    region: str | None = None,
) -> dict[str, ServingEndpoint]:
    """Declare one cluster's Kubernetes layer, all as children of the cluster component.

    Children of ``cluster``: its Kubernetes provider ``<name>-k8s``, the ``<name>-gpu-runtime`` and,
    when it serves endpoints, the ``<name>-serving`` namespace with one reader service account per
    store those endpoints read, then one :class:`ServingEndpoint` per endpoint.

    Args:
        name: The cluster's spec name.
        cluster: The cluster component (its ``kubeconfig`` output builds the provider).
        cloud: The cluster's cloud (selects the row in :data:`CLOUDS`).
        endpoints: The endpoints served on this cluster, by name.
        accelerators: The cluster's GPU pools → canonical accelerator.
        deployed: The family's stores, identities (by ``(cluster, store)``) and pools.
        region: The cloud's region, for copy tools that want it.
    """
    provider = cluster_provider(name, cluster)
    runtime = GpuRuntime(
        f"{name}-gpu-runtime", cloud=cloud, opts=pulumi.ResourceOptions(parent=cluster, provider=provider)
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
        opts=pulumi.ResourceOptions(parent=cluster, provider=provider),
    )
    return {
        ename: ServingEndpoint(
            ename,
            endpoint,
            cloud=cloud,
            accelerator=accelerators[endpoint.pool],
            store=deployed.stores[endpoint.store],
            namespace=namespace.namespace,
            region=region,
            opts=pulumi.ResourceOptions(
                parent=cluster,
                provider=provider,
                # Pods need their service account, GPUs advertised by the runtime, and the pool's nodes.
                depends_on=[namespace, runtime, deployed.pools[(name, endpoint.pool)]],
            ),
        )
        for ename, endpoint in endpoints.items()
    }
