"""Every type token the rules read is the token the installed SDK registers for that class."""

from __future__ import annotations

import importlib

import pytest
from pulumi.type_token import get_type_token

from policies import RULES

SDK_CLASSES = {
    "aws:s3/bucket:Bucket": "pulumi_aws.s3.Bucket",
    "aws:ec2/vpnGateway:VpnGateway": "pulumi_aws.ec2.VpnGateway",
    "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment": "pulumi_aws.ec2.VpnGatewayAttachment",
    "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation": "pulumi_aws.ec2.VpnGatewayRoutePropagation",
    "aws:ec2/vpnConnection:VpnConnection": "pulumi_aws.ec2.VpnConnection",
    "gcp:compute/haVpnGateway:HaVpnGateway": "pulumi_gcp.compute.HaVpnGateway",
    "gcp:compute/externalVpnGateway:ExternalVpnGateway": "pulumi_gcp.compute.ExternalVpnGateway",
    "gcp:compute/vPNTunnel:VPNTunnel": "pulumi_gcp.compute.VPNTunnel",
    "azure-native:network:Subnet": "pulumi_azure_native.network.Subnet",
    "azure-native:network:VirtualNetworkGateway": "pulumi_azure_native.network.VirtualNetworkGateway",
    "azure-native:network:VirtualNetworkGatewayConnection": "pulumi_azure_native.network.VirtualNetworkGatewayConnection",
    "random:index/randomPassword:RandomPassword": "pulumi_random.RandomPassword",
    "aws:s3/bucketV2:BucketV2": "pulumi_aws.s3.BucketV2",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "pulumi_aws.s3.BucketServerSideEncryptionConfiguration"
    ),
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": (
        "pulumi_aws.s3.BucketServerSideEncryptionConfigurationV2"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "pulumi_aws.s3.BucketPublicAccessBlock",
    "aws:s3/bucketPolicy:BucketPolicy": "pulumi_aws.s3.BucketPolicy",
    "aws:s3/bucketAcl:BucketAcl": "pulumi_aws.s3.BucketAcl",
    "aws:s3/bucketAclV2:BucketAclV2": "pulumi_aws.s3.BucketAclV2",
    "aws:eks/cluster:Cluster": "pulumi_aws.eks.Cluster",
    "aws:eks/nodeGroup:NodeGroup": "pulumi_aws.eks.NodeGroup",
    "aws:eks/accessEntry:AccessEntry": "pulumi_aws.eks.AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "pulumi_aws.eks.AccessPolicyAssociation",
    "aws:ec2/launchTemplate:LaunchTemplate": "pulumi_aws.ec2.LaunchTemplate",
    "aws:ec2/instance:Instance": "pulumi_aws.ec2.Instance",
    "aws:ebs/volume:Volume": "pulumi_aws.ebs.Volume",
    "aws:ec2/securityGroup:SecurityGroup": "pulumi_aws.ec2.SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "pulumi_aws.ec2.DefaultSecurityGroup",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "pulumi_aws.ec2.SecurityGroupRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "pulumi_aws.vpc.SecurityGroupIngressRule",
    "aws:kms/key:Key": "pulumi_aws.kms.Key",
    "aws:secretsmanager/secret:Secret": "pulumi_aws.secretsmanager.Secret",
    "gcp:secretmanager/secret:Secret": "pulumi_gcp.secretmanager.Secret",
    "aws:cloudwatch/logGroup:LogGroup": "pulumi_aws.cloudwatch.LogGroup",
    "aws:cloudtrail/trail:Trail": "pulumi_aws.cloudtrail.Trail",
    "aws:s3/bucketLogging:BucketLogging": "pulumi_aws.s3.BucketLogging",
    "aws:s3/bucketLoggingV2:BucketLoggingV2": "pulumi_aws.s3.BucketLoggingV2",
    "aws:iam/role:Role": "pulumi_aws.iam.Role",
    "aws:iam/policy:Policy": "pulumi_aws.iam.Policy",
    "aws:iam/rolePolicy:RolePolicy": "pulumi_aws.iam.RolePolicy",
    "aws:iam/userPolicy:UserPolicy": "pulumi_aws.iam.UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy": "pulumi_aws.iam.GroupPolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "pulumi_aws.iam.RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "pulumi_aws.iam.UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "pulumi_aws.iam.GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment": "pulumi_aws.iam.PolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "pulumi_aws.iam.RolePolicyAttachmentsExclusive",
    "aws:lb/listener:Listener": "pulumi_aws.lb.Listener",
    "aws:alb/listener:Listener": "pulumi_aws.alb.Listener",
    "azure-native:storage:StorageAccount": "pulumi_azure_native.storage.StorageAccount",
    "azure-native:keyvault:Vault": "pulumi_azure_native.keyvault.Vault",
    "azure-native:keyvault:Secret": "pulumi_azure_native.keyvault.Secret",
    "azure-native:storage:BlobContainer": "pulumi_azure_native.storage.BlobContainer",
    "azure-native:containerservice:ManagedCluster": "pulumi_azure_native.containerservice.ManagedCluster",
    "azure-native:containerservice:AgentPool": "pulumi_azure_native.containerservice.AgentPool",
    "azure-native:network:NetworkSecurityGroup": "pulumi_azure_native.network.NetworkSecurityGroup",
    "azure-native:network:SecurityRule": "pulumi_azure_native.network.SecurityRule",
    "azure-native:authorization:RoleAssignment": "pulumi_azure_native.authorization.RoleAssignment",
    "azure-native:monitor:DiagnosticSetting": "pulumi_azure_native.monitor.DiagnosticSetting",
    "gcp:storage/bucket:Bucket": "pulumi_gcp.storage.Bucket",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "pulumi_gcp.storage.BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding": "pulumi_gcp.storage.BucketIAMBinding",
    "gcp:storage/bucketIAMPolicy:BucketIAMPolicy": "pulumi_gcp.storage.BucketIAMPolicy",
    "gcp:container/cluster:Cluster": "pulumi_gcp.container.Cluster",
    "gcp:compute/subnetwork:Subnetwork": "pulumi_gcp.compute.Subnetwork",
    "gcp:container/nodePool:NodePool": "pulumi_gcp.container.NodePool",
    "gcp:compute/firewall:Firewall": "pulumi_gcp.compute.Firewall",
    "gcp:projects/iAMAuditConfig:IAMAuditConfig": "pulumi_gcp.projects.IAMAuditConfig",
    "gcp:logging/projectBucketConfig:ProjectBucketConfig": "pulumi_gcp.logging.ProjectBucketConfig",
    "gcp:binaryauthorization/policy:Policy": "pulumi_gcp.binaryauthorization.Policy",
    "gcp:projects/iAMMember:IAMMember": "pulumi_gcp.projects.IAMMember",
    "gcp:projects/iAMBinding:IAMBinding": "pulumi_gcp.projects.IAMBinding",
    "gcp:projects/iAMPolicy:IAMPolicy": "pulumi_gcp.projects.IAMPolicy",
    "kubernetes:core/v1:Pod": "pulumi_kubernetes.core.v1.Pod",
    "kubernetes:helm.sh/v3:Release": "pulumi_kubernetes.helm.v3.Release",
    "kubernetes:apps/v1:Deployment": "pulumi_kubernetes.apps.v1.Deployment",
    "kubernetes:apps/v1:StatefulSet": "pulumi_kubernetes.apps.v1.StatefulSet",
    "kubernetes:apps/v1:DaemonSet": "pulumi_kubernetes.apps.v1.DaemonSet",
    "kubernetes:apps/v1:ReplicaSet": "pulumi_kubernetes.apps.v1.ReplicaSet",
    "kubernetes:core/v1:ReplicationController": "pulumi_kubernetes.core.v1.ReplicationController",
    "kubernetes:batch/v1:Job": "pulumi_kubernetes.batch.v1.Job",
    "kubernetes:batch/v1:CronJob": "pulumi_kubernetes.batch.v1.CronJob",
    "kubernetes:core/v1:Service": "pulumi_kubernetes.core.v1.Service",
    "kubernetes:core/v1:ServiceAccount": "pulumi_kubernetes.core.v1.ServiceAccount",
    "kubernetes:core/v1:Secret": "pulumi_kubernetes.core.v1.Secret",
    "kubernetes:networking.k8s.io/v1:Ingress": "pulumi_kubernetes.networking.v1.Ingress",
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": "pulumi_kubernetes.networking.v1.NetworkPolicy",
    "kubernetes:policy/v1:PodDisruptionBudget": "pulumi_kubernetes.policy.v1.PodDisruptionBudget",
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": "pulumi_kubernetes.autoscaling.v2.HorizontalPodAutoscaler",
    "kubernetes:rbac.authorization.k8s.io/v1:Role": "pulumi_kubernetes.rbac.v1.Role",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": "pulumi_kubernetes.rbac.v1.ClusterRole",
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": "pulumi_kubernetes.rbac.v1.RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": "pulumi_kubernetes.rbac.v1.ClusterRoleBinding",
    "pulumi:providers:kubernetes": "pulumi_kubernetes.Provider",
    "aws:eks/addon:Addon": "pulumi_aws.eks.Addon",
    "aws:ec2/subnet:Subnet": "pulumi_aws.ec2.Subnet",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "pulumi_gcp.kms.CryptoKeyIAMMember",
    "gcp:serviceaccount/iAMMember:IAMMember": "pulumi_gcp.serviceaccount.IAMMember",
    "gcp:serviceaccount/iAMBinding:IAMBinding": "pulumi_gcp.serviceaccount.IAMBinding",
    "time:index/sleep:Sleep": "pulumiverse_time.Sleep",
    "command:local:Command": "pulumi_command.local.Command",
    "aws:s3/bucketVersioning:BucketVersioning": "pulumi_aws.s3.BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "pulumi_aws.s3.BucketVersioningV2",
    "azure-native:storage:BlobServiceProperties": "pulumi_azure_native.storage.BlobServiceProperties",
    "gcp:storage/transferJob:TransferJob": "pulumi_gcp.storage.TransferJob",
    "aws:route53/record:Record": "pulumi_aws.route53.Record",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "pulumi_aws.iam.OpenIdConnectProvider",
}


