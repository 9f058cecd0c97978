"""The Kubernetes layer on every cluster: GPU runtime and serving endpoints.

Works on any cloud family: it reads the family's :class:`~components.contract.CloudStack` and the
cloud's row in :mod:`components.k8s.clouds`, and talks to each cluster through one explicit
Kubernetes provider built from that cluster's kubeconfig output.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from aistack.spec import StackSpec
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

    Per cluster: a Kubernetes provider (``<cluster>-k8s``), the ``<cluster>-gpu-runtime``, and, when
    the cluster serves endpoints, the ``<cluster>-serving`` namespace with one reader service account
    per store its endpoints read, then one :class:`ServingEndpoint` per endpoint. All of them are
    children of the cluster component.

    Args:
        spec: The validated stack spec (its validators guarantee every endpoint's cluster, pool and
            store exist and that the cluster may read the store).
        deployed: What one cloud family declared.

    Returns:
        The endpoints declared, by name.
    """
    endpoints: dict[str, ServingEndpoint] = {}
    for cname, cluster in deployed.clusters.items():
        cloud = spec.clusters[cname].cloud
        provider = cluster_provider(cname, cluster)
        runtime = GpuRuntime(
            f"{cname}-gpu-runtime",
            cloud=cloud,
            opts=pulumi.ResourceOptions(parent=cluster, provider=provider),
        )
        mine = {name: e for name, e in spec.endpoints.items() if e.cluster == cname}
        if not mine:
            continue
        stores = sorted({e.store for e in mine.values()})
        namespace = ServingNamespace(
            f"{cname}-serving",
            cloud=cloud,
            identities={store: deployed.identities[(cname, store)] for store in stores},
            opts=pulumi.ResourceOptions(parent=cluster, provider=provider),
        )
        region = getattr(spec.clouds.configured()[cloud], "region", None)
        for name, endpoint in mine.items():
            endpoints[name] = ServingEndpoint(
                name,
                endpoint,
                cloud=cloud,
                accelerator=spec.clusters[cname].gpu_pools[endpoint.pool].accelerator,
                store=deployed.stores[endpoint.store],
                namespace=namespace.namespace,
                region=region,
                opts=pulumi.ResourceOptions(
                    parent=cluster,
                    provider=provider,
                    # Pods need their service account, GPUs advertised by the runtime, and the pool's nodes.
                    depends_on=[namespace, runtime, deployed.pools[(cname, endpoint.pool)]],
                ),
            )
    return endpoints
