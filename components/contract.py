"""The component contract every cloud family implements.

One base class per concept fixes the type token (``aistack:<cloud>:<Concept>``), the outputs
every cloud exposes, and how children are named and parented. A cloud family subclasses each
base and sets ``CLOUD``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi


class Component(pulumi.ComponentResource):
    """Base of every aistack component.

    Children are created with :meth:`opts` (``parent=self``) and named with :meth:`child`
    (``f"{name}-{suffix}"``), never from list positions, so names stay stable across changes.
    """

    CLOUD: ClassVar[str]
    CONCEPT: ClassVar[str]
    OUTPUTS: ClassVar[tuple[str, ...]]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.type_token(), name, None, opts)
        self._name = name

    @classmethod
    def type_token(cls) -> str:
        """The frozen type token, e.g. ``aistack:aws:GpuNodePool``."""
        return f"aistack:{cls.CLOUD}:{cls.CONCEPT}"

    def child(self, suffix: str) -> str:
        """Logical name of a child: the component's name plus a fixed suffix."""
        return f"{self._name}-{suffix}"

    def opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for a child: parented to this component (the provider is inherited)."""
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def finish(self, **outputs: Any) -> None:
        """Expose exactly the contract's outputs as attributes and register them."""
        if set(outputs) != set(self.OUTPUTS):
            raise TypeError(
                f"{type(self).__name__} must output {sorted(self.OUTPUTS)}, got {sorted(outputs)}"
            )
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)


class Network(Component):
    """VPC / VNet with private node subnets per zone and managed egress."""

    CONCEPT = "Network"
    OUTPUTS = ("network_id", "node_subnet_ids")


class Cluster(Component):
    """Managed Kubernetes cluster with a CPU system pool; hands out its kubeconfig (secret)."""

    CONCEPT = "Cluster"
    OUTPUTS = ("cluster_name", "kubeconfig")

    ready: list[pulumi.Resource]
    """What must exist before the cluster runs pods: the system node pool and, where the family installs
    them, the core add-ons (pod network, DNS). The Kubernetes provider depends on these, so no object
    starts before there are nodes. Set by each family before :meth:`finish`."""

    oidc_issuer_url: pulumi.Input[str] | None
    """The issuer URL of the cluster's service-account tokens (``https://...``), for identities on other
    clouds that federate with it (the global names' DNS-01 role). Set by each family."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.ready = []
        self.oidc_issuer_url = None


class GpuNodePool(Component):
    """Tainted, autoscaled GPU node pool (one or two raw pools: on-demand floor + spot)."""

    CONCEPT = "GpuNodePool"
    OUTPUTS = ("node_pool_names",)


class ObjectStore(Component):
    """Encrypted, private object store for model weights."""

    CONCEPT = "ObjectStore"
    OUTPUTS = ("bucket_name", "bucket_uri")


class WeightsReplica(Component):
    """What keeps one replica store identical to its primary on another cloud: a scheduled transfer.

    Outputs: ``source`` (the primary's URI), ``target`` (the replica's URI), ``schedule`` (how often,
    e.g. ``every 86400s`` or a cron line), ``mechanism`` (``storage-transfer`` or ``scheduled-copy``).
    """

    CONCEPT = "WeightsReplica"
    OUTPUTS = ("source", "target", "schedule", "mechanism")


class WorkloadIdentity(Component):
    """Cloud identity a Kubernetes service account assumes to read one object store."""

    CONCEPT = "WorkloadIdentity"
    OUTPUTS = ("identity", "namespace", "service_account")


class AddonIdentity(Component):
    """Cloud identity a cluster add-on's service account assumes (see :data:`ADDON_SERVICE_ACCOUNTS`).

    It names the add-on's namespace and service account itself (an EKS Pod Identity association, a
    GKE workload principal), so the service account needs no annotation.
    """

    CONCEPT = "AddonIdentity"
    OUTPUTS = ("identity", "namespace", "service_account")


@dataclass
class Provisioning:
    """One cluster's node provisioner for its ``provisioning: auto`` GPU pools, which the serving layer
    declares (its objects are Kubernetes objects, so they need the cluster's Kubernetes provider).

    Attributes:
        manifests: Pool → object suffix → manifest (camelCase; values may be Outputs).
        karpenter: The Karpenter chart's values where aistack installs Karpenter (EKS), else ``None``.
        selectors: Pool → node labels the pool's GPU pods must select besides the usual ones (GKE's
            ComputeClass label).
        tolerations: Pool → taints of the provisioned nodes the pods must tolerate besides the GPU taint.
        after: Resources the provisioner's objects wait for (its cloud identity and node access).
    """

    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    karpenter: dict[str, Any] | None = None
    selectors: dict[str, dict[str, str]] = field(default_factory=dict)
    tolerations: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    after: list[pulumi.Resource] = field(default_factory=list)


class ApiKeys(Component):
    """The API keys of one cluster's endpoints, kept in the cloud's secret manager.

    One key per endpoint, generated by the program and stored as a secret value (never in config);
    one cloud identity, the External Secrets Operator's (see :data:`ADDON_SERVICE_ACCOUNTS`), may read
    exactly these secrets. The serving layer syncs each into a Kubernetes Secret in the serving
    namespace (``components/k8s/secrets.py``).

    Attributes (outputs):
        secrets: Endpoint → the secret's name in the secret manager (ESO's ``remoteRef.key``).
        secret_ids: Endpoint → the secret's ARN / resource id (a secret stack output).
        store_provider: The ``spec.provider`` of ESO's ``SecretStore`` for this cloud (camelCase).
        identity: The identity ESO's controller runs as (role ARN, client id or principal).
    """

    CONCEPT = "ApiKeys"
    OUTPUTS = ("secrets", "secret_ids", "store_provider", "identity")

    ready: list[pulumi.Resource]
    """What must exist before ESO's pod first asks for a token or a secret: the identity binding, its
    grants and (Azure) the wait for them to propagate. The ESO release depends on these."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, opts)
        self.ready = []


