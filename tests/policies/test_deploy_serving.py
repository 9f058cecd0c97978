"""The serving deploy rules beyond their compliant/violating/unknown cases: each way a first deploy breaks."""

from __future__ import annotations

from policies.aistack_rules import RULES_BY_ID
from policies.aistack_rules.core import Indeterminate
from tests.policies.cases import res
from tests.policies.cases_deploy_serving import FIGURES, HELD, hpa, pdb, server, service
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
        "serves weights copied from a store but says nothing of how they get there: annotate "
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
