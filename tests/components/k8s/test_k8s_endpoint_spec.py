"""The endpoint spec: pinned images, bounds, cross-field rules, and how scale_target maps to KEDA's triggers."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from aistack.errors import InputError
from aistack.preview import REPO
from aistack.spec import read_stack_config, spec_from_config
from aistack.spec.endpoints import EndpointSpec, check_image, cpu_cores, memory_bytes
from components.k8s.serving import number, triggers

DEV = REPO / "stacks" / "Pulumi.dev.yaml"


def config(**changes):
    """The dev stack's config with the `chat` endpoint changed (None removes a key)."""
    base = copy.deepcopy(read_stack_config(DEV))
    chat = base["aistack:endpoints"]["chat"]
    for key, value in changes.items():
        if value is None:
            chat.pop(key, None)
        else:
            chat[key] = value
    return base


def error(cfg) -> InputError:
    with pytest.raises(InputError) as caught:
        spec_from_config(cfg, "Pulumi.dev.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"cluster": "gpu"}, "endpoints.chat.cluster", "no cluster named 'gpu'; clusters: main"),
        ({"pool": "h100"}, "endpoints.chat.pool", "cluster 'main' has no GPU pool 'h100'; its pools: l4"),
        ({"store": "weights"}, "endpoints.chat.store", "no store named 'weights'; stores: models"),
        (
            {"min_replicas": 3, "max_replicas": 2},
            "endpoints.chat",
            "min_replicas (3) is above max_replicas (2)",
        ),
        (
            {"gpus_per_replica": 3},
            "endpoints.chat.gpus_per_replica",
            "must be a power of two (1, 2, 4, 8, 16, ...), got 3",
        ),
        ({"image": "vllm/vllm-openai:latest"}, "endpoints.chat.image", "is not pinned: `latest` moves"),
        ({"image": "vllm/vllm-openai"}, "endpoints.chat.image", "is not pinned: add a version tag"),
        ({"image": "registry.local:5000/vllm"}, "endpoints.chat.image", "is not pinned: add a version tag"),
        (
            {"image": "vllm/vllm-openai@sha256:abc"},
            "endpoints.chat.image",
            "a digest is sha256: followed by 64",
        ),
        (
            {"node_cache_gib": 200},
            "endpoints.chat.node_cache_gib",
            "the weight cache (200 GiB) does not fit on the 200 GiB disk of pool 'l4'",
        ),
        (
            {"gpus_per_replica": 2},
            "endpoints.chat.gpus_per_replica",
            "needs 2 GPUs per replica but g6.2xlarge, g6.xlarge in pool 'l4' has only 1; set nodes_per_replica",
        ),
        (
            {"gpus_per_replica": 16},
            "endpoints.chat",
            "is 16 GPUs per node, more than a node has (8); raise nodes_per_replica",
        ),
        (
            {"gpus_per_replica": 4, "nodes_per_replica": 3},
            "endpoints.chat",
            "gpus_per_replica (4) must split evenly over nodes_per_replica (3)",
        ),
        (
            {"gpus_per_replica": 4, "nodes_per_replica": 2},
            "clusters.main.gpu_pools.l4.instance_types",
            "every instance type of the pool must have exactly 2 GPUs (GPUs per node: g6.xlarge: 1, g6.2xlarge: 1)",
        ),
        (
            {"gpus_per_replica": 2, "nodes_per_replica": 2},
            "endpoints.chat.max_replicas",
            "2 replicas x 2 nodes = 4 nodes, more than pool 'l4' may have (max_nodes 2)",
        ),
        (
            {"model_mem_gib": 30},
            "endpoints.chat.model_mem_gib",
            "30.0 GiB does not fit in 1 x L4-24GB (24 GiB)",
        ),
        ({"shm_gib": 12}, "endpoints.chat", "shm_gib (12) must be below the memory limit (12Gi)"),
        ({"cpu_limit": "2"}, "endpoints.chat", "cpu_limit (2) is below cpu_request (3)"),
        ({"memory_limit": "8Gi"}, "endpoints.chat", "memory_limit (8Gi) is below memory_request (12Gi)"),
        ({"cpu_request": "three"}, "endpoints.chat.cpu_request", "'three' is not a CPU quantity"),
        ({"memory_request": "12GB"}, "endpoints.chat.memory_request", "'12GB' is not a memory quantity"),
        (
            {"storage_uri": "models/../secrets"},
            "endpoints.chat.storage_uri",
            "must not contain `.` or `..` segments",
        ),
        ({"storage_uri": "s3://bucket/llama"}, "endpoints.chat.storage_uri", "should match pattern"),
        ({"port": 80}, "endpoints.chat.port", "greater than or equal to 1024"),
        ({"expose": "public"}, "endpoints.chat.expose", "'cluster', 'internal-lb' or 'public-lb'"),
        ({"scale_metric": "gpu_utilization"}, "endpoints.chat.scale_metric", "vllm:num_requests_waiting"),
        ({"max_model_len": None}, "endpoints.chat.max_model_len", "required key is missing"),
        (
            {"gpu_memory_utilization": 0.99},
            "endpoints.chat.gpu_memory_utilization",
            "less than or equal to 0.95",
        ),
        (
            {"replicas": 2},
            "endpoints.chat.replicas",
            "unknown key; allowed keys: model, storage_uri, cluster",
        ),
    ],
)
def test_bad_endpoints_name_the_key(changes, key, message):
    err = error(config(**changes))
    assert err.file == "Pulumi.dev.yaml"
    assert err.key == f"aistack:{key}"
    assert message in err.message