CUSTOM_RESOURCES = {
    "kubernetes:inference.networking.k8s.io/v1:InferencePool": (
        "inference.networking.k8s.io/v1",
        "InferencePool",
    ),
    "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute": ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    "kubernetes:gateway.networking.k8s.io/v1:Gateway": ("gateway.networking.k8s.io/v1", "Gateway"),
    "kubernetes:karpenter.sh/v1:NodePool": ("karpenter.sh/v1", "NodePool"),
    "kubernetes:cloud.google.com/v1:ComputeClass": ("cloud.google.com/v1", "ComputeClass"),
    "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass": ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    "kubernetes:karpenter.azure.com/v1beta1:AKSNodeClass": ("karpenter.azure.com/v1beta1", "AKSNodeClass"),
    "kubernetes:keda.sh/v1alpha1:ScaledObject": ("keda.sh/v1alpha1", "ScaledObject"),
    "kubernetes:external-secrets.io/v1:ExternalSecret": ("external-secrets.io/v1", "ExternalSecret"),
    "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet": (
        "leaderworkerset.x-k8s.io/v1",
        "LeaderWorkerSet",
    ),
    "kubernetes:cert-manager.io/v1:Issuer": ("cert-manager.io/v1", "Issuer"),
    "kubernetes:cert-manager.io/v1:Certificate": ("cert-manager.io/v1", "Certificate"),
}
"""Custom resources the rules read: pulumi_kubernetes' CustomResource registers ``kubernetes:<apiVersion>:<kind>``."""


