"""The serving deploy rules beyond their compliant/violating/unknown cases: each way a first deploy breaks."""

from __future__ import annotations

import json

from policies.aistack_rules import RULES_BY_ID
from policies.aistack_rules.core import Indeterminate
from tests.policies.cases import res
from tests.policies.cases_deploy_serving import FIGURES, HELD, hpa, lws, pdb, server, service, streaming
from tests.policies.test_rules import direct

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"


def messages(rule_id: str, resources: list) -> list[str]:
    violations, undecided = direct(RULES_BY_ID[rule_id], resources, {})
    assert undecided == []
    return violations


def ingress(annotations: dict[str, str]) -> dict:
    backend = {"service": {"name": "llm", "port": {"name": "http"}}}
    rule = {
        "host": "chat.example.com",
        "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]},
    }
    return res(
        INGRESS,
        "llm",
        {"metadata": {"namespace": "serving", "annotations": annotations}, "spec": {"rules": [rule]}},
    )


def test_vllm_without_the_context_or_the_utilisation_is_refused():
    found = messages("deploy-model-fits-gpus", [server(args=["/models/llama"])])
    assert len(found) == 2
    assert "without --max-model-len: it takes the model's whole context" in found[0]
    assert "without --gpu-memory-utilization" in found[1]


def test_figures_that_do_not_describe_the_pod_are_refused():
    # The annotation claims a 4,096-token context on 2 GPUs; the pod runs 16,384 on 1.
    found = messages("deploy-model-fits-gpus", [server(figures=FIGURES | {"maxModelLen": 4096, "gpus": 2})])
    assert found == [
        "spec.template.spec.containers.0: aistack.io/gpu-memory maxModelLen is 4096 but the pod runs with 16384",
        "spec.template.spec.containers.0: aistack.io/gpu-memory gpus is 2 but the pod runs with 1",
    ]
    more = messages("deploy-model-fits-gpus", [server(figures=FIGURES | {"gpuMemGib": 80})])
    assert more[0].endswith("counts 80 GiB per GPU, more than a L4-24GB has")


def test_an_unknown_architecture_cannot_be_checked_offline():
    deployment = server()
    del deployment["inputs"]["metadata"]["annotations"]["aistack.io/gpu-memory"]
    violations, undecided = direct(RULES_BY_ID["deploy-model-fits-gpus"], [deployment], {})
    assert violations == []
    assert [type(u) for u in undecided] == [Indeterminate]
    assert "sizing/memory.py" in undecided[0].reason


def test_weights_from_a_store_need_a_declared_way_in():
    assert messages("deploy-weights-way-in", [server(weights=None)]) == [
        "serves weights from a store but says nothing of how they get there: annotate "
        "aistack.io/weights=uploaded once the store holds them, or aistack.io/weights=pending with "
        "spec.replicas 0 until then"
    ]
    # A hub id is downloaded by vLLM itself: no store, nothing to declare.
    hub = server(weights=None, args=["meta-llama/Llama-3.1-8B-Instruct", "--max-model-len=8192"])
    assert messages("deploy-weights-way-in", [hub]) == []


def test_a_running_server_must_be_awaited():
    skipped = server()
    skipped["inputs"]["metadata"]["annotations"]["pulumi.com/skipAwait"] = "true"
    (found,) = messages("deploy-rollout-await", [skipped])
    assert "a crash loop passes unnoticed" in found
    (short,) = messages("deploy-rollout-await", [server(deadline=600)])
    assert short.startswith("spec.progressDeadlineSeconds (600) is below spec.template.spec.containers.0's")
    # Held at 0 there is nothing to await.
    assert messages("deploy-rollout-await", [server(weights="pending", replicas=0, timeout=None)]) == []


def test_a_service_in_front_of_a_running_server_waits_out_its_rollout():
    running = server()
    (found,) = messages("deploy-service-await", [running, service({})])
    assert "waits 600 s for ready endpoints of llm, whose rollout may take 1800 s" in found
    assert messages("deploy-service-await", [running, service({"pulumi.com/timeoutSeconds": "1800"})]) == []
    # A Service selecting other pods is not joined.
    assert messages("deploy-service-await", [running, service({}, selector={"app": "other"})]) == []