def test_store_the_cluster_may_not_read():
    cfg = config(store="private")
    cfg["aistack:stores"]["private"] = {"cloud": "aws", "readers": []}
    err = error(cfg)
    assert err.key == "aistack:endpoints.chat.store"
    assert err.message.startswith("cluster 'main' may not read store 'private' (its readers: )")


def test_a_context_whose_kv_cache_does_not_fit_exits_with_the_numbers():
    # vLLM's default for Llama 3.1 (131,072 tokens = 16 GiB of KV) on one L4: the issue's failure, offline.
    err = error(config(max_model_len=131072))
    assert err.key == "aistack:endpoints.chat.max_model_len"
    assert err.message == (
        "endpoint 'chat' does not fit 1 x L4-24GB: weights 14.96 GiB (bf16) + overhead 2.00 GiB + KV cache for "
        "one 131072-token sequence 16.00 GiB (128 KiB/token) = 32.96 GiB > 20.09 GiB usable "
        "(1 x 22.32 GiB x 0.9); KV cache holds only 25644 tokens; lower max_model_len to at most 25644, or "
        "raise gpus_per_replica or gpu_memory_utilization"
    )


@pytest.mark.parametrize(
    ("changes", "fits"),
    [
        ({"max_model_len": 25644}, True),  # exactly the KV budget
        ({"max_model_len": 25645}, False),
        ({"max_model_len": 32768, "gpu_memory_utilization": 0.95}, True),  # 21.2 GiB usable: 34,790 tokens
        (
            {"max_model_len": 16384, "gpu_memory_utilization": 0.75},
            False,
        ),  # 16.7 GiB: weights + overhead only
        ({"max_model_len": 16384, "precision": "fp8"}, True),
    ],
)
def test_fit_follows_context_utilisation_and_precision(changes, fits):
    cfg = config(**changes)
    if fits:
        spec_from_config(cfg, "Pulumi.dev.yaml")
    else:
        assert error(cfg).key == "aistack:endpoints.chat.max_model_len"


def test_a_context_beyond_the_model_is_refused():
    cfg = config(max_model_len=262144, gpus_per_replica=8)
    cfg["aistack:clusters"]["main"]["gpu_pools"]["l4"]["accelerator"] = "H100-80GB"
    cfg["aistack:clusters"]["main"]["gpu_pools"]["l4"]["instance_types"] = ["p5.48xlarge"]
    err = error(cfg)
    assert err.message == (
        "endpoint 'chat': 262144 tokens is beyond meta-llama/Llama-3.1-8B-Instruct's context of 131072 "
        "(config.json max_position_embeddings), which vLLM refuses"
    )


def test_unknown_architectures_are_left_to_vllm():
    spec = spec_from_config(config(model="mistralai/Mistral-7B-Instruct-v0.3"), "Pulumi.dev.yaml")
    assert spec.endpoints["chat"].max_model_len == 16384


def test_the_stacks_endpoints_validate():
    spec = spec_from_config(read_stack_config(DEV), str(DEV))
    chat = spec.endpoints["chat"]
    assert (chat.cluster, chat.pool, chat.store, chat.gpus_per_replica) == ("main", "l4", "models", 1)
    assert chat.image == "docker.io/vllm/vllm-openai:v0.34.0"


@pytest.mark.parametrize(
    "image",
    [
        "vllm/vllm-openai:v0.11.0",
        "registry.local:5000/team/vllm:1.2",
        "vllm/vllm-openai@sha256:" + "a" * 64,
        "vllm/vllm-openai:v0.11.0@sha256:" + "b" * 64,
        # A digest pins the image even under a moving tag name.
        "vllm/vllm-openai:latest@sha256:" + "c" * 64,
    ],
)
def test_pinned_images_pass(image):
    assert check_image(image) == image


