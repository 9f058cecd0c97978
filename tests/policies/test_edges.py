"""Behaviour at the edges of individual rules: provider defaults, alternative spellings,
malformed values (judged strictly, never skipped) and allowed variants."""

from __future__ import annotations

from typing import Any

import pytest

from policies import UNKNOWN, evaluate
from tests.policies.cases import AKS, EKS, GKE, GKE_SECURE, container, doc, merged, pod, res
from tests.policies.cases_dns import failover, nlb_alias, record

IRSA = "oidc.eks.us-east-1.amazonaws.com/id/ABC"


def messages(resource: dict[str, Any], rule: str) -> list[str]:
    return [
        f["message"]
        for f in evaluate([resource], environment="prod", config={rule: "mandatory"})
        if f["policy"] == rule
    ]


@pytest.mark.parametrize(
    ("rule", "resource", "expected"),
    [
        (
            "aws-eks-private-endpoint",
            res(EKS, "c", {"roleArn": "arn:r"}),
            [
                "vpcConfig.endpointPrivateAccess is not true",
                "vpcConfig.publicAccessCidrs (public endpoint on) is empty, so the API endpoint is open to the internet",
            ],
        ),
        (
            "aws-eks-private-endpoint",
            res(
                EKS,
                "c",
                {"vpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}},
            ),
            [],
        ),
        (
            "gcp-firewall-no-world-ingress",
            res(
                "gcp:compute/firewall:Firewall",
                "fw",
                {"network": "n", "allows": [{"protocol": "tcp", "ports": ["22"]}]},
            ),
            ["allows.0: tcp port 22 open to 0.0.0.0/0 (no source given)"],
        ),
        (
            "gcp-firewall-no-world-ingress",
            res(
                "gcp:compute/firewall:Firewall",
                "fw",
                {"network": "n", "sourceTags": ["lb"], "allows": [{"protocol": "tcp"}]},
            ),
            [],
        ),
        (
            "gcp-firewall-no-world-ingress",
            res(
                "gcp:compute/firewall:Firewall",
                "fw",
                {"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "all"}], "disabled": True},
            ),
            [],
        ),
        (
            "azure-nsg-no-internet-ingress",
            res(
                "azure-native:network:SecurityRule",
                "r",
                {
                    "direction": "Inbound",
                    "access": "Allow",
                    "sourceAddressPrefixes": ["10.0.0.0/8", "*"],
                    "destinationPortRange": "ssh",
                },
            ),
            ["rule 'r' allows all ports inbound from *"],
        ),
        (
            "aws-sg-no-world-ingress",
            res(
                "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
                "default",
                {
                    "ingress": [
                        {"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "cidrBlocks": ["0.0.0.0/0"]}
                    ]
                },
            ),
            ["ingress.0: protocol -1 (all ports) open to 0.0.0.0/0"],
        ),
        (
            "aws-iam-trust-scoped",
            res(
                "aws:iam/role:Role",
                "irsa",
                {
                    "assumeRolePolicy": doc(
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": f"arn:aws:iam::1:oidc-provider/{IRSA}"},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {"StringEquals": {f"{IRSA}:aud": "sts.amazonaws.com"}},
                        }
                    )
                },
            ),
            [
                "assumeRolePolicy Statement 0 trusts a web identity without a ':sub' condition; "
                "any service account of the cluster could assume it"
            ],
        ),
        (
            "aws-iam-no-admin-attach",
            res(
                "aws:iam/role:Role",
                "r",
                {
                    "assumeRolePolicy": "{}",
                    "managedPolicyArns": ["arn:aws-us-gov:iam::aws:policy/IAMFullAccess"],
                },
            ),
            ["managedPolicyArns attaches IAMFullAccess; grant the actions the workload needs"],
        ),
        (
            "aws-iam-no-wildcard",
            res(
                "aws:iam/role:Role",
                "r",
                {
                    "inlinePolicies": [
                        {"name": "all", "policy": doc({"Effect": "Allow", "Action": "*", "Resource": ["*"]})}
                    ]
                },
            ),
            ["inlinePolicies.0.policy Statement 0 allows Action '*' on Resource '*'"],
        ),
        (
            "azure-rbac-no-broad-owner",
            res(
                "azure-native:authorization:RoleAssignment",
                "ra",
                {
                    "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                    "scope": "/subscriptions/0000/resourceGroups/rg-aistack",
                },
            ),
            [],
        ),
        (
            "gcp-iam-no-basic-roles",
            res(
                "gcp:projects/iAMPolicy:IAMPolicy",
                "p",
                {
                    "project": "p",
                    "policyData": '{"bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}]}',
                },
            ),
            ["grants basic role roles/owner; use a predefined or custom role"],
        ),
        (
            "k8s-rbac-least-privilege",
            res(
                "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
                "b",
                {
                    "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "Group", "name": "system:authenticated"}],
                },
            ),
            [
                "binds cluster-admin; bind a role limited to what the subject needs",
                "subjects.0 binds the group system:authenticated",
            ],
        ),
        (
            "k8s-no-public-lb",
            res(
                "kubernetes:core/v1:Service",
                "svc",
                {"spec": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.0/24"]}},
            ),
            [],
        ),
        (
            "k8s-ingress-tls",
            res(
                "kubernetes:networking.k8s.io/v1:Ingress",
                "ing",
                {"spec": {"tls": [{"hosts": ["*.example.com"]}], "rules": [{"host": "a.b.example.com"}]}},
            ),
            ["host 'a.b.example.com' (spec.rules.0) has no spec.tls entry"],
        ),
        (
            "aws-lb-tls",
            res("aws:lb/listener:Listener", "l", {"protocol": "HTTPS", "certificateArn": "arn:c"}),
            ["sslPolicy is not set; the provider default ELBSecurityPolicy-2016-08 accepts TLS 1.0"],
        ),
        (
            "aws-lb-tls",
            res(
                "aws:lb/listener:Listener",
                "l",
                {"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-1-2021-06"},
            ),
            [
                "sslPolicy 'ELBSecurityPolicy-TLS13-1-1-2021-06' accepts TLS below 1.2; use ELBSecurityPolicy-TLS13-1-2-2021-06"
            ],
        ),
        (
            "aws-block-storage-encrypted",
            res(
                "aws:ec2/instance:Instance",
                "vm",
                {"ami": "ami-1", "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": True}]},
            ),
            ["rootBlockDevice.encrypted is not true"],
        ),
        (
            "aws-block-storage-encrypted",
            res(
                "aws:ec2/launchTemplate:LaunchTemplate", "lt", {"metadataOptions": {"httpTokens": "required"}}
            ),
            [
                "declares no blockDeviceMappings, so the root volume follows the AMI and is unencrypted unless the "
                "account encrypts EBS by default; map the root device with ebs.encrypted=true"
            ],
        ),
        (
            "azure-storage-no-public",
            res("azure-native:storage:StorageAccount", "sa", {"networkRuleSet": {"defaultAction": "Allow"}}),
            [
                "reachable from any network: set publicNetworkAccess='Disabled' (private endpoint) or "
                "networkRuleSet.defaultAction='Deny' with allow-listed networks"
            ],
        ),
        (
            "gcp-gke-private",
            res(
                GKE,
                "gke",
                merged(GKE_SECURE, "privateClusterConfig.enablePrivateEndpoint", False)
                | {
                    "masterAuthorizedNetworksConfig": {
                        "cidrBlocks": [{"cidrBlock": "0.0.0.0/0"}],
                        "gcpPublicCidrsAccessEnabled": True,
                    }
                },
            ),
            [
                "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled admits every Google Cloud address",
                "masterAuthorizedNetworksConfig.cidrBlocks (public endpoint on) includes 0.0.0.0/0",
            ],
        ),
        (
            "gcp-gke-private",
            res(
                GKE,
                "gke",
                merged(GKE_SECURE, "privateClusterConfig.enablePrivateEndpoint", False)
                | {"controlPlaneEndpointsConfig": {"ipEndpointsConfig": {"enabled": False}}},
            ),
            [],
        ),
        (
            "gpu-pool-tainted",
            res(
                AKS,
                "aks",
                {
                    "agentPoolProfiles": [
                        {"name": "sys", "vmSize": "Standard_D4s_v5"},
                        {"name": "gpu", "vmSize": "Standard_NC6s_v3", "nodeTaints": ["sku=gpu:NoSchedule"]},
                    ]
                },
            ),
            [
                "GPU pool aks.agentPoolProfiles.1 lacks the taint nvidia.com/gpu=present:NoSchedule",
                "GPU pool aks.agentPoolProfiles.1 lacks the node label aistack.io/accelerator",
            ],
        ),
        (
            "k8s-non-root-readonly",
            pod(securityContext={"runAsUser": 1000})
            | {
                "inputs": {
                    "spec": {
                        "securityContext": {"runAsUser": 1000.0},
                        "containers": [container(sc_runAsNonRoot=None)],
                    }
                }
            },
            [],
        ),
        (
            "k8s-resource-limits",
            pod(tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists"}]),
            [
                "targets GPU nodes (GPU toleration or accelerator selector) but no container limits nvidia.com/gpu"
            ],
        ),
    ],
)
def test_edge(rule: str, resource: dict[str, Any], expected: list[str]) -> None:
    assert messages(resource, rule) == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        # Route 53 considers a SECONDARY without a health check healthy: the answer of last resort.
        (failover("SECONDARY"), []),
        (failover("PRIMARY", alias=nlb_alias()), []),
        (failover("PRIMARY", alias=nlb_alias("true")), []),
        # A PRIMARY that follows nothing is answered while its target is down: no failover ever happens.
        (failover("PRIMARY"), ["failoverRoutingPolicies without healthCheckId"]),
        (failover("PRIMARY", alias=nlb_alias(False)), ["failoverRoutingPolicies without healthCheckId"]),
        (record(health=None), ["weightedRoutingPolicies without healthCheckId"]),
    ],
)
def test_routed_record_health(resource: dict[str, Any], expected: list[str]) -> None:
    found = messages(resource, "dns-routed-record-health-check")
    assert len(found) == len(expected)
    assert all(e in m for e, m in zip(expected, found, strict=True))


def test_routed_record_alias_health_unknown_is_undecided() -> None:
    findings = evaluate(
        [failover("PRIMARY", alias=nlb_alias(UNKNOWN))],
        environment="prod",
        config={"dns-routed-record-health-check": "mandatory"},
    )
    assert [f["level"] for f in findings if f["policy"] == "dns-routed-record-health-check"] == ["advisory"]
