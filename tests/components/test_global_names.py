"""One name with failover: the public entry point, its certificate, the DNS-01 role and the Route 53 records."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml

from aistack import crds, preview
from aistack.preview import REPO
from components.aws.dns import NLB_ZONE_IDS, ROUTE53_HEALTH_CHECKERS, weights
from components.k8s import routing, tls

DNS = {
    "provider": "route53",
    "zone": "ai.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "acme_email": "ops@example.com",
    "allowed_cidrs": ["203.0.113.0/24"],
}
FQDN = "chat.ai.example.com"


@functools.cache
def public_dev(tmp: str = "/tmp") -> tuple[dict, object]:
    """The dev stack with its ``chat`` endpoint as ``public-lb`` at ``chat.ai.example.com`` (one EKS cluster)."""
    document = yaml.safe_load((REPO / "stacks/Pulumi.dev.yaml").read_text())
    config = document["config"]
    config["aistack:dns"] = DNS
    config["aistack:endpoints"]["chat"] |= {"expose": "public-lb", "hostname": "chat"}
    path = Path(tmp) / f"aistack-dns-test-{id(document)}" / "Pulumi.dnsdev.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return config, preview.execute(stack_path=path)


def one(run, type_, name):
    (found,) = [r for r in run.resources if r.type == type_ and r.name == name]
    return found


def custom(resource) -> dict:
    return {k: resource.inputs[k] for k in ("apiVersion", "kind", "metadata", "spec")}


def test_public_service_admits_clients_and_health_checkers_on_443_only():
    _, run = public_dev()
    service = one(run, "kubernetes:core/v1:Service", "chat-public")
    spec = service.inputs["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["ports"] == [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}]
    assert spec["loadBalancerSourceRanges"] == ["203.0.113.0/24", *ROUTE53_HEALTH_CHECKERS]
    assert "0.0.0.0/0" not in spec["loadBalancerSourceRanges"]
    # EKS: an internet-facing NLB (no internal annotation, the nlb type for the in-tree controller).
    assert service.inputs["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    }
    # The in-cluster Service stays ClusterIP on the plain port.
    assert one(run, "kubernetes:core/v1:Service", "chat-service").inputs["spec"]["type"] == "ClusterIP"


def test_proxy_terminates_tls_with_the_issued_certificate():
    _, run = public_dev()
    deployment = one(run, "kubernetes:apps/v1:Deployment", "chat-router-deployment")
    certificate = one(run, "kubernetes:cert-manager.io/v1:Certificate", "main-tls-chat-certificate")
    pod = deployment.inputs["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "chat-tls"}} in pod["volumes"]
    (envoy,) = [c for c in pod["containers"] if c["name"] == "envoy"]
    assert {"name": "tls", "mountPath": routing.TLS_DIR, "readOnly": True} in envoy["volumeMounts"]
    assert {"name": "https", "containerPort": routing.PUBLIC_PORT, "protocol": "TCP"} in envoy["ports"]
    # The pod is made once the certificate is issued (its Secret exists): a dependency on the Certificate.
    assert certificate.urn in deployment.dependencies
    config = one(run, "kubernetes:core/v1:ConfigMap", "chat-router-config")
    listeners = {
        x["name"]: x
        for x in yaml.safe_load(config.inputs["data"]["envoy.yaml"])["static_resources"]["listeners"]
    }
    public = listeners["public"]
    assert public["address"]["socket_address"]["port_value"] == routing.PUBLIC_PORT
    context = public["filter_chains"][0]["transport_socket"]["typed_config"]["common_tls_context"]
    assert context["tls_certificates"] == [
        {
            "certificate_chain": {"filename": f"{routing.TLS_DIR}/tls.crt"},
            "private_key": {"filename": f"{routing.TLS_DIR}/tls.key"},
            "watched_directory": {"path": routing.TLS_DIR},
        }
    ]
    assert context["tls_params"]["tls_minimum_protocol_version"] == "TLSv1_2"
    # Same chain as the plain listener (picker, then the chosen pod), only behind TLS.
    assert (
        public["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
        == (listeners["models"]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"])
    )
    assert "transport_socket" not in listeners["models"]["filter_chains"][0]


def test_envoy_has_no_tls_listener_without_a_certificate():
    listeners = yaml.safe_load(routing.envoy_config())["static_resources"]["listeners"]
    assert [x["name"] for x in listeners] == ["ready", "models"]


def test_cert_manager_issuer_and_certificate_are_valid_and_ordered():
    _, run = public_dev()
    release = one(run, "kubernetes:helm.sh/v3:Release", "main-tls-release")
    assert (release.inputs["chart"], release.inputs["version"]) == ("cert-manager", tls.CHART.version)
    assert release.inputs["values"]["crds"] == {"enabled": True, "keep": True}
    issuer = one(run, "kubernetes:cert-manager.io/v1:Issuer", "main-tls-issuer")
    certificate = one(run, "kubernetes:cert-manager.io/v1:Certificate", "main-tls-chat-certificate")
    for resource in (issuer, certificate):
        crds.validate(custom(resource))
    assert release.urn in issuer.dependencies
    assert issuer.urn in certificate.dependencies
    (solver,) = issuer.inputs["spec"]["acme"]["solvers"]
    route53 = solver["dns01"]["route53"]
    role = one(run, "aws:iam/role:Role", "main-dns01-role")
    assert route53 == {
        "region": "us-east-1",
        "hostedZoneID": DNS["hosted_zone_id"],
        "role": f"arn:aws:iam::111122223333:role/{role.inputs['name']}",
        "auth": {"kubernetes": {"serviceAccountRef": {"name": tls.SOLVER_ACCOUNT}}},
    }
    assert "accessKeyID" not in route53 and "secretAccessKeySecretRef" not in route53
    assert certificate.inputs["spec"]["dnsNames"] == [FQDN]
    assert certificate.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    # cert-manager's controller may mint tokens of the solver's account only.
    token_role = one(run, "kubernetes:rbac.authorization.k8s.io/v1:Role", "main-tls-token-role")
    assert token_role.inputs["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts/token"],
            "resourceNames": ["acme-dns01"],
            "verbs": ["create"],
        }
    ]


def test_dns01_role_trusts_only_the_solver_of_this_clusters_issuer():
    _, run = public_dev()
    provider = one(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "main-dns01-oidc")
    eks = next(r for r in run.resources if r.type == "aws:eks/cluster:Cluster")
    issuer_url = eks.outputs["identities"][0]["oidcs"][0]["issuer"]
    assert provider.inputs == {"url": issuer_url, "clientIdLists": ["sts.amazonaws.com"]}
    trust = json.loads(one(run, "aws:iam/role:Role", "main-dns01-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    host = issuer_url.removeprefix("https://")
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{host}:sub": "system:serviceaccount:aistack-serving:acme-dns01",
            f"{host}:aud": "sts.amazonaws.com",
        }
    }
    policy = json.loads(one(run, "aws:iam/rolePolicy:RolePolicy", "main-dns01-records").inputs["policy"])
    change = next(s for s in policy["Statement"] if s["Action"] == "route53:ChangeResourceRecordSets")
    assert change["Resource"] == f"arn:aws:route53:::hostedzone/{DNS['hosted_zone_id']}"
    assert change["Condition"]["ForAllValues:StringEquals"] == {
        "route53:ChangeResourceRecordSetsRecordTypes": ["TXT"],
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [f"_acme-challenge.{FQDN}"],
    }


def test_weighted_record_carries_the_entry_points_health_check():
    _, run = public_dev()
    check = one(run, "aws:route53/healthCheck:HealthCheck", "chat-global-name-main-health")
    assert {
        k: check.inputs[k] for k in ("type", "resourcePath", "port", "enableSni", "failureThreshold")
    } == {
        "type": "HTTPS",
        "resourcePath": "/health",
        "port": 443,
        "enableSni": True,
        "failureThreshold": 3,
    }
    record = one(run, "aws:route53/record:Record", "chat-global-name-main-record")
    assert record.inputs["healthCheckId"] == check.outputs["id"]
    assert record.inputs["name"] == FQDN and record.inputs["type"] == "A"
    assert record.inputs["weightedRoutingPolicies"] == [{"weight": 255}]
    (alias,) = record.inputs["aliases"]
    # EKS's entry point is an NLB's DNS name: an alias in the region's NLB zone, health decided by the check.
    assert alias["zoneId"] == NLB_ZONE_IDS["us-east-1"] and alias["evaluateTargetHealth"] is False
    assert run.outputs["global_names"] == {"chat": FQDN}
    assert run.outputs["aws"]["endpoints"]["chat"] == f"https://{FQDN}/v1"


def test_public_stack_passes_every_mandatory_rule():
    _, run = public_dev()
    violations = preview.report(run)["policy"]["violations"]
    assert [v for v in violations if v["level"] == "mandatory"] == []
    ours = {
        "dns-routed-record-health-check",
        "k8s-public-entry-tls-and-key",
        "deploy-dns01-role-trusts-solver",
    }
    assert not [v for v in violations if v["policy"] in ours]


@pytest.mark.parametrize(
    ("capacities", "expected"),
    [
        ({"east": 622.0, "central": 311.0, "south": 155.5}, {"east": 255, "central": 128, "south": 64}),
        ({"east": 1.0, "central": 1.0}, {"east": 255, "central": 255}),
        ({"east": 1000.0, "tiny": 1.0}, {"east": 255, "tiny": 1}),
        ({"east": 0.0}, {"east": 1}),
        ({}, {}),
    ],
)
def test_weights_follow_capacity_and_never_drop_a_cluster(capacities, expected):
    assert weights(capacities) == expected


def test_multicloud_chat_is_one_name_over_three_clouds():
    from aistack.plan import capacity_by_share, resolve
    from aistack.spec import read_stack_config, spec_from_config, stack_file
    from tests.components.k8s.k8s_world import stack_run

    spec, run = stack_run("multicloud")
    records = {r.name: r for r in run.resources if r.type == "aws:route53/record:Record"}
    checks = {r.name: r for r in run.resources if r.type == "aws:route53/healthCheck:HealthCheck"}
    clusters = [s.cluster for s in spec.shares() if s.name == "chat"]
    assert sorted(records) == sorted(f"chat-global-name-{c}-record" for c in clusters)
    for cluster in clusters:
        record = records[f"chat-global-name-{cluster}-record"]
        assert record.inputs["healthCheckId"] == checks[f"chat-global-name-{cluster}-health"].outputs["id"]
        assert record.inputs["setIdentifier"] == cluster and record.inputs["name"] == "chat.ai.example.com"
    # Weights follow the plan's capacity per share (the largest share 255), equal where a figure is unknown.
    path = stack_file(REPO, "multicloud")
    resolved, plan = resolve(spec_from_config(read_stack_config(path), str(path)), str(path), REPO)
    capacity = capacity_by_share(resolved, plan, str(path), REPO)
    tokens = {c: capacity[("chat", c)].tokens_per_s_at_max for c in clusters}
    expected = weights(tokens) if None not in tokens.values() else dict.fromkeys(clusters, 255)
    assert {
        c: records[f"chat-global-name-{c}-record"].inputs["weightedRoutingPolicies"][0]["weight"]
        for c in clusters
    } == expected
    assert len(set(expected.values())) > 1 or None in tokens.values()
    # GKE and AKS: their own token issuers, registered in IAM; EKS's too.
    urls = {
        r.name: r.inputs["url"]
        for r in run.resources
        if r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
    }
    assert urls["central-dns01-oidc"].startswith(
        "https://container.googleapis.com/v1/projects/aistack-multicloud/"
    )
    assert ".oic.prod-aks.azure.com/" in urls["south-dns01-oidc"]
    assert urls["east-dns01-oidc"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    # One name, one TXT record: the clusters' certificates are issued one after another.
    certificates = {r.name: r for r in run.resources if r.type == "kubernetes:cert-manager.io/v1:Certificate"}
    after = {
        name: [u for u in c.dependencies if u.endswith("-tls-chat-certificate")]
        for name, c in certificates.items()
    }
    assert sorted(len(v) for v in after.values()) == [0, 1, 1]
    assert run.outputs["global_names"] == {"chat": "chat.ai.example.com"}


def test_aks_subnet_nsg_admits_the_public_entry_on_443_only():
    from tests.components.k8s.k8s_world import stack_run

    spec, run = stack_run("multicloud")
    (nsg,) = [r for r in run.resources if r.name == "azure-nsg"]
    rules = {r["name"]: r for r in nsg.inputs["securityRules"]}
    allow, deny = rules["allow-public-entry"], rules["deny-internet-inbound"]
    assert allow["sourceAddressPrefixes"] == list(spec.dns.source_ranges())
    assert (allow["access"], allow["protocol"], allow["destinationPortRange"]) == ("Allow", "Tcp", "443")
    assert allow["priority"] < deny["priority"]
    # Without a public-lb endpoint on AKS the subnet admits nothing from the internet.
    _, internal = internal_multicloud_run()
    (plain,) = [r for r in internal.resources if r.name == "azure-nsg"]
    assert "allow-public-entry" not in {r["name"] for r in plain.inputs["securityRules"]}


def internal_multicloud_run():
    from tests.components.k8s.k8s_world import internal_multicloud

    return internal_multicloud()