def test_an_ingress_in_front_of_a_held_server_skips_the_await():
    front = service({"pulumi.com/skipAwait": "true"})
    (found,) = messages("deploy-service-await", [HELD, front, ingress({})])
    assert found.startswith("Ingress llm waits for endpoints of llm, which is held at 0 replicas")
    assert messages("deploy-service-await", [HELD, front, ingress({"pulumi.com/skipAwait": "true"})]) == []
    # Serving, the Ingress comes after its Service and keeps the default await (a missing controller shows).
    serving = [server(), service({"pulumi.com/timeoutSeconds": "1800"}), ingress({})]
    assert messages("deploy-service-await", serving) == []


def test_budgets_that_allow_no_eviction_block_drains():
    (none,) = messages("deploy-pdb-allows-eviction", [server(), pdb(maxUnavailable=0)])
    assert "allows no eviction (maxUnavailable 0)" in none
    (full,) = messages("deploy-pdb-allows-eviction", [server(), pdb(minAvailable="100%")])
    assert "allows no eviction (minAvailable 100%)" in full
    # Without an autoscaler the Deployment's own count decides; one pod with minAvailable 1 cannot move.
    assert messages("deploy-pdb-allows-eviction", [server(), pdb(minAvailable=1)])
    assert messages("deploy-pdb-allows-eviction", [server(), hpa(3), pdb(minAvailable=2)]) == []
    assert messages("deploy-pdb-allows-eviction", [server(), pdb(maxUnavailable=1)]) == []


def test_streamed_weights_must_be_readable():
    assert messages("deploy-streamer-source", [streaming(uri="hdfs://cluster/llama")]) == [
        "spec.template.spec.containers.0 serves hdfs://cluster/llama: vLLM's model streamer reads s3://, gs://, "
        "az:// only, so the server fails to load it"
    ]
    (default,) = messages("deploy-streamer-source", [streaming(account=None)])
    assert "as the namespace's default service account, which no store identity trusts" in default
    # az:// names the container only; the account and the identity webhook's label must come with it.
    bare = messages("deploy-streamer-source", [streaming(uri="az://models/llama")])
    assert len(bare) == 2
    assert "without AZURE_STORAGE_ACCOUNT_NAME (or AZURE_STORAGE_ENDPOINT)" in bare[0]
    assert "without the pod label azure.workload.identity/use=true" in bare[1]
    azure = streaming(
        uri="az://models/llama",
        env=[{"name": "AZURE_STORAGE_ACCOUNT_NAME", "value": "aistmodels"}],
        labels={"azure.workload.identity/use": "true"},
    )
    assert messages("deploy-streamer-source", [azure]) == []
    # A local directory or a hub id is not streamed: nothing to check.
    assert messages("deploy-streamer-source", [server()]) == []


def test_streamed_weights_need_a_declared_way_in():
    held = streaming()
    held["inputs"]["metadata"]["annotations"]["aistack.io/weights"] = "pending"
    (found,) = messages("deploy-weights-way-in", [held])
    assert "servers would crash-loop on an empty store" in found
    group = lws()
    group["inputs"]["metadata"]["annotations"]["aistack.io/weights"] = "pending"
    (found,) = messages("deploy-weights-way-in", [group])
    assert "servers would crash-loop on an empty store" in found
    group["inputs"]["spec"]["replicas"] = 0
    assert messages("deploy-weights-way-in", [group]) == []


