"""Cases for the ``deploy`` concern (first-deploy breakers): ordering is given as ``dependencies``."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import AKS, EKS, GCS, GKE, K8S_PROVIDER, NODE_GROUP, Case, res

ADDON = "aws:eks/addon:Addon"
SUBNET = "aws:ec2/subnet:Subnet"
KEY_GRANT = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
GCS_AGENT = "serviceAccount:service-123@gs-project-accounts.iam.gserviceaccount.com"
WI_MEMBER = "serviceAccount:p.svc.id.goog[aistack-serving/models-reader]"


def after(resource: dict[str, Any], *before: dict[str, Any]) -> dict[str, Any]:
    """``resource`` recorded as created after ``before`` (its dependencies)."""
    return resource | {"dependencies": [b["urn"] for b in before]}


def eks_ready(addon_name: Any = "coredns") -> list[dict[str, Any]]:
    """An EKS cluster, its system node group and core add-ons, and a provider that waits for them."""
    cluster = res(EKS, "main", {"version": "1.35"})
    system = after(res(NODE_GROUP, "system", {"clusterName": "main"}), cluster)
    cni = after(res(ADDON, "vpc-cni", {"addonName": "vpc-cni"}), cluster)
    dns = after(res(ADDON, "coredns", {"addonName": addon_name}), cluster, system)
    provider = after(res(K8S_PROVIDER, "main-k8s", {}), cluster, system, cni, dns)
    return [provider, cluster, system, cni, dns]


def eks_in(*zones: str, ids: Any = None) -> list[dict[str, Any]]:
    subnets = [
        res(SUBNET, f"private-{i}", {"availabilityZone": z}, outputs={"id": f"subnet-{i}"})
        for i, z in enumerate(zones)
    ]
    subnet_ids = [s["outputs"]["id"] for s in subnets] if ids is None else ids
    return [res(EKS, "main", {"vpcConfig": {"subnetIds": subnet_ids}}), *subnets]


GKE_CLUSTER = res(GKE, "main", {"location": "us-central1"})
CMEK_BUCKET = res(
    GCS, "models", {"encryption": {"defaultKmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}}
)


SM_AGENT = "serviceAccount:service-123456789012@gcp-sa-secretmanager.iam.gserviceaccount.com"
CMEK_SECRET = res(
    "gcp:secretmanager/secret:Secret",
    "chat-key",
    {
        "secretId": "chat",
        "replication": {
            "userManaged": {
                "replicas": [
                    {
                        "location": "us-central1",
                        "customerManagedEncryption": {
                            "kmsKeyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"
                        },
                    }
                ]
            }
        },
    },
)


def key_grant(member: Any = GCS_AGENT) -> dict[str, Any]:
    return res(
        KEY_GRANT, "key-agent", {"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "member": member}
    )


def wi_member(member: Any = WI_MEMBER) -> dict[str, Any]:
    return res(SA_MEMBER, "reader-wi", {"role": "roles/iam.workloadIdentityUser", "member": member})


ROLE = "azure-native:authorization:RoleAssignment"
SLEEP = "time:index/sleep:Sleep"
STORAGE = "azure-native:storage:StorageAccount"
ASSIGNMENT = res(ROLE, "key-access", {"principalType": "ServicePrincipal"})


def wait(duration: Any = "120s") -> dict[str, Any]:
    return after(res(SLEEP, "key-access-propagation", {"createDuration": duration}), ASSIGNMENT)


COMMAND = "command:local:Command"
SCALING_IGNORED = ["scalingConfig.desiredSize", "scalingConfig.minSize", "scalingConfig.maxSize"]


def autoscaled(ignored: list[str] = SCALING_IGNORED, low: Any = 1, high: Any = 4) -> dict[str, Any]:
    """An autoscaled EKS node group ignoring ``ignored`` after create."""
    group = res(NODE_GROUP, "gpu", {"scalingConfig": {"minSize": low, "maxSize": high, "desiredSize": 1}})
    return group | {"ignore_changes": list(ignored)}


def scaling(group: dict[str, Any], triggers: Any = (1, 4)) -> dict[str, Any]:
    """The command that applies ``group``'s bounds, created after it."""
    return after(res(COMMAND, "gpu-scaling", {"triggers": list(triggers) if triggers is not U else U}), group)


AGENT_POOL = "azure-native:containerservice:AgentPool"


def agent_pool(name: str, cluster: Any = "aks") -> dict[str, Any]:
    return res(AGENT_POOL, name, {"resourceName": cluster, "resourceGroupName": "rg", "mode": "User"})


