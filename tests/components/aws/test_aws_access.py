"""Who reaches and administers an EKS cluster: the public endpoint for the runners' CIDRs or an
in-network runner, access entries for the deployer and admin roles, no creator admin, and a
kubeconfig that signs in as the deployer role."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from aistack.spec import load_stack_file
from components.aws import deploy
from components.aws.cluster import ADMIN_POLICY
from tests.conftest import REPO

RUNNER = "52.94.0.0/22"
ADMIN = "arn:aws:iam::444455556666:role/platform/PlatformAdmins"


def _dev(api: dict | None = None, **aws_cloud):
    _, spec = load_stack_file(REPO / "stacks" / "Pulumi.dev.yaml")
    data = spec.model_dump()
    data["clusters"]["main"]["api"] = api or {
        "deployer": "allow-listed",
        "private": True,
        "public_cidrs": [RUNNER],
    }
    data["clouds"]["aws"].update(aws_cloud)
    spec = type(spec).model_validate(data)

    def body():
        deployed = deploy(spec, aws.Provider("aws", region="us-east-1"), "aistack-dev")
        pulumi.export("aws", deployed.outputs())

    return body


def test_deployer_and_admins_get_cluster_admin_through_access_entries_not_the_creator(declare):
    d = declare(_dev(admin_role_arns=[ADMIN]))
    eks = d.named("main-eks")
    assert eks.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    # EKS reads the flag at creation only; changing it would replace clusters created before.
    assert "accessConfig.bootstrapClusterCreatorAdminPermissions" in eks.ignore_changes
    account = eks.outputs["arn"].split(":")[4]
    deployer = f"arn:aws:iam::{account}:role/aistack-deployer"
    entries = {r.name: r.inputs for r in d.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries == {
        "main-access-deployer": {
            "clusterName": eks.inputs["name"],
            "principalArn": deployer,
            "type": "STANDARD",
        },
        "main-access-platformadmins": {
            "clusterName": eks.inputs["name"],
            "principalArn": ADMIN,
            "type": "STANDARD",
        },
    }
    associations = {r.name: r for r in d.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")}
    assert set(associations) == {"main-access-deployer-admin", "main-access-platformadmins-admin"}
    for association in associations.values():
        assert association.inputs["policyArn"] == ADMIN_POLICY
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert association.parent == d.named("main").urn
    assert associations["main-access-deployer-admin"].inputs["principalArn"] == deployer


def test_kubeconfig_signs_in_as_the_deployer_role_without_a_prompt(declare):
    role = "arn:aws:iam::111122223333:role/ci/aistack-deployer"
    d = declare(_dev(deployer_role=role))
    eks = d.named("main-eks")
    kubeconfig = d.outputs["aws"]["clusters"]["main"]["kubeconfig"]
    assert (
        kubeconfig["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
    )  # still secret
    exec_ = json.loads(kubeconfig["value"])["users"][0]["user"]["exec"]
    assert exec_["command"] == "aws" and exec_["interactiveMode"] == "Never"
    assert exec_["args"] == [
        "eks", "get-token", "--cluster-name", eks.inputs["name"], "--region", "us-east-1",
        "--role-arn", role, "--output", "json",
    ]  # fmt: skip
    assert d.named("main-access-deployer").inputs["principalArn"] == role


def test_allow_listed_endpoint_is_tagged_and_open_to_the_runner_only(declare):
    eks = declare(_dev()).named("main-eks")
    vpc = eks.inputs["vpcConfig"]
    assert (vpc["endpointPrivateAccess"], vpc["endpointPublicAccess"], vpc["publicAccessCidrs"]) == (
        True,
        True,
        [RUNNER],
    )
    assert eks.inputs["tags"] == {"aistack-deployer": "allow-listed"}


def test_in_network_runner_gets_the_private_endpoint_on_443_only(declare):
    d = declare(_dev({"deployer": "in-network", "private": True, "runner_cidrs": ["10.99.0.0/24"]}))
    eks = d.named("main-eks")
    assert eks.inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in eks.inputs["vpcConfig"]
    assert eks.inputs["tags"] == {"aistack-deployer": "in-network"}
    (rule,) = d.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule.name == "main-runner-10-99-0-0-24"
    assert rule.inputs["securityGroupId"] == eks.outputs["vpcConfig"]["clusterSecurityGroupId"]
    assert {k: rule.inputs[k] for k in ("cidrIpv4", "ipProtocol", "fromPort", "toPort")} == {
        "cidrIpv4": "10.99.0.0/24",
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
    }
