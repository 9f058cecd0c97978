"""Resource type tokens the rules read, as the installed SDKs register them.

Each token here is checked against ``pulumi.type_token.get_type_token`` of the SDK class in
``tests/policies/test_tokens.py`` (pulumi-aws 7, azure-native 3, pulumi-gcp 10, kubernetes 4).
"""

from __future__ import annotations

# AWS: S3 (v7 splits bucket settings into their own resources; the V2 names are deprecated
# aliases that programs written for v6 still use).
S3_BUCKET = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
S3_PUBLIC_ACCESS_BLOCK = ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",)
S3_POLICY = ("aws:s3/bucketPolicy:BucketPolicy",)
S3_ACL = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")

# AWS: compute, network, keys, identity, load balancers.
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
EKS_ACCESS_POLICY_ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
EC2_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
EC2_SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
EC2_DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
EC2_SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
VPC_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
KMS_KEY = "aws:kms/key:Key"
SECRETSMANAGER_SECRET = "aws:secretsmanager/secret:Secret"
GCP_SECRET = "gcp:secretmanager/secret:Secret"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
CLOUDTRAIL = "aws:cloudtrail/trail:Trail"
S3_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
IAM_ROLE = "aws:iam/role:Role"
IAM_POLICY_DOCUMENTS = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
IAM_EXCLUSIVE_ATTACHMENTS = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
LB_LISTENER = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")

# Azure (azure-native v3).
AZ_STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
AZ_KEY_VAULT = "azure-native:keyvault:Vault"
AZ_KEY_VAULT_SECRET = "azure-native:keyvault:Secret"
AZ_BLOB_CONTAINER = "azure-native:storage:BlobContainer"
AZ_MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AZ_AGENT_POOL = "azure-native:containerservice:AgentPool"
AZ_NSG = "azure-native:network:NetworkSecurityGroup"
AZ_SECURITY_RULE = "azure-native:network:SecurityRule"
AZ_ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
AZ_DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"

# GCP (pulumi-gcp v10).
GCS_BUCKET = "gcp:storage/bucket:Bucket"
GCS_BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
GCS_BUCKET_IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
GCS_BUCKET_IAM_POLICY = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GCE_FIREWALL = "gcp:compute/firewall:Firewall"
GCP_PROJECT_IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
GCP_PROJECT_IAM_BINDING = "gcp:projects/iAMBinding:IAMBinding"
GCP_PROJECT_IAM_POLICY = "gcp:projects/iAMPolicy:IAMPolicy"
GCP_AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
GCP_LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
BINAUTHZ_POLICY = "gcp:binaryauthorization/policy:Policy"

# Kubernetes (pulumi-kubernetes v4): where each workload keeps its pod spec.
K8S_POD_SPEC_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:core/v1:ReplicationController": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    # A LeaderWorkerSet's leader: the pod that serves (the worker template is checked against it by
    # deploy-lws-group; without a leaderTemplate LWS uses the worker template for the leader too).
    "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet": "spec.leaderWorkerTemplate.leaderTemplate.spec",
}
K8S_LWS = "kubernetes:leaderworkerset.x-k8s.io/v1:LeaderWorkerSet"
LWS_WORKER_SPEC = "spec.leaderWorkerTemplate.workerTemplate.spec"
K8S_WORKLOADS = tuple(K8S_POD_SPEC_PATHS)
K8S_SERVICE = "kubernetes:core/v1:Service"
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
K8S_ROLES = (
    "kubernetes:rbac.authorization.k8s.io/v1:Role",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
)
K8S_BINDINGS = (
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
)
K8S_PROVIDER = "pulumi:providers:kubernetes"
KARPENTER_NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
GKE_COMPUTE_CLASS = "kubernetes:cloud.google.com/v1:ComputeClass"

# Read by the deploy concern's ordering rules.
EKS_ADDON = "aws:eks/addon:Addon"
EC2_SUBNET = "aws:ec2/subnet:Subnet"
GCP_KMS_KEY_IAM_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
GCP_SA_IAM_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
GCP_SA_IAM_BINDING = "gcp:serviceaccount/iAMBinding:IAMBinding"
TIME_SLEEP = "time:index/sleep:Sleep"
LOCAL_COMMAND = "command:local:Command"

# Read by the interconnect rules (site-to-site VPNs between the clouds).
EC2_VPN_GATEWAY = "aws:ec2/vpnGateway:VpnGateway"
EC2_VPN_GATEWAY_ATTACHMENT = "aws:ec2/vpnGatewayAttachment:VpnGatewayAttachment"
EC2_VPN_PROPAGATION = "aws:ec2/vpnGatewayRoutePropagation:VpnGatewayRoutePropagation"
EC2_VPN_CONNECTION = "aws:ec2/vpnConnection:VpnConnection"
GCE_HA_VPN_GATEWAY = "gcp:compute/haVpnGateway:HaVpnGateway"
GCE_EXTERNAL_VPN_GATEWAY = "gcp:compute/externalVpnGateway:ExternalVpnGateway"
GCE_VPN_TUNNEL = "gcp:compute/vPNTunnel:VPNTunnel"
AZ_SUBNET = "azure-native:network:Subnet"
AZ_VPN_GATEWAY = "azure-native:network:VirtualNetworkGateway"
AZ_VPN_CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"

CLUSTERS = {EKS_CLUSTER: "aws", AZ_MANAGED_CLUSTER: "azure", GKE_CLUSTER: "gcp"}
"""Managed Kubernetes cluster types → cloud."""

# Replication: the transfer that fills a replica store, and the store settings a replica inherits.
GCS_TRANSFER_JOB = "gcp:storage/transferJob:TransferJob"
K8S_CRON_JOB = "kubernetes:batch/v1:CronJob"
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
AZ_BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
AWS_ROLE_POLICIES = ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
