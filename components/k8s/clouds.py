"""What serving needs from each cloud's Kubernetes, as data: one row per cloud.

Everything the serving layer does differently per cloud lives in :data:`CLOUDS`: how a pod
assumes the store-reading identity, which node labels select an accelerator, whether the cluster
needs the NVIDIA device plugin, how an internal load balancer is requested, how vLLM's model
streamer reads the cloud's object store, whether aistack must run the
Kubernetes Cluster Autoscaler, and which Prometheus KEDA's triggers query. The
components read the row of the cluster's cloud; they hold no ``if cloud == ...`` branches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from components import gpu


@dataclass(frozen=True)
class WeightStream:
    """How vLLM's Run:ai model streamer reads a store on this cloud (``--load-format runai_streamer``).

    The server's model argument is ``<scheme>://<store output root>/<storage_uri>``; vLLM pulls the
    config and tokenizer files from there into its assets cache and streams the safetensors straight
    to the GPUs (vLLM 0.34.0 ``transformers_utils/runai_utils.py``: ``s3://``, ``gs://``, ``az://``).
    Credentials come from the pod's workload identity through the cloud SDK inside the streamer:
    ``credentials`` says which (the streamer's ``docs/src/usage.md`` and ``env-vars.md``).
    """

    scheme: Literal["s3", "gs", "az"]
    root: Literal["bucket_name", "container"]
    """What follows ``<scheme>://``: the store's ``bucket_name`` (the bucket), or ``container``: the last path
    segment of its ``bucket_uri`` (Azure's container URL ``https://<account>.blob.core.windows.net/<container>``)."""
    credentials: str
    """How the streamer authenticates as the pod's identity (documentation)."""
    account_env: str | None = None
    """Environment variable that receives the store's ``bucket_name`` (Azure: the storage account)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Fixed environment the streamer needs on this cloud."""
    rclone: Mapping[str, str] = field(default_factory=dict)
    """rclone's backend settings for the store (``RCLONE_CONFIG_<REMOTE>_<KEY>``), with the pod's workload
    identity (``env_auth``): the weights check and the replication job read and write stores through it
    (``components/k8s/weights.py``). The Azure account and AWS region are added from the store and cloud."""


@dataclass(frozen=True)
class ClusterAutoscalerSettings:
    """How the Kubernetes Cluster Autoscaler that aistack runs finds and scales the cluster's groups."""

    cloud_provider: str
    """Its ``--cloud-provider``."""
    discovery: str
    """Its ``--node-group-auto-discovery``; ``{cluster}`` stands for the cluster's physical name."""


GMP_QUERY_URL = "https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus"
"""Managed Service for Prometheus' Prometheus-compatible query API (KEDA appends ``/api/v1/query``;
Google's "Query using the Prometheus API" and KEDA's GCP Managed Prometheus docs use this base)."""


@dataclass(frozen=True)
class PodMetrics:
    """Where KEDA's Prometheus triggers read vLLM's gauges and the endpoint picker's queue.

    ``in-cluster-prometheus``: aistack runs a small Prometheus that scrapes only the serving pods
    and the endpoint pickers; KEDA queries it over the cluster network, with no credentials.
    ``gke-managed-prometheus``: GKE's Managed Service for Prometheus collects the same series (a
    ``PodMonitoring``) and KEDA queries its Prometheus API as the KEDA operator's own Kubernetes
    service account, granted ``roles/monitoring.viewer`` through workload identity (a
    ``TriggerAuthentication`` with ``podIdentity.provider: gcp``).
    """

    pipeline: Literal["in-cluster-prometheus", "gke-managed-prometheus"]
    reason: str
    """Why this pipeline on this cloud (documentation)."""

    @property
    def reads_cloud(self) -> bool:
        """Whether KEDA reads the cloud's monitoring service (and needs its AddonIdentity)."""
        return self.pipeline == "gke-managed-prometheus"


@dataclass(frozen=True)
class Routing:
    """How requests reach an endpoint's InferencePool on the cloud (see ``components/k8s/routing.py``).

    Every cloud runs llm-d-router's endpoint picker with its standalone Envoy proxy behind the
    endpoint's Service; where the cloud's own Gateway implements InferencePool backends, ``internal-lb``
    endpoints are also routed by it (an HTTPRoute to the pool) instead of an L4 load balancer.
    """

    install_crds: bool
    """Whether aistack declares the InferencePool CRD (from the vendored GIE v1.6.0 file) or the cloud does."""
    gateway_class: str | None
    """The cloud's GatewayClass for the inference Gateway of ``internal-lb`` endpoints, if the cloud has one."""
    scrape_namespaces: tuple[str, ...]
    """Namespaces whose pods scrape the model servers' ``/metrics`` (admitted by the NetworkPolicy)."""
    gateway_source_ranges: tuple[str, ...] = ()
    """Address ranges the cloud's Gateway reaches pods from besides its proxy subnet (health checks)."""
    reason: str = ""
    """Why this layout on this cloud (documentation)."""


@dataclass(frozen=True)
class CloudServing:
    """One cloud's row: the data the serving components read for a cluster on that cloud."""

    identity: str
    """How a pod assumes the WorkloadIdentity bound to its service account (documentation)."""
    service_account_annotation: str | None
    """Service-account annotation whose value is the WorkloadIdentity's ``identity`` output, if any."""
    pod_labels: Mapping[str, str]
    """Labels the identity webhook needs on the pod."""
    accelerator_label: str | None
    """The cloud's own node label for the accelerator, which GPU pods must select (if any)."""
    accelerator_names: Mapping[str, str]
    """Canonical accelerator → value of ``accelerator_label``."""
    device_plugin: bool
    """Whether the cluster needs aistack to run the NVIDIA device plugin."""
    device_plugin_reason: str
    """Why, in terms of the cloud's GPU pool driver settings."""
    internal_lb_annotations: Mapping[str, str]
    """Service annotations that keep a LoadBalancer inside the network."""
    stream: WeightStream
    node_autoscaling: str
    """Who scales the node pools for pending pods, and how an empty GPU pool is known (documentation)."""
    cluster_autoscaler: ClusterAutoscalerSettings | None
    """The Cluster Autoscaler aistack runs, where the managed service does not scale pools itself."""
    pod_metrics: PodMetrics
    routing: Routing
    public_lb_annotations: Mapping[str, str] = field(default_factory=dict)
    """Service annotations of a ``public-lb`` endpoint's public load balancer (none: the cloud's default)."""
    entry_address: Literal["ip", "hostname"] = "ip"
    """What the cloud writes in a LoadBalancer Service's status: an IP, or a DNS name (AWS NLB)."""
    region_env: str | None = None
    """Environment variable naming the region for the streamer's SDK and the autoscaler (from the cloud's placement)."""
    gpu_tolerations: tuple[Mapping[str, str], ...] = ()
    """Tolerations GPU pods and the device plugin need besides aistack's GPU taint: taints the cloud
    itself puts on GPU nodes."""

    @property
    def needs_cluster_autoscaler(self) -> bool:
        """Whether aistack must run the Kubernetes Cluster Autoscaler on the cloud's clusters."""
        return self.cluster_autoscaler is not None

    def service_account_annotations(self, identity: str) -> dict[str, str]:
        """Annotations binding the reader service account to the cloud identity."""
        return {self.service_account_annotation: identity} if self.service_account_annotation else {}

    def node_selector(self, pool: str, accelerator: str) -> dict[str, str]:
        """Node labels a GPU pod selects: aistack's pool and accelerator labels, plus the cloud's own."""
        selector = {gpu.POOL_LABEL: pool, gpu.ACCELERATOR_LABEL: accelerator}
        if self.accelerator_label:
            if accelerator not in self.accelerator_names:
                raise ValueError(f"{accelerator} has no {self.accelerator_label} value on this cloud")
            selector[self.accelerator_label] = self.accelerator_names[accelerator]
        return selector


_METRICS_NAMESPACE = "aistack-metrics"
"""The in-cluster metrics pipeline's namespace (``components/k8s/metrics.py`` NAMESPACE)."""

CLOUDS: dict[str, CloudServing] = {
    "aws": CloudServing(
        identity="EKS Pod Identity: the association names the namespace and service account, and the "
        "pod identity agent hands the pod the role's credentials; no annotation is needed.",
        service_account_annotation=None,
        pod_labels={},
        accelerator_label=None,
        accelerator_names={},
        device_plugin=True,
        device_plugin_reason="GPU pools use the EKS AL2023 NVIDIA AMI (ami_type AL2023_*_NVIDIA), which ships "
        "the NVIDIA driver and container toolkit but not the device plugin.",
        internal_lb_annotations={
            # The AWS Load Balancer Controller reads the scheme; the in-tree controller the legacy flag.
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
            "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
            # Without the controller (aistack installs none), EKS's in-tree service controller answers and
            # makes a Classic Load Balancer unless asked for an NLB (Kubernetes docs, Service, "Network Load
            # Balancer support on AWS"); with the controller installed the Service is an NLB too. Either way
            # it lands in the private subnets tagged kubernetes.io/role/internal-elb (components/aws/network.py).
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        },
        stream=WeightStream(
            scheme="s3",
            root="bucket_name",
            # The streamer takes its S3 credentials from a boto3 session (usage.md, "S3 authentication"); boto3's
            # container credential provider reads the AWS_CONTAINER_CREDENTIALS_FULL_URI and token file that the EKS
            # Pod Identity webhook injects (EKS user guide, "Pod Identity: supported SDK versions").
            credentials="EKS Pod Identity credentials through boto3's container credential provider.",
            # rclone's S3 backend with env_auth loads the AWS SDK for Go v2 default chain (backend/s3/s3.go,
            # awsconfig.LoadDefaultConfig), which reads EKS Pod Identity's container credentials and web
            # identity tokens (AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE) alike.
            rclone={"type": "s3", "provider": "AWS", "env_auth": "true"},
        ),
        node_autoscaling="EKS managed node groups do not scale themselves: aistack runs the Kubernetes Cluster "
        "Autoscaler, which finds them by the tags EKS puts on their Auto Scaling groups and models an empty "
        "group from its instance type (GPUs included), its labels and taints (eks:DescribeNodegroup) and its "
        "node-template resource tags (ephemeral storage).",
        cluster_autoscaler=ClusterAutoscalerSettings(
            cloud_provider="aws",
            discovery="asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{cluster}",
        ),
        pod_metrics=PodMetrics(
            pipeline="in-cluster-prometheus",
            reason="Amazon Managed Service for Prometheus answers queries only with SigV4-signed requests and "
            "ingests through a remote-write agent; a Prometheus that scrapes just the serving pods is small, keeps "
            "the signal seconds fresh and needs no cloud identity.",
        ),
        routing=Routing(
            install_crds=True,
            gateway_class=None,
            scrape_namespaces=(_METRICS_NAMESPACE,),
            reason="EKS ships no Gateway implementation with InferencePool backends: llm-d-router's standalone "
            "mode (Envoy beside the picker) routes, behind the endpoint's Service and, for internal-lb, an "
            "internal NLB.",
        ),
        # public-lb: an internet-facing NLB from the same service controller, in the public subnets tagged
        # kubernetes.io/role/elb (components/aws/network.py). loadBalancerSourceRanges become the client rules
        # on the nodes' security group, which an NLB's preserved client addresses reach (Kubernetes docs,
        # Service, "Network Load Balancer support on AWS"; AWS re:Post knowledge center,
        # "eks-cidr-ip-address-loadbalancer"). Its status names the NLB's DNS name, never an IP.
        public_lb_annotations={
            "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        },
        entry_address="hostname",
        region_env="AWS_REGION",
    ),
    "azure": CloudServing(
        identity="Azure workload identity: the service account names the managed identity's client ID and "
        "the pod carries the webhook label, which projects a federated token the streamer exchanges.",
        service_account_annotation="azure.workload.identity/client-id",
        pod_labels={"azure.workload.identity/use": "true"},
        accelerator_label=None,
        accelerator_names={},
        device_plugin=True,
        device_plugin_reason="AKS installs the NVIDIA driver on GPU pools (gpu_profile.driver Install, the "
        "default) but not the device plugin.",
        internal_lb_annotations={"service.beta.kubernetes.io/azure-load-balancer-internal": "true"},
        # public-lb: AKS's cloud provider puts a LoadBalancer Service on the cluster's public Standard load
        # balancer by default and turns loadBalancerSourceRanges into allow rules of the nodes' NSG (AKS docs,
        # "Use a public Standard Load Balancer": restrict inbound traffic to specific IP ranges). Status: an IP.
        public_lb_annotations={},
        # AKS taints every spot node itself (components/azure/gpupool.py declares the same taint).
        gpu_tolerations=(gpu.AKS_SPOT_TOLERATION,),
        stream=WeightStream(
            scheme="az",
            root="container",
            # az://<container>/<path> with the account in AZURE_STORAGE_ACCOUNT_NAME; the streamer authenticates with
            # DefaultAzureCredential (env-vars.md, usage.md "Azure Authentication"), whose chain includes the
            # workload identity credential fed by the webhook's AZURE_CLIENT_ID, AZURE_TENANT_ID and
            # AZURE_FEDERATED_TOKEN_FILE (Azure SDK docs, DefaultAzureCredential; AKS workload identity overview).
            credentials="Azure workload identity: DefaultAzureCredential exchanges the projected federated token.",
            account_env="AZURE_STORAGE_ACCOUNT_NAME",
            # rclone's azureblob backend with env_auth builds azidentity's DefaultAzureCredential
            # (backend/azureblob/auth/auth.go), whose chain includes the workload identity credential.
            rclone={"type": "azureblob", "env_auth": "true"},
        ),
        node_autoscaling="AKS runs the cluster autoscaler itself for agent pools with enable_auto_scaling and "
        "min/max counts, and knows an empty pool's VM size, labels and taints from the pool's own definition.",
        cluster_autoscaler=None,
        pod_metrics=PodMetrics(
            pipeline="in-cluster-prometheus",
            reason="Azure Managed Prometheus needs the Azure Monitor workspace and a data-collection rule the "
            "stack does not declare, and Entra-token queries; the in-cluster Prometheus serves KEDA with no "
            "cloud identity.",
        ),
        routing=Routing(
            install_crds=True,
            gateway_class=None,
            scrape_namespaces=(_METRICS_NAMESPACE,),
            reason="AKS's managed Gateway API (Istio-based) lists no InferencePool support: llm-d-router's "
            "standalone mode routes, behind the endpoint's Service and, for internal-lb, an internal Azure "
            "load balancer.",
        ),
    ),
    "gcp": CloudServing(
        identity="GKE workload identity: the service account names the Google service account it acts as; "
        "the GKE metadata server hands the pod that account's tokens.",
        service_account_annotation="iam.gke.io/gcp-service-account",
        pod_labels={},
        accelerator_label="cloud.google.com/gke-accelerator",
        accelerator_names=gpu.GKE_ACCELERATORS,
        device_plugin=False,
        device_plugin_reason="GKE installs the driver (guest_accelerators gpu_driver_installation_config) and "
        "runs its own device plugin on GPU nodes.",
        internal_lb_annotations={"networking.gke.io/load-balancer-type": "Internal"},
        # public-lb: an external passthrough Network Load Balancer by default; loadBalancerSourceRanges become a
        # VPC firewall rule on the nodes, and GKE adds the load balancer's own health-check ranges itself (GKE
        # docs, "LoadBalancer Service parameters": loadBalancerSourceRanges). Status: an IP.
        public_lb_annotations={},
        stream=WeightStream(
            scheme="gs",
            root="bucket_name",
            # Without RUNAI_STREAMER_GCS_CREDENTIAL_FILE or GOOGLE_APPLICATION_CREDENTIALS the streamer's
            # google-cloud-cpp client asks the metadata server (usage.md, "Streaming from Google cloud storage"),
            # which on GKE answers as the Google service account the Kubernetes service account is bound to.
            credentials="GKE Workload Identity through the GKE metadata server (Application Default Credentials).",
            # env_auth: Application Default Credentials (the metadata server); bucket_policy_only: the bucket has
            # uniform bucket-level access, so rclone sets no object ACLs.
            rclone={"type": "google cloud storage", "env_auth": "true", "bucket_policy_only": "true"},
        ),
        node_autoscaling="GKE's cluster autoscaler scales node pools with autoscaling limits, from zero too: it "
        "knows each pool's machine type, accelerators, labels and taints from the pool's definition.",
        cluster_autoscaler=None,
        pod_metrics=PodMetrics(
            pipeline="gke-managed-prometheus",
            reason="GKE clusters already run Managed Service for Prometheus collection (monitoring_config "
            "managed_prometheus); Google documents KEDA's Prometheus scaler against its Prometheus API with "
            "workload identity (Managed Service for Prometheus, 'Horizontal Pod autoscaling', Use KEDA), so "
            "nothing is scraped or stored in the cluster.",
        ),
        routing=Routing(
            # GKE >= 1.34.0-gke.1626000 installs the GA Gateway API and InferencePool CRDs itself
            # (llm-d.ai/docs/resources/gateway/gke, step 1); declaring them too would fight over them.
            install_crds=False,
            # GKE Inference Gateway: the regional internal Application Load Balancer implements
            # InferencePool backends and calls the picker (GIE conformance report for gke-gateway; GKE,
            # "Deploy GKE Inference Gateway").
            gateway_class="gke-l7-rilb",
            # Managed Service for Prometheus collectors run in gmp-system on Standard clusters.
            scrape_namespaces=("gmp-system",),
            # Load-balancer health checks (Cloud Load Balancing, "Health checks overview": probe ranges).
            gateway_source_ranges=("35.191.0.0/16", "130.211.0.0/22"),
            reason="GKE's Gateway implements InferencePool backends: internal-lb endpoints are routed by the "
            "GKE Inference Gateway (gke-l7-rilb); in-cluster clients use the picker's standalone proxy.",
        ),
    ),
}


def row(cloud: str) -> CloudServing:
    """The serving row of a cloud."""
    if cloud not in CLOUDS:
        raise KeyError(f"no serving row for cloud {cloud!r}; rows: {', '.join(CLOUDS)}")
    return CLOUDS[cloud]
