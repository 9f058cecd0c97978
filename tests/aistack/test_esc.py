"""Pulumi ESC imports: stack files may name environments; the offline preview reports what they supply."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aistack import engine, render
from aistack.errors import InputError
from aistack.preview import ESC_CREDENTIALS, esc_section
from aistack.spec import StackSpec, read_stack_environments, spec_from_config
from tests.conftest import REPO

DEV = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())["config"]


def _stack_file(tmp_path: Path, environment) -> Path:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(yaml.safe_dump({"environment": environment, "config": DEV}))
    return path


def test_environments_are_read_in_import_order(tmp_path: Path):
    path = _stack_file(tmp_path, ["aistack/team", "aistack/aws-dev@3", "legacy-env"])
    assert read_stack_environments(path) == ["aistack/team", "aistack/aws-dev@3", "legacy-env"]


def test_a_stack_file_without_environments_imports_none():
    assert read_stack_environments(REPO / "stacks" / "Pulumi.dev.yaml") == []


@pytest.mark.parametrize(
    ("environment", "key", "message"),
    [
        ("aistack/aws-dev", "environment", "must be a non-empty list of ESC environment names"),
        ([], "environment", "must be a non-empty list of ESC environment names"),
        (["aistack/aws dev"], "environment[0]", "'aistack/aws dev' is not an ESC environment name"),
        (["ok/env", {"name": "x"}], "environment[1]", "is not an ESC environment name"),
        (["a/b/c"], "environment[0]", "use `project/name` (optionally `@version`)"),
        (["aistack/aws", "aistack/aws"], "environment", "an environment is imported twice"),
    ],
)
def test_bad_environment_lists_are_one_line_errors(tmp_path: Path, environment, key: str, message: str):
    path = _stack_file(tmp_path, environment)
    with pytest.raises(InputError) as info:
        read_stack_environments(path)
    assert (info.value.file, info.value.key) == (str(path), key)
    assert message in info.value.message


def test_unknown_top_level_key_lists_the_allowed_ones(tmp_path: Path):
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(yaml.safe_dump({"environments": ["aistack/aws"], "config": DEV}))
    with pytest.raises(InputError) as info:
        read_stack_environments(path)
    assert info.value.key == "environments"
    assert info.value.message == (
        "unknown top-level key; allowed: config, environment, secretsprovider, encryptedkey, encryptionsalt"
    )


def test_a_required_key_left_to_an_environment_is_refused_naming_it():
    config = {k: v for k, v in DEV.items() if k != "aistack:clouds"}
    with pytest.raises(InputError) as info:
        spec_from_config(config, "stacks/Pulumi.x.yaml", environments=["aistack/aws-dev"])
    assert info.value.key == "aistack:clouds"
    assert info.value.message == (
        "required key is missing; the offline preview does not open the ESC environments the stack "
        "imports (aistack/aws-dev): give this key in the stack file"
    )
    # Without imports the message stays the plain one.
    with pytest.raises(InputError) as info:
        spec_from_config(config, "stacks/Pulumi.x.yaml")
    assert info.value.message == "required key is missing"


def _run(config: dict, environments: list[str], project: str = "aistack") -> engine.ProgramRun:
    return engine.ProgramRun(
        project=project, stack="x", resources=[], outputs={}, config=config, environments=environments
    )


def test_esc_section_lists_credentials_per_cloud_used_and_every_unset_spec_key():
    config = {**DEV, "aistack:clouds": {"aws": DEV["aistack:clouds"]["aws"], "gcp": {"project": "p"}}}
    section = esc_section(_run(config, ["aistack/aws-dev", "aistack/gcp-dev"]))
    assert section["environments"] == ["aistack/aws-dev", "aistack/gcp-dev"]
    assert section["deploy_time"]["credentials"] == {
        "aws": ESC_CREDENTIALS["aws"],
        "gcp": ESC_CREDENTIALS["gcp"],
    }
    set_keys = {k.removeprefix("aistack:") for k in config if k.startswith("aistack:")}
    expected = [f"aistack:{k}" for k in StackSpec.model_fields if k not in set_keys]
    assert section["deploy_time"]["config"] == expected
    assert "aistack:sizing" in expected and "aistack:clouds" not in expected
    # Mappings in the file are merged key by key with an environment's pulumiConfig.
    assert section["deploy_time"]["merged"] == [
        "aistack:tags",
        "aistack:clouds",
        "aistack:clusters",
        "aistack:stores",
        "aistack:endpoints",
    ]


def test_esc_section_is_empty_without_imports_and_names_no_keys_for_other_programs():
    empty = {"credentials": {}, "config": [], "merged": []}
    assert esc_section(_run(DEV, [])) == {"environments": [], "deploy_time": empty}
    other = esc_section(_run({"aws:region": "us-east-1"}, ["team/dev"], project="other"))
    assert other == {"environments": ["team/dev"], "deploy_time": empty}


def test_the_multicloud_report_shows_its_esc_imports_in_every_format(preview):
    result = preview("multicloud")
    esc = result["esc"]
    assert esc["environments"] == ["aistack/aws-staging", "aistack/gcp-staging", "aistack/azure-staging"]
    assert set(esc["deploy_time"]["credentials"]) == {"aws", "azure", "gcp"}
    markdown = render.as_markdown(result)
    assert "#### Resolved at deploy time (Pulumi ESC)" in markdown
    assert "- azure credentials: `ARM_USE_OIDC`, `ARM_CLIENT_ID`" in markdown
    text = render.as_text(result)
    assert "Pulumi ESC environments (opened at deploy time only): aistack/aws-staging" in text
    assert "aistack:sizing" in text
    assert (
        "mappings an environment may add keys to (the stack file's keys win): aistack:tags, aistack:clouds"
        in text
    )


def test_esc_definitions_in_docs_match_the_stack_that_imports_them():
    """Each environment the multicloud stack imports has its definition in docs/esc/, exporting the
    credentials the report promises and no pulumiConfig key the program would refuse."""
    for name in ["aistack/aws-staging", "aistack/gcp-staging", "aistack/azure-staging"]:
        definition = yaml.safe_load((REPO / "docs" / "esc" / f"{name.split('/')[1]}.yaml").read_text())
        cloud = name.split("/")[1].split("-")[0]
        values = definition["values"]
        assert f"fn::open::{cloud}-login" in values[cloud]["login"]
        assert set(ESC_CREDENTIALS[cloud]) <= set(values["environmentVariables"])
        assert all(key.startswith("aistack:") for key in values.get("pulumiConfig", {}))
