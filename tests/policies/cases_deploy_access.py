"""Cases for the deploy-access rules (policies/aistack_rules/deploy_access.py), merged into
``tests.policies.cases.CASES``: each rule passes, fails and cannot decide on unknown values."""

from __future__ import annotations

import json
from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import Case, res

EKS = "aws:eks/cluster:Cluster"
AKS = "azure-native:containerservice:ManagedCluster"
GKE = "gcp:container/cluster:Cluster"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
DEPLOYER = "arn:aws:iam::111122223333:role/aistack-deployer"
RBAC_CLUSTER_ADMIN = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleDefinitions/"
    "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
)
AKS_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.ContainerService/managedClusters/aistack-dev-main"
)


def kubeconfig(*args: str, command: str = "aws", **exec_extra: Any) -> str:
    """A kubeconfig (JSON, as aistack writes it) whose one user runs ``command args``."""
    user = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command, "args": list(args)}
    }
    user["exec"].update(exec_extra)
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": "https://c.example"}}],
            "users": [{"name": "c", "user": user}],
        }
    )


EKS_TOKEN = ("eks", "get-token", "--cluster-name", "c", "--region", "us-east-1", "--role-arn", DEPLOYER)


def cluster_with_objects(
    cluster_type: str, inputs: dict[str, Any], name: str = "main"
) -> list[dict[str, Any]]:
    """A cluster component holding a cluster and its Kubernetes provider, with one object on it."""
    component = res("aistack:test:Cluster", name, {}, custom=False)
    cluster = res(cluster_type, f"{name}-cluster", inputs, parent=component["urn"])
    provider = res(
        K8S_PROVIDER, f"{name}-k8s", {"kubeconfig": kubeconfig(*EKS_TOKEN)}, parent=component["urn"]
    )
    namespace = res(
        "kubernetes:core/v1:Namespace",
        f"{name}-serving",
        {"metadata": {"name": "serving"}},
        provider=f"{provider['urn']}::{name}-k8s-id",
    )
    return [component, cluster, provider, namespace]


def eks_public(cidrs: Any) -> dict[str, Any]:
    return {
        "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": True, "publicAccessCidrs": cidrs}
    }


def eks_admin(
    cluster: str = "aistack-dev-main", principal: str = DEPLOYER, **inputs: Any
) -> list[dict[str, Any]]:
    """An EKS cluster named ``cluster`` with the deployer's access entry and admin association."""
    eks = res(EKS, "main-eks", {"name": "aistack-dev-main"})
    entry = res(ENTRY, "main-access-deployer", {"clusterName": cluster, "principalArn": principal})
    association = res(
        ASSOCIATION,
        "main-access-deployer-admin",
        {
            "clusterName": cluster,
            "principalArn": principal,
            "policyArn": ADMIN_POLICY,
            "accessScope": {"type": "cluster"},
            **inputs,
        },
    )
    return [eks, entry, association]


def aks_admin(role: str = RBAC_CLUSTER_ADMIN, scope: Any = AKS_ID) -> list[dict[str, Any]]:
    aks = res(AKS, "main-aks", {"resourceName": "aistack-dev-main", "aadProfile": {"enableAzureRBAC": True}})
    assignment = res(
        ROLE_ASSIGNMENT,
        "main-admin-deployer",
        {"scope": scope, "roleDefinitionId": role, "principalId": "00000000-0000-0000-0000-0000000000d1"},
    )
    return [aks, assignment]


CASES: dict[str, Case] = {
    "deploy-api-reachable": Case(
        compliant=[
            *cluster_with_objects(EKS, eks_public(["3.5.140.0/22", "52.94.0.0/22"]), "east"),
            *cluster_with_objects(
                GKE,
                {
                    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": True},
                    "controlPlaneEndpointsConfig": {"dnsEndpointConfig": {"allowExternalTraffic": True}},
                },
                "central",
            ),
            *cluster_with_objects(
                AKS,
                {
                    "apiServerAccessProfile": {"enablePrivateCluster": True},
                    "tags": {"aistack-deployer": "in-network"},
                },
                "south",
            ),
        ],
        # The old shipped design: private-only, nothing declaring an in-network runner.
        violating=cluster_with_objects(
            EKS, {"vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False}}
        ),
        unknown=cluster_with_objects(EKS, eks_public(U)),
        # A private-only cluster with no Kubernetes objects on it needs no runner path.
        orphaned=[res(EKS, "main-cluster", {"vpcConfig": {"endpointPublicAccess": False}})],
        orphan_passes=True,
        message="the Kubernetes API is private-only and no in-network runner path is declared",
    ),
    "deploy-cluster-admins": Case(
        compliant=[*eks_admin(), *aks_admin()],
        violating=eks_admin(principal="arn:aws:iam::111122223333:role/other", policyArn=ADMIN_POLICY)[:1]
        + [
            res(
                ASSOCIATION,
                "main-access-view",
                {
                    "clusterName": "aistack-dev-main",
                    "principalArn": DEPLOYER,
                    "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                    "accessScope": {"type": "cluster"},
                },
            )
        ],
        unknown=eks_admin(policyArn=U),
        orphaned=[res(EKS, "main-eks", {"name": "aistack-dev-main"})],
        message="has no access entry with AmazonEKSClusterAdminPolicy at cluster scope",
    ),
    "aws-eks-no-creator-admin": Case(
        compliant=[
            res(
                EKS,
                "c",
                {
                    "accessConfig": {
                        "authenticationMode": "API",
                        "bootstrapClusterCreatorAdminPermissions": False,
                    }
                },
            )
        ],
        violating=[res(EKS, "c", {"accessConfig": {"authenticationMode": "API"}})],
        unknown=[res(EKS, "c", {"accessConfig": {"bootstrapClusterCreatorAdminPermissions": U}})],
        message="is not set (EKS defaults to true)",
    ),
    "deploy-kubeconfig-noninteractive": Case(
        compliant=[
            res(K8S_PROVIDER, "eks-k8s", {"kubeconfig": kubeconfig(*EKS_TOKEN, interactiveMode="Never")}),
            res(
                K8S_PROVIDER,
                "aks-k8s",
                {
                    "kubeconfig": kubeconfig(
                        "get-token", "--login", "azurecli", "--server-id", "x", command="kubelogin"
                    )
                },
            ),
            res(
                K8S_PROVIDER,
                "gke-k8s",
                {"kubeconfig": kubeconfig(command="gke-gcloud-auth-plugin", provideClusterInfo=True)},
            ),
        ],
        # kubelogin's default login is the interactive device-code flow.
        violating=[
            res(
                K8S_PROVIDER,
                "aks-k8s",
                {"kubeconfig": kubeconfig("get-token", "--server-id", "x", command="kubelogin")},
            )
        ],
        unknown=[res(K8S_PROVIDER, "eks-k8s", {"kubeconfig": U})],
        message="kubelogin has no --login",
    ),
}
