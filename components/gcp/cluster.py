"""GKE cluster: private nodes, allow-listed control plane, Workload Identity, KMS-encrypted secrets."""

from __future__ import annotations

import json

import pulumi
import pulumi_gcp as gcp

from aistack.spec.clouds import GcpCloudSpec
from aistack.spec.clusters import ClusterSpec
from components import access, contract, naming
from components.gcp.accelerators import autoprovisioning_limits
from components.gcp.kms import agent_key, service_agent
from components.gcp.network import Network
from components.gcp.nodepool import OAUTH_SCOPES, node_pool

LOG_COMPONENTS = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]
# DCGM exports the GPUs' own metrics (it needs Managed Service for Prometheus and GKE-installed drivers).
MONITORING_COMPONENTS = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "DCGM"]
NODE_ROLE = "roles/container.defaultNodeServiceAccount"
"""The one role GKE documents for a least-privilege node service account (logs and metrics)."""


def kubeconfig(name: str, endpoint: str, ca_data: str | None) -> str:
    """A kubeconfig that authenticates through ``gke-gcloud-auth-plugin`` (no static credentials).

    The plugin signs in with the runner's Google credentials (application default credentials or
    gcloud's login) and never prompts. With the DNS endpoint, ``endpoint`` is its DNS name, served
    with a publicly trusted certificate, so no cluster CA is given (as ``gcloud container clusters
    get-credentials --dns-endpoint`` writes it).
    """
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "gke-gcloud-auth-plugin",
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }
    }
    server = {"server": f"https://{endpoint}"}
    if ca_data is not None:
        server["certificate-authority-data"] = ca_data
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": server}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": user}],
        }
    )