def test_a_multi_node_group_must_add_up():
    assert messages("deploy-lws-group", [lws(nodes=3)]) == [
        "spec.leaderWorkerTemplate.leaderTemplate.spec.containers.0: --nnodes 3 but the group has 2 pods "
        "(spec.leaderWorkerTemplate.size)"
    ]
    (deadlock,) = messages("deploy-lws-group", [lws(startup="LeaderReady")])
    assert "the group never starts" in deadlock
    (unlike,) = messages("deploy-lws-group", [lws(worker_gpus="4")])
    assert unlike.startswith(
        "spec.leaderWorkerTemplate.workerTemplate.spec.containers.0: the workers run another"
    )
    (account,) = messages("deploy-lws-group", [lws(worker_account="default")])
    assert "the workers stream their share of the weights with an identity the store may not trust" in account


def test_a_multi_node_replica_fits_its_whole_group():
    # Llama-3.1-8B figures said for 16 GPUs: the group of 2 x 8 GPUs is the replica the figures describe.
    group = lws()
    group["inputs"]["metadata"]["annotations"]["aistack.io/gpu-memory"] = json.dumps(FIGURES | {"gpus": 16})
    assert messages("deploy-model-fits-gpus", [group]) == []
    group["inputs"]["metadata"]["annotations"]["aistack.io/gpu-memory"] = json.dumps(FIGURES | {"gpus": 8})
    assert messages("deploy-model-fits-gpus", [group]) == [
        "spec.leaderWorkerTemplate.leaderTemplate.spec.containers.0: aistack.io/gpu-memory gpus is 8 but the pod "
        "runs with 16"
    ]


def test_a_service_in_front_of_a_held_group_skips_the_await():
    group = lws()
    group["inputs"]["spec"]["replicas"] = 0
    (found,) = messages("deploy-service-await", [group, service({})])
    assert "which is held at 0 replicas" in found
    # Running, the Service waits as long as the group's own await bound (no progress deadline on an LWS).
    (short,) = messages("deploy-service-await", [lws(), service({})])
    assert "whose rollout may take 7200 s" in short
    assert messages("deploy-service-await", [lws(), service({"pulumi.com/timeoutSeconds": "7200"})]) == []


def test_a_store_reader_declared_on_another_cluster_does_not_count():
    # An endpoint served from two clusters: its server on cluster b needs the reader on b, not on a.
    from tests.policies.cases_deploy_serving import ACCOUNT

    on_a, on_b = (
        "urn:pulumi:test::cases::pulumi:providers:kubernetes::a::id",
        "urn:pulumi:test::cases::pulumi:providers:kubernetes::b::id",
    )
    server_b = {**streaming(), "provider": on_b}
    found = messages("deploy-streamer-identity", [server_b, {**ACCOUNT, "provider": on_a}])
    assert len(found) == 1 and "declares only on another cluster" in found[0]
    assert messages("deploy-streamer-identity", [server_b, {**ACCOUNT, "provider": on_b}]) == []
    # Both clusters' readers declared: each server finds its own.
    server_a = {**streaming(), "urn": "urn:pulumi:test::cases::server-a", "provider": on_a}
    both = [
        server_a,
        server_b,
        {**ACCOUNT, "provider": on_a},
        {**ACCOUNT, "urn": ACCOUNT["urn"] + "-b", "provider": on_b},
    ]
    assert messages("deploy-streamer-identity", both) == []


def test_the_api_key_must_be_synced_on_the_servers_own_cluster():
    from tests.policies.cases_deploy_serving import keyed, synced

    on_a = "urn:pulumi:test::cases::pulumi:providers:kubernetes::a::id"
    on_b = "urn:pulumi:test::cases::pulumi:providers:kubernetes::b::id"
    server_b = {**keyed(), "provider": on_b}
    found = messages("deploy-api-key-in-cluster", [server_b, {**synced(), "provider": on_a}])
    assert len(found) == 1 and "on this cluster (only on another one)" in found[0]
    assert messages("deploy-api-key-in-cluster", [server_b, {**synced(), "provider": on_b}]) == []
    # A plain Secret of that name in the namespace counts too.
    secret = res(
        "kubernetes:core/v1:Secret", "key", {"metadata": {"name": "llm-api-key", "namespace": "serving"}}
    )
    assert messages("deploy-api-key-in-cluster", [keyed(), secret]) == []
