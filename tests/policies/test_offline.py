"""The offline API: levels and config, unknown values, remediation, listings, the README table."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pulumi.output import Unknown

from aistack.errors import InputError
from policies import RULES, UNKNOWN, evaluate, format_rules, list_rules
from tests.policies.cases import KMS_ADMIN, STORAGE, doc, eks_pool, pod, res

README = Path(__file__).resolve().parents[2] / "policies" / "README.md"
OPEN_SSH = res(
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "ssh",
    {"type": "ingress", "protocol": "tcp", "fromPort": 22.0, "toPort": 22.0, "cidrBlocks": ["0.0.0.0/0"]},
)


def levels(findings: list[dict], policy: str) -> list[str]:
    return [f["level"] for f in findings if f["policy"] == policy]


def test_findings_have_the_documented_shape() -> None:
    (finding,) = evaluate([OPEN_SSH])
    assert finding == {
        "policy": "aws-sg-no-world-ingress",
        "level": "mandatory",
        "urn": OPEN_SSH["urn"],
        "message": "tcp port 22 open to 0.0.0.0/0",
    }


def test_rule_config_beats_all_which_beats_the_environment_profile() -> None:
    assert levels(evaluate([OPEN_SSH], config={"all": "advisory"}), "aws-sg-no-world-ingress") == ["advisory"]
    config = {"all": "advisory", "aws-sg-no-world-ingress": {"enforcementLevel": "mandatory"}}
    assert levels(evaluate([OPEN_SSH], config=config), "aws-sg-no-world-ingress") == ["mandatory"]
    assert evaluate([OPEN_SSH], config={"aws-sg-no-world-ingress": "disabled"}) == []
    spot_only = [eks_pool("spot", "SPOT", 0.0)]
    assert levels(
        evaluate(spot_only, environment="dev", config={"gpu-spot-has-ondemand-floor": "advisory"}),
        "gpu-spot-has-ondemand-floor",
    ) == ["advisory"]


def test_rule_settings_come_from_config() -> None:
    assert evaluate([OPEN_SSH], config={"aws-sg-no-world-ingress": {"allowedPorts": [22]}}) == []
    ranged = res(
        "aws:ec2/securityGroup:SecurityGroup",
        "sg",
        {"ingress": [{"protocol": "tcp", "fromPort": 80.0, "toPort": 443.0, "cidrBlocks": ["::/0"]}]},
    )
    (finding,) = evaluate([ranged], config={"aws-sg-no-world-ingress": {"allowedPorts": [80, 443]}})
    assert finding["message"] == "ingress.0: tcp ports 80-443 open to ::/0"


def test_unprofiled_environments_get_rule_defaults() -> None:
    unpinned = pod(hostNetwork=False)
    unpinned["inputs"]["spec"]["containers"][0]["image"] = "nginx:latest"
    assert levels(evaluate([unpinned], environment="ci"), "k8s-image-pinned") == ["advisory"]
    assert levels(evaluate([unpinned], environment="dev"), "k8s-image-pinned") == ["advisory"]
    assert levels(evaluate([unpinned], environment="prod"), "k8s-image-pinned") == ["mandatory"]


def test_exempt_namespaces_are_configurable() -> None:
    privileged = pod(namespace="kube-system")
    privileged["inputs"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    assert levels(evaluate([privileged]), "k8s-no-privileged") == []
    assert levels(
        evaluate([privileged], config={"k8s-no-privileged": {"exemptNamespaces": []}}), "k8s-no-privileged"
    ) == ["mandatory"]
    unknown_namespace = pod(namespace=UNKNOWN)
    unknown_namespace["inputs"]["spec"]["containers"][0]["securityContext"]["privileged"] = True
    assert levels(evaluate([unknown_namespace]), "k8s-no-privileged") == ["advisory"]


@pytest.mark.parametrize(
    "unknown",
    [UNKNOWN, Unknown(), "04da6b54-80e4-46f7-96ec-b56ff0331ba9", "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"],
    ids=["UNKNOWN", "pulumi-Unknown", "wire-string", "wire-bool"],
)
def test_every_form_of_unknown_is_recognised(unknown: object) -> None:
    key = res("aws:kms/key:Key", "k", {"enableKeyRotation": unknown, "policy": doc(KMS_ADMIN)})
    (finding,) = evaluate([key], config={"aws-kms-rotation": "mandatory"})
    assert finding["level"] == "advisory"
    assert finding["message"] == "cannot check until apply: enableKeyRotation is unknown during preview"


def test_secret_inputs_are_checked_by_value() -> None:
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": ["0.0.0.0/0"]}
    rule = res(
        "aws:ec2/securityGroupRule:SecurityGroupRule", "r", OPEN_SSH["inputs"] | {"cidrBlocks": secret}
    )
    assert levels(evaluate([rule]), "aws-sg-no-world-ingress") == ["mandatory"]


def test_remediate_level_fixes_what_it_can_and_blocks_the_rest() -> None:
    account = res(STORAGE, "sa", {"minimumTlsVersion": "TLS1_0", "enableHttpsTrafficOnly": False})
    found = [f for f in evaluate([account], environment="prod") if f["policy"] == "azure-storage-https-tls12"]
    assert found == [
        {
            "policy": "azure-storage-https-tls12",
            "level": "advisory",
            "urn": account["urn"],
            "message": "remediated on apply: sets minimumTlsVersion='TLS1_2', enableHttpsTrafficOnly=True",
        }
    ]
    mandatory = evaluate([account], config={"azure-storage-https-tls12": "mandatory"})
    assert levels(mandatory, "azure-storage-https-tls12") == ["mandatory", "mandatory"]
    # A value the remediation cannot see stays undecided rather than being overwritten.
    unknown = res(STORAGE, "sa", {"minimumTlsVersion": UNKNOWN})
    assert [f["message"] for f in evaluate([unknown]) if f["policy"] == "azure-storage-https-tls12"] == [
        "cannot check until apply: minimumTlsVersion is unknown during preview"
    ]


def test_kms_rotation_is_not_required_for_keys_that_cannot_rotate() -> None:
    signing = res(
        "aws:kms/key:Key", "sign", {"customerMasterKeySpec": "ECC_NIST_P256", "keyUsage": "SIGN_VERIFY"}
    )
    assert levels(evaluate([signing], config={"aws-kms-rotation": "mandatory"}), "aws-kms-rotation") == []


def test_cost_budget_from_the_shorthand_keys() -> None:
    assert evaluate([], config={"monthly_usd": 10.0, "budget_usd": 20.0}) == []
    (over,) = evaluate([], config={"monthly_usd": 30.0, "budget_usd": 20})
    assert over == {
        "policy": "cost-budget",
        "level": "advisory",
        "urn": None,
        "message": "estimated 30.00 USD/month exceeds the budget of 20.00 USD/month",
    }
    (undecided,) = evaluate([], config={"budget_usd": 20.0})
    assert (
        undecided["message"]
        == "cannot check: a budget is set but no monthly estimate was given (config monthlyUsd)"
    )
    assert evaluate([], config={"monthly_usd": 30.0}) == []


@pytest.mark.parametrize(
    ("config", "line"),
    [
        (
            {"no-such-rule": "advisory"},
            "policy config: no-such-rule: unknown key; use a rule id, 'all', 'monthly_usd' or 'budget_usd'",
        ),
        (
            {"all": "blocking"},
            "policy config: all: must be one of advisory, mandatory, remediate, disabled, got 'blocking'",
        ),
        (
            {"aws-sg-no-world-ingress": {"allowedPort": [443]}},
            "policy config: aws-sg-no-world-ingress.allowedPort: unknown setting; aws-sg-no-world-ingress accepts enforcementLevel, allowedPorts",
        ),
        (
            {"aws-sg-no-world-ingress": {"allowedPorts": ["443"]}},
            "policy config: aws-sg-no-world-ingress.allowedPorts.0: must be of type integer, got '443'",
        ),
        (
            {"aws-sg-no-world-ingress": {"allowedPorts": [70000]}},
            "policy config: aws-sg-no-world-ingress.allowedPorts.0: must be at most 65535, got 70000",
        ),
        ({"budget_usd": -1}, "policy config: budget_usd: must be at least 0, got -1"),
        (
            {"k8s-no-privileged": ["kube-system"]},
            "policy config: k8s-no-privileged: must be a level or an object of settings",
        ),
    ],
)
def test_bad_config_is_an_input_error(config: dict, line: str) -> None:
    with pytest.raises(InputError) as raised:
        evaluate([], config=config)
    assert raised.value.line() == line


def test_a_resource_without_urn_or_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs at least 'urn' and 'type'"):
        evaluate([{"type": "aws:kms/key:Key", "inputs": {}}])


def test_list_rules_describes_every_rule() -> None:
    rules = list_rules()
    assert [r["id"] for r in rules] == [rule.id for rule in RULES]
    by_id = {r["id"]: r for r in rules}
    assert by_id["gpu-spot-has-ondemand-floor"]["levels"] == {
        "dev": "disabled",
        "staging": "advisory",
        "prod": "mandatory",
    }
    assert by_id["aws-s3-bucket-has-sse"]["kind"] == "stack"
    assert by_id["azure-storage-https-tls12"] | {"resource_types": None} == {
        "id": "azure-storage-https-tls12",
        "level": "remediate",
        "levels": {"dev": "remediate", "staging": "remediate", "prod": "remediate"},
        "kind": "resource",
        "concern": "transit",
        "resource_types": None,
        "description": "Storage accounts accept HTTPS only with TLS 1.2 or later (remediated in place).",
        "remediation": True,
        "settings": {},
    }
    assert by_id["aws-sg-no-world-ingress"]["settings"] == {"allowedPorts": []}
    assert {r["level"] for r in rules} == {"mandatory", "advisory", "remediate"}
    # Security is mandatory by default; only cost/hygiene rules are advisory.
    assert {r["id"] for r in rules if r["level"] == "advisory"} == {
        "gcp-gcs-cmek",
        "k8s-resource-limits",
        "k8s-image-pinned",
        "k8s-image-digest",
        "gpu-pool-tainted",
        "gpu-pod-tolerates-and-selects",
        "gpu-spot-has-ondemand-floor",
        "cost-budget",
    }


def test_format_rules_json_text_and_markdown() -> None:
    assert json.loads(format_rules("json")) == list_rules()
    text = format_rules("text")
    for rule in RULES:
        assert re.search(rf"^{re.escape(rule.id)}\s", text, re.MULTILINE)
    markdown = format_rules("markdown").splitlines()
    assert markdown[0] == "| Rule | Level (dev / staging / prod) | Kind | Resource types | Description |"
    assert len(markdown) == 2 + len(RULES)
    assert "| `gpu-spot-has-ondemand-floor` | disabled / advisory / mandatory | stack |" in format_rules(
        "markdown"
    )
    with pytest.raises(InputError, match="--format: must be text, markdown or json, got 'yaml'"):
        format_rules("yaml")


def test_readme_table_is_the_generated_one() -> None:
    text = README.read_text()
    begin, end = "<!-- rules:begin (generated by format_rules('markdown')) -->\n", "<!-- rules:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == format_rules("markdown"), "regenerate the table in policies/README.md"
