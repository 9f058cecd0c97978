"""EKS cluster with encrypted secrets, control-plane logs, API authentication and a CPU system pool."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from aistack.spec.clusters import ClusterSpec
from components import access, contract, naming
from components.aws import kms
from components.aws.iam import document, managed_policy, rotating_key, service_trust
from components.aws.nodegroup import node_group

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy")


ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
ADDON_CONFIGURATION = {
    # NetworkPolicy objects are accepted but not enforced on EKS until the VPC CNI's network policy agent is
    # on: it is off by default and turned on by this add-on setting (EKS User Guide, "Configure your cluster
    # for Kubernetes network policies", docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html;
    # VPC CNI >= 1.14, EKS >= 1.25). The serving NetworkPolicies (components/k8s/routing.py) rely on it.
    "vpc-cni": json.dumps({"enableNetworkPolicy": "true"}),
}
"""Managed add-on configuration values (JSON), by add-on name; add-ons not listed keep EKS's defaults."""
"""EKS's access policy equal to Kubernetes ``cluster-admin`` (EKS user guide, "Associate access
policies with access entries": docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html)."""


def kubeconfig(name: str, endpoint: str, ca_data: str, region: str, role_arn: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` as the deployer role.

    No static credentials, no prompt: ``get-token`` assumes ``role_arn`` (the role holding the
    cluster's admin access entry) with whatever AWS credentials the runner has, so teammates and
    CI sign in as the same role instead of as whoever created the cluster.
    """
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "eks",
                "get-token",
                "--cluster-name",
                name,
                "--region",
                region,
                "--role-arn",
                role_arn,
                "--output",
                "json",
            ],
            "interactiveMode": "Never",
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


def role_arn(role: str, cluster_arn: str) -> str:
    """A role ARN from ``deployer_role``: as given, or the named role in the cluster's account."""
    if role.startswith("arn:"):
        return role
    partition, account = cluster_arn.split(":")[1], cluster_arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:role/{role}"


def _principal_key(arn: str) -> str:
    """A stable logical-name suffix for an admin role: its name, lowercased (never a list index)."""
    return "".join(c if c.isalnum() or c == "-" else "-" for c in arn.rsplit("/", 1)[-1].lower())


def node_role_with_policies(
    owner: contract.Component, region: str
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """``-node-role`` (EC2 may assume it) with the managed policies EKS nodes need (``-node-<policy>``)."""
    role = aws.iam.Role(
        owner.child("node-role"), assume_role_policy=service_trust("ec2.amazonaws.com"), opts=owner.opts()
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            owner.child(f"node-{policy_name}"),
            role=role.name,
            policy_arn=managed_policy(region, policy_name),
            opts=owner.opts(),
        )
        for policy_name in NODE_POLICIES
    ]
    return role, attachments


class Cluster(contract.Cluster):
    """An EKS cluster secure by default.

    Children: ``-secrets-key`` (KMS, rotating; its policy separates the administrators from
    the one user, the cluster role), ``-logs`` (control-plane log group with retention,
    encrypted with the stack's log key), ``-role`` and its policy attachment, ``-eks`` (the cluster: private endpoint or
    allow-listed public CIDRs, envelope encryption of secrets, all control-plane logs, API
    authentication mode without the creator's bootstrap admin, standard support only),
    ``-access-deployer`` and ``-access-<role>`` per admin role (access entries) each with its
    ``-admin`` association (``AmazonEKSClusterAdminPolicy``, cluster scope), with ``deployer:
    in-network`` one ``-runner-<n>`` ingress rule on the cluster security group per runner CIDR
    (443 only), ``-node-role`` with its three managed-policy
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
        deployer_role: str,
        admin_role_arns: list[str],
        protect: bool,
        instance_tags: dict[str, str] | None = None,
        log_key_arn: pulumi.Input[str] | None = None,
        key_administrators: list[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        # The stack's tags for what node groups launch (EKS does not pass them on; see node_group).
        self.instance_tags = dict(instance_tags or {})
        # EKS writes control-plane logs to this fixed name; creating it first sets the retention
        # and the key (audit and authenticator logs name every caller of the API).
        logs = aws.cloudwatch.LogGroup(
            self.child("logs"),
            name=f"/aws/eks/{physical_name}/cluster",
            retention_in_days=spec.log_retention_days,
            kms_key_id=log_key_arn,
            opts=self.opts(),
        )
        role = aws.iam.Role(
            self.child("role"),
            assume_role_policy=service_trust("eks.amazonaws.com", ("sts:AssumeRole", "sts:TagSession")),
            opts=self.opts(),
        )
        # EKS encrypts and decrypts secrets as the cluster role; the deployer creating the cluster
        # needs kms:CreateGrant and kms:DescribeKey, which the administrators' statement carries.
        account = role.arn.apply(kms.account_of)
        key = rotating_key(
            self,
            "secrets-key",
            f"EKS secrets envelope encryption for {physical_name}",
            protect=protect,
            policy=document(
                kms.admin_statement(kms.administrators(key_administrators or [], region, account)),
                kms.user_statement("ClusterRole", [role.arn], [*kms.USE_ACTIONS, "kms:ListGrants"]),
            ),
        )
        policy = aws.iam.RolePolicyAttachment(
            self.child("role-cluster-policy"),
            role=role.name,
            policy_arn=managed_policy(region, "AmazonEKSClusterPolicy"),
            opts=self.opts(),
        )
        # The public endpoint (allow-listed to the runners' CIDRs only) is the first pulumi up's
        # only way in: the VPC it would need to be in does not exist yet (docs/first-deploy.md).
        public = spec.api.deployer == "allow-listed"
        cluster = aws.eks.Cluster(
            self.child("eks"),
            name=physical_name,
            version=spec.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": list(node_subnet_ids.values()),
                "endpoint_private_access": spec.api.private,
                "endpoint_public_access": public,
                **({"public_access_cidrs": access.allow_list(spec.api)} if public else {}),
            },
            kubernetes_network_config={"service_ipv4_cidr": spec.service_cidr},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
            enabled_cluster_log_types=CONTROL_PLANE_LOGS,
            # No permanent cluster-admin for whoever created the cluster: the access entries below
            # name every admin. EKS reads the flag only at creation, and changing it forces a
            # replacement (pulumi-aws#3997, terraform-provider-aws#35824), so it is ignored on
            # clusters created before: delete their creator's access entry by hand (docs/first-deploy.md).
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            # Add-ons are declared below as managed EKS add-ons instead of self-managed defaults.
            bootstrap_self_managed_addons=False,
            upgrade_policy={"support_type": "STANDARD"},
            deletion_protection=protect,
            tags={access.DEPLOYER_TAG: spec.api.deployer},
            opts=self.opts(
                depends_on=[logs, policy],
                protect=protect,
                ignore_changes=["accessConfig.bootstrapClusterCreatorAdminPermissions"],
            ),
        )
        deployer_arn = cluster.arn.apply(lambda arn: role_arn(deployer_role, arn))
        admins = self._admins(cluster, deployer_arn, admin_role_arns)
        for block in spec.api.runner_cidrs:
            # The private endpoint admits only the cluster security group until told otherwise
            # (EKS user guide, "Cluster API server endpoint": private access from other sources
            # needs an ingress rule on 443).
            aws.vpc.SecurityGroupIngressRule(
                self.child(f"runner-{block.replace('/', '-').replace('.', '-')}"),
                security_group_id=cluster.vpc_config.cluster_security_group_id,
                cidr_ipv4=block,
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                description="in-network pulumi up runner to the Kubernetes API",
                opts=self.opts(),
            )
        node_role, attachments = node_role_with_policies(self, region)
        early_addons = [
            aws.eks.Addon(
                self.child(addon),
                cluster_name=cluster.name,
                addon_name=addon,
                configuration_values=ADDON_CONFIGURATION.get(addon),
                opts=self.opts(),
            )
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
            region=region,
            disk_gib=spec.system_pool.disk_gib,
            labels={"aistack.io/pool": "system"},
            taints=[],
            instance_tags=self.instance_tags,
            depends_on=[*attachments, *early_addons],
        )
        # CoreDNS needs nodes to become healthy, so it follows the system node group.
        coredns = aws.eks.Addon(
            self.child("coredns"),
            cluster_name=cluster.name,
            addon_name="coredns",
            opts=self.opts(depends_on=[system]),
        )
        # The kubeconfig waits for the admin associations, so nothing uses the API before the
        # deployer may (the Kubernetes provider is built from this output).
        config = pulumi.Output.all(
            cluster.name, cluster.endpoint, cluster.certificate_authority.data, deployer_arn, *admins
        ).apply(lambda args: kubeconfig(args[0], args[1], args[2], region, args[3]))
        # Without self-managed add-ons, pods get a network from vpc-cni and DNS from coredns only.
        self.ready = [system, *early_addons, coredns]
        # The security group EKS creates for the cluster (control plane and nodes), which Karpenter's
        # nodes join like the managed node groups' nodes.
        self.security_group_id = cluster.vpc_config.cluster_security_group_id
        # The cluster's service-account token issuer (IAM OIDC providers for workloads that federate with it).
        self.oidc_issuer_url = cluster.identities.apply(lambda ids: ids[0].oidcs[0].issuer)
        self.finish(
            cluster_name=cluster.name,
            kubeconfig=pulumi.Output.secret(config),
            node_role_arn=node_role.arn,
            node_subnet_ids=dict(node_subnet_ids),
            arn=cluster.arn,
        )

    def _admins(
        self, cluster: aws.eks.Cluster, deployer_arn: pulumi.Output[str], admin_role_arns: list[str]
    ) -> list[pulumi.Output[str]]:
        """Access entries with cluster-scoped ``AmazonEKSClusterAdminPolicy`` for the deployer and
        each admin role; returns the associations' ids (to order the kubeconfig after them)."""
        principals: dict[str, pulumi.Input[str]] = {"deployer": deployer_arn}
        for arn in dict.fromkeys(admin_role_arns):
            principals[_principal_key(arn)] = arn
        done = []
        for key, principal in principals.items():
            entry = aws.eks.AccessEntry(
                self.child(f"access-{key}"),
                cluster_name=cluster.name,
                principal_arn=principal,
                type="STANDARD",
                opts=self.opts(),
            )
            association = aws.eks.AccessPolicyAssociation(
                self.child(f"access-{key}-admin"),
                cluster_name=cluster.name,
                principal_arn=entry.principal_arn,
                policy_arn=ADMIN_POLICY,
                access_scope={"type": "cluster"},
                opts=self.opts(),
            )
            done.append(association.id)
        return done


def physical_name(prefix: str, name: str) -> str:
    """The EKS cluster's name (explicit, because the control-plane log group embeds it)."""
    return naming.eks_cluster(prefix, name)
