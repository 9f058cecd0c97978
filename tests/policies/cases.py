"""One compliant, one violating and one unknown-valued resource set per rule.

Inputs are camelCase exactly as the mock runtime records them (see test_fixtures.py, which
checks the same shapes through the real SDKs). Stack rules also have an ``orphaned`` set: the
primary resource without the resource it must be joined with (``compliant`` is the joined set).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from policies import UNKNOWN as U

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
DIGEST = "@sha256:" + "b" * 64


def res(type_: str, name: str, inputs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A recorded resource as the offline engine hands it to ``evaluate``."""
    return {
        "urn": f"urn:pulumi:test::cases::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": None,
        "custom": True,
        "inputs": inputs,
    } | extra


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Case:
    """Resource sets for one rule.

    Attributes:
        compliant: Passes (for stack rules: the joined set).
        violating: Fails with a message containing ``message``.
        unknown: Cannot be decided because of an unknown value.
        message: Fragment of the violation message.
        orphaned: Stack rules: the primary resource without its partner (a violation unless
            ``orphan_passes``).
        config: Rule settings (camelCase) used for every set unless overridden in ``configs``.
        configs: Per-set settings, keyed ``compliant``/``violating``/``unknown``.
        orphan_passes: The orphaned set is compliant (the join only adds requirements).
    """

    compliant: list[dict[str, Any]]
    violating: list[dict[str, Any]]
    unknown: list[dict[str, Any]]
    message: str
    orphaned: list[dict[str, Any]] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    orphan_passes: bool = False

    def settings(self, kind: str) -> dict[str, Any]:
        return self.configs.get(kind, self.config)


# ------------------------------------------------------------------ shared building blocks
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
EKS = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
AKS = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
VAULT = "azure-native:keyvault:Vault"
VAULT_SECRET = "azure-native:keyvault:Secret"
STORAGE = "azure-native:storage:StorageAccount"
GKE = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
GCS = "gcp:storage/bucket:Bucket"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POD = "kubernetes:core/v1:Pod"
K8S_PROVIDER = "pulumi:providers:kubernetes"

