"""Every stack in stacks/ serves models on a complete, GPU-scheduled, least-privilege serving path."""

from __future__ import annotations

import json

import pytest

from aistack import crds
from aistack.spec.endpoints import check_image
from components import contract, gpu
from tests.components.k8s.k8s_world import (
    GPU,
    all_containers,
    cluster_of,
    kind,
    of_kind,
    pod_identity_role,
    pod_spec,
    pod_specs,
    pod_template,
    serving,
    stack_names,
    stack_run,
    tolerates,
    workloads,
)

STACKS = stack_names()
# How each cloud spells the Kubernetes taint effect on its node pool resource.
EFFECT = {"NO_SCHEDULE": "NoSchedule", "NoSchedule": "NoSchedule"}


def endpoint_deployments(stack):
    """(endpoint name, the share's endpoint spec, workload) for every share of a stack's endpoints.

    The workload is the endpoint's Deployment, or its LeaderWorkerSet when a replica spans several nodes,
    on the share's cluster.
    """
    spec, run = stack_run(stack)
    found = {
        (r.inputs["metadata"]["name"], cluster_of(run, r).name): r
        for r in [*serving(run.resources, "Deployment"), *serving(run.resources, "LeaderWorkerSet")]
    }
    shares = {(s.name, s.cluster): s.endpoint for s in spec.shares()}
    assert set(found) == set(shares), "one Deployment or LeaderWorkerSet per share, named after its endpoint"
    for key, endpoint in shares.items():
        assert kind(found[key]) == ("LeaderWorkerSet" if endpoint.multi_node else "Deployment"), key
    return [(name, endpoint, found[(name, cluster)]) for (name, cluster), endpoint in shares.items()]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_serves_a_model(stack):
    spec, _ = stack_run(stack)
    assert spec.endpoints, f"stack {stack} serves no model"


@pytest.mark.parametrize("stack", STACKS)
def test_complete_serving_path_on_every_cloud_used(stack):
    spec, run = stack_run(stack)
    for cloud in {c.cloud for c in spec.clusters.values()}:
        mine = [r for r in run.resources if r.cloud == cloud]
        types = {r.type for r in mine}
        assert {"aistack:k8s:GpuRuntime", f"aistack:{cloud}:WorkloadIdentity"} <= types
        kinds = {kind(r) for r in mine}
        assert {
            "ServiceAccount",
            "Service",
            "ScaledObject",
            "PodDisruptionBudget",
        } <= kinds
    for name, cluster, endpoint in ((s.name, s.cluster, s.endpoint) for s in spec.shares()):
        objects = [
            r
            for r in run.resources
            if kind(r)
            and r.inputs.get("metadata", {}).get("name") == name
            and cluster_of(run, r).name == cluster
        ]
        assert {kind(r) for r in objects} >= {
            "LeaderWorkerSet" if endpoint.multi_node else "Deployment",
            "Service",
            "ScaledObject",
            "PodDisruptionBudget",
        }
        assert {r.cloud for r in objects} == {spec.clusters[endpoint.cluster].cloud}


def _eks_nodes(group):
    return group.inputs["taints"], group.inputs["labels"]


def _gke_nodes(pool):
    config = pool.inputs["nodeConfig"]
    # GKE labels every GPU node with its accelerator type itself.
    (accelerator,) = config["guestAccelerators"]
    return config["taints"], {**config["labels"], "cloud.google.com/gke-accelerator": accelerator["type"]}


def _aks_nodes(pool):
    # AKS spells taints "key=value:Effect".
    taints = []
    for taint in pool.inputs["nodeTaints"]:
        key_value, effect = taint.rsplit(":", 1)
        key, value = key_value.split("=", 1)
        taints.append({"key": key, "value": value, "effect": effect})
    return taints, pool.inputs["nodeLabels"]


def _karpenter_nodes(nodepool):
    # A NodePool's nodes carry its template's labels and taints.
    template = nodepool.inputs["spec"]["template"]
    return template["spec"]["taints"], template["metadata"]["labels"]


