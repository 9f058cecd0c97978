"""EKS cluster with encrypted secrets, control-plane logs, API authentication and a CPU system pool."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from aistack.spec.clusters import ClusterSpec
from components import contract, naming
from components.aws.iam import managed_policy, rotating_key, service_trust
from components.aws.nodegroup import node_group

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no static credentials)."""
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"],
        }
    }
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": user}],
        }
    )


class Cluster(contract.Cluster):
    """An EKS cluster secure by default.

    Children: ``-secrets-key`` (KMS, rotating), ``-logs`` (control-plane log group with
    retention), ``-role`` and its policy attachment, ``-eks`` (the cluster: private endpoint or
    allow-listed public CIDRs, envelope encryption of secrets, all control-plane logs, API
    authentication mode, standard support only), ``-node-role`` with its three managed-policy
    attachments (shared by every node group), the ``-system`` node group (AL2023, on-demand,
    encrypted gp3, IMDSv2) and the managed add-ons ``vpc-cni``, ``kube-proxy``, ``coredns``
    and ``eks-pod-identity-agent``.

    Outputs: ``cluster_name``, ``kubeconfig`` (secret), ``node_role_arn``, ``node_subnet_ids``
    (zone → subnet id), ``arn``.
    """

    CLOUD = "aws"
    OUTPUTS = ("cluster_name", "kubeconfig", "node_role_arn", "node_subnet_ids", "arn")
    SYSTEM_INSTANCE_TYPE = "m6i.large"

    def __init__(
        self,
        name: str,
        spec: ClusterSpec,
        *,
        physical_name: str,
        region: str,
        node_subnet_ids: dict[str, pulumi.Input[str]],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        key = rotating_key(
            self, "secrets-key", f"EKS secrets envelope encryption for {physical_name}", protect=protect
        )
        # EKS writes control-plane logs to this fixed name; creating it first sets the retention.
        logs = aws.cloudwatch.LogGroup(
            self.child("logs"),
            name=f"/aws/eks/{physical_name}/cluster",
            retention_in_days=spec.log_retention_days,
            opts=self.opts(),
        )
        role = aws.iam.Role(
            self.child("role"),
            assume_role_policy=service_trust("eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession")),
            opts=self.opts(),
        )
        policy = aws.iam.RolePolicyAttachment(
            self.child("role-cluster-policy"),
            role=role.name,
            policy_arn=managed_policy(region, "AmazonEKSClusterPolicy"),
            opts=self.opts(),
        )
        public = bool(spec.api.public_cidrs)
        cluster = aws.eks.Cluster(
            self.child("eks"),
            name=physical_name,
            version=spec.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": list(node_subnet_ids.values()),
                "endpoint_private_access": spec.api.private,
                "endpoint_public_access": public,
                **({"public_access_cidrs": list(spec.api.public_cidrs)} if public else {}),
            },
            kubernetes_network_config={"service_ipv4_cidr": spec.service_cidr},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            # Add-ons are declared below as managed EKS add-ons instead of self-managed defaults.
            bootstrap_self_managed_addons=False,
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=protect,
            opts=self.opts(depends_on=[logs, policy], protect=protect),
        )
        node_role = aws.iam.Role(
            self.child("node-role"),
            assume_role_policy=service_trust("ec2.amazonaws.com"),
            opts=self.opts(),
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                self.child(f"node-{policy_name}"),
                role=node_role.name,
                policy_arn=managed_policy(region, policy_name),
                opts=self.opts(),
            )
            for policy_name in NODE_POLICIES
        ]
        early_addons = [
            aws.eks.Addon(self.child(addon), cluster_name=cluster.name, addon_name=addon, opts=self.opts())
            for addon in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
        ]
        system = node_group(
            self,
            "system",
            cluster_name=cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=list(node_subnet_ids.values()),
            instance_types=[spec.system_pool.instance_type or self.SYSTEM_INSTANCE_TYPE],
            ami_type="AL2023_x86_64_STANDARD",
            capacity="on-demand",
            min_nodes=spec.system_pool.min_nodes,
            max_nodes=spec.system_pool.max_nodes,
            disk_gib=spec.system_pool.disk_gib,
            labels={"aistack.io/pool": "system"},
            taints=[],
            depends_on=[*attachments, *early_addons],
        )
        # CoreDNS needs nodes to become healthy, so it follows the system node group.
        aws.eks.Addon(
            self.child("coredns"),
            cluster_name=cluster.name,
            addon_name="coredns",
            opts=self.opts(depends_on=[system]),
        )
        config = pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority.data).apply(
            lambda args: kubeconfig(args[0], args[1], args[2], region)
        )
        self.finish(
            cluster_name=cluster.name,
            kubeconfig=pulumi.Output.secret(config),
            node_role_arn=node_role.arn,
            node_subnet_ids=dict(node_subnet_ids),
            arn=cluster.arn,
        )


def physical_name(prefix: str, name: str) -> str:
    """The EKS cluster's name (explicit, because the control-plane log group embeds it)."""
    return naming.eks_cluster(prefix, name)