def test_quantities():
    assert cpu_cores("3") == 3 and cpu_cores("500m") == 0.5 and cpu_cores("1.5") == 1.5
    assert memory_bytes("12Gi") == 12 * 2**30 and memory_bytes("20G") == 20 * 10**9
    with pytest.raises(ValueError):
        cpu_cores("1.5m")


def endpoint(**fields) -> EndpointSpec:
    base = {"model": "m", "storage_uri": "m", "cluster": "c", "pool": "p", "store": "s"}
    return EndpointSpec(
        **{
            **base,
            "cpu_request": "1",
            "memory_request": "4Gi",
            "max_model_len": 4096,
            **fields,
        }
    )


URL = "http://prometheus.aistack-metrics.svc:9090"


def thresholds(**fields) -> dict[str, str]:
    """Trigger name → threshold of the endpoint's ScaledObject (CPU: its utilisation value)."""
    found = triggers(
        "chat",
        endpoint(**fields),
        namespace="aistack-serving",
        query_url=URL,
        cluster=None,
        trigger_auth=None,
    )
    return {t["name"]: t["metadata"].get("threshold", t["metadata"].get("value")) for t in found}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Queue: a replica is full at 5 waiting requests; scale out at 80% of that. Concurrency: full at
        # max_concurrency (the server's --max-num-seqs), 0.8 x 256.
        ({}, {"queue": "4", "running": "204.8"}),
        ({"max_concurrency": 64}, {"queue": "4", "running": "51.2"}),
        # A given scale_target is the target of the scale_metric; the other gauge keeps its default.
        ({"scale_target": 2.5}, {"queue": "2.5", "running": "204.8"}),
        (
            {"scale_metric": "vllm:num_requests_running", "scale_target": 100},
            {"queue": "4", "running": "100"},
        ),
        # CPU fallback: the only trigger, full at 100% of the request.
        ({"scale_metric": "cpu"}, {"cpu": "80"}),
        ({"scale_metric": "cpu", "scale_target": 60}, {"cpu": "60"}),
        # Scale to zero adds the picker's queue, at the queue's per-replica target.
        ({"min_replicas": 0}, {"queue": "4", "running": "204.8", "epp-queue": "4"}),
        ({"min_replicas": 0, "scale_metric": "cpu"}, {"cpu": "80", "epp-queue": "4"}),
    ],
)
def test_scale_target_maps_to_the_trigger_thresholds(fields, expected):
    assert thresholds(**fields) == expected


def test_triggers_select_the_endpoint_and_on_gke_the_cluster():
    gke = triggers(
        "chat",
        endpoint(min_replicas=0),
        namespace="aistack-serving",
        query_url="https://monitoring.googleapis.com/v1/projects/p/location/global/prometheus",
        cluster="aistack-main",
        trigger_auth="aistack-gcp-monitoring",
    )
    selector = 'namespace="aistack-serving",endpoint="chat",cluster="aistack-main"'
    assert [t["metadata"]["query"] for t in gke] == [
        f"sum(vllm:num_requests_waiting{{{selector}}})",
        f"sum(vllm:num_requests_running{{{selector}}})",
        f"sum(llm_d_epp_flow_control_queue_size{{{selector}}})",
    ]
    assert all(t["authenticationRef"] == {"name": "aistack-gcp-monitoring"} for t in gke)
    # Any request held by the picker wakes the first replica.
    assert gke[-1]["metadata"]["activationThreshold"] == "0"
    eks = triggers(
        "chat", endpoint(), namespace="aistack-serving", query_url=URL, cluster=None, trigger_auth=None
    )
    assert all("authenticationRef" not in t and "cluster=" not in t["metadata"]["query"] for t in eks)


def test_number_format():
    assert (
        number(4.0) == "4" and number(204.8) == "204.8" and number(0.5) == "0.5" and number(2 / 3) == "0.667"
    )


def test_min_replicas_zero_is_allowed_and_max_request_bounded():
    assert endpoint(min_replicas=0).min_replicas == 0
    assert endpoint().max_request_s == 300
    with pytest.raises(ValueError, match="max_request_s"):
        endpoint(max_request_s=7200)


def test_cli_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(yaml.safe_dump({"config": config(pool="h100")}))
    done = subprocess.run(
        [sys.executable, "-m", "aistack", "preview", "--stack-file", str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: {bad}: aistack:endpoints.chat.pool: cluster 'main' has no GPU pool 'h100'; its pools: l4"
    )
    assert "Traceback" not in done.stderr