def _compute_class_nodes(compute_class):
    # GKE labels and taints a custom class's nodes with its name, and GPU nodes with the GPU taint and accelerator.
    spec, name = compute_class.inputs["spec"], compute_class.inputs["metadata"]["name"]
    (accelerator,) = {p["gpu"]["type"] for p in spec["priorities"] if "gpu" in p}
    labels = {
        **spec["nodePoolConfig"]["nodeLabels"],
        "cloud.google.com/compute-class": name,
        "cloud.google.com/gke-accelerator": accelerator,
    }
    taints = [
        {"key": "cloud.google.com/compute-class", "value": name, "effect": "NoSchedule"},
        {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
    ]
    return taints, labels


# Provisioner object type → (taints, node labels) of the nodes it launches.
PROVISIONED = {
    "kubernetes:karpenter.sh/v1:NodePool": _karpenter_nodes,
    "kubernetes:cloud.google.com/v1:ComputeClass": _compute_class_nodes,
}

# Raw node pool type → (taints, node labels) of its nodes.
NODE_POOLS = {
    "aws:eks/nodeGroup:NodeGroup": _eks_nodes,
    "azure-native:containerservice:AgentPool": _aks_nodes,
    "gcp:container/nodePool:NodePool": _gke_nodes,
}


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_pods_tolerate_their_pools_taint_and_select_its_nodes(stack):
    """Follow each endpoint to the node groups of its pool: the pods tolerate their taints and match their labels."""
    spec, run = stack_run(stack)
    for name, endpoint, deployment in endpoint_deployments(stack):
        # Managed groups (groups, or a GKE auto pool's floor) and the provisioner objects (auto).
        pool_component = next(
            (
                r
                for r in run.resources
                if r.type.endswith(":GpuNodePool") and r.name == f"{endpoint.cluster}-{endpoint.pool}"
            ),
            None,
        )
        raw_pools = [
            r
            for r in run.resources
            if pool_component and r.parent == pool_component.urn and r.type in NODE_POOLS
        ]
        raw_pools += [
            r
            for r in run.resources
            if r.type in PROVISIONED and r.name.startswith(f"{endpoint.cluster}-provisioner-{endpoint.pool}-")
        ]
        auto = spec.clusters[endpoint.cluster].gpu_pools[endpoint.pool].provisioning == "auto"
        assert any(r.type in PROVISIONED for r in raw_pools) is auto, name
        assert raw_pools, f"{name}: pool {endpoint.pool} has no node pools"
        for pod in pod_specs(deployment):
            for raw in raw_pools:
                taints, labels = {**NODE_POOLS, **PROVISIONED}[raw.type](raw)
                assert taints, f"{raw.name} is not tainted"
                for taint in taints:
                    assert tolerates(
                        pod["tolerations"], taint["key"], taint.get("value", ""), EFFECT[taint["effect"]]
                    ), name
                assert pod["nodeSelector"].items() <= labels.items(), name
            accelerator = spec.clusters[endpoint.cluster].gpu_pools[endpoint.pool].accelerator
            assert pod["nodeSelector"][gpu.ACCELERATOR_LABEL] == accelerator


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_limits_match_gpus_per_replica(stack):
    for name, endpoint, deployment in endpoint_deployments(stack):
        pods = pod_specs(deployment)
        # One pod per node of a replica: together they hold the replica's GPUs.
        size = deployment.inputs["spec"]["leaderWorkerTemplate"]["size"] if endpoint.multi_node else 1
        assert size == endpoint.nodes_per_replica, name
        for pod in pods:
            (server,) = pod["containers"]
            resources = server["resources"]
            assert resources["limits"][GPU] == resources["requests"][GPU] == str(endpoint.gpus_per_pod), name
            assert int(resources["limits"][GPU]) * size == endpoint.gpus_per_replica, name
            assert {"cpu", "memory"} <= resources["limits"].keys() and {"cpu", "memory"} <= resources[
                "requests"
            ].keys()


def _service_account(run, deployment):
    """(namespace, name, object) of the service account a deployment's pods run as, on its cluster."""
    namespace = deployment.inputs["metadata"]["namespace"]
    account = pod_spec(deployment)["serviceAccountName"]
    accounts = [
        r
        for r in of_kind(run.resources, "ServiceAccount")
        if r.provider == deployment.provider
        and (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) == (namespace, account)
    ]
    assert len(accounts) == 1, "the pod's service account exists on its cluster"
    return namespace, account, accounts[0]


def _aws_readable(run, deployment):
    """What the deployment's service account may read on AWS, following the chain to IAM.

    Service account (namespace/name, on the deployment's cluster) → the EKS Pod Identity
    association for exactly that cluster/namespace/name → its role (trusted only for it) → the
    role's policies → the S3 buckets and KMS keys they name.
    """
    namespace, account, _ = _service_account(run, deployment)
    eks = next(
        r
        for r in run.resources
        if r.type == "aws:eks/cluster:Cluster" and r.parent == cluster_of(run, deployment).urn
    )
    _, policies, attached = pod_identity_role(run, eks, namespace, account)
    assert not attached, "no managed policies on a reader role"
    statements = [s for p in policies for s in json.loads(p.inputs["policy"])["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = {a for s in statements for a in s["Action"]}
    assert actions <= {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}, actions
    named = {
        res
        for s in statements
        for res in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    }
    buckets = {res.removesuffix("/*") for res in named if res.startswith("arn:aws:s3:::")}
    keys = named - {res for res in named if res.startswith("arn:aws:s3:::")}
    return buckets, keys


def _aws_store(run, store):
    """The bucket ARN, key ARNs, streamer URI root and streamer environment of an AWS store component."""
    component = next(r for r in run.resources if r.type == "aistack:aws:ObjectStore" and r.name == store)
    children = [r for r in run.resources if r.parent == component.urn]
    bucket = next(r for r in children if r.type == "aws:s3/bucket:Bucket")
    keys = {r.outputs["arn"] for r in children if r.type == "aws:kms/key:Key"}
    return bucket.outputs["arn"], keys, f"s3://{bucket.outputs['bucket']}", {}


def _gcp_readable(run, deployment):
    """What the deployment's service account may read on GCP, following the chain to IAM.

    Service account → its ``iam.gke.io/gcp-service-account`` annotation → that Google service
    account → who may act as it (exactly this namespace/name in the cluster's workload pool) →
    every grant to it (only ``roles/storage.objectViewer`` on buckets) → the buckets.
    """
    namespace, account, k8s_account = _service_account(run, deployment)
    email = k8s_account.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    (gsa,) = [
        r
        for r in run.resources
        if r.type == "gcp:serviceaccount/account:Account" and r.outputs["email"] == email
    ]
    gke = next(
        r
        for r in run.resources
        if r.type == "gcp:container/cluster:Cluster" and r.parent == cluster_of(run, deployment).urn
    )
    pool = gke.inputs["workloadIdentityConfig"]["workloadPool"]
    users = [r for r in run.resources if r.inputs.get("serviceAccountId") == gsa.outputs["name"]]
    assert users and all(
        (u.inputs["role"], u.inputs["member"])
        == ("roles/iam.workloadIdentityUser", f"serviceAccount:{pool}[{namespace}/{account}]")
        for u in users
    )
    grants = [r for r in run.resources if r.inputs.get("member") == gsa.outputs["member"]]
    assert all(
        g.type == "gcp:storage/bucketIAMMember:BucketIAMMember"
        and g.inputs["role"] == "roles/storage.objectViewer"
        for g in grants
    ), [(g.type, g.inputs.get("role")) for g in grants]
    # CMEK buckets are decrypted by the Cloud Storage service agent: no key grant to the reader.
    return {g.inputs["bucket"] for g in grants}, set()


def _gcp_store(run, store):
    component = next(r for r in run.resources if r.type == "aistack:gcp:ObjectStore" and r.name == store)
    bucket = next(
        r for r in run.resources if r.parent == component.urn and r.type == "gcp:storage/bucket:Bucket"
    )
    return bucket.outputs["name"], set(), f"gs://{bucket.outputs['name']}", {}


def _azure_readable(run, deployment):
    """What the deployment's service account may read on Azure, following the chain to Azure RBAC.

    Service account → its ``azure.workload.identity/client-id`` annotation → that managed identity
    → its federated credentials (exactly this namespace/name, issued by this cluster's OIDC issuer)
    → every role assignment to it (only Storage Blob Data Reader) → the containers they scope.
    """
    namespace, account, k8s_account = _service_account(run, deployment)
    assert pod_template(deployment)["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    client_id = k8s_account.inputs["metadata"]["annotations"]["azure.workload.identity/client-id"]
    (identity,) = [
        r
        for r in run.resources
        if r.type == "azure-native:managedidentity:UserAssignedIdentity"
        and r.outputs["clientId"] == client_id
    ]
    aks = next(
        r
        for r in run.resources
        if r.type == "azure-native:containerservice:ManagedCluster"
        and r.parent == cluster_of(run, deployment).urn
    )
    federations = [
        r
        for r in run.resources
        if r.type == "azure-native:managedidentity:FederatedIdentityCredential"
        and r.inputs["resourceName"] == identity.outputs["name"]
    ]
    assert federations and all(
        (f.inputs["issuer"], f.inputs["subject"])
        == (aks.outputs["oidcIssuerProfile"]["issuerURL"], f"system:serviceaccount:{namespace}:{account}")
        for f in federations
    )
    grants = [r for r in run.resources if r.inputs.get("principalId") == identity.outputs["principalId"]]
    reader = "/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    assert all(
        g.type == "azure-native:authorization:RoleAssignment"
        and g.inputs["roleDefinitionId"].endswith(reader)
        for g in grants
    ), [(g.type, g.inputs.get("roleDefinitionId")) for g in grants]
    # The storage account decrypts with its own identity: no key grant to the reader.
    return {g.inputs["scope"] for g in grants}, set()


def _azure_store(run, store):
    component = next(r for r in run.resources if r.type == "aistack:azure:ObjectStore" and r.name == store)
    children = [r for r in run.resources if r.parent == component.urn]
    account = next(r for r in children if r.type == "azure-native:storage:StorageAccount")
    container = next(r for r in children if r.type == "azure-native:storage:BlobContainer")
    # The streamer names the container in the URI and the account in its environment.
    uri = f"az://{container.outputs['name']}"
    return container.outputs["id"], set(), uri, {"AZURE_STORAGE_ACCOUNT_NAME": account.outputs["name"]}


# Per cloud: how to follow a deployment's service account to the stores its identity may read.
READ_CHAINS = {
    "aws": (_aws_readable, _aws_store),
    "azure": (_azure_readable, _azure_store),
    "gcp": (_gcp_readable, _gcp_store),
}


@pytest.mark.parametrize("stack", STACKS)
def test_service_account_reads_exactly_the_model_store(stack):
    spec, run = stack_run(stack)
    for name, endpoint, deployment in endpoint_deployments(stack):
        cloud = spec.clusters[endpoint.cluster].cloud
        assert cloud in READ_CHAINS, f"no identity chain for {cloud}: add one to READ_CHAINS"
        readable, store = READ_CHAINS[cloud]
        assert pod_spec(deployment)["serviceAccountName"] == contract.reader_service_account(endpoint.store)
        assert deployment.inputs["metadata"]["namespace"] == contract.READER_NAMESPACE
        buckets, keys = readable(run, deployment)
        bucket, store_keys, root, store_env = store(run, endpoint.store)
        assert buckets == {bucket}, f"{name} may read {buckets}, not just its store {bucket}"
        assert keys == store_keys
        # Every pod streams the endpoint's path of exactly that store, with no copy step before it.
        for pod in pod_specs(deployment):
            assert pod["serviceAccountName"] == contract.reader_service_account(endpoint.store)
            assert "initContainers" not in pod, name
            (server,) = pod["containers"]
            assert server["args"][0] == f"{root}/{endpoint.storage_uri}", name
            assert "--load-format=runai_streamer" in server["args"], name
            env = {e["name"]: e.get("value") for e in server["env"]}
            assert store_env.items() <= env.items(), name
            assert env["HF_HUB_OFFLINE"] == "1" and not {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} & env.keys()


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_privileged_root_or_on_host_namespaces(stack):
    _, run = stack_run(stack)
    pods = workloads(run.resources)
    assert pods
    for workload, pod in [(w, p) for w in pods for p in pod_specs(w)]:
        name = workload.name
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), name
        for container in all_containers(pod):
            context = container["securityContext"]
            assert context.get("privileged") is not True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert "ALL" in context["capabilities"]["drop"] and not context["capabilities"].get("add"), name
        host_paths = {v["hostPath"]["path"] for v in pod.get("volumes", []) if "hostPath" in v}
        if workload.inputs["metadata"]["name"] == "nvidia-device-plugin":
            # The device plugin: root, to register its socket with the kubelet, and nothing else of the host.
            assert workload.inputs["metadata"]["namespace"] == "kube-system"
            assert host_paths == {"/var/lib/kubelet/device-plugins"}, name
            continue
        assert not host_paths, name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (
            isinstance(pod["securityContext"]["runAsUser"], int | float)
            and pod["securityContext"]["runAsUser"] > 0
        )
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in all_containers(pod):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["runAsNonRoot"] is True, name


@pytest.mark.parametrize("stack", STACKS)
def test_every_image_is_pinned(stack):
    _, run = stack_run(stack)
    for workload in workloads(run.resources):
        for pod in pod_specs(workload):
            for container in all_containers(pod):
                check_image(container["image"])


@pytest.mark.parametrize("stack", STACKS)
def test_slow_loads_are_allowed_for(stack):
    for name, endpoint, deployment in endpoint_deployments(stack):
        (server,) = pod_spec(deployment)["containers"]
        startup = server["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= endpoint.load_timeout_s, name
        assert deployment.inputs["metadata"]["annotations"]["pulumi.com/timeoutSeconds"] == str(
            2 * endpoint.load_timeout_s
        )
        if not endpoint.multi_node:
            assert deployment.inputs["spec"]["progressDeadlineSeconds"] == 2 * endpoint.load_timeout_s
        for pod in pod_specs(deployment):
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert volumes["shm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": f"{endpoint.shm_gib}Gi"}
            # No model copy: the weights stream from the store; only the opt-in cache holds them on disk.
            assert "models" not in volumes
            assert ("cache" in volumes) is (endpoint.node_cache_gib is not None)


@pytest.mark.parametrize("stack", STACKS)
def test_leader_worker_sets_validate_against_the_vendored_crd(stack):
    _, run = stack_run(stack)
    for workload in serving(run.resources, "LeaderWorkerSet"):
        inputs = workload.inputs
        obj = {k: inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")}
        assert crds.problems(obj) == [], workload.name


@pytest.mark.parametrize("stack", STACKS)
def test_multi_node_replicas_are_led_by_their_leader(stack):
    """One group of nodes_per_replica pods per replica; only the leader serves, the workers join it by rank."""
    spec, run = stack_run(stack)
    pools = {r.inputs["metadata"]["name"]: r for r in serving(run.resources, "InferencePool")}
    policies = {r.inputs["metadata"]["name"]: r for r in serving(run.resources, "NetworkPolicy")}
    for name, endpoint, workload in endpoint_deployments(stack):
        # The InferencePool picks among the pods that serve the port; the NetworkPolicy covers every server pod.
        selector = pools[name].inputs["spec"]["selector"]["matchLabels"]
        covered = policies[name].inputs["spec"]["podSelector"]["matchLabels"]
        assert covered == {"aistack.io/endpoint": name}
        if not endpoint.multi_node:
            assert selector == {"aistack.io/endpoint": name}
            continue
        # Leaders only: the workers listen on no port. Between the pods of a group any port is open
        # (torch.distributed store on the leader, NCCL on ports picked at run time).
        assert selector == {"aistack.io/endpoint": name, "leaderworkerset.sigs.k8s.io/worker-index": "0"}
        assert {"from": [{"podSelector": {"matchLabels": {"aistack.io/endpoint": name}}}]} in policies[
            name
        ].inputs["spec"]["ingress"]
        group = workload.inputs["spec"]["leaderWorkerTemplate"]
        assert group["restartPolicy"] == "RecreateGroupOnPodRestart"
        assert workload.inputs["spec"]["startupPolicy"] == "LeaderCreated"
        leader, worker = (
            t["spec"]["containers"][0] for t in (group["leaderTemplate"], group["workerTemplate"])
        )
        for template in (group["leaderTemplate"], group["workerTemplate"]):
            assert template["metadata"]["labels"]["aistack.io/endpoint"] == name
            # Node autoscalers leave every pod of a group alone: losing one restarts the group.
            assert (
                template["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"]
                == "false"
            )
            assert template["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
        assert "prometheus.io/scrape" not in group["workerTemplate"]["metadata"]["annotations"]
        assert (
            f"--nnodes={endpoint.nodes_per_replica}" in leader["args"] and "--node-rank=0" in leader["args"]
        )
        assert f"--pipeline-parallel-size={endpoint.nodes_per_replica}" in worker["args"]
        assert "--node-rank=$(LWS_WORKER_INDEX)" in worker["args"] and "--headless" in worker["args"]
        assert "--master-addr=$(LWS_LEADER_ADDRESS)" in worker["args"]
        assert "ports" not in worker and "startupProbe" not in worker
        assert leader["ports"] == [{"name": "http", "containerPort": endpoint.port, "protocol": "TCP"}]
        # The custom resource waits for its CRD: the cluster's LWS release comes first.
        release = next(
            r
            for r in run.resources
            if r.type == "kubernetes:helm.sh/v3:Release" and r.name == f"{endpoint.cluster}-lws"
        )
        assert release.urn in workload.dependencies
        assert release.inputs["chart"] == "oci://registry.k8s.io/lws/charts/lws"
