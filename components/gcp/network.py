"""GCP network: custom-mode VPC, a node subnetwork with pod and service ranges, Cloud NAT, firewall."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from aistack.spec.clouds import GcpCloudSpec
from components import contract

PODS_RANGE = "pods"
SERVICES_RANGE = "services"

HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]
"""Where Google Cloud load-balancer health checks come from (Cloud Load Balancing, "Health checks
overview": probe IP ranges)."""


NODE_HEALTH_PORT = 10256
"""Where a load balancer probes a GKE node for an ``externalTrafficPolicy: Cluster`` Service
(kube-proxy's, or Dataplane V2's, health endpoint; GKE, "LoadBalancer Service parameters")."""


def probe_ports(serving_ports: list[int]) -> list[str]:
    """The ports the health-check rule opens: the node health port and each serving port."""
    return [str(port) for port in sorted({NODE_HEALTH_PORT, *serving_ports})]


class Network(contract.Network):
    """A custom-mode VPC whose nodes have no public addresses and leave through Cloud NAT.

    Children: ``-vpc`` (no automatic subnetworks), ``-nodes`` (the regional node subnetwork: the
    spec's ``cidr``, secondary ranges ``pods`` (the spec's ``pods_cidr``) and, when a GKE cluster
    is placed here, ``services`` (its ``service_cidr``), Private Google Access, flow logs),
    ``-router`` and ``-nat`` (Cloud NAT for the subnetwork's every range, errors logged), and two
    ingress firewall rules, both from named ranges only: ``-allow-internal`` (nodes and pods among
    themselves) and ``-allow-health-checks`` (Google's load-balancer probes, to the serving ports and the node
    health port only). Everything else
    meets the VPC's implied deny-all ingress; no rule admits 0.0.0.0/0.

    Outputs: ``network_id``, ``node_subnet_ids`` (zone → subnetwork id; GCP subnetworks are
    regional, so every zone maps to the same one), ``subnetwork_id``, ``pods_range_name``,
    ``services_range_name`` (``None`` without a GKE cluster).
    """

    CLOUD = "gcp"
    OUTPUTS = ("network_id", "node_subnet_ids", "subnetwork_id", "pods_range_name", "services_range_name")

    def __init__(
        self,
        name: str,
        spec: GcpCloudSpec,
        *,
        services_cidr: str | None,
        health_check_ports: list[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the spec: ``health_check_ports``, the TCP ports load-balancer probes may
        reach (the serving ports); :data:`NODE_HEALTH_PORT` is always added."""
        super().__init__(name, opts)
        ranges = [{"range_name": PODS_RANGE, "ip_cidr_range": spec.pods_cidr}]
        if services_cidr:
            ranges.append({"range_name": SERVICES_RANGE, "ip_cidr_range": services_cidr})
        vpc = gcp.compute.Network(
            self.child("vpc"),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=self.opts(),
        )
        subnet = gcp.compute.Subnetwork(
            self.child("nodes"),
            network=vpc.id,
            region=spec.region,
            ip_cidr_range=spec.cidr,
            secondary_ip_ranges=ranges,
            # Nodes without public addresses reach Google APIs (GCS model weights, Artifact Registry).
            private_ip_google_access=True,
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": 0.5,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=self.opts(),
        )
        router = gcp.compute.Router(
            self.child("router"), network=vpc.id, region=spec.region, opts=self.opts()
        )
        gcp.compute.RouterNat(
            self.child("nat"),
            router=router.name,
            region=spec.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[{"name": subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=self.opts(),
        )
        internal = [spec.cidr, spec.pods_cidr]
        gcp.compute.Firewall(
            self.child("allow-internal"),
            network=vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=internal,
            allows=[{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=self.opts(),
        )
        gcp.compute.Firewall(
            self.child("allow-health-checks"),
            network=vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=HEALTH_CHECK_RANGES,
            allows=[{"protocol": "tcp", "ports": probe_ports(health_check_ports or [])}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=self.opts(),
        )
        if spec.proxy_only_cidr:
            # GKE's internal Gateway classes (the inference Gateway, gke-l7-rilb) are regional Envoy-based
            # load balancers: their proxies take addresses from the region's proxy-only subnetwork, and a
            # Gateway stays unprogrammed without one (GKE, "Configure Gateway resources": "If you are using
            # the internal GatewayClasses, you must enable a proxy-only subnet"; Cloud Load Balancing,
            # "Proxy-only subnets for Envoy-based load balancers": purpose REGIONAL_MANAGED_PROXY, role ACTIVE).
            gcp.compute.Subnetwork(
                self.child("proxy-only"),
                network=vpc.id,
                region=spec.region,
                ip_cidr_range=spec.proxy_only_cidr,
                purpose="REGIONAL_MANAGED_PROXY",
                role="ACTIVE",
                opts=self.opts(),
            )
            # The proxies connect to the pods (container-native NEGs) from that range: allow it to the
            # serving ports, like the health checks above.
            gcp.compute.Firewall(
                self.child("allow-proxy-only"),
                network=vpc.id,
                direction="INGRESS",
                priority=1000,
                source_ranges=[spec.proxy_only_cidr],
                allows=[{"protocol": "tcp", "ports": probe_ports(health_check_ports or [])}],
                log_config={"metadata": "INCLUDE_ALL_METADATA"},
                opts=self.opts(),
            )
        self.finish(
            network_id=vpc.id,
            node_subnet_ids={zone: subnet.id for zone in spec.zones},
            subnetwork_id=subnet.id,
            pods_range_name=PODS_RANGE,
            services_range_name=SERVICES_RANGE if services_cidr else None,
        )
