"""The add-ons that make the serving layer's scaling real: node autoscaling, KEDA and its metrics pipeline.

Each stack in ``stacks/`` is followed from what a user would notice back to what declares it:
a pending GPU pod to the node group the autoscaler would grow, the autoscaler to the IAM it may
use, a KEDA trigger's query to the scrape that collects its series.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys

import pytest
import yaml

from aistack.errors import InputError
from aistack.preview import REPO
from aistack.spec import load_stack_file, stack_file
from aistack.spec.endpoints import check_image, memory_bytes
from components import contract, gpu
from components.aws.autoscaler import (
    READ_ACTIONS,
    SCALE_ACTIONS,
    ClusterAutoscalerIdentity,
    autoscaler_policy,
    owner_tag,
)
from components.aws.gpupool import AUTOSCALER_GPU_LABEL, NODE_TEMPLATE_RESOURCE
from components.gcp.identity import MetricsReaderIdentity
from components.k8s import (
    CLOUDS,
    ClusterAutoscaler,
    Keda,
    MetricsPipeline,
    autoscaler,
    keda,
    metrics,
    routing,
)
from components.k8s import check as k8s_check
from components.k8s import serving as serving_module
from components.k8s.pod import SYSTEM_NODES
from components.k8s.routing import ROUTER_LABEL
from policies.aistack_rules import versions
from tests.components.k8s.k8s_world import (
    all_containers,
    cluster_of,
    of_kind,
    pod_identity_role,
    pod_spec,
    serve_stand_in,
    serving,
    stack_names,
    stack_run,
    tolerates,
    validate,
    workloads,
)
from tests.components.k8s.test_k8s_cloud_rows import BASIC

STACKS = stack_names()
EFFECT = {"NO_SCHEDULE": "NoSchedule"}

# What each cloud's documentation says about node autoscaling and its managed Prometheus.
NEEDS_CLUSTER_AUTOSCALER = {"aws": True, "azure": False, "gcp": False}
PIPELINE = {"aws": "in-cluster-prometheus", "azure": "in-cluster-prometheus", "gcp": "gke-managed-prometheus"}


def test_rows_say_who_scales_nodes_and_serves_pod_metrics():
    for cloud, row in CLOUDS.items():
        assert row.needs_cluster_autoscaler is NEEDS_CLUSTER_AUTOSCALER[cloud]
        assert row.pod_metrics.pipeline == PIPELINE[cloud]
        assert row.node_autoscaling and row.pod_metrics.reason
    assert CLOUDS["aws"].cluster_autoscaler.cloud_provider == "aws"


# --- The autoscaler's IAM policy --------------------------------------------------------------------


def _mutating(action: str) -> bool:
    return not action.split(":", 1)[1].startswith(("Describe", "Get"))


def _assert_scoped(policy: dict, cluster_arn: str, cluster_name: str) -> None:
    """No mutating action on ``*``; changes only on groups tagged as this cluster's; reads of its node groups."""
    _, partition, _, region, account, _ = cluster_arn.split(":", 5)
    actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        resources = (
            [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        )
        actions |= set(statement["Action"])
        if any(_mutating(a) for a in statement["Action"]):
            assert "*" not in resources, statement
            assert set(statement["Action"]) <= set(SCALE_ACTIONS), statement
            assert resources == [
                f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"
            ]
            assert statement["Condition"] == {
                "StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}
            }
        elif "eks:DescribeNodegroup" in statement["Action"]:
            assert statement["Action"] == ["eks:DescribeNodegroup"]
            assert resources == [f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster_name}/*"]
        else:
            assert set(statement["Action"]) <= set(READ_ACTIONS), statement
    assert actions == {*READ_ACTIONS, *SCALE_ACTIONS, "eks:DescribeNodegroup"}


def test_autoscaler_policy_is_scoped_to_its_cluster_in_any_partition():
    arn = "arn:aws-cn:eks:cn-north-1:444455556666:cluster/prod-main"
    policy = autoscaler_policy(arn, "prod-main")
    _assert_scoped(policy, arn, "prod-main")
    # The check has teeth: the project README's unscoped policy fails it.
    loose = autoscaler_policy(arn, "prod-main")
    loose["Statement"][2]["Resource"] = "*"
    with pytest.raises(AssertionError):
        _assert_scoped(loose, arn, "prod-main")
    # Another cluster's tag does not pass for this one.
    with pytest.raises(AssertionError):
        _assert_scoped(autoscaler_policy(arn, "prod-other"), arn, "prod-main")


def _eks_clusters(run):
    """(cluster component, raw EKS cluster) for every EKS cluster of a run."""
    found = []
    for component in run.resources:
        if component.type == "aistack:aws:Cluster":
            (eks,) = [
                r for r in run.resources if r.parent == component.urn and r.type == "aws:eks/cluster:Cluster"
            ]
            found.append((component, eks))
    return found


def _on_cluster(run, component, wanted):
    """Kubernetes objects of a kind on one cluster (through its provider)."""
    return [r for r in of_kind(run.resources, wanted) if cluster_of(run, r).urn == component.urn]


def _autoscaler(run, component):
    (deployment,) = [
        d
        for d in _on_cluster(run, component, "Deployment")
        if d.inputs["metadata"]["name"] == "cluster-autoscaler"
    ]
    return deployment


AWS_STACKS = [
    s
    for s in STACKS
    if any(c.cloud == "aws" for c in load_stack_file(stack_file(REPO, s))[1].clusters.values())
]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_autoscaler_assumes_a_role_scoped_to_its_clusters_groups(stack):
    """Deployment → service account → pod identity association → role trust and policy."""
    _, run = stack_run(stack)
    for component, eks in _eks_clusters(run):
        deployment = _autoscaler(run, component)
        namespace = deployment.inputs["metadata"]["namespace"]
        account = pod_spec(deployment)["serviceAccountName"]
        assert (namespace, account) == contract.ADDON_SERVICE_ACCOUNTS["cluster-autoscaler"]
        _, (policy,), managed = pod_identity_role(run, eks, namespace, account)
        assert not managed, "no managed policies on the autoscaler's role"
        _assert_scoped(json.loads(policy.inputs["policy"]), eks.outputs["arn"], eks.outputs["name"])


def _discovered_tag_keys(command: list[str]) -> set[str]:
    """The tag keys the autoscaler's ASG auto-discovery requires (its own parsing: asg:tag=k1,k2=v)."""
    (spec,) = [a.split("=", 1)[1] for a in command if a.startswith("--node-group-auto-discovery=")]
    discoverer, params = spec.split(":", 1)
    assert discoverer == "asg"
    key, tags = params.split("=", 1)
    assert key == "tag"
    return {t.split("=", 1)[0] for t in tags.split(",")}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_autoscaler_discovers_exactly_its_clusters_groups(stack):
    spec, run = stack_run(stack)
    for component, eks in _eks_clusters(run):
        (container,) = pod_spec(_autoscaler(run, component))["containers"]
        command = container["command"]
        name = eks.outputs["name"]
        # EKS tags a managed node group's Auto Scaling group with both keys; only this cluster's have the second.
        assert _discovered_tag_keys(command) == {"k8s.io/cluster-autoscaler/enabled", owner_tag(name)}
        assert not [a for a in command if a.startswith("--nodes")], "static groups would fight auto-discovery"
        assert {
            "--cloud-provider=aws",
            "--expander=least-waste",
            "--balance-similar-node-groups=true",
            # Serving pods keep their model cache in emptyDir: the default would pin every GPU node.
            "--skip-nodes-with-local-storage=false",
            "--skip-nodes-with-system-pods=false",
        } <= set(command)
        # The release built for the cluster's Kubernetes minor (it simulates that scheduler).
        version = spec.clusters[component.name].kubernetes_version
        assert container["image"].startswith(f"registry.k8s.io/autoscaling/cluster-autoscaler:v{version}.")
        assert {e["name"]: e["value"] for e in container["env"]}["AWS_REGION"] == spec.clouds.aws.region


def test_no_autoscaler_where_the_cloud_scales_pools_itself():
    spec, run = stack_run("multicloud")
    autoscalers = [
        d
        for d in of_kind(run.resources, "Deployment")
        if d.inputs["metadata"]["name"] == "cluster-autoscaler"
    ]
    clouds = {spec.clusters[cluster_of(run, d).name].cloud for d in autoscalers}
    assert clouds == {"aws"} and len(autoscalers) == 1


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_gpu_node_groups_let_the_autoscaler_scale_them_up_from_zero(stack):
    """For every endpoint's pending pod, each node group of its pool, modelled as the autoscaler does for an
    empty group (instance type, DescribeNodegroup labels and taints, node-template resource tags), fits it."""
    spec, run = stack_run(stack)
    for component, eks in _eks_clusters(run):
        policy = next(
            json.loads(r.inputs["policy"])
            for r in run.resources
            if r.type == "aws:iam/rolePolicy:RolePolicy"
            and r.name == f"{component.name}-autoscaler-identity-scale"
        )
        readable = [s["Resource"] for s in policy["Statement"] if "eks:DescribeNodegroup" in s["Action"]]
        for deployment in _on_cluster(run, component, "Deployment"):
            if deployment.inputs["metadata"]["namespace"] != contract.READER_NAMESPACE:
                continue
            if ROUTER_LABEL in deployment.inputs["metadata"]["labels"]:
                continue  # the endpoint's picker: system pool
            share = next(
                s
                for s in spec.shares()
                if (s.name, s.cluster) == (deployment.inputs["metadata"]["name"], component.name)
            )
            endpoint = share.endpoint
            if spec.clusters[share.cluster].gpu_pools[share.pool].provisioning == "auto":
                continue  # no node group: Karpenter's NodePools (tests/components/k8s/test_provisioning.py)
            pod = pod_spec(deployment)
            storage = sum(
                memory_bytes(c["resources"]["requests"].get("ephemeral-storage", "0"))
                for c in all_containers(pod)
            )
            pool = next(r for r in run.resources if r.name == f"{endpoint.cluster}-{endpoint.pool}")
            groups = [
                r for r in run.resources if r.parent == pool.urn and r.type == "aws:eks/nodeGroup:NodeGroup"
            ]
            assert groups
            for group in groups:
                labels, taints, tags = group.inputs["labels"], group.inputs["taints"], group.inputs["tags"]
                assert pod["nodeSelector"].items() <= labels.items()
                assert labels[AUTOSCALER_GPU_LABEL] == labels[gpu.ACCELERATOR_LABEL]
                for taint in taints:
                    assert tolerates(
                        pod["tolerations"], taint["key"], taint["value"], EFFECT[taint["effect"]]
                    )
                assert memory_bytes(tags[f"{NODE_TEMPLATE_RESOURCE}ephemeral-storage"]) >= storage
                # The labels and taints come from DescribeNodegroup on this group (real ARN shape).
                arn = f"arn:aws:eks:us-east-1:111122223333:nodegroup/{eks.outputs['name']}/{group.outputs['nodeGroupName']}/uuid"
                assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in readable)


# --- The pods metrics pipeline ----------------------------------------------------------------------


def _kept(regex: str, names: tuple[str, ...]) -> set[str]:
    """Metric names a Prometheus keep rule (anchored) lets through."""
    return {m for m in names if re.fullmatch(regex, m)}


QUERY = re.compile(
    r'^sum\(([a-zA-Z_:][a-zA-Z0-9_:]*)\{namespace="([^"]+)",endpoint="([^"]+)"(,cluster="[^"]+")?\}\)$'
)


def _asked(run, component) -> list[tuple[str, str, dict]]:
    """(metric, endpoint, trigger) of every Prometheus trigger of the cluster's ScaledObjects."""
    found = []
    for so in _on_cluster(run, component, "ScaledObject"):
        for trigger in so.inputs["spec"]["triggers"]:
            if trigger["type"] != "prometheus":
                continue
            match = QUERY.match(trigger["metadata"]["query"])
            assert match, trigger["metadata"]["query"]
            assert match[2] == contract.READER_NAMESPACE
            # Each ScaledObject asks for its own endpoint's series.
            assert match[3] == so.inputs["metadata"]["name"]
            found.append((match[1], match[3], trigger))
    return found


def _pods_labelled(run, component, label: str) -> list[dict]:
    """Pod templates on the cluster's serving namespace carrying ``label``."""
    return [
        d.inputs["spec"]["template"]
        for d in serving(run.resources, "Deployment")
        if cluster_of(run, d).urn == component.urn
        and label in d.inputs["spec"]["template"]["metadata"]["labels"]
    ]


def _collected_in_cluster(run, component) -> dict[str, set[str]]:
    """Follow Prometheus' jobs: pod label that becomes ``endpoint`` → metric names kept."""
    config_maps = {c.inputs["metadata"]["name"]: c for c in _on_cluster(run, component, "ConfigMap")}
    prometheus = yaml.safe_load(config_maps["prometheus"].inputs["data"]["prometheus.yml"])
    collected: dict[str, set[str]] = {}
    for job in prometheus["scrape_configs"]:
        if job["job_name"] == "dcgm-exporter":
            # GPU metrics, not a trigger's (tests/components/k8s/test_k8s_observability.py).
            continue
        assert job["kubernetes_sd_configs"] == [
            {"role": "pod", "namespaces": {"names": [contract.READER_NAMESPACE]}}
        ]
        (label_keep,) = [r for r in job["relabel_configs"] if r.get("regex") == ".+"]
        (to_endpoint,) = [r for r in job["relabel_configs"] if r.get("target_label") == "endpoint"]
        assert to_endpoint["source_labels"] == label_keep["source_labels"]
        label = {
            "__meta_kubernetes_pod_label_aistack_io_endpoint": serving_module.ENDPOINT_LABEL,
            "__meta_kubernetes_pod_label_aistack_io_router": serving_module.EPP_LABEL,
        }[label_keep["source_labels"][0]]
        (metric_keep,) = job["metric_relabel_configs"]
        collected[label] = _kept(metric_keep["regex"], (*metrics.POD_METRICS, *metrics.EPP_METRICS))
        if label == serving_module.ENDPOINT_LABEL:
            (port_keep,) = [
                r
                for r in job["relabel_configs"]
                if r["source_labels"] == ["__meta_kubernetes_pod_container_port_name"]
            ]
            for template in _pods_labelled(run, component, label):
                ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
                assert port_keep["regex"] in ports
        else:
            (port_keep,) = [
                r
                for r in job["relabel_configs"]
                if r["source_labels"] == ["__meta_kubernetes_pod_container_port_number"]
            ]
            assert port_keep["regex"] == str(routing.METRICS_PORT)
    return collected


def _collected_gke(run, component) -> dict[str, set[str]]:
    """Follow the PodMonitorings: pod label that becomes ``endpoint`` → metric names kept."""
    collected: dict[str, set[str]] = {}
    for monitoring in _on_cluster(run, component, "PodMonitoring"):
        spec = monitoring.inputs["spec"]
        assert monitoring.inputs["metadata"]["namespace"] == contract.READER_NAMESPACE
        ((expression,),) = [spec["selector"]["matchExpressions"]]
        assert expression["operator"] == "Exists"
        assert spec["targetLabels"]["fromPod"] == [{"from": expression["key"], "to": "endpoint"}]
        (endpoint,) = spec["endpoints"]
        (keep,) = endpoint["metricRelabeling"]
        assert (keep["action"], keep["sourceLabels"]) == ("keep", ["__name__"])
        collected[expression["key"]] = _kept(keep["regex"], (*metrics.POD_METRICS, *metrics.EPP_METRICS))
        if expression["key"] == serving_module.EPP_LABEL:
            assert endpoint["port"] == routing.METRICS_PORT
        else:
            for template in _pods_labelled(run, component, expression["key"]):
                ports = {p["name"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
                assert endpoint["port"] in ports
    return collected


COLLECTED = {"in-cluster-prometheus": _collected_in_cluster, "gke-managed-prometheus": _collected_gke}
SOURCE = {metric: serving_module.ENDPOINT_LABEL for metric in metrics.POD_METRICS} | {
    serving_module.EPP_QUEUE_METRIC: serving_module.EPP_LABEL
}
"""Which pods export each series: the model servers, or the endpoint's picker."""


@pytest.mark.parametrize("stack", STACKS)
def test_pipeline_collects_every_series_the_triggers_query(stack):
    spec, run = stack_run(stack)
    clusters = {r.name: r for r in run.resources if r.type.endswith(":Cluster") and not r.custom}
    for name, cspec in spec.clusters.items():
        component = clusters[name]
        asked = _asked(run, component)
        if not asked:
            continue
        pipeline = CLOUDS[cspec.cloud].pod_metrics.pipeline
        collected = COLLECTED[pipeline](run, component)
        for metric, _endpoint, _trigger in asked:
            assert metric in collected[SOURCE[metric]], (name, metric)
        urls = {t["metadata"]["serverAddress"] for _, _, t in asked}
        if pipeline == "in-cluster-prometheus":
            (service,) = [
                s
                for s in _on_cluster(run, component, "Service")
                if s.inputs["metadata"]["name"] == "prometheus"
            ]
            port = int(service.inputs["spec"]["ports"][0]["port"])
            assert urls == {f"http://prometheus.{metrics.NAMESPACE}.svc:{port}"}
            assert all("authenticationRef" not in t for _, _, t in asked)
        else:
            assert urls == {
                f"https://monitoring.googleapis.com/v1/projects/{spec.clouds.gcp.project}/location/global/prometheus"
            }
            (auth,) = _on_cluster(run, component, "TriggerAuthentication")
            assert auth.inputs["spec"] == {"podIdentity": {"provider": "gcp"}}
            assert all(
                t["authenticationRef"] == {"name": auth.inputs["metadata"]["name"]} for _, _, t in asked
            )


def test_keda_reads_cloud_monitoring_as_exactly_its_operator_service_account():
    spec, run = stack_run("multicloud")
    gcp = spec.clouds.gcp
    namespace, account = contract.ADDON_SERVICE_ACCOUNTS["keda-operator"]
    principal = (
        f"principal://iam.googleapis.com/projects/{gcp.project_number}/locations/global/workloadIdentityPools/"
        f"{gcp.project}.svc.id.goog/subject/ns/{namespace}/sa/{account}"
    )
    grants = [r for r in run.resources if r.inputs.get("member") == principal]
    assert [(g.type, g.inputs["role"], g.inputs["project"]) for g in grants] == [
        ("gcp:projects/iAMMember:IAMMember", "roles/monitoring.viewer", gcp.project)
    ]
    # The chart names the operator's service account keda-operator in the release's namespace.
    (release,) = [
        r
        for r in run.resources
        if r.type == "kubernetes:helm.sh/v3:Release"
        and r.inputs["namespace"] == namespace
        and spec.clusters[cluster_of(run, r).name].cloud == "gcp"
    ]
    assert (release.inputs["chart"], release.inputs["name"]) == (
        "keda",
        "keda",
    ) and account == "keda-operator"
    # The grant exists before KEDA first queries.
    (grant,) = grants
    assert grant.urn in release.dependencies


def test_keda_values_restricted_on_the_system_pool_and_reachable_on_443():
    values = keda.values()
    assert values["nodeSelector"] == SYSTEM_NODES
    for component in ("operator", "metricServer", "webhooks"):
        pod = values["podSecurityContext"][component]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] == keda.UID
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        # A drain may move each single copy: a budget, never a blocking one.
        assert values["podDisruptionBudget"][component] == {"maxUnavailable": 1}
    # The control plane reaches the metrics API server and the webhook on 443 (GKE private clusters
    # admit only 443 and 10250), bound as non-root through the namespaced sysctl.
    assert values["service"]["portHttpsTarget"] == values["webhooks"]["port"] == 443
    for component in ("metricServer", "webhooks"):
        assert values["podSecurityContext"][component]["sysctls"] == [
            {"name": "net.ipv4.ip_unprivileged_port_start", "value": "443"}
        ]
    assert keda.CHART.version in keda.CHART.source


# --- Every add-on pod ----------------------------------------------------------------------------------


def _addon_workloads(run):
    return [
        w
        for w in workloads(run.resources)
        if w.inputs["metadata"]["namespace"] != contract.READER_NAMESPACE
        and w.inputs["metadata"]["name"] != "nvidia-device-plugin"
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_addons_run_non_root_read_only_pinned_on_the_system_pool(stack):
    spec, run = stack_run(stack)
    addons = _addon_workloads(run)
    # Every add-on aistack declares itself; on GKE there is none (KEDA is a chart: its values are
    # checked in test_keda_values_restricted_on_the_system_pool_and_reachable_on_443).
    assert bool(addons) is any(c.cloud != "gcp" for c in spec.clusters.values())
    for workload in addons:
        pod = pod_spec(workload)
        name = workload.name
        assert pod["nodeSelector"] == SYSTEM_NODES, name
        assert not pod.get("tolerations"), f"{name} tolerates a taint (GPU nodes are for GPU pods)"
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0, (
            name
        )
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), name
        assert not [v for v in pod.get("volumes", []) if "hostPath" in v], name
        for container in all_containers(pod):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["runAsNonRoot"] is True, name
            check_image(container["image"])
            assert (
                "memory" in container["resources"]["limits"] and "cpu" in container["resources"]["requests"]
            )


def test_add_on_images_are_pinned():
    for image in (
        *autoscaler.IMAGES.values(),
        metrics.PROMETHEUS_IMAGE,
        *keda.IMAGES,
    ):
        check_image(image)
    assert autoscaler.image("1.33").endswith(":v1.33.5")
    with pytest.raises(ValueError, match="no Cluster Autoscaler release is pinned for Kubernetes 1.29"):
        autoscaler.image("1.29")


# --- Wiring -------------------------------------------------------------------------------------------


def test_a_family_that_declares_no_addon_identity_is_named(declare):
    def body():
        serve_stand_in("aws", {"chat": BASIC}, prepare=lambda stack: stack.addon_identities.clear())

    with pytest.raises(
        InputError, match="the family declared no cluster-autoscaler AddonIdentity for cluster 'main'"
    ):
        declare(body)


def test_cpu_scaled_endpoints_need_no_pipeline(declare):
    cpu = BASIC.model_copy(update={"scale_metric": "cpu"})

    def body():
        serve_stand_in("gcp", {"chat": cpu}, project="aistack-test")

    declared = declare(body)
    assert not declared.of_type("aistack:k8s:MetricsPipeline")
    (scaled,) = of_kind(declared.resources, "ScaledObject")
    assert [t["type"] for t in scaled.inputs["spec"]["triggers"]] == ["cpu"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aistack", "preview", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_previews_and_its_manifests_validate(stack, tmp_path):
    spec, _ = stack_run(stack)
    done = run_cli("--stack", stack, "--format", "json", "--manifests", str(tmp_path))
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.rglob("*.yaml"))
    assert files
    for path in files:
        cluster = path.parent.name.removesuffix("-k8s")
        validate(yaml.safe_load(path.read_text()), spec.clusters[cluster].kubernetes_version)


def test_a_kubernetes_version_without_a_pinned_autoscaler_is_refused(monkeypatch):
    # The spec already refuses minors past standard support, so drop the pin of a supported one.
    _config, spec = load_stack_file(REPO / "stacks" / "Pulumi.dev.yaml")
    monkeypatch.delitem(autoscaler.IMAGES, spec.clusters["main"].kubernetes_version)
    with pytest.raises(InputError) as caught:
        k8s_check(spec, "Pulumi.dev.yaml")
    assert str(caught.value) == (
        "Pulumi.dev.yaml: aistack:clusters.main.kubernetes_version: the Cluster Autoscaler that aws clusters "
        f"need has no release pinned for 1.35; use one of {', '.join(autoscaler.IMAGES)}"
    )


def test_every_eks_minor_in_standard_support_has_an_autoscaler_release():
    on = versions.today()
    assert set(versions.in_standard_support("aws", on)) <= set(autoscaler.IMAGES)


# --- Exact children -----------------------------------------------------------------------------------

CHILDREN = {
    "aistack:aws:AddonIdentity": {
        ("aws:iam/role:Role", "role"),
        ("aws:iam/rolePolicy:RolePolicy", "scale"),
        ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "association"),
    },
    "aistack:k8s:ClusterAutoscaler": {
        ("ServiceAccount", "service-account"),
        ("ClusterRole", "cluster-role"),
        ("ClusterRoleBinding", "cluster-role-binding"),
        ("Role", "role"),
        ("RoleBinding", "role-binding"),
        ("Deployment", "deployment"),
    },
}
KARPENTER_IDENTITY_CHILDREN = {
    ("aws:iam/role:Role", "role"),
    ("aws:iam/rolePolicy:RolePolicy", "controller"),
    ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "association"),
    ("aws:iam/role:Role", "node-role"),
    *(
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"node-{policy}")
        for policy in (
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryPullOnly",
            "AmazonEKS_CNI_Policy",
        )
    ),
    ("aws:iam/instanceProfile:InstanceProfile", "node-profile"),
    ("aws:eks/accessEntry:AccessEntry", "node-access"),
    ("aws:sqs/queue:Queue", "queue"),
    ("aws:sqs/queuePolicy:QueuePolicy", "queue-policy"),
    *(
        ("aws:cloudwatch/eventRule:EventRule", e)
        for e in ("health", "spot", "rebalance", "state", "reservation")
    ),
    *(
        ("aws:cloudwatch/eventTarget:EventTarget", f"{e}-target")
        for e in ("health", "spot", "rebalance", "state", "reservation")
    ),
}
PIPELINE_CHILDREN = {
    "in-cluster-prometheus": {
        ("Namespace", "namespace"),
        ("ServiceAccount", "prometheus-account"),
        ("Role", "prometheus-role"),
        ("RoleBinding", "prometheus-role-binding"),
        ("ConfigMap", "prometheus-config"),
        ("Deployment", "prometheus"),
        ("Service", "prometheus-service"),
        # Pod discovery in the DCGM exporter's namespace (EKS, AKS).
        ("Role", "prometheus-gpu-role"),
        ("RoleBinding", "prometheus-gpu-role-binding"),
    },
    "gke-managed-prometheus": {("PodMonitoring", "pod-monitoring"), ("PodMonitoring", "epp-monitoring")},
}
KEDA_CHILDREN = {("Namespace", "namespace"), ("Release", "release")}


def _children(run, component) -> set[tuple[str, str]]:
    return {
        (
            r.type.rsplit(":", 1)[-1] if r.type.startswith("kubernetes:") else r.type,
            r.name.removeprefix(component.name + "-"),
        )
        for r in run.resources
        if r.parent == component.urn
    }


@pytest.mark.parametrize("stack", STACKS)
def test_addon_components_have_exactly_their_children(stack):
    spec, run = stack_run(stack)
    seen = set()
    for component in run.resources:
        expected = CHILDREN.get(component.type)
        if component.type == "aistack:aws:AddonIdentity" and component.name.endswith("-karpenter-identity"):
            expected = KARPENTER_IDENTITY_CHILDREN
        if component.type == "aistack:k8s:MetricsPipeline":
            expected = PIPELINE_CHILDREN[
                CLOUDS[spec.clusters[component.name.removesuffix("-pod-metrics")].cloud].pod_metrics.pipeline
            ]
        if component.type == "aistack:k8s:Keda":
            reads_cloud = CLOUDS[
                spec.clusters[component.name.removesuffix("-keda")].cloud
            ].pod_metrics.reads_cloud
            expected = KEDA_CHILDREN | ({("TriggerAuthentication", "trigger-auth")} if reads_cloud else set())
        if expected is None:
            continue
        seen.add(component.type)
        assert _children(run, component) == expected, component.name
    clouds = {c.cloud for c in spec.clusters.values()}
    assert ("aistack:k8s:ClusterAutoscaler" in seen) is ("aws" in clouds)
    assert {"aistack:k8s:MetricsPipeline", "aistack:k8s:Keda"} <= seen


@pytest.mark.parametrize(
    ("cls", "token"),
    [
        (ClusterAutoscalerIdentity, "aistack:aws:AddonIdentity"),
        (MetricsReaderIdentity, "aistack:gcp:AddonIdentity"),
        (ClusterAutoscaler, "aistack:k8s:ClusterAutoscaler"),
        (MetricsPipeline, "aistack:k8s:MetricsPipeline"),
        (Keda, "aistack:k8s:Keda"),
    ],
)
def test_addon_components_follow_the_contract(cls, token):
    assert cls.type_token() == token
    if token.endswith(":AddonIdentity"):
        assert issubclass(cls, contract.AddonIdentity)
        assert set(contract.AddonIdentity.OUTPUTS) <= set(cls.OUTPUTS)
    assert cls.__doc__ and "Children" in cls.__doc__ and "Outputs:" in cls.__doc__