class Cluster(contract.Cluster):
    """A regional GKE Standard cluster secure by default.

    Children: ``-keyring``, ``-secrets-key`` (Cloud KMS, 90-day rotation) and ``-secrets-key-agent``
    (the GKE service agent may encrypt/decrypt with it); ``-nodes-sa`` (the nodes' own service
    account) with ``-nodes-sa-role`` (``roles/container.defaultNodeServiceAccount`` only); ``-gke``
    (private nodes, a private IP endpoint plus the IAM-authenticated DNS endpoint or allow-listed
    public CIDRs, the ``aistack-deployer`` label, Workload Identity, application-layer secrets
    encryption, shielded nodes, Dataplane V2 with intranode visibility, Binary Authorization,
    control-plane logs and GPU metrics, the default node pool removed); ``-logs`` (a log bucket
    keeping the cluster's control-plane and audit logs ``log_retention_days``, encrypted with the
    stack's log key) and ``-logs-sink`` (routes them there); the ``-system``
    node pool (untainted, for system pods).

    Outputs: ``cluster_name``, ``kubeconfig`` (secret), ``cluster_id``, ``workload_pool``
    (``<project>.svc.id.goog``), ``node_service_account`` (email), ``node_locations`` (the zones).
    """

    CLOUD = "gcp"
    OUTPUTS = (
        "cluster_name",
        "kubeconfig",
        "cluster_id",
        "workload_pool",
        "node_service_account",
        "node_locations",
    )
    SYSTEM_MACHINE_TYPE = "e2-standard-2"

    def __init__(
        self,
        name: str,
        spec: ClusterSpec,
        *,
        cloud: GcpCloudSpec,
        prefix: str,
        network: Network,
        protect: bool,
        log_key_id: pulumi.Input[str] | None = None,
        log_key_grant: pulumi.Resource | None = None,
        admission: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Args besides the spec: ``log_key_id`` (and ``log_key_grant``, the Logging agent's use of
        it) encrypts the ``-logs`` bucket; ``admission`` is the project's Binary Authorization
        policy, in place before the cluster admits a Pod."""
        super().__init__(name, opts)
        physical_name = naming.gke_cluster(prefix, name)
        key, key_grant = agent_key(
            self,
            "secrets-key",
            location=cloud.region,
            agent=service_agent(cloud.project_number, "container-engine-robot"),
            protect=protect,
        )
        nodes_sa = gcp.serviceaccount.Account(
            self.child("nodes-sa"),
            account_id=naming.gcp_service_account(prefix, f"{name}-nodes"),
            display_name=f"GKE nodes of {physical_name}",
            opts=self.opts(),
        )
        nodes_role = gcp.projects.IAMMember(
            self.child("nodes-sa-role"),
            project=cloud.project,
            role=NODE_ROLE,
            member=nodes_sa.member,
            opts=self.opts(),
        )
        workload_pool = f"{cloud.project}.svc.id.goog"
        public = spec.api.deployer == "allow-listed"
        dns = spec.api.deployer == "dns-endpoint"
        authorized: pulumi.Input[list] = [{"cidr_block": cloud.cidr, "display_name": "node subnetwork"}]
        if public:
            authorized = pulumi.Output.from_input(access.allow_list(spec.api)).apply(
                lambda blocks: [
                    {"cidr_block": cloud.cidr, "display_name": "node subnetwork"},
                    *({"cidr_block": b, "display_name": f"allow-listed {b}"} for b in blocks),
                ]
            )
        cluster = gcp.container.Cluster(
            self.child("gke"),
            name=physical_name,
            location=cloud.region,
            node_locations=list(cloud.zones),
            network=network.network_id,
            subnetwork=network.subnetwork_id,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": network.pods_range_name,
                "services_secondary_range_name": network.services_range_name,
            },
            min_master_version=spec.kubernetes_version,
            release_channel={"channel": "REGULAR"},
            # GKE needs a default pool to create the cluster; it is deleted at once for the pools below.
            remove_default_node_pool=True,
            initial_node_count=1,
            private_cluster_config={"enable_private_nodes": True, "enable_private_endpoint": not public},
            # The DNS endpoint authenticates every request with IAM (container.clusters.connect)
            # before it reaches the API server, so it is open to external traffic without an IP
            # allow-list (GKE docs, "About network isolation": DNS-based endpoint).
            **(
                {"control_plane_endpoints_config": {"dns_endpoint_config": {"allow_external_traffic": True}}}
                if dns
                else {}
            ),
            resource_labels={access.DEPLOYER_TAG: spec.api.deployer},
            master_authorized_networks_config={
                "cidr_blocks": authorized,
                "gcp_public_cidrs_access_enabled": False,
                "private_endpoint_enforcement_enabled": True,
            },
            workload_identity_config={"workload_pool": workload_pool},
            database_encryption={"state": "ENCRYPTED", "key_name": key.id},
            enable_shielded_nodes=True,
            # Dataplane V2 (Cilium) enforces NetworkPolicy with no add-on to enable (GKE, "About Dataplane
            # V2": "network policy enforcement is built in"); the serving NetworkPolicies rely on it.
            datapath_provider="ADVANCED_DATAPATH",
            # GKE's Gateway controller and the Gateway API CRDs, which the inference Gateway of internal-lb
            # endpoints needs; from 1.34.0-gke.1626000 GKE also installs the InferencePool CRD (GKE, "Deploy
            # GKE Inference Gateway": enable Gateway API in your cluster; llm-d.ai/docs/resources/gateway/gke).
            gateway_api_config={"channel": "CHANNEL_STANDARD"},
            # Pod-to-pod traffic on one node passes the VPC too, so flow logs and firewall rules see
            # it (GKE, "Set up intranode visibility": supported with Dataplane V2, eBPF-native from
            # 1.36; earlier versions redirect through the netd DaemonSet).
            enable_intranode_visibility=True,
            # Pods are admitted by the project's Binary Authorization policy (``ImageAdmission``).
            binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
            logging_config={"enable_components": LOG_COMPONENTS},
            monitoring_config={
                "enable_components": MONITORING_COMPONENTS,
                "managed_prometheus": {"enabled": True},
            },
            enable_legacy_abac=False,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            # Node auto-provisioning for provisioning: auto pools: their ComputeClasses let GKE create
            # node pools, within these limits (the plan's maxima over every pool of the cluster). New
            # pools run as the nodes' own service account with the same hardening as the managed pools.
            **(
                {
                    "cluster_autoscaling": {
                        "enabled": True,
                        "autoscaling_profile": "BALANCED",
                        "resource_limits": autoprovisioning_limits(spec, self.SYSTEM_MACHINE_TYPE),
                        "auto_provisioning_locations": list(cloud.zones),
                        "auto_provisioning_defaults": {
                            "service_account": nodes_sa.email,
                            "oauth_scopes": OAUTH_SCOPES,
                            "management": {"auto_repair": True, "auto_upgrade": True},
                            "shielded_instance_config": {
                                "enable_secure_boot": True,
                                "enable_integrity_monitoring": True,
                            },
                        },
                    }
                }
                if any(p.provisioning == "auto" for p in spec.gpu_pools.values())
                else {}
            ),
            deletion_protection=protect,
            opts=self.opts(depends_on=[key_grant, *([admission] if admission else [])], protect=protect),
        )
        bucket_id = naming.gcp_log_bucket(prefix, f"{name}-logs")
        logs = gcp.logging.ProjectBucketConfig(
            self.child("logs"),
            project=cloud.project,
            location=cloud.region,
            bucket_id=bucket_id,
            retention_days=spec.log_retention_days,
            description=f"Logs of GKE cluster {physical_name}",
            # Audit logs name every caller of the API: encrypted with the stack's log key.
            cmek_settings={"kms_key_name": log_key_id} if log_key_id else None,
            opts=self.opts(depends_on=[log_key_grant] if log_key_grant else []),
        )
        # Control-plane and audit logs only (the spec's retention is theirs): copying workload logs
        # too would pay their ingestion twice. A sink into a log bucket of the same project needs
        # no grant for its writer identity.
        gcp.logging.ProjectSink(
            self.child("logs-sink"),
            project=cloud.project,
            destination=logs.name.apply(lambda bucket: f"logging.googleapis.com/{bucket}"),
            filter=cluster.name.apply(
                lambda cname: (
                    f'resource.type=("k8s_cluster" OR "k8s_control_plane_component") '
                    f'AND resource.labels.cluster_name="{cname}"'
                )
            ),
            unique_writer_identity=True,
            opts=self.opts(),
        )
        system = node_pool(
            self,
            "system",
            cluster=cluster.id,
            location=cloud.region,
            node_locations=list(cloud.zones),
            machine_type=spec.system_pool.instance_type or self.SYSTEM_MACHINE_TYPE,
            service_account=nodes_sa.email,
            capacity="on-demand",
            min_nodes=spec.system_pool.min_nodes,
            max_nodes=spec.system_pool.max_nodes,
            disk_gib=spec.system_pool.disk_gib,
            labels={"aistack.io/pool": "system"},
            taints=[],
            depends_on=[nodes_role],
        )
        if dns:
            config = pulumi.Output.all(
                cluster.name,
                cluster.control_plane_endpoints_config.apply(lambda c: c.dns_endpoint_config.endpoint),
            ).apply(lambda args: kubeconfig(args[0], args[1], None))
        else:
            config = pulumi.Output.all(
                cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate
            ).apply(lambda args: kubeconfig(args[0], args[1], args[2]))
        # GKE installs its networking and DNS with the cluster; pods need the system pool's nodes.
        self.ready = [system]
        # The issuer of the cluster's service-account tokens, whose discovery document is public (GKE docs,
        # "Workload Identity Federation for GKE": tokens from https://container.googleapis.com/v1/projects/
        # PROJECT/locations/LOCATION/clusters/NAME), for IAM OIDC providers on other clouds.
        self.oidc_issuer_url = pulumi.Output.concat("https://container.googleapis.com/v1/", cluster.id)
        self.finish(
            cluster_name=cluster.name,
            kubeconfig=pulumi.Output.secret(config),
            cluster_id=cluster.id,
            workload_pool=workload_pool,
            node_service_account=nodes_sa.email,
            node_locations=list(cloud.zones),
        )
