"""Custom resources against the vendored CRD schemas: upstream examples pass, broken objects fail by path.

The valid objects are the upstream projects' own examples at the vendored tags, copied verbatim into
``tests/crds/examples/`` (each file's header cites repository, tag, commit and path). Karpenter
publishes no NodeClaim example (Karpenter creates NodeClaims itself), so that one is written here from
the NodeClaim schema and the NodePool example's template.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from aistack import crds

EXAMPLES = Path(__file__).parent / "examples"
CUSTOM = [
    (f"{path.name}#{i}", doc)
    for path in sorted(EXAMPLES.glob("*.yaml"))
    for i, doc in enumerate(yaml.safe_load_all(path.read_text()))
    if doc and not crds.is_builtin(doc["apiVersion"])
]

NODECLAIM = {
    "apiVersion": "karpenter.sh/v1",
    "kind": "NodeClaim",
    "metadata": {"name": "gpu-h100-abcde", "labels": {"karpenter.sh/nodepool": "gpu"}},
    "spec": {
        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
        "requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["p5.48xlarge"]},
            {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
        ],
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
        "expireAfter": "720h",
    },
}


def example(kind: str) -> dict:
    """A fresh copy of the first upstream example of ``kind``."""
    if kind == "NodeClaim":
        return copy.deepcopy(NODECLAIM)
    return copy.deepcopy(next(doc for _, doc in CUSTOM if doc["kind"] == kind))


@pytest.mark.parametrize("doc", [d for _, d in CUSTOM], ids=[i for i, _ in CUSTOM])
def test_upstream_example_validates(doc):
    assert crds.problems(doc) == []


def test_nodeclaim_written_from_the_schema_validates():
    assert crds.problems(NODECLAIM) == []


def test_the_examples_cover_every_vendored_kind():
    covered = {(d["apiVersion"].split("/")[0], d["kind"]) for _, d in CUSTOM} | {
        ("karpenter.sh", "NodeClaim")
    }
    vendored = {(v.split("/")[0], k) for v, k in crds.served()}
    assert covered == vendored


def _spec(path: str):
    """An edit function that applies ``fn`` to the node at dotted ``path`` (ints index lists)."""

    def at(doc):
        node = doc
        for part in path.split("."):
            node = node[int(part)] if part.isdigit() else node[part]
        return node

    return at


def rename(path, old, new):
    return lambda d: _spec(path)(d).__setitem__(new, _spec(path)(d).pop(old))


def put(path, key, value):
    return lambda d: _spec(path)(d).__setitem__(key, value)


def drop(path, key):
    return lambda d: _spec(path)(d).pop(key)


BROKEN = [
    # kind, edit, a problem line that must be reported (starts with the JSON path)
    ("ComputeClass", rename("spec.priorities.0", "spot", "spott"), "spec.priorities[0].spott: unknown field"),
    (
        "ComputeClass",
        put("spec.priorities.0.gpu", "count", "1"),
        "spec.priorities[0].gpu.count: '1' is not of type 'integer'",
    ),
    ("ComputeClass", drop("spec", "priorities"), "spec.priorities: required field missing"),
    (
        "InferencePool",
        put("spec.endpointPickerRef", "portt", {"number": 9002}),
        "spec.endpointPickerRef.portt: unknown field",
    ),
    (
        "InferencePool",
        put("spec.targetPorts.0", "number", "3000"),
        "spec.targetPorts[0].number: '3000' is not of type 'integer'",
    ),
    ("InferencePool", drop("spec", "selector"), "spec.selector: required field missing"),
    ("InferenceObjective", rename("spec", "poolRef", "poolref"), "spec.poolref: unknown field"),
    ("InferenceObjective", rename("spec", "poolRef", "poolref"), "spec.poolRef: required field missing"),
    ("InferenceObjective", put("spec", "priority", "high"), "spec.priority: 'high' is not of type 'integer'"),
    ("GatewayClass", put("spec", "controllerNmae", "acme.io/x"), "spec.controllerNmae: unknown field"),
    ("GatewayClass", put("spec", "controllerName", 7), "spec.controllerName: 7 is not of type 'string'"),
    ("GatewayClass", drop("spec", "controllerName"), "spec.controllerName: required field missing"),
    ("Gateway", put("spec.listeners.0", "protocoll", "HTTP"), "spec.listeners[0].protocoll: unknown field"),
    (
        "Gateway",
        put("spec.listeners.0", "port", "80"),
        "spec.listeners[0].port: '80' is not of type 'integer'",
    ),
    ("Gateway", drop("spec", "gatewayClassName"), "spec.gatewayClassName: required field missing"),
    (
        "HTTPRoute",
        rename("spec.rules.0", "backendRefs", "backendRef"),
        "spec.rules[0].backendRef: unknown field",
    ),
    (
        "HTTPRoute",
        put("spec.rules.0.backendRefs.0", "port", "8080"),
        "spec.rules[0].backendRefs[0].port: '8080' is not of type 'integer'",
    ),
    ("HTTPRoute", drop("spec.parentRefs.0", "name"), "spec.parentRefs[0].name: required field missing"),
    (
        "HTTPRoute",
        put("spec.rules.0.matches.0.path", "type", "Prefix"),
        "spec.rules[0].matches[0].path.type: 'Prefix' is not one of",
    ),
    ("ScaledObject", put("spec", "minReplicas", 1), "spec.minReplicas: unknown field"),
    (
        "ScaledObject",
        put("spec", "pollingInterval", "30s"),
        "spec.pollingInterval: '30s' is not of type 'integer'",
    ),
    ("ScaledObject", drop("spec", "triggers"), "spec.triggers: required field missing"),
    (
        "TriggerAuthentication",
        rename("spec.secretTargetRef.0", "parameter", "paramter"),
        "spec.secretTargetRef[0].paramter: unknown field",
    ),
    (
        "TriggerAuthentication",
        put("spec", "secretTargetRef", {}),
        "spec.secretTargetRef: {} is not of type 'array'",
    ),
    (
        "TriggerAuthentication",
        drop("spec.secretTargetRef.0", "key"),
        "spec.secretTargetRef[0].key: required field missing",
    ),
    (
        "LeaderWorkerSet",
        put("spec.leaderWorkerTemplate", "sizee", 2),
        "spec.leaderWorkerTemplate.sizee: unknown field",
    ),
    (
        "LeaderWorkerSet",
        put("spec.leaderWorkerTemplate", "size", "2"),
        "spec.leaderWorkerTemplate.size: '2' is not of type 'integer'",
    ),
    (
        "LeaderWorkerSet",
        drop("spec.leaderWorkerTemplate.workerTemplate.spec.containers.0", "name"),
        "spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].name: required field missing",
    ),
    (
        "NodePool",
        rename("spec.template.spec", "requirements", "requirement"),
        "spec.template.spec.requirement: unknown field",
    ),
    (
        "NodePool",
        put("spec", "limits", {"cpu": [1000]}),
        "spec.limits.cpu: [1000] is not of type 'integer', 'string'",
    ),
    (
        "NodePool",
        drop("spec.template.spec.nodeClassRef", "kind"),
        "spec.template.spec.nodeClassRef.kind: required field missing",
    ),
    ("NodeClaim", put("spec", "nodeClassRefs", {}), "spec.nodeClassRefs: unknown field"),
    (
        "NodeClaim",
        put("spec.requirements.0", "values", "p5.48xlarge"),
        "spec.requirements[0].values: 'p5.48xlarge' is not of type 'array'",
    ),
    ("NodeClaim", drop("spec", "requirements"), "spec.requirements: required field missing"),
    (
        "EC2NodeClass",
        rename("spec", "amiSelectorTerms", "amiSelectorTerm"),
        "spec.amiSelectorTerm: unknown field",
    ),
    ("EC2NodeClass", put("spec", "role", 5), "spec.role: 5 is not of type 'string'"),
    ("EC2NodeClass", drop("spec", "subnetSelectorTerms"), "spec.subnetSelectorTerms: required field missing"),
    ("AKSNodeClass", rename("spec", "imageFamily", "imagefamily"), "spec.imagefamily: unknown field"),
    ("AKSNodeClass", put("spec", "osDiskSizeGB", "128"), "spec.osDiskSizeGB: '128' is not of type 'integer'"),
    ("AKSNodeClass", put("spec", "imageFamily", "Windows"), "spec.imageFamily: 'Windows' is not one of"),
    (
        "AKSNodeClass",
        put("spec", "localDNS", {"mode": "Preferred", "kubeDNSOverrides": []}),
        "spec.localDNS.vnetDNSOverrides: required field missing",
    ),
    ("ExternalSecret", put("spec", "refreshIntervall", "1h"), "spec.refreshIntervall: unknown field"),
    (
        "ExternalSecret",
        put("spec.data.0.remoteRef", "key", 1),
        "spec.data[0].remoteRef.key: 1 is not of type 'string'",
    ),
    ("ExternalSecret", drop("spec.data.0", "secretKey"), "spec.data[0].secretKey: required field missing"),
    ("Certificate", put("spec", "dnsName", ["a.example.com"]), "spec.dnsName: unknown field"),
    (
        "Certificate",
        put("spec", "dnsNames", "a.example.com"),
        "spec.dnsNames: 'a.example.com' is not of type 'array'",
    ),
    ("Certificate", drop("spec", "secretName"), "spec.secretName: required field missing"),
    ("Issuer", put("spec.acme", "emial", "ops@example.com"), "spec.acme.emial: unknown field"),
    ("Issuer", put("spec.acme", "server", 443), "spec.acme.server: 443 is not of type 'string'"),
    (
        "Issuer",
        drop("spec.acme", "privateKeySecretRef"),
        "spec.acme.privateKeySecretRef: required field missing",
    ),
    (
        "SecretStore",
        put("spec.provider.aws", "regoin", "eu-west-1"),
        "spec.provider.aws.regoin: unknown field",
    ),
    (
        "SecretStore",
        put("spec.provider.aws", "region", 1),
        "spec.provider.aws.region: 1 is not of type 'string'",
    ),
    ("SecretStore", drop("spec", "provider"), "spec.provider: required field missing"),
    (
        "ServiceMonitor",
        put("spec.endpoints.0", "intervall", "30s"),
        "spec.endpoints[0].intervall: unknown field",
    ),
    ("ServiceMonitor", put("spec", "endpoints", {}), "spec.endpoints: {} is not of type 'array'"),
    ("ServiceMonitor", drop("spec", "selector"), "spec.selector: required field missing"),
    (
        "PodMonitor",
        rename("spec", "podMetricsEndpoints", "podMetricEndpoints"),
        "spec.podMetricEndpoints: unknown field",
    ),
    (
        "PodMonitor",
        put("spec.podMetricsEndpoints.0", "port", 8080),
        "spec.podMetricsEndpoints[0].port: 8080 is not of type 'string'",
    ),
    ("PodMonitor", drop("spec", "selector"), "spec.selector: required field missing"),
    (
        "PrometheusRule",
        rename("spec.groups.0.rules.0", "alert", "alerts"),
        "spec.groups[0].rules[0].alerts: unknown field",
    ),
    (
        "PrometheusRule",
        put("spec.groups.0.rules.0", "expr", ["vector(1)"]),
        "spec.groups[0].rules[0].expr: ['vector(1)'] is not of type 'integer', 'string'",
    ),
    ("PrometheusRule", drop("spec.groups.0", "name"), "spec.groups[0].name: required field missing"),
    (
        "PodMonitoring",
        put("spec.endpoints.0", "intervall", "30s"),
        "spec.endpoints[0].intervall: unknown field",
    ),
    (
        "PodMonitoring",
        put("spec.endpoints.0", "port", ["8000"]),
        "spec.endpoints[0].port: ['8000'] is not of type 'integer', 'string'",
    ),
    ("PodMonitoring", drop("spec", "endpoints"), "spec.endpoints: required field missing"),
]


@pytest.mark.parametrize(
    ("kind", "edit", "expected"), BROKEN, ids=[f"{k}-{e.split(':')[0]}" for k, _, e in BROKEN]
)
def test_broken_object_fails_naming_the_path(kind, edit, expected):
    doc = example(kind)
    assert crds.problems(doc) == []  # the edit below is what breaks it
    edit(doc)
    found = crds.problems(doc)
    assert any(line.startswith(expected) for line in found), found


def test_every_kind_has_a_misspelt_a_mistyped_and_a_missing_field_case():
    kinds = {k for _, k in crds.served()}
    for needle in ("unknown field", "is not", "required field missing"):
        assert {k for k, _, e in BROKEN if needle in e} == kinds, needle


def test_validate_raises_naming_the_object_and_each_path():
    doc = example("ScaledObject")
    doc["metadata"]["namespace"] = "serving"
    doc["spec"]["minReplicas"] = 1
    doc["spec"]["maxReplicaCount"] = "ten"
    with pytest.raises(crds.CRDValidationError) as caught:
        crds.validate(doc)
    assert caught.value.obj == "keda.sh/v1alpha1 ScaledObject serving/example-scaledobject"
    assert caught.value.problems == [
        "spec.maxReplicaCount: 'ten' is not of type 'integer'",
        "spec.minReplicas: unknown field (known: advanced, cooldownPeriod, fallback, idleReplicaCount, "
        "initialCooldownPeriod, maxReplicaCount, minReplicaCount, pollingInterval, scaleTargetRef, triggers)",
    ]
    assert str(caught.value).startswith(
        "keda.sh/v1alpha1 ScaledObject serving/example-scaledobject: spec.max"
    )


def test_valid_object_passes_validate():
    assert crds.validate(example("HTTPRoute")) is None


def test_unknown_kind_is_an_error_not_a_pass():
    obj = {
        "apiVersion": "cloud.google.com/v1beta1",
        "kind": "ComputeClass",
        "metadata": {"name": "gpu"},
        "spec": {},
    }
    with pytest.raises(
        crds.UnknownKindError, match=r"cloud.google.com/v1beta1 ComputeClass gpu: no vendored CRD schema"
    ):
        crds.validate(obj)


def test_a_version_no_longer_served_names_the_served_one():
    doc = example("ExternalSecret")
    doc["apiVersion"] = "external-secrets.io/v1beta1"
    with pytest.raises(crds.UnknownKindError, match=r"\(served: external-secrets.io/v1\)"):
        crds.problems(doc)


def test_a_deprecated_served_version_is_a_problem():
    doc = example("AKSNodeClass")
    doc["apiVersion"] = "karpenter.azure.com/v1alpha2"
    assert crds.problems(doc) == [
        "apiVersion: karpenter.azure.com/v1alpha2 is deprecated (use v1beta1.AKSNodeClass instead)"
    ]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (put("metadata", "name", "Default"), "metadata.name: 'Default' is not a DNS-1123 subdomain"),
        (drop("metadata", "name"), "metadata.name: required (or metadata.generateName)"),
        (
            put("metadata", "namespace", "karpenter"),
            "metadata.namespace: 'karpenter' set on a cluster-scoped kind",
        ),
        (
            put("metadata", "labels", {"team": "ml ops"}),
            "metadata.labels['team']: value 'ml ops' is not a valid label value",
        ),
        (put("metadata", "labels", {"-bad": "x"}), "metadata.labels['-bad']: key name must be"),
        (put("metadata", "annotations", {"a/b/c": "x"}), "metadata.annotations['a/b/c']: key prefix must be"),
        (put("metadata", "annotations", {"note": 3}), "metadata.annotations['note']: value must be a string"),
        (put("metadata", "lables", {}), "metadata.lables: unknown field (ObjectMeta)"),
    ],
)
def test_metadata_follows_object_meta_rules(edit, expected):
    doc = example("NodePool")  # cluster-scoped
    edit(doc)
    assert any(line.startswith(expected) for line in crds.problems(doc)), crds.problems(doc)


def test_namespace_must_be_a_dns_label_on_namespaced_kinds():
    doc = example("PodMonitor")
    doc["metadata"]["namespace"] = "ml.serving"
    assert crds.problems(doc) == ["metadata.namespace: 'ml.serving' is not a DNS-1123 label"]


def test_kubernetes_extensions_are_honoured():
    pool = example("NodePool")
    pool["spec"]["limits"] = {"cpu": 1000, "memory": "1000Gi"}  # x-kubernetes-int-or-string
    assert crds.problems(pool) == []
    scaled = example("ScaledObject")
    scaled["spec"]["pollingInterval"] = 30.0  # whole doubles from the preview's wire format are integers
    assert crds.problems(scaled) == []
    scaled["spec"]["pollingInterval"] = 30.5
    assert crds.problems(scaled) == ["spec.pollingInterval: 30.5 is not of type 'integer'"]
    rule = example("PrometheusRule")
    rule["spec"]["groups"][0]["partial_response_strategy"] = "WARN"  # RE2 "^(?i)(abort|warn)?$"
    assert crds.problems(rule) == []
    rule["spec"]["groups"][0]["partial_response_strategy"] = "explode"
    assert crds.problems(rule)[0].startswith(
        "spec.groups[0].partial_response_strategy: 'explode' does not match"
    )
    route = example("HTTPRoute")
    route["spec"]["rules"][0]["backendRefs"][0]["port"] = 2**31  # format: int32
    assert "spec.rules[0].backendRefs[0].port: 2147483648 is not a 'int32'" in crds.problems(route)
    # A LeaderWorkerSet pod template keeps its own metadata (controller-gen's embedded ObjectMeta).
    lws = example("LeaderWorkerSet")
    lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["labelz"] = {}
    assert crds.problems(lws) == [
        "spec.leaderWorkerTemplate.leaderTemplate.metadata.labelz: unknown field "
        "(known: annotations, finalizers, labels, name, namespace)"
    ]


def test_list_maps_and_sets_hold_unique_entries():
    gateway = example("Gateway")
    gateway["spec"]["listeners"].append({"name": "http", "protocol": "HTTP", "port": 8080})
    assert crds.problems(gateway) == ["spec.listeners[1]: duplicate entry (name='http'), also at [0]"]
    lws = example("LeaderWorkerSet")
    containers = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"]
    containers.append(copy.deepcopy(containers[0]))
    assert crds.problems(lws) == [
        "spec.leaderWorkerTemplate.workerTemplate.spec.containers[1]: duplicate entry (name='vllm-worker'), also at [0]"
    ]
    pool = example("NodePool")
    pool["spec"]["disruption"] = {
        "consolidateAfter": "1m",
        "budgets": [{"nodes": "10%", "reasons": ["Empty", "Empty"]}],
    }
    assert crds.problems(pool) == [
        "spec.disruption.budgets[0].reasons: ['Empty', 'Empty'] has non-unique elements"
    ]


def test_defaults_fill_absent_fields_before_required_is_checked():
    pool = example("NodePool")
    # budgets[].nodes is required and defaults to 10%: omitting it is fine, as on the API server.
    pool["spec"]["disruption"] = {"consolidateAfter": "1m", "budgets": [{"reasons": ["Empty"]}]}
    assert crds.problems(pool) == []
    # consolidateAfter is required without a default of its own (only absent disruption is defaulted).
    pool["spec"]["disruption"] = {"budgets": [{"nodes": "5"}]}
    assert crds.problems(pool) == ["spec.disruption.consolidateAfter: required field missing"]
    del pool["spec"]["disruption"]
    assert crds.problems(pool) == []


def test_cel_rules_are_counted_not_evaluated():
    # EC2NodeClass's CEL rule "must specify exactly one of ['role', 'instanceProfile']" is left to the
    # API server: both set still passes here, and the skipped rules are counted.
    doc = example("EC2NodeClass")
    doc["spec"]["instanceProfile"] = "KarpenterNodeInstanceProfile"
    assert crds.problems(doc) == []
    assert crds.served()[("karpenter.k8s.aws/v1", "EC2NodeClass")].cel_rules > 0


@pytest.mark.parametrize(
    ("api_version", "builtin"),
    [
        ("v1", True),
        ("apps/v1", True),
        ("networking.k8s.io/v1", True),
        ("gateway.networking.k8s.io/v1", False),
        ("inference.networking.k8s.io/v1", False),
        ("keda.sh/v1alpha1", False),
    ],
)
def test_is_builtin(api_version, builtin):
    assert crds.is_builtin(api_version) is builtin