def test_every_rule_token_is_listed() -> None:
    used = {t for rule in RULES for t in rule.resource_types}
    assert used == set(SDK_CLASSES) | set(CUSTOM_RESOURCES)


@pytest.mark.parametrize("token", sorted(CUSTOM_RESOURCES))
def test_custom_resource_tokens_are_what_the_program_registers(token: str) -> None:
    from aistack import crds
    from components.k8s import keda, multinode, provisioning, routing, secrets, tls

    api_version, kind = CUSTOM_RESOURCES[token]
    assert (api_version, kind) in crds.served()  # a vendored, served version of the kind
    provisioners = {
        kind[0]
        for kind in (
            provisioning.KARPENTER_NODEPOOL,
            provisioning.COMPUTE_CLASS,
            provisioning.EC2_NODECLASS,
            provisioning.AKS_NODECLASS,
        )
    }
    assert (
        api_version
        in {
            routing.POOL_API,
            routing.GATEWAY_API,
            keda.API,
            multinode.API_VERSION,
            secrets.API_VERSION,
            tls.API,
        }
        | provisioners
    )
    assert token == f"kubernetes:{api_version}:{kind}"


@pytest.mark.parametrize("token", sorted(SDK_CLASSES))
def test_token_matches_the_installed_sdk(token: str) -> None:
    module, _, name = SDK_CLASSES[token].rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    # pulumiverse-time 0.1 predates type-token metadata: read the token its constructor registers.
    assert (get_type_token(cls) or _registered_token(cls)) == token


def _registered_token(cls: type) -> str | None:
    import inspect
    import re

    found = re.search(r"super\(\w+, __self__\).__init__\(\s*'([^']+)'", inspect.getsource(cls))
    return found.group(1) if found else None