DEPLOY_CASES: dict[str, Case] = {
    "deploy-kubernetes-version-supported": Case(
        compliant=[
            res(EKS, "eks", {"version": "1.35"}),
            res(AKS, "aks", {"kubernetesVersion": "1.36"}),
            res(GKE, "gke", {"minMasterVersion": "1.35.2-gke.1962000"}),
        ],
        violating=[res(EKS, "eks", {"version": "1.33"})],
        unknown=[res(EKS, "eks", {"version": U})],
        config={"asOf": "2026-12-04"},
        message="version 1.33: EKS 1.33 left standard support on 2026-07-29",
    ),
    "deploy-k8s-after-nodes": Case(
        compliant=eks_ready(),
        violating=[after(res(K8S_PROVIDER, "main-k8s", {}), eks_ready()[1]), *eks_ready()[1:]],
        unknown=eks_ready(addon_name=U),
        orphaned=[after(res(K8S_PROVIDER, "main-k8s", {}), eks_ready()[1]), eks_ready()[1]],
        message="does not wait for a node pool of cluster 'main'",
    ),
    "deploy-eks-two-azs": Case(
        compliant=eks_in("us-east-1a", "us-east-1b"),
        violating=eks_in("us-east-1a", "us-east-1a"),
        unknown=eks_in("us-east-1a", "us-east-1b", ids=["subnet-0", U]),
        orphaned=[res(EKS, "main", {"vpcConfig": {"subnetIds": []}})],
        message="span 1 Availability Zone(s) (us-east-1a); EKS requires subnets in at least two",
    ),
    "deploy-gke-wi-after-cluster": Case(
        compliant=[GKE_CLUSTER, after(wi_member(), GKE_CLUSTER)],
        violating=[wi_member(), GKE_CLUSTER],
        unknown=[wi_member(member=U), GKE_CLUSTER],
        orphaned=[wi_member()],
        message="to workload pool principal serviceAccount:p.svc.id.goog[aistack-serving/models-reader] without "
        "waiting for a GKE cluster",
    ),
    "deploy-gcs-cmek-after-grant": Case(
        compliant=[key_grant(), after(CMEK_BUCKET, key_grant())],
        violating=[CMEK_BUCKET, key_grant()],
        unknown=[key_grant(member=U), after(CMEK_BUCKET, key_grant())],
        orphaned=[CMEK_BUCKET],
        message="does not wait for a grant of the key to the Cloud Storage service agent",
    ),
    "deploy-secret-cmek-after-grant": Case(
        compliant=[key_grant(SM_AGENT), after(CMEK_SECRET, key_grant(SM_AGENT))],
        # The grant is to another agent (Cloud Storage's): the Secret Manager agent still may not use the key.
        violating=[CMEK_SECRET, key_grant()],
        unknown=[key_grant(member=U), after(CMEK_SECRET, key_grant(member=U))],
        orphaned=[CMEK_SECRET],
        message="does not wait for a grant of the key to the Secret Manager service agent",
    ),
    "deploy-eks-scaling-bounds": Case(
        compliant=[autoscaled(), scaling(autoscaled())],
        # Bounds the provider would send with the stale desired size.
        violating=[autoscaled(ignored=SCALING_IGNORED[:1]), scaling(autoscaled())],
        unknown=[autoscaled(high=U), scaling(autoscaled())],
        orphaned=[autoscaled()],
        message="ignores scalingConfig.desiredSize but not scalingConfig.minSize, scalingConfig.maxSize",
    ),
    "deploy-aks-pools-serial": Case(
        compliant=[agent_pool("a10-ondemand"), after(agent_pool("a10-spot"), agent_pool("a10-ondemand"))],
        violating=[agent_pool("a10-ondemand"), agent_pool("a10-spot")],
        unknown=[agent_pool("a10-ondemand", cluster=U)],
        orphaned=[agent_pool("a10-ondemand")],
        orphan_passes=True,
        message="is created concurrently with agent pool 'a10-ondemand' of the same cluster",
    ),
    "deploy-azure-role-propagated": Case(
        compliant=[ASSIGNMENT, wait(), after(res(STORAGE, "account", {}), wait())],
        violating=[ASSIGNMENT, after(res(STORAGE, "account", {}), ASSIGNMENT)],
        unknown=[ASSIGNMENT, wait(duration=U), after(res(STORAGE, "account", {}), wait())],
        orphaned=[after(res(STORAGE, "account", {}), ASSIGNMENT)],
        orphan_passes=True,
        message="uses role assignment 'key-access' as soon as it exists",
    ),
}
