"""Workloads YAML: validation, model defaults, and one-line errors with dotted keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from aistack.errors import InputError
from sizing import capacity
from sizing.workloads import DeployedPool, SizingOptions, Workload, WorkloadsFile, load_workloads


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.yaml"
    path.write_text(text)
    return path


def test_model_fills_memory_and_throughput_and_explicit_values_win() -> None:
    w = Workload(name="chat", model="llama-2-7b", demand=100, throughput={"a10g": 300})
    assert w.model_mem_gib == pytest.approx(capacity.memory_per_replica_gib("llama-2-7b"))
    assert w.throughput["A10G-24GB"] == 300  # alias canonicalised, explicit wins
    assert w.throughput["H100-80GB"] == pytest.approx(19_694 * capacity.LATENCY_DERATE)
    assert (w.target_utilization, w.min_replicas, w.spot, w.clouds) == (0.8, 1, False, None)


def test_memory_and_throughput_required_without_a_model() -> None:
    with pytest.raises(ValidationError) as err:
        Workload(name="x", demand=1)
    missing = {e["loc"][0] for e in err.value.errors()}
    assert missing == {"model_mem_gib", "throughput"}


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Workload(name="x", demand=1, model_mem_gib=10, throughput={"L4": 1}, gpu="L4")
    with pytest.raises(ValidationError):
        SizingOptions(zones=2)


def test_load_workloads_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
workloads:
  - name: chat
    model: llama-3.1-8b
    demand: 1000
    throughput: {L4: 900}
    clouds: [gcp]
options:
  min_zones: 2
  current:
    - {workload: chat, cloud: gcp, region: us-central1, instance_type: g2-standard-4, accelerator: L4-24GB,
       gpus_per_node: 1, gpus_per_replica: 1, replicas_per_node: 1, nodes: 3, min_nodes: 3, max_nodes: 3,
       spot: false, monthly_usd: 1547.96}
""",
    )
    spec = load_workloads(path)
    assert spec.workloads[0].throughput["L4-24GB"] == 900
    assert spec.options.min_zones == 2
    assert spec.options.current[0] == DeployedPool(
        workload="chat", cloud="gcp", region="us-central1", instance_type="g2-standard-4",
        accelerator="L4-24GB", gpus_per_node=1, gpus_per_replica=1, replicas_per_node=1,
        nodes=3, min_nodes=3, max_nodes=3, spot=False, monthly_usd=1547.96,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("workloads:\n  - {name: chat, demand: 1, model_mem_gib: 10, throughput: {L4: 1}, foo: 1}\n",
         "workloads.chat.foo", "Extra inputs"),
        ("workloads:\n  - {name: chat, demand: -1, model_mem_gib: 10, throughput: {L4: 1}}\n",
         "workloads.chat.demand", "greater than or equal to 0"),
        ("workloads:\n  - {name: chat, demand: 1, model_mem_gib: 10, throughput: {Z9: 1}}\n",
         "workloads.chat", "unknown accelerator 'Z9'"),
        ("workloads:\n  - {name: chat, demand: 1, model: gpt-5}\n", "workloads.chat", "unknown model 'gpt-5'"),
        ("workloads:\n  - {name: chat, demand: 1, model_mem_gib: 10, throughput: {L4: 0}}\n",
         "workloads.chat.throughput", "must be > 0"),
        ("workloads:\n  - {name: a, demand: 1, model_mem_gib: 10, throughput: {L4: 1}, clouds: [oracle]}\n",
         "workloads.a.clouds.0", "Input should be"),
        ("workloads: []\n", "workloads", "at least 1"),
        ("workloads:\n  - {name: a, demand: 1, model_mem_gib: 10, throughput: {L4: 1}}\n"
         "  - {name: a, demand: 1, model_mem_gib: 10, throughput: {L4: 1}}\n", "", "unique"),
        ("workloads:\n  - {name: a, demand: 1, model_mem_gib: 10, throughput: {L4: 1}}\noptions: {min_zones: 0}\n",
         "options.min_zones", "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_invalid_files_give_one_error_with_a_dotted_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_workloads(path)
    assert err.value.file == str(path)
    assert err.value.key == key
    assert fragment in err.value.message
    assert "\n" not in err.value.line()


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not valid YAML") as err:
        load_workloads(write(tmp_path, "workloads: [\n"))
    assert err.value.key.startswith("line ")
    with pytest.raises(InputError, match="expected a mapping"):
        load_workloads(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(InputError, match="cannot read"):
        load_workloads(tmp_path / "missing.yaml")


def test_every_field_has_a_description() -> None:
    for model in (Workload, DeployedPool, SizingOptions, WorkloadsFile):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"