KMS_RULES = [
    {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": "arn:aws:kms:k"}}
]
PAB_ON = {
    f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
}
TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
SECURE_CONTAINER = {
    "name": "app",
    "image": "docker.io/aistack/app" + DIGEST,
    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
    "securityContext": {
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
    },
}


def container(**changes: Any) -> dict[str, Any]:
    """SECURE_CONTAINER with top-level fields or securityContext entries (``sc_<field>``) changed."""
    c = json.loads(json.dumps(SECURE_CONTAINER))
    for key, value in changes.items():
        if key.startswith("sc_"):
            c["securityContext"][key[3:]] = value
        else:
            c[key] = value
    return c


def pod(name: str = "app", namespace: str = "serving", **spec: Any) -> dict[str, Any]:
    return res(
        POD, name, {"metadata": {"namespace": namespace}, "spec": {"containers": [container()]} | spec}
    )


def gpu_deployment(
    name: str = "llm", *, tolerations: Any = None, selector: Any = None, **extra: Any
) -> dict[str, Any]:
    spec = {
        "containers": [
            container(
                resources={"requests": {"cpu": "4"}, "limits": {"memory": "32Gi", "nvidia.com/gpu": "1"}}
            )
        ],
        "tolerations": [GPU_TOLERATION] if tolerations is None else tolerations,
        "nodeSelector": {"aistack.io/accelerator": "L4-24GB"} if selector is None else selector,
    }
    return res(
        DEPLOYMENT,
        name,
        {"metadata": {"namespace": "serving"}, "spec": {"selector": {}, "template": {"spec": spec}}},
        **extra,
    )


def gke_cluster_with_provider() -> list[dict[str, Any]]:
    """A component holding a GKE cluster and the Kubernetes provider that targets it."""
    component = res("fixture:gcp:Cloud", "gcp", {}, custom=False)
    cluster = res(GKE, "main", {"location": "us-central1"}, parent=component["urn"])
    provider = res(K8S_PROVIDER, "gke-k8s", {"context": "gke"}, parent=component["urn"])
    return [component, cluster, provider]


def eks_pool(name: str, capacity: str, minimum: Any, cluster: Any = "main", **inputs: Any) -> dict[str, Any]:
    return res(
        NODE_GROUP,
        name,
        {
            "clusterName": cluster,
            "amiType": "AL2023_x86_64_NVIDIA",
            "instanceTypes": ["g5.xlarge"],
            "capacityType": capacity,
            "scalingConfig": {"minSize": minimum, "maxSize": 4.0, "desiredSize": 1.0},
            "taints": [GPU_TAINT],
            "labels": {"aistack.io/accelerator": "A10G-24GB"},
        }
        | inputs,
    )


AKS_SECURE = {
    "apiServerAccessProfile": {"enablePrivateCluster": True},
    "aadProfile": {"managed": True, "enableAzureRBAC": True},
    "disableLocalAccounts": True,
    "oidcIssuerProfile": {"enabled": True},
    "securityProfile": {
        "workloadIdentity": {"enabled": True},
        "azureKeyVaultKms": {"enabled": True, "keyId": "https://kv.vault.azure.net/keys/etcd/1"},
    },
}
GKE_SECURE = {
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
    "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
    "databaseEncryption": {"state": "ENCRYPTED", "keyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
    "removeDefaultNodePool": True,
    "binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
    "enableIntranodeVisibility": True,
}


def merged(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with ``path`` (dotted) set to ``value``."""
    copy = json.loads(json.dumps(base))
    node = copy
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return copy


KMS_ADMIN = {
    "Sid": "KeyAdministrators",
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
    "Action": ["kms:Create*", "kms:Describe*", "kms:Put*", "kms:ScheduleKeyDeletion"],
    "Resource": "*",
}
KMS_USER = {
    "Sid": "ClusterRole",
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::111122223333:role/eks"]},
    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
    "Resource": "*",
}
TRAIL = "aws:cloudtrail/trail:Trail"
AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
ACCOUNT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/weights"


def trail(prefixes: Any, destination: str = "trail-bucket") -> dict[str, Any]:
    """A CloudTrail trail recording S3 object events under ``prefixes``."""
    return res(
        TRAIL,
        "trail",
        {
            "s3BucketName": destination,
            "advancedEventSelectors": [
                {
                    "fieldSelectors": [
                        {"field": "eventCategory", "equals": ["Data"]},
                        {"field": "resources.type", "equals": ["AWS::S3::Object"]},
                        {"field": "resources.ARN", "startsWiths": prefixes},
                    ]
                }
            ],
        },
    )


def blob_diagnostics(
    uri: Any, categories: tuple[str, ...] = ("StorageRead", "StorageWrite")
) -> dict[str, Any]:
    return res(
        DIAGNOSTICS,
        "diag",
        {
            "resourceUri": uri,
            "workspaceId": "ws",
            "logs": [{"category": c, "enabled": True} for c in categories],
        },
    )


ACCOUNT = res(STORAGE, "weights", {"accountName": "weights"}, outputs={"id": ACCOUNT_ID})
HEALTH_CHECKS = ["35.191.0.0/16", "130.211.0.0/22"]

CASES: dict[str, Case] = {
    # ---------------------------------------------------------------- encryption
    "aws-s3-sse-kms": Case(
        compliant=[res(SSE, "sse", {"bucket": "b", "rules": KMS_RULES})],
        violating=[
            res(
                SSE,
                "sse",
                {
                    "bucket": "b",
                    "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
                },
            )
        ],
        unknown=[
            res(
                SSE,
                "sse",
                {"bucket": "b", "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": U}}]},
            )
        ],
        message="sseAlgorithm is 'AES256'",
    ),
    "aws-s3-bucket-has-sse": Case(
        compliant=[res(BUCKET, "b", {}), res(SSE, "sse", {"bucket": "b", "rules": KMS_RULES})],
        violating=[res(BUCKET, "b", {}), res(SSE, "sse", {"bucket": "other", "rules": KMS_RULES})],
        unknown=[res(BUCKET, "b", {}), res(SSE, "sse", {"bucket": U, "rules": KMS_RULES})],
        orphaned=[res(BUCKET, "b", {})],
        message="has no BucketServerSideEncryptionConfiguration",
    ),
    "aws-eks-secrets-encryption": Case(
        compliant=[
            res(EKS, "c", {"encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:k"}}})
        ],
        violating=[res(EKS, "c", {"roleArn": "arn:r"})],
        unknown=[res(EKS, "c", {"encryptionConfig": {"resources": U, "provider": {"keyArn": "arn:k"}}})],
        message="does not include 'secrets'",
    ),
    "aws-kms-rotation": Case(
        compliant=[res("aws:kms/key:Key", "k", {"enableKeyRotation": True})],
        violating=[res("aws:kms/key:Key", "k", {"enableKeyRotation": False})],
        unknown=[res("aws:kms/key:Key", "k", {"enableKeyRotation": U})],
        message="enableKeyRotation is not true",
    ),
    "aws-block-storage-encrypted": Case(
        compliant=[
            res(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "lt",
                {
                    "blockDeviceMappings": [
                        {"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeType": "gp3"}}
                    ]
                },
            )
        ],
        violating=[res("aws:ebs/volume:Volume", "v", {"size": 10.0, "availabilityZone": "us-east-1a"})],
        unknown=[
            res(
                "aws:ec2/launchTemplate:LaunchTemplate",
                "lt",
                {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": U}}]},
            )
        ],
        message="encrypted is not true",
    ),
    "azure-storage-encryption": Case(
        compliant=[
            res(
                STORAGE,
                "sa",
                {"encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": True}},
            )
        ],
        violating=[res(STORAGE, "sa", {"kind": "StorageV2"})],
        unknown=[
            res(
                STORAGE,
                "sa",
                {"encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": U}},
            )
        ],
        message="encryption is not set",
    ),
    "azure-aks-encryption": Case(
        compliant=[res(AKS, "aks", AKS_SECURE)],
        violating=[res(AKS, "aks", merged(AKS_SECURE, "securityProfile.azureKeyVaultKms.enabled", False))],
        unknown=[res(AKS, "aks", merged(AKS_SECURE, "securityProfile.azureKeyVaultKms.enabled", U))],
        message="azureKeyVaultKms.enabled is not true",
    ),
    "gcp-gke-secrets-encryption": Case(
        compliant=[res(GKE, "gke", GKE_SECURE)],
        violating=[res(GKE, "gke", merged(GKE_SECURE, "databaseEncryption.state", "DECRYPTED"))],
        unknown=[res(GKE, "gke", merged(GKE_SECURE, "databaseEncryption.state", U))],
        message="databaseEncryption.state is 'DECRYPTED'",
    ),
    "gcp-gcs-cmek": Case(
        compliant=[
            res(
                GCS,
                "g",
                {"encryption": {"defaultKmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}},
            )
        ],
        violating=[res(GCS, "g", {"location": "US"})],
        unknown=[res(GCS, "g", {"encryption": {"defaultKmsKeyName": U}})],
        message="defaultKmsKeyName is not set",
    ),
    "aws-kms-key-policy": Case(
        compliant=[
            res("aws:kms/key:Key", "k", {"enableKeyRotation": True, "policy": doc(KMS_ADMIN, KMS_USER)})
        ],
        violating=[
            res(
                "aws:kms/key:Key",
                "k",
                {"policy": doc({**KMS_ADMIN, "Action": "kms:*"})},
            )
        ],
        unknown=[res("aws:kms/key:Key", "k", {"policy": U})],
        message="allows 'kms:*'",
    ),
    "aws-log-group-kms": Case(
        compliant=[
            res("aws:cloudwatch/logGroup:LogGroup", "lg", {"kmsKeyId": "arn:aws:kms:us-east-1:1:key/k"})
        ],
        violating=[res("aws:cloudwatch/logGroup:LogGroup", "lg", {"retentionInDays": 90})],
        unknown=[res("aws:cloudwatch/logGroup:LogGroup", "lg", {"kmsKeyId": U})],
        message="kmsKeyId is not set",
    ),
    "gcp-log-bucket-cmek": Case(
        compliant=[
            res(
                "gcp:logging/projectBucketConfig:ProjectBucketConfig",
                "lb",
                {"cmekSettings": {"kmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}},
            )
        ],
        violating=[res("gcp:logging/projectBucketConfig:ProjectBucketConfig", "lb", {"retentionDays": 30})],
        unknown=[
            res(
                "gcp:logging/projectBucketConfig:ProjectBucketConfig",
                "lb",
                {"cmekSettings": {"kmsKeyName": U}},
            )
        ],
        message="cmekSettings.kmsKeyName is not set",
    ),
    # ---------------------------------------------------------------- audit
    "aws-s3-access-recorded": Case(
        compliant=[res(BUCKET, "b", {"bucket": "weights"}), trail(["arn:aws:s3:::weights/"])],
        violating=[res(BUCKET, "b", {"bucket": "weights"}), trail(["arn:aws:s3:::other/"])],
        unknown=[res(BUCKET, "b", {"bucket": "weights"}), trail(U)],
        orphaned=[res(BUCKET, "b", {"bucket": "weights"})],
        message="no CloudTrail data-event selector",
    ),
    "gcp-gcs-access-recorded": Case(
        compliant=[
            res(GCS, "g", {"location": "US"}),
            res(
                AUDIT_CONFIG,
                "audit",
                {
                    "service": "storage.googleapis.com",
                    "auditLogConfigs": [{"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}],
                },
            ),
        ],
        violating=[
            res(GCS, "g", {"location": "US"}),
            res(
                AUDIT_CONFIG,
                "audit",
                {"service": "storage.googleapis.com", "auditLogConfigs": [{"logType": "ADMIN_READ"}]},
            ),
        ],
        unknown=[
            res(GCS, "g", {"location": "US"}),
            res(AUDIT_CONFIG, "audit", {"service": "storage.googleapis.com", "auditLogConfigs": U}),
        ],
        orphaned=[res(GCS, "g", {"location": "US"})],
        message="no Data Access audit config",
    ),
    "azure-blob-access-recorded": Case(
        compliant=[ACCOUNT, blob_diagnostics(ACCOUNT_ID + "/blobServices/default")],
        violating=[ACCOUNT, blob_diagnostics(ACCOUNT_ID + "/blobServices/default", ("StorageDelete",))],
        unknown=[ACCOUNT, blob_diagnostics(U)],
        orphaned=[ACCOUNT],
        message="no diagnostic setting on its blob service",
    ),
    # ---------------------------------------------------------------- transit
    "aws-s3-deny-insecure-transport": Case(
        compliant=[res(BUCKET, "b", {}), res(BUCKET_POLICY, "p", {"bucket": "b", "policy": doc(TLS_DENY)})],
        violating=[
            res(BUCKET, "b", {}),
            res(
                BUCKET_POLICY,
                "p",
                {
                    "bucket": "b",
                    "policy": doc({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket"}),
                },
            ),
        ],
        unknown=[res(BUCKET, "b", {}), res(BUCKET_POLICY, "p", {"bucket": "b", "policy": U})],
        orphaned=[res(BUCKET, "b", {})],
        message="aws:SecureTransport=false",
    ),
    "azure-storage-https-tls12": Case(
        compliant=[res(STORAGE, "sa", {"minimumTlsVersion": "TLS1_2", "enableHttpsTrafficOnly": True})],
        violating=[res(STORAGE, "sa", {"minimumTlsVersion": "TLS1_0"})],
        unknown=[res(STORAGE, "sa", {"minimumTlsVersion": U})],
        message="minimumTlsVersion is 'TLS1_0'",
    ),
    "k8s-ingress-tls": Case(
        compliant=[
            res(
                "kubernetes:networking.k8s.io/v1:Ingress",
                "ing",
                {
                    "spec": {
                        "tls": [{"hosts": ["*.example.com"], "secretName": "t"}],
                        "rules": [{"host": "api.example.com"}],
                    }
                },
            )
        ],
        violating=[
            res(
                "kubernetes:networking.k8s.io/v1:Ingress",
                "ing",
                {"spec": {"rules": [{"host": "api.example.com"}]}},
            )
        ],
        unknown=[res("kubernetes:networking.k8s.io/v1:Ingress", "ing", {"spec": {"tls": U, "rules": []}})],
        message="spec.tls is empty",
    ),
    "aws-lb-tls": Case(
        compliant=[
            res(
                "aws:lb/listener:Listener",
                "l",
                {"protocol": "HTTPS", "port": 443.0, "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
            )
        ],
        violating=[
            res(
                "aws:alb/listener:Listener",
                "l",
                {"protocol": "HTTP", "defaultActions": [{"type": "forward", "targetGroupArn": "t"}]},
            )
        ],
        unknown=[res("aws:lb/listener:Listener", "l", {"protocol": "HTTPS", "sslPolicy": U})],
        message="does not redirect to HTTPS",
    ),
    # ---------------------------------------------------------------- public access and network
    "aws-s3-public-access-block": Case(
        compliant=[res(BUCKET, "b", {"bucket": "data"}), res(PAB, "pab", {"bucket": "data"} | PAB_ON)],
        violating=[
            res(BUCKET, "b", {}),
            res(PAB, "pab", {"bucket": "b"} | PAB_ON | {"blockPublicPolicy": False}),
        ],
        unknown=[
            res(BUCKET, "b", {}),
            res(PAB, "pab", {"bucket": "b"} | PAB_ON | {"restrictPublicBuckets": U}),
        ],
        orphaned=[res(BUCKET, "b", {"bucket": "data"}), res(PAB, "pab", {"bucket": "b"} | PAB_ON)],
        message="blockPublicPolicy is not true",
    ),
    "aws-s3-no-public-acl": Case(
        compliant=[res("aws:s3/bucketAcl:BucketAcl", "acl", {"bucket": "b", "acl": "private"})],
        violating=[res("aws:s3/bucketAcl:BucketAcl", "acl", {"bucket": "b", "acl": "public-read"})],
        unknown=[res("aws:s3/bucketAcl:BucketAcl", "acl", {"bucket": "b", "acl": U})],
        message="acl is 'public-read'",
    ),
    "azure-storage-no-public": Case(
        compliant=[res(STORAGE, "sa", {"allowBlobPublicAccess": False, "publicNetworkAccess": "Disabled"})],
        violating=[
            res("azure-native:storage:BlobContainer", "c", {"accountName": "sa", "publicAccess": "Blob"})
        ],
        unknown=[res(STORAGE, "sa", {"allowBlobPublicAccess": U, "publicNetworkAccess": "Disabled"})],
        message="publicAccess is 'Blob'",
    ),
    "azure-secret-vault-private": Case(
        compliant=[
            res(VAULT, "keys-vault", {"vaultName": "kv1", "properties": {"publicNetworkAccess": "Disabled"}}),
            res(VAULT_SECRET, "chat", {"vaultName": "kv1"}),
            # A key-only vault (AKS KMS) may stay public.
            res(VAULT, "kms-vault", {"vaultName": "kv2", "properties": {"publicNetworkAccess": "Enabled"}}),
        ],
        violating=[
            res(VAULT, "keys-vault", {"vaultName": "kv1", "properties": {"publicNetworkAccess": "Enabled"}}),
            res(VAULT_SECRET, "chat", {"vaultName": "kv1"}),
        ],
        unknown=[
            res(VAULT, "keys-vault", {"vaultName": "kv1", "properties": {"publicNetworkAccess": U}}),
            res(VAULT_SECRET, "chat", {"vaultName": "kv1"}),
        ],
        orphaned=[res(VAULT_SECRET, "chat", {"vaultName": "kv1"})],
        message="holds secrets but answers on its public endpoint",
    ),
    "gcp-gcs-no-public": Case(
        compliant=[res(GCS, "g", {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True})],
        violating=[
            res(
                "gcp:storage/bucketIAMMember:BucketIAMMember",
                "m",
                {"bucket": "g", "role": "roles/storage.objectViewer", "member": "allUsers"},
            )
        ],
        unknown=[res(GCS, "g", {"publicAccessPrevention": U, "uniformBucketLevelAccess": True})],
        message="grants to allUsers",
    ),
    "aws-sg-no-world-ingress": Case(
        compliant=[
            res(
                "aws:ec2/securityGroup:SecurityGroup",
                "sg",
                {
                    "ingress": [
                        {"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": ["10.0.0.0/16"]}
                    ]
                },
            )
        ],
        violating=[
            res(
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                "in",
                {
                    "securityGroupId": "sg",
                    "cidrIpv4": "0.0.0.0/0",
                    "fromPort": 22.0,
                    "toPort": 22.0,
                    "ipProtocol": "tcp",
                },
            )
        ],
        unknown=[
            res(
                "aws:ec2/securityGroup:SecurityGroup",
                "sg",
                {"ingress": [{"protocol": "tcp", "fromPort": 443.0, "toPort": 443.0, "cidrBlocks": U}]},
            )
        ],
        message="tcp port 22 open to 0.0.0.0/0",
    ),
    "azure-nsg-no-internet-ingress": Case(
        compliant=[
            res(
                "azure-native:network:SecurityRule",
                "r",
                {
                    "direction": "Inbound",
                    "access": "Allow",
                    "sourceAddressPrefix": "VirtualNetwork",
                    "destinationPortRange": "443",
                },
            )
        ],
        violating=[
            res(
                "azure-native:network:NetworkSecurityGroup",
                "nsg",
                {
                    "securityRules": [
                        {
                            "name": "ssh",
                            "direction": "Inbound",
                            "access": "Allow",
                            "sourceAddressPrefix": "Internet",
                            "destinationPortRange": "22",
                        }
                    ]
                },
            )
        ],
        unknown=[
            res(
                "azure-native:network:SecurityRule",
                "r",
                {
                    "direction": "Inbound",
                    "access": "Allow",
                    "sourceAddressPrefix": U,
                    "destinationPortRange": "22",
                },
            )
        ],
        message="rule 'ssh' allows port 22 inbound from Internet",
    ),
    "gcp-health-check-ports": Case(
        compliant=[
            res(
                "gcp:compute/firewall:Firewall",
                "hc",
                {"sourceRanges": HEALTH_CHECKS, "allows": [{"protocol": "tcp", "ports": ["8000", "10256"]}]},
            )
        ],
        violating=[
            res(
                "gcp:compute/firewall:Firewall",
                "hc",
                {"sourceRanges": HEALTH_CHECKS, "allows": [{"protocol": "tcp"}]},
            )
        ],
        unknown=[
            res(
                "gcp:compute/firewall:Firewall",
                "hc",
                {"sourceRanges": HEALTH_CHECKS, "allows": [{"protocol": "tcp", "ports": U}]},
            )
        ],
        message="every tcp port is open to the health-check ranges",
    ),
    "gcp-firewall-no-world-ingress": Case(
        compliant=[
            res(
                "gcp:compute/firewall:Firewall",
                "fw",
                {"network": "n", "sourceRanges": ["10.0.0.0/8"], "allows": [{"protocol": "tcp"}]},
            )
        ],
        violating=[
            res(
                "gcp:compute/firewall:Firewall",
                "fw",
                {
                    "network": "n",
                    "sourceRanges": ["0.0.0.0/0"],
                    "allows": [{"protocol": "tcp", "ports": ["22"]}],
                },
            )
        ],
        unknown=[
            res(
                "gcp:compute/firewall:Firewall",
                "fw",
                {"network": "n", "sourceRanges": U, "allows": [{"protocol": "tcp"}]},
            )
        ],
        message="tcp port 22 open to 0.0.0.0/0",
    ),
    "k8s-no-public-lb": Case(
        compliant=[
            res(
                "kubernetes:core/v1:Service",
                "svc",
                {
                    "metadata": {"annotations": {"networking.gke.io/load-balancer-type": "Internal"}},
                    "spec": {"type": "LoadBalancer"},
                },
            )
        ],
        violating=[
            res(
                "kubernetes:core/v1:Service",
                "svc",
                {"spec": {"type": "LoadBalancer", "ports": [{"port": 80.0}]}},
            )
        ],
        unknown=[res("kubernetes:core/v1:Service", "svc", {"spec": {"type": U}})],
        message="internet-facing",
    ),
    # ---------------------------------------------------------------- identity
    "aws-iam-no-wildcard": Case(
        compliant=[
            res(
                "aws:iam/policy:Policy",
                "p",
                {"policy": doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})},
            )
        ],
        violating=[
            res(
                "aws:iam/rolePolicy:RolePolicy",
                "p",
                {"role": "r", "policy": doc({"Effect": "Allow", "Action": ["*"], "Resource": "*"})},
            )
        ],
        unknown=[res("aws:iam/policy:Policy", "p", {"policy": U})],
        message="allows Action '*' on Resource '*'",
    ),
    "aws-iam-no-admin-attach": Case(
        compliant=[
            res(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "a",
                {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
            )
        ],
        violating=[
            res(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "a",
                {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
            )
        ],
        unknown=[
            res("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", {"role": "r", "policyArn": U})
        ],
        message="attaches AdministratorAccess",
    ),
    "aws-iam-trust-scoped": Case(
        compliant=[
            res(
                "aws:iam/role:Role",
                "r",
                {
                    "assumeRolePolicy": doc(
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "eks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    )
                },
            )
        ],
        violating=[
            res(
                "aws:iam/role:Role",
                "r",
                {
                    "assumeRolePolicy": doc(
                        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                    )
                },
            )
        ],
        unknown=[res("aws:iam/role:Role", "r", {"assumeRolePolicy": U})],
        message="lets any AWS principal assume the role",
    ),
    "gcp-iam-no-basic-roles": Case(
        compliant=[
            res(
                "gcp:projects/iAMMember:IAMMember",
                "m",
                {
                    "project": "p",
                    "role": "roles/logging.logWriter",
                    "member": "serviceAccount:a@p.iam.gserviceaccount.com",
                },
            )
        ],
        violating=[
            res(
                "gcp:projects/iAMBinding:IAMBinding",
                "b",
                {"project": "p", "role": "roles/editor", "members": ["user:a@example.com"]},
            )
        ],
        unknown=[
            res(
                "gcp:projects/iAMMember:IAMMember",
                "m",
                {"project": "p", "role": U, "member": "user:a@example.com"},
            )
        ],
        message="basic role roles/editor",
    ),
    "azure-rbac-no-broad-owner": Case(
        compliant=[
            res(
                "azure-native:authorization:RoleAssignment",
                "ra",
                {
                    "principalId": "p",
                    "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
                    "scope": "/subscriptions/0000",
                },
            )
        ],
        violating=[
            res(
                "azure-native:authorization:RoleAssignment",
                "ra",
                {
                    "principalId": "p",
                    "roleDefinitionId": "/subscriptions/0000/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                    "scope": "/subscriptions/0000",
                },
            )
        ],
        unknown=[
            res(
                "azure-native:authorization:RoleAssignment",
                "ra",
                {
                    "principalId": "p",
                    "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                    "scope": U,
                },
            )
        ],
        message="assigns Owner at scope '/subscriptions/0000'",
    ),
    "k8s-rbac-least-privilege": Case(
        compliant=[
            res(
                "kubernetes:rbac.authorization.k8s.io/v1:Role",
                "r",
                {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]},
            )
        ],
        violating=[
            res(
                "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
                "r",
                {"rules": [{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["*"]}]},
            )
        ],
        unknown=[
            res(
                "kubernetes:rbac.authorization.k8s.io/v1:Role",
                "r",
                {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": U}]},
            )
        ],
        message="rules.0.verbs contains '*'",
    ),
    # ---------------------------------------------------------------- clusters
    "aws-eks-private-endpoint": Case(
        compliant=[
            res(EKS, "c", {"vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False}})
        ],
        violating=[
            res(EKS, "c", {"vpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}})
        ],
        unknown=[res(EKS, "c", {"vpcConfig": {"endpointPrivateAccess": U, "endpointPublicAccess": False}})],
        message="includes 0.0.0.0/0",
    ),
    "aws-eks-logging": Case(
        compliant=[res(EKS, "c", {"enabledClusterLogTypes": ["api", "audit", "authenticator", "scheduler"]})],
        violating=[res(EKS, "c", {"enabledClusterLogTypes": ["api"]})],
        unknown=[res(EKS, "c", {"enabledClusterLogTypes": U})],
        message="lacks audit, authenticator",
    ),
    "azure-aks-private-api": Case(
        compliant=[res(AKS, "aks", AKS_SECURE)],
        violating=[
            res(
                AKS,
                "aks",
                merged(AKS_SECURE, "apiServerAccessProfile", {"authorizedIPRanges": ["0.0.0.0/0"]}),
            )
        ],
        unknown=[res(AKS, "aks", merged(AKS_SECURE, "apiServerAccessProfile.enablePrivateCluster", U))],
        message="authorizedIPRanges (not a private cluster) includes 0.0.0.0/0",
    ),
    "azure-aks-aad-rbac": Case(
        compliant=[res(AKS, "aks", AKS_SECURE)],
        violating=[res(AKS, "aks", merged(AKS_SECURE, "disableLocalAccounts", False))],
        unknown=[res(AKS, "aks", merged(AKS_SECURE, "aadProfile.managed", U))],
        message="disableLocalAccounts is not true",
    ),
    "azure-aks-workload-identity": Case(
        compliant=[res(AKS, "aks", AKS_SECURE)],
        violating=[res(AKS, "aks", {k: v for k, v in AKS_SECURE.items() if k != "oidcIssuerProfile"})],
        unknown=[res(AKS, "aks", merged(AKS_SECURE, "securityProfile.workloadIdentity.enabled", U))],
        message="oidcIssuerProfile.enabled is not true",
    ),
    "gcp-gke-private": Case(
        compliant=[res(GKE, "gke", GKE_SECURE)],
        violating=[res(GKE, "gke", {k: v for k, v in GKE_SECURE.items() if k != "privateClusterConfig"})],
        unknown=[res(GKE, "gke", merged(GKE_SECURE, "privateClusterConfig.enablePrivateNodes", U))],
        message="enablePrivateNodes is not true",
    ),
    "gcp-gke-binary-authorization": Case(
        compliant=[res(GKE, "gke", GKE_SECURE)],
        violating=[res(GKE, "gke", merged(GKE_SECURE, "binaryAuthorization.evaluationMode", "DISABLED"))],
        unknown=[res(GKE, "gke", merged(GKE_SECURE, "binaryAuthorization.evaluationMode", U))],
        message="binaryAuthorization.evaluationMode is 'DISABLED'",
    ),
    "gcp-gke-intranode-visibility": Case(
        compliant=[res(GKE, "gke", GKE_SECURE)],
        violating=[res(GKE, "gke", merged(GKE_SECURE, "enableIntranodeVisibility", False))],
        unknown=[res(GKE, "gke", merged(GKE_SECURE, "enableIntranodeVisibility", U))],
        message="enableIntranodeVisibility is not true",
    ),
    "gcp-binauthz-default-deny": Case(
        compliant=[
            res(
                "gcp:binaryauthorization/policy:Policy",
                "bp",
                {
                    "admissionWhitelistPatterns": [{"namePattern": "docker.io/vllm/vllm-openai*"}],
                    "defaultAdmissionRule": {
                        "evaluationMode": "ALWAYS_DENY",
                        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                    },
                },
            )
        ],
        violating=[
            res(
                "gcp:binaryauthorization/policy:Policy",
                "bp",
                {
                    "defaultAdmissionRule": {
                        "evaluationMode": "ALWAYS_ALLOW",
                        "enforcementMode": "ENFORCED_BLOCK_AND_AUDIT_LOG",
                    }
                },
            )
        ],
        unknown=[
            res(
                "gcp:binaryauthorization/policy:Policy",
                "bp",
                {"defaultAdmissionRule": {"evaluationMode": U}},
            )
        ],
        message="evaluationMode is 'ALWAYS_ALLOW'",
    ),
    "gcp-gke-workload-identity": Case(
        compliant=[
            res(GKE, "gke", GKE_SECURE),
            res(
                NODE_POOL,
                "np",
                {"cluster": "gke", "nodeConfig": {"workloadMetadataConfig": {"mode": "GKE_METADATA"}}},
            ),
        ],
        violating=[
            res(
                NODE_POOL,
                "np",
                {"cluster": "gke", "nodeConfig": {"workloadMetadataConfig": {"mode": "GCE_METADATA"}}},
            )
        ],
        unknown=[res(GKE, "gke", merged(GKE_SECURE, "workloadIdentityConfig.workloadPool", U))],
        message="mode is 'GCE_METADATA'",
    ),
    # ---------------------------------------------------------------- workloads
    "k8s-no-privileged": Case(
        compliant=[pod()],
        violating=[res(POD, "p", {"spec": {"containers": [container(sc_privileged=True)]}})],
        unknown=[res(POD, "p", {"spec": {"containers": [container(sc_privileged=U)]}})],
        message="spec.containers.0 is privileged",
    ),
    "k8s-no-host-namespaces": Case(
        compliant=[pod()],
        violating=[pod(hostNetwork=True)],
        unknown=[pod(hostPID=U)],
        message="spec.hostNetwork is true",
    ),
    "k8s-resource-limits": Case(
        compliant=[pod()],
        violating=[res(POD, "p", {"spec": {"containers": [container(resources={})]}})],
        unknown=[
            res(
                POD,
                "p",
                {
                    "spec": {
                        "containers": [
                            container(resources={"requests": {"cpu": "1"}, "limits": {"memory": U}})
                        ]
                    }
                },
            )
        ],
        message="sets no resources.limits.memory",
    ),
    "k8s-image-pinned": Case(
        compliant=[pod(), res(POD, "p", {"spec": {"containers": [container(image="nginx:1.27.3")]}})],
        violating=[res(POD, "p", {"spec": {"containers": [container(image="nginx:latest")]}})],
        unknown=[res(POD, "p", {"spec": {"containers": [container(image=U)]}})],
        message="'nginx:latest' is not pinned: it uses the moving tag `latest`",
    ),
    "k8s-image-digest": Case(
        compliant=[pod()],
        violating=[res(POD, "p", {"spec": {"containers": [container(image="nginx:1.27.3")]}})],
        unknown=[res(POD, "p", {"spec": {"containers": [container(image=U)]}})],
        message="'nginx:1.27.3' is not pinned by digest",
    ),
    "k8s-image-allowed-registry": Case(
        compliant=[pod()],
        violating=[res(POD, "p", {"spec": {"containers": [container(image="evil.example.com/miner:1.0")]}})],
        unknown=[res(POD, "p", {"spec": {"containers": [container(image=U)]}})],
        message="comes from evil.example.com, which is not an allowed registry",
    ),
    "k8s-non-root-readonly": Case(
        compliant=[pod()],
        violating=[res(POD, "p", {"spec": {"containers": [container(sc_runAsNonRoot=False)]}})],
        unknown=[res(POD, "p", {"spec": {"containers": [container(sc_readOnlyRootFilesystem=U)]}})],
        message="may run as root",
    ),
    # ---------------------------------------------------------------- GPU and cost
    "gpu-pool-tainted": Case(
        compliant=[eks_pool("gpu", "ON_DEMAND", 1.0)],
        violating=[
            res(
                AGENT_POOL,
                "gpu",
                {
                    "resourceName": "aks",
                    "vmSize": "Standard_NC24ads_A100_v4",
                    "mode": "User",
                    "nodeLabels": {"aistack.io/accelerator": "A100-80GB"},
                },
            )
        ],
        unknown=[
            res(
                NODE_POOL,
                "gpu",
                {
                    "cluster": "gke",
                    "nodeConfig": {
                        "machineType": "g2-standard-8",
                        "taints": U,
                        "labels": {"aistack.io/accelerator": "L4-24GB"},
                    },
                },
            )
        ],
        message="lacks the taint nvidia.com/gpu=present:NoSchedule",
    ),
    "gpu-pod-tolerates-and-selects": Case(
        compliant=[
            *gke_cluster_with_provider(),
            gpu_deployment(
                selector={
                    "aistack.io/accelerator": "L4-24GB",
                    "cloud.google.com/gke-accelerator": "nvidia-l4",
                },
                provider="urn:pulumi:test::cases::pulumi:providers:kubernetes::gke-k8s::gke-k8s-id",
            ),
        ],
        violating=[
            *gke_cluster_with_provider(),
            gpu_deployment(
                provider="urn:pulumi:test::cases::pulumi:providers:kubernetes::gke-k8s::gke-k8s-id"
            ),
        ],
        unknown=[gpu_deployment(tolerations=U)],
        orphaned=[
            gpu_deployment(provider="urn:pulumi:test::cases::pulumi:providers:kubernetes::other::other-id")
        ],
        orphan_passes=True,
        message="runs on GKE and requests nvidia.com/gpu but does not select cloud.google.com/gke-accelerator",
    ),
    "gpu-spot-has-ondemand-floor": Case(
        compliant=[eks_pool("spot", "SPOT", 0.0), eks_pool("floor", "ON_DEMAND", 1.0)],
        violating=[eks_pool("spot", "SPOT", 0.0), eks_pool("floor", "ON_DEMAND", 1.0, cluster="other")],
        unknown=[eks_pool("spot", "SPOT", 0.0), eks_pool("floor", "ON_DEMAND", U)],
        orphaned=[eks_pool("spot", "SPOT", 0.0)],
        message="has no on-demand GPU pool of A10G-24GB with at least 1 node(s) in cluster 'main'",
    ),
    "cost-budget": Case(
        compliant=[],
        violating=[],
        unknown=[],
        configs={
            "compliant": {"monthlyUsd": 900.0, "budgetUsd": 1000.0},
            "violating": {"monthlyUsd": 1200.5, "budgetUsd": 1000.0},
            "unknown": {"budgetUsd": 1000.0},
        },
        message="estimated 1,200.50 USD/month exceeds the budget of 1,000.00 USD/month",
    ),
}

# The deploy-access rules keep their cases in their own module (imported last: it builds on res and Case).
from tests.policies.cases_deploy_access import CASES as _DEPLOY_ACCESS  # noqa: E402

CASES.update(_DEPLOY_ACCESS)

from tests.policies.cases_deploy import DEPLOY_CASES  # noqa: E402 (its cases build on the helpers above)

CASES |= DEPLOY_CASES

# The serving deploy rules keep their cases beside their building blocks (imported last: they use the above).
from tests.policies.cases_deploy_serving import DEPLOY_SERVING_CASES  # noqa: E402

CASES.update(DEPLOY_SERVING_CASES)

from tests.policies.cases_deploy_routing import DEPLOY_ROUTING_CASES  # noqa: E402 (builds on the helpers above)

CASES.update(DEPLOY_ROUTING_CASES)

from tests.policies.cases_deploy_capacity import DEPLOY_CAPACITY_CASES  # noqa: E402

CASES.update(DEPLOY_CAPACITY_CASES)

# The guarded-endpoint rules (API key from a Secret, secret managers with customer-managed keys).
from tests.policies.cases_guard import GUARD_CASES  # noqa: E402

CASES |= GUARD_CASES

# The replica rules (a replica keeps its primary's protections; its transfer waits for its grants).
from tests.policies.cases_replication import REPLICATION_CASES  # noqa: E402

CASES |= REPLICATION_CASES

# The site-to-site VPN rules (interconnect between clouds).
from tests.policies.cases_interconnect import INTERCONNECT_CASES  # noqa: E402

CASES |= INTERCONNECT_CASES

# The global-name rules (weighted records with health checks, public entry points, DNS-01 trust).
from tests.policies.cases_dns import DNS_CASES  # noqa: E402

CASES |= DNS_CASES
