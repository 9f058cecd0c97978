"""Inference-aware routing on the graph: pools, pickers, proxies, routes and NetworkPolicies, per cloud.

Every check reads the recorded objects of a whole-stack preview (one stack per cloud, plus
multicloud, whose GKE endpoint goes through the GKE inference Gateway) and follows the wiring the
way Kubernetes would: selectors against pod labels, ports by name and number, RBAC against what the
picker watches, and creation order against the objects a custom resource needs.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from aistack import crds
from components import contract
from components.k8s import CLOUDS, metrics, routing
from components.k8s.pod import SYSTEM_NODES
from components.k8s.serving import ENDPOINT_LABEL
from tests.components.k8s.k8s_world import (
    cluster_of,
    internal_multicloud,
    of_kind,
    pod_spec,
    routers,
    serving,
    stack_run,
)

STACKS = ["dev", "azure-dev", "gcp-dev", "multicloud"]
CLOUD_OF_STACK = {
    "dev": {"aws"},
    "azure-dev": {"azure"},
    "gcp-dev": {"gcp"},
    "multicloud": {"aws", "azure", "gcp"},
}


def named(resources, kind, name, run=None, cluster=None):
    """The one object of a kind and name (on ``cluster`` of ``run``: an endpoint served from several
    clusters has its objects, same names, on each)."""
    (found,) = [
        r
        for r in of_kind(resources, kind)
        if r.inputs["metadata"]["name"] == name and (cluster is None or cluster_of(run, r).name == cluster)
    ]
    return found


def selects(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


@pytest.mark.parametrize("stack", STACKS)
def test_every_endpoint_has_a_pool_selecting_its_model_servers_on_their_port(stack):
    spec, run = stack_run(stack)
    assert {spec.clusters[s.cluster].cloud for s in spec.shares()} == CLOUD_OF_STACK[stack]
    pickers = routers(run.resources, "Deployment")
    for name, on in ((s.name, s.cluster) for s in spec.shares()):
        pool = named(run.resources, "InferencePool", name, run, on)
        assert pool.type == "kubernetes:inference.networking.k8s.io/v1:InferencePool"
        servers = named(serving(run.resources, "Deployment"), "Deployment", name, run, on)
        labels = servers.inputs["spec"]["template"]["metadata"]["labels"]
        selector = pool.inputs["spec"]["selector"]["matchLabels"]
        assert selector == {ENDPOINT_LABEL: name} and selects(selector, labels)
        # Only the model servers: no picker pod is a member of any pool.
        assert not any(selects(selector, p.inputs["spec"]["template"]["metadata"]["labels"]) for p in pickers)
        (server,) = [c for c in pod_spec(servers)["containers"] if c["name"] == "server"]
        assert pool.inputs["spec"]["targetPorts"] == [{"number": server["ports"][0]["containerPort"]}]
        assert server["ports"][0]["containerPort"] == spec.endpoints[name].port


@pytest.mark.parametrize("stack", STACKS)
def test_the_pool_names_its_picker_service_whose_pods_serve_ext_proc(stack):
    spec, run = stack_run(stack)
    for name, on in ((s.name, s.cluster) for s in spec.shares()):
        pool = named(run.resources, "InferencePool", name, run, on)
        ref = pool.inputs["spec"]["endpointPickerRef"]
        assert ref["failureMode"] == "FailOpen"
        service = named(routers(run.resources, "Service"), "Service", ref["name"], run, on)
        assert service.inputs["metadata"]["namespace"] == pool.inputs["metadata"]["namespace"]
        (port,) = [p for p in service.inputs["spec"]["ports"] if p["port"] == ref["port"]["number"]]
        picker = named(routers(run.resources, "Deployment"), "Deployment", ref["name"], run, on)
        assert selects(
            service.inputs["spec"]["selector"], picker.inputs["spec"]["template"]["metadata"]["labels"]
        )
        epp = next(c for c in pod_spec(picker)["containers"] if c["name"] == "epp")
        assert port["targetPort"] in {p["containerPort"] for p in epp["ports"]}
        # The picker watches this pool: its name and namespace, in the InferencePool API group.
        args = epp["args"]
        assert args[args.index("--pool-name") + 1] == pool.inputs["metadata"]["name"]
        assert args[args.index("--pool-namespace") + 1] == contract.READER_NAMESPACE
        assert args[args.index("--pool-group") + 1] == "inference.networking.k8s.io"
        assert epp["image"] == routing.EPP_IMAGE


@pytest.mark.parametrize("stack", STACKS)
def test_the_endpoint_service_reaches_the_proxy_which_asks_the_picker(stack):
    spec, run = stack_run(stack)
    for name, on, endpoint in ((s.name, s.cluster, s.endpoint) for s in spec.shares()):
        entry = named(serving(run.resources, "Service"), "Service", name, run, on)
        picker = named(routers(run.resources, "Deployment"), "Deployment", routing.router_name(name), run, on)
        pod = pod_spec(picker)
        assert selects(
            entry.inputs["spec"]["selector"], picker.inputs["spec"]["template"]["metadata"]["labels"]
        )
        (port,) = entry.inputs["spec"]["ports"]
        assert port["port"] == endpoint.port
        envoy = next(c for c in pod["containers"] if c["name"] == "envoy")
        (proxy_port,) = [p for p in envoy["ports"] if p["name"] == port["targetPort"]]
        config = named(routers(run.resources, "ConfigMap"), "ConfigMap", routing.router_name(name), run, on)
        proxy = yaml.safe_load(config.inputs["data"]["envoy.yaml"])["static_resources"]
        listeners = {
            lst["name"]: lst["address"]["socket_address"]["port_value"] for lst in proxy["listeners"]
        }
        assert listeners["models"] == proxy_port["containerPort"]
        clusters = {c["name"]: c for c in proxy["clusters"]}
        ext_proc = clusters["ext_proc"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        epp = next(c for c in pod["containers"] if c["name"] == "epp")
        grpc = next(p["containerPort"] for p in epp["ports"] if p["name"] == "grpc")
        assert ext_proc["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": grpc}
        original = clusters["original_destination_cluster"]
        assert original["original_dst_lb_config"]["http_header_name"] == "x-gateway-destination-endpoint"
        # The proxy's readiness probe asks the listener that answers /ready.
        assert envoy["readinessProbe"]["httpGet"]["port"] == listeners["ready"]
        # The picker's config file is mounted where its --config-file says.
        args = epp["args"]
        mount = next(m for m in epp["volumeMounts"] if m["name"] == "config")
        assert args[args.index("--config-file") + 1] == f"{mount['mountPath']}/{routing.CONFIG_FILE}"
        picker_config = yaml.safe_load(config.inputs["data"][routing.CONFIG_FILE])
        assert picker_config["kind"] == "EndpointPickerConfig"
        (profile,) = picker_config["schedulingProfiles"]
        assert {p["pluginRef"]: p["weight"] for p in profile["plugins"]} == {
            "queue-scorer": 2,
            "kv-cache-utilization-scorer": 2,
            "prefix-cache-scorer": 3,
        }
        assert {p["pluginRef"] for p in profile["plugins"]} <= {p["type"] for p in picker_config["plugins"]}


@pytest.mark.parametrize("stack", STACKS)
def test_picker_rbac_reads_only_what_it_watches_in_its_namespace(stack):
    spec, run = stack_run(stack)
    assert not any(
        r.inputs["metadata"]["name"].endswith("-epp") for r in of_kind(run.resources, "ClusterRole")
    ), "the picker needs no cluster-wide role"
    for name, on in ((s.name, s.cluster) for s in spec.shares()):
        epp = routing.router_name(name)
        role = named(routers(run.resources, "Role"), "Role", epp, run, on)
        rules = {
            (g, res): sorted(rule["verbs"])
            for rule in role.inputs["rules"]
            for g in rule["apiGroups"]
            for res in rule["resources"]
        }
        assert rules == {
            ("", "pods"): ["get", "list", "watch"],
            ("inference.networking.k8s.io", "inferencepools"): ["get", "list", "watch"],
            ("inference.networking.x-k8s.io", "inferenceobjectives"): ["get", "list", "watch"],
            ("llm-d.ai", "inferenceobjectives"): ["get", "list", "watch"],
        }
        binding = named(routers(run.resources, "RoleBinding"), "RoleBinding", epp, run, on)
        assert binding.inputs["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": epp,
        }
        picker = named(routers(run.resources, "Deployment"), "Deployment", epp, run, on)
        (subject,) = binding.inputs["subjects"]
        assert subject == {
            "kind": "ServiceAccount",
            "name": pod_spec(picker)["serviceAccountName"],
            "namespace": contract.READER_NAMESPACE,
        }
        assert {role.inputs["metadata"]["namespace"], binding.inputs["metadata"]["namespace"]} == {
            contract.READER_NAMESPACE
        }
        # The picker starts once it may read, and once the pool it watches exists.
        pool = named(run.resources, "InferencePool", name, run, on)
        assert {binding.urn, pool.urn} <= set(picker.dependencies)


@pytest.mark.parametrize("stack", STACKS)
def test_picker_pods_meet_the_restricted_standard_on_the_system_pool(stack):
    spec, run = stack_run(stack)
    for name, on in ((s.name, s.cluster) for s in spec.shares()):
        pod = pod_spec(
            named(routers(run.resources, "Deployment"), "Deployment", routing.router_name(name), run, on)
        )
        assert pod["nodeSelector"] == SYSTEM_NODES
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert [c["image"] for c in pod["containers"]] == [routing.EPP_IMAGE, routing.ENVOY_IMAGE]
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
            assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("stack", STACKS)
def test_network_policy_admits_only_the_picker_the_gateway_and_the_scrapers(stack):
    spec, run = stack_run(stack)
    for name, on, endpoint in ((s.name, s.cluster, s.endpoint) for s in spec.shares()):
        cloud = spec.clusters[on].cloud
        row = CLOUDS[cloud]
        policy = named(of_kind(run.resources, "NetworkPolicy"), "NetworkPolicy", name, run, on).inputs["spec"]
        servers = named(serving(run.resources, "Deployment"), "Deployment", name, run, on)
        assert selects(
            policy["podSelector"]["matchLabels"], servers.inputs["spec"]["template"]["metadata"]["labels"]
        )
        assert policy["policyTypes"] == ["Ingress"]
        (rule,) = policy["ingress"]
        assert rule["ports"] == [{"port": endpoint.port, "protocol": "TCP"}]
        picker = named(routers(run.resources, "Deployment"), "Deployment", routing.router_name(name), run, on)
        pods = [p["podSelector"]["matchLabels"] for p in rule["from"] if "podSelector" in p]
        assert pods and all(selects(s, picker.inputs["spec"]["template"]["metadata"]["labels"]) for s in pods)
        # No other picker (another endpoint's) is admitted.
        for other in spec.served_by(on):
            if other != name:
                other_picker = named(
                    routers(run.resources, "Deployment"), "Deployment", routing.router_name(other), run, on
                )
                assert not any(
                    selects(s, other_picker.inputs["spec"]["template"]["metadata"]["labels"]) for s in pods
                )
        namespaces = {
            p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in rule["from"]
            if "namespaceSelector" in p
        }
        assert namespaces == set(row.routing.scrape_namespaces)
        if row.pod_metrics.pipeline == "prometheus-adapter":
            assert namespaces == {metrics.NAMESPACE}
        blocks = {p["ipBlock"]["cidr"] for p in rule["from"] if "ipBlock" in p}
        if row.routing.gateway_class and endpoint.expose == "internal-lb":
            assert blocks == {spec.clouds.gcp.proxy_only_cidr, *row.routing.gateway_source_ranges}
        else:
            assert blocks == set()


def test_gke_internal_lb_goes_through_the_inference_gateway():
    spec, run = internal_multicloud()
    assert spec.endpoints["chat"].expose == "internal-lb"
    (gateway,) = of_kind(run.resources, "Gateway")
    assert cluster_of(run, gateway).name == "central"
    assert gateway.inputs["spec"]["gatewayClassName"] == CLOUDS["gcp"].routing.gateway_class == "gke-l7-rilb"
    (route,) = of_kind(run.resources, "HTTPRoute")
    assert route.inputs["spec"]["parentRefs"] == [{"name": gateway.inputs["metadata"]["name"]}]
    assert route.inputs["metadata"]["namespace"] == gateway.inputs["metadata"]["namespace"]
    (backend,) = route.inputs["spec"]["rules"][0]["backendRefs"]
    pool = named(run.resources, "InferencePool", "chat", run, "central")
    assert backend == {"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "chat"}
    assert {gateway.urn, pool.urn} <= set(route.dependencies)
    for kind in ("HealthCheckPolicy", "GCPBackendPolicy"):
        (policy,) = of_kind(run.resources, kind)
        assert policy.inputs["spec"]["targetRef"] == backend
        assert pool.urn in policy.dependencies
    health = of_kind(run.resources, "HealthCheckPolicy")[0].inputs["spec"]["default"]["config"][
        "httpHealthCheck"
    ]
    assert health == {"requestPath": "/health", "port": spec.endpoints["chat"].port}
    # The Service stays in-cluster (the Gateway is the load balancer); on EKS and AKS the L4 one remains.
    assert (
        named(serving(run.resources, "Service"), "Service", "chat", run, "central").inputs["spec"]["type"]
        == "ClusterIP"
    )
    # What GKE needs for it: the proxy-only subnetwork, a firewall rule from it, and the Gateway API.
    (proxy_only,) = [
        r
        for r in run.resources
        if r.type == "gcp:compute/subnetwork:Subnetwork" and r.name == "gcp-proxy-only"
    ]
    assert proxy_only.inputs["purpose"] == "REGIONAL_MANAGED_PROXY" and proxy_only.inputs["role"] == "ACTIVE"
    assert proxy_only.inputs["ipCidrRange"] == spec.clouds.gcp.proxy_only_cidr
    (rule,) = [
        r
        for r in run.resources
        if r.type == "gcp:compute/firewall:Firewall" and r.name == "gcp-allow-proxy-only"
    ]
    assert rule.inputs["sourceRanges"] == [spec.clouds.gcp.proxy_only_cidr]
    assert str(spec.endpoints["chat"].port) in rule.inputs["allows"][0]["ports"]


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_come_after_their_api_and_validate(stack):
    spec, run = stack_run(stack)
    crd_urns = {r.urn for r in of_kind(run.resources, "CustomResourceDefinition")}
    for pool in of_kind(run.resources, "InferencePool"):
        cloud = spec.clusters[cluster_of(run, pool).name].cloud
        if CLOUDS[cloud].routing.install_crds:
            (crd,) = [
                r
                for r in of_kind(run.resources, "CustomResourceDefinition")
                if cluster_of(run, r).name == cluster_of(run, pool).name
            ]
            assert crd.inputs["metadata"]["name"] == "inferencepools.inference.networking.k8s.io"
            assert crd.urn in pool.dependencies
        else:
            # GKE installs the InferencePool API itself: aistack declares no copy of it.
            assert not crd_urns & set(pool.dependencies)
    for kind in ("InferencePool", "Gateway", "HTTPRoute"):
        for resource in of_kind(run.resources, kind):
            crds.validate(
                {"apiVersion": resource.type.split(":")[1].rsplit(":", 1)[0], "kind": kind, **resource.inputs}
            )


def test_a_broken_pool_fails_its_vendored_schema():
    _, run = stack_run("dev")
    (pool,) = of_kind(run.resources, "InferencePool")
    good = {"apiVersion": routing.POOL_API, "kind": "InferencePool", **copy.deepcopy(pool.inputs)}
    crds.validate(good)
    bad = copy.deepcopy(good)
    bad["spec"]["targetPorts"] = [{"number": 70000}]
    with pytest.raises(crds.CRDValidationError):
        crds.validate(bad)
    bad = copy.deepcopy(good)
    bad["spec"]["endpointPickerRef"]["failureMode"] = "Sometimes"
    with pytest.raises(crds.CRDValidationError):
        crds.validate(bad)


def test_the_vendored_crd_is_what_the_clusters_get():
    _, run = stack_run("dev")
    (crd,) = of_kind(run.resources, "CustomResourceDefinition")
    upstream = yaml.safe_load(routing.CRD_FILE.read_text())
    assert crd.inputs["spec"]["names"] == upstream["spec"]["names"]
    assert [v["name"] for v in crd.inputs["spec"]["versions"]] == [
        v["name"] for v in upstream["spec"]["versions"]
    ]


def test_the_clusters_enforce_network_policy():
    _, run = stack_run("multicloud")
    (cni,) = [
        r for r in run.resources if r.type == "aws:eks/addon:Addon" and r.inputs["addonName"] == "vpc-cni"
    ]
    assert yaml.safe_load(cni.inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    (gke,) = [r for r in run.resources if r.type == "gcp:container/cluster:Cluster"]
    assert gke.inputs["datapathProvider"] == "ADVANCED_DATAPATH"
    assert gke.inputs["gatewayApiConfig"] == {"channel": "CHANNEL_STANDARD"}
    (aks,) = [r for r in run.resources if r.type == "azure-native:containerservice:ManagedCluster"]
    assert aks.inputs["networkProfile"]["networkPolicy"] == "cilium"