class VpnGateway(Component):
    """A cloud's end of the site-to-site VPNs (``aistack:interconnect``): one gateway shared by its pairs.

    Outputs: ``gateway_id``; ``outside_addresses``, the gateway's public tunnel addresses by interface
    (GCP HA VPN interfaces, Azure active-active instances; empty on AWS, whose addresses belong to each
    VPN connection, see :class:`VpnTunnels`).
    """

    CONCEPT = "VpnGateway"
    OUTPUTS = ("gateway_id", "outside_addresses")


class VpnTunnels(Component):
    """One cloud's side of the tunnels of one pair: peer gateways, IPsec tunnels and their BGP sessions.

    Outputs: ``outside_addresses``, this side's public tunnel addresses in tunnel order where they are
    created per connection (AWS), else empty.
    """

    CONCEPT = "VpnTunnels"
    OUTPUTS = ("outside_addresses",)

    def __init__(
        self,
        name: str,
        *,
        gateway: VpnGateway,
        tunnels: Sequence[Any],
        peer_addresses: Sequence[pulumi.Input[str]],
        peer_asn: int,
        keys: dict[str, pulumi.Output[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare this side of the pair's tunnels: each cloud's subclass defines
        ``declare(gateway, tunnels, peer_addresses, peer_asn, keys)``, which ends with :meth:`finish`.

        Args:
            name: Component name.
            gateway: This cloud's VPN gateway.
            tunnels: The pair's tunnel plan (``aistack.spec.interconnect.tunnels``).
            peer_addresses: The other side's public addresses this side connects to.
            peer_asn: The other side's BGP ASN.
            keys: The tunnels' pre-shared keys, from the pair's other side; new ones (``-random`` and
                ``-<tunnel>-psk``) when omitted.
            opts: Resource options (the cloud's provider).
        """
        from components.psk import tunnel_keys  # psk builds on this module

        super().__init__(name, opts)
        self.keys = keys or tunnel_keys(self, tunnels)
        self.declare(gateway, tunnels, peer_addresses, peer_asn, self.keys)


class CloudStack:
    """What one cloud family deployed for a stack, for the layers built on top (serving, exports).

    Attributes:
        provider: The cloud's explicit provider.
        clusters: Cluster components by spec name.
        stores: Object store components by spec name.
        identities: Workload identities by ``(cluster, store)``.
        addon_identities: Add-on identities by ``(cluster, add-on)``, for the add-ons of
            :data:`ADDON_SERVICE_ACCOUNTS` that call the cloud's API on this cloud.
        provisioning: Per cluster with ``provisioning: auto`` pools, its :class:`Provisioning`.
        pools: Managed groups by ``(cluster, pool)``: every ``groups`` pool, and an ``auto`` pool's
            on-demand floor where its cloud keeps the floor as a managed group (GKE).
        api_keys: The endpoints' API keys by cluster (clusters that serve endpoints only).
        kubernetes: Each cluster's Kubernetes provider, set by the serving layer (``components/k8s``), which
            the layers after it (replication jobs) reuse.
        network: The cloud's network component (the site-to-site VPNs attach to it).
    """

    def __init__(self, provider: pulumi.ProviderResource) -> None:
        self.provider = provider
        self.clusters: dict[str, Cluster] = {}
        self.pools: dict[tuple[str, str], GpuNodePool] = {}
        self.stores: dict[str, ObjectStore] = {}
        self.identities: dict[tuple[str, str], WorkloadIdentity] = {}
        self.addon_identities: dict[tuple[str, str], AddonIdentity] = {}
        self.provisioning: dict[str, Provisioning] = {}
        self.api_keys: dict[str, ApiKeys] = {}
        self.kubernetes: dict[str, pulumi.ProviderResource] = {}
        self.network: Network | None = None

    def outputs(self) -> dict[str, Any]:
        """The stack outputs for this cloud (kubeconfigs stay secret)."""
        return {
            "clusters": {
                name: {"name": c.cluster_name, "kubeconfig": c.kubeconfig}
                for name, c in self.clusters.items()
            },
            "stores": {name: s.bucket_uri for name, s in self.stores.items()},
            "identities": {f"{c}/{s}": i.identity for (c, s), i in self.identities.items()},
            # Where each endpoint's API key is kept (ARN / resource id); secret, as the key is behind it.
            "api_keys": pulumi.Output.secret(
                {e: i for keys in self.api_keys.values() for e, i in keys.secret_ids.items()}
            ),
        }


def stack_tags(spec: Any) -> dict[str, str]:
    """The tags (labels) every taggable resource of the stack carries: who manages it, which stack and
    environment, and the spec's own ``aistack:tags`` (cost allocation)."""
    return {
        "managed-by": "aistack",
        "aistack-stack": pulumi.get_stack(),
        "aistack-environment": spec.environment,
        **spec.tags,
    }


READER_NAMESPACE = "aistack-serving"
"""Namespace of the service accounts that read model stores (the serving endpoints run there)."""


API_KEY_FIELD = "api-key"
"""The key of each endpoint's Kubernetes Secret that holds its API key."""


def api_key_secret(endpoint: str) -> str:
    """Name of the Kubernetes Secret (in the serving namespace) holding an endpoint's API key."""
    return f"{endpoint}-api-key"


def reader_service_account(store: str) -> str:
    """Name of the Kubernetes service account allowed to read a store."""
    return f"{store}-reader"


def store_readers(spec: Any, store: str, deployed: CloudStack) -> list[tuple[str, str, dict[str, Any]]]:
    """Each cluster allowed to read ``store``: ``(cluster, identity name, contract arguments)``.

    The arguments every family's ``WorkloadIdentity`` takes (cluster, store, namespace, service
    account); a family adds its own (account ids, locations) beside them.
    """
    return [
        (
            reader,
            f"{reader}-{store}-reader",
            {
                "cluster": deployed.clusters[reader],
                "store": deployed.stores[store],
                "namespace": READER_NAMESPACE,
                "service_account": reader_service_account(store),
            },
        )
        for reader in spec.readers(store)
    ]


ADDON_SERVICE_ACCOUNTS: dict[str, tuple[str, str]] = {
    # Scales EKS node groups (EC2 Auto Scaling) for pending pods.
    "cluster-autoscaler": ("kube-system", "cluster-autoscaler"),
    # Launches and removes EC2 nodes for provisioning: auto GPU pools (Karpenter's chart defaults).
    "karpenter": ("kube-system", "karpenter"),
    # KEDA's operator queries Google Cloud Managed Service for Prometheus (the chart's names).
    "keda-operator": ("keda", "keda-operator"),
    # Reads the endpoints' API keys from the cloud's secret manager (the chart's controller account).
    "external-secrets": ("external-secrets", "external-secrets"),
}
"""Add-on → (namespace, service account) whose cloud identity a family declares as an AddonIdentity."""
