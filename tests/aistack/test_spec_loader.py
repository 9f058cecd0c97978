"""The stack spec loader: every bad-input class gives one clear line naming file and key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aistack.errors import InputError
from aistack.spec import StackSpec, load_stack_file, spec_from_config, stack_file
from aistack.spec.base import Model
from tests.conftest import REPO, stack_names

DEV = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]


def _error(config: dict, file: str = "stacks/Pulumi.x.yaml") -> InputError:
    with pytest.raises(InputError) as info:
        spec_from_config(config, file)
    return info.value


def _mutated(path: list[str], value) -> dict:
    config = copy.deepcopy(DEV)
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return config


@pytest.mark.parametrize("stack", stack_names())
def test_every_stack_in_stacks_validates(stack):
    _, spec = load_stack_file(REPO / "stacks" / f"Pulumi.{stack}.yaml")
    assert spec.clusters


def test_malformed_yaml_names_file_and_line(tmp_path: Path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  aistack:environment: dev\n   broken: [\n")
    with pytest.raises(InputError) as info:
        load_stack_file(bad)
    assert info.value.file == str(bad)
    assert "malformed YAML: line 3" in info.value.message


def test_unknown_key_lists_allowed_keys():
    err = _error(_mutated(["aistack:clusters", "main", "gpu_pools", "l4", "max_node"], 3))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.max_node"
    assert err.message.startswith("unknown key; allowed keys: accelerator, instance_types, capacity")


def test_unknown_top_level_config_key_names_namespaces():
    err = _error({**DEV, "aws:region": "us-west-2"})
    assert err.key == "aws:region" and "namespaced `aistack:`" in err.message


def test_wrong_type():
    err = _error(_mutated(["aistack:clusters", "main", "gpu_pools", "l4", "max_nodes"], "lots"))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.max_nodes"
    assert "valid integer" in err.message and "'lots'" in err.message


def test_out_of_range_value():
    err = _error(_mutated(["aistack:clusters", "main", "gpu_pools", "l4", "max_nodes"], 5000))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.max_nodes"
    assert "less than or equal to 1000" in err.message


def test_enum_value_lists_allowed():
    err = _error(_mutated(["aistack:clusters", "main", "gpu_pools", "l4", "capacity"], "reserved"))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.capacity"
    assert "'on-demand' or 'spot'" in err.message


def test_missing_required_key():
    config = copy.deepcopy(DEV)
    del config["aistack:clusters"]["main"]["gpu_pools"]["l4"]["accelerator"]
    err = _error(config)
    assert err.key == "aistack:clusters.main.gpu_pools.l4.accelerator"
    assert err.message == "required key is missing"


def test_min_above_max_is_a_cross_field_error():
    err = _error(_mutated(["aistack:clusters", "main", "gpu_pools", "l4", "min_nodes"], 5))
    assert err.key == "aistack:clusters.main.gpu_pools.l4"
    assert err.message == "min_nodes (5) is above max_nodes (2)"


def test_cidr_not_a_network():
    err = _error(_mutated(["aistack:clouds", "aws", "cidr"], "10.10.0.1/16"))
    assert err.key == "aistack:clouds.aws.cidr" and "host bits" in err.message


def test_open_api_endpoint_refused():
    err = _error(
        _mutated(
            ["aistack:clusters", "main", "api"], {"deployer": "allow-listed", "public_cidrs": ["0.0.0.0/0"]}
        )
    )
    assert err.key == "aistack:clusters.main.api" and "0.0.0.0/0" in err.message


def test_cluster_on_unconfigured_cloud():
    config = _mutated(["aistack:clouds"], {"aws": None})
    err = _error(config)
    assert err.key == "aistack:clouds" and "at least one cloud" in err.message


def test_zone_outside_region():
    err = _error(_mutated(["aistack:clouds", "aws", "zones"], ["eu-west-1a"]))
    assert err.key == "aistack:clouds.aws" and "not a zone of region us-east-1" in err.message


def test_pool_zone_outside_cloud_zones():
    err = _error(_mutated(["aistack:clusters", "main", "gpu_pools", "l4", "zones"], ["us-east-1c"]))
    assert err.key == "aistack:clusters.main.gpu_pools.l4.zones"


def test_prod_spot_pool_needs_on_demand_floor():
    err = _error({**DEV, "aistack:environment": "prod"})
    assert err.key == "aistack:clusters.main.gpu_pools.l4.on_demand_floor"
    assert "on-demand floor" in err.message


def test_store_reader_must_exist():
    err = _error(_mutated(["aistack:stores", "models", "readers"], ["ghost"]))
    assert err.key == "aistack:stores.models.readers" and "'ghost'" in err.message


def test_default_providers_must_be_disabled():
    config = {k: v for k, v in DEV.items() if k != "pulumi:disable-default-providers"}
    err = _error(config)
    assert err.key == "pulumi:disable-default-providers"


def test_secrets_are_refused_in_aistack_config():
    err = _error({**DEV, "aistack:tags": {"secure": "v1:abc"}})
    assert err.key == "aistack:tags" and "no secrets" in err.message


def test_overlapping_cidrs_are_refused():
    err = _error(_mutated(["aistack:clusters", "main", "service_cidr"], "10.10.128.0/20"))
    assert err.key == "aistack:clusters.main.service_cidr"
    assert err.message == "CIDR 10.10.128.0/20 overlaps clouds.aws.cidr (10.10.0.0/16)"


def test_unknown_stack_name_lists_stacks():
    with pytest.raises(InputError) as info:
        stack_file(REPO, "nope")
    assert info.value.key == "--stack" and "dev" in info.value.message


def test_every_field_has_a_description():
    seen, todo = set(), [StackSpec]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            for sub in _models_in(field.annotation):
                todo.append(sub)
    assert len(seen) >= 6


def _models_in(annotation) -> list[type[Model]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, Model):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


# Property-based: random mutations of a valid config are either accepted or rejected with the
# clear one-line error, never anything else.
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=2),
)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


_ALL_PATHS = [p for p in _paths(DEV) if p[0] != "pulumi:disable-default-providers"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(_ALL_PATHS),
    value=_values,
    action=st.sampled_from(["set", "delete", "add"]),
    extra_key=st.text(min_size=1, max_size=8),
)
def test_random_mutations_are_accepted_or_clearly_rejected(path, value, action, extra_key):
    config = copy.deepcopy(DEV)
    node = config
    for key in path[:-1]:
        node = node[key]
    if action == "set":
        node[path[-1]] = value
    elif action == "delete":
        del node[path[-1]]
    elif isinstance(node.get(path[-1]), dict):
        node[path[-1]][extra_key] = value
    try:
        spec = spec_from_config(config, "stacks/Pulumi.fuzz.yaml")
    except InputError as err:
        line = err.line()
        assert line.startswith("stacks/Pulumi.fuzz.yaml: ")
        assert "\n" not in line and "Traceback" not in line
    else:
        assert isinstance(spec, StackSpec)


def test_error_line_escapes_control_characters_from_the_input():
    err = _error({**DEV, "aistack:tags": {"bad\nkey": "x"}})
    assert "\n" not in err.line() and "bad\\nkey" in err.line()


def test_key_administrators_must_be_role_or_user_arns():
    session = "arn:aws:sts::111122223333:assumed-role/deployer/alice"
    err = _error(_mutated(["aistack:clouds", "aws", "key_administrators"], [session]))
    assert err.key == "aistack:clouds.aws.key_administrators.0"
    assert "should match pattern" in err.message


def test_audit_retention_defaults_per_environment_and_is_bounded():
    assert spec_from_config(DEV, "x").audit_retention_days == 30
    assert spec_from_config({**DEV, "aistack:audit_log_retention_days": 400}, "x").audit_retention_days == 400
    err = _error({**DEV, "aistack:audit_log_retention_days": 7})
    assert err.key == "aistack:audit_log_retention_days"
    assert "greater than or equal to 30" in err.message
