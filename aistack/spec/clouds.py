"""Per-cloud placement: where each cloud's share of the stack lives and its network."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from aistack.spec.base import Cidr, Model

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _guid(value: str) -> str:
    if not _GUID.match(value.lower()):
        raise ValueError(
            f"{value!r} is not a GUID (8-4-4-4-12 hex digits, e.g. 00000000-0000-0000-0000-000000000000)"
        )
    return value.lower()


Guid = Annotated[str, AfterValidator(_guid)]
"""A Microsoft Entra / Azure identifier (subscription, tenant, object id), normalised to lowercase."""


class NetworkSpec(Model):
    """The cloud-neutral network every cloud family builds (VPC / VNet)."""

    cidr: Cidr = Field(
        description="Address space of the network (VPC / VNet), an IPv4 CIDR from /16 to /20. "
        "Node subnets are carved from it per zone, deterministically by zone letter or number."
    )
    zones: list[str] = Field(
        min_length=1,
        max_length=6,
        description="Availability zones the stack uses (AWS `us-east-1a`, Azure `1`, GCP `us-central1-a`). "
        "Dev uses one; production three.",
    )
    nat: Literal["single", "per_zone"] = Field(
        default="per_zone",
        description="Egress NAT layout: `per_zone` survives a zone outage (production), `single` is cheaper (dev).",
    )

    @field_validator("cidr")
    @classmethod
    def _prefix(cls, value: str) -> str:
        prefix = ipaddress.ip_network(value).prefixlen
        if not 16 <= prefix <= 20:
            raise ValueError(f"prefix /{prefix} is outside the allowed /16 to /20")
        return value

    @field_validator("zones")
    @classmethod
    def _unique_zones(cls, zones: list[str]) -> list[str]:
        if len(set(zones)) != len(zones):
            raise ValueError(f"zones must be unique, got {zones}")
        return zones

    def cidr_blocks(self) -> dict[str, str]:
        """Every address block this cloud's network uses, by key (checked for overlaps stack-wide)."""
        return {"cidr": self.cidr}


IAM_ROLE_ARN = r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$"
"""An IAM role ARN (the partition, a 12-digit account, an optional path, the role name)."""

IAM_ROLE = rf"^[\w+=,.@-]{{1,64}}$|{IAM_ROLE_ARN}"
"""An IAM role name (1–64 of IAM's allowed characters) or a role ARN."""

IamPrincipalArn = Annotated[
    str,
    Field(max_length=600, pattern=r"^arn:aws(-us-gov|-cn)?:iam::\d{12}:(role|user)/[A-Za-z0-9_+=,.@/-]+$"),
]
"""An IAM role or user ARN (a key-policy principal; assumed-role session ARNs change per session)."""


class AwsCloudSpec(NetworkSpec):
    """Where the AWS share of the stack lives."""

    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$", description="AWS region, e.g. `us-east-1`.")
    account_id: str | None = Field(
        default=None,
        pattern=r"^\d{12}$",
        description="The 12-digit account the stack must deploy into; the provider refuses any other "
        "(`allowedAccountIds`). Omit to deploy into whatever account the credentials name.",
    )
    key_administrators: list[IamPrincipalArn] = Field(
        default_factory=list,
        max_length=10,
        description="IAM roles or users (ARNs) that administer the stack's KMS keys (policy, rotation, "
        "deletion) without being able to use them. The identity running `pulumi up` must be one of them: "
        "KMS refuses a key policy that would lock its caller out. Omit to let the account's IAM policies "
        "decide who administers the keys (the account root gets the administrative actions only).",
    )
    key_users: list[IamPrincipalArn] = Field(
        default_factory=list,
        max_length=10,
        description="IAM roles or users (ARNs) besides the stack's own roles that may use the weight-store "
        "and audit-log keys for data (e.g. the CI role that uploads weights, auditors reading the trail).",
    )
    flow_log_retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653
    ] = Field(
        default=90,
        description="Days to keep VPC flow logs in CloudWatch (one of CloudWatch's allowed values).",
    )

    deployer_role: str = Field(
        default="aistack-deployer",
        pattern=IAM_ROLE,
        description="The IAM role that runs `pulumi up` (the CI role, which administrators may assume too): a "
        "role name in the stack's account, or a role ARN. Every EKS cluster gives it an access entry with "
        "`AmazonEKSClusterAdminPolicy`, and the kubeconfig output signs in as it (`aws eks get-token "
        "--role-arn`). It must exist before the first `pulumi up` (EKS refuses an access entry for a "
        "missing principal); see docs/first-deploy.md.",
    )
    admin_role_arns: list[Annotated[str, Field(pattern=IAM_ROLE_ARN)]] = Field(
        default_factory=list,
        max_length=20,
        description="Further IAM roles (ARNs) given cluster-admin on every EKS cluster through access entries, "
        "e.g. the platform team's SSO role. The cluster creator gets no permanent admin "
        "(`bootstrapClusterCreatorAdminPermissions: false`): only these roles and `deployer_role` do.",
    )

    @model_validator(mode="after")
    def _zones_in_region(self) -> AwsCloudSpec:
        if self.deployer_role in self.admin_role_arns:
            raise ValueError("admin_role_arns repeats deployer_role, which is an admin already; list it once")
        for zone in self.zones:
            if not (
                zone.startswith(self.region) and len(zone) == len(self.region) + 1 and zone[-1].isalpha()
            ):
                raise ValueError(f"zone {zone!r} is not a zone of region {self.region} (e.g. {self.region}a)")
        return self


GCP_PROJECT_ID = r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"
"""GCP project ids: 6–30 lowercase letters, digits and hyphens, a letter first, no trailing hyphen."""

GCP_RESTRICTED = ("google", "null", "undefined", "ssl")
"""Strings a GCP project id cannot contain (Resource Manager's project id rules)."""


class GcpCloudSpec(NetworkSpec):
    """Where the GCP share of the stack lives.

    ``cidr`` is the primary range of the regional node subnetwork; the GKE cluster takes its pod
    addresses from the ``pods_cidr`` secondary range and its Service addresses from a second one,
    the cluster's own ``service_cidr``. Every range is checked for overlaps with every other block
    of the stack. Cloud NAT is a regional, zone-redundant service, so ``nat`` gives the same
    egress either way.
    """

    project: str = Field(
        pattern=GCP_PROJECT_ID,
        description="The project id the stack deploys into (6–30 lowercase letters, digits, hyphens).",
    )
    project_number: str = Field(
        pattern=r"^[1-9]\d{5,18}$",
        description="The project's number "
        "(`gcloud projects describe PROJECT --format='value(projectNumber)'`). The GKE and Cloud Storage "
        "service agents, which must be allowed to use the Cloud KMS keys, are named after it; it is "
        "given here because the program makes no cloud lookups.",
    )
    region: str = Field(pattern=r"^[a-z]+-[a-z]+\d+$", description="GCP region, e.g. `us-central1`.")
    pods_cidr: Cidr = Field(
        description="Secondary range of the node subnetwork for pod addresses (GKE gives each node a /24 "
        "of it at the default 110 pods per node), e.g. `10.64.0.0/14`."
    )
    proxy_only_cidr: Cidr | None = Field(
        default=None,
        description="Range of the region's proxy-only subnetwork, from which GKE's regional internal "
        "Application Load Balancer (the inference Gateway of `expose: internal-lb` endpoints) reaches the "
        "pods; required when a GKE endpoint uses `internal-lb` (Google recommends a /23, e.g. `10.129.0.0/23`). "
        "The stack creates it in its VPC (a region and VPC have one active proxy-only subnetwork).",
    )

    @field_validator("project")
    @classmethod
    def _unrestricted(cls, value: str) -> str:
        for word in GCP_RESTRICTED:
            if word in value:
                raise ValueError(f"project id {value!r} must not contain {word!r}")
        return value

    @model_validator(mode="after")
    def _gcp_zones_in_region(self) -> GcpCloudSpec:
        for zone in self.zones:
            if not re.fullmatch(rf"{re.escape(self.region)}-[a-z]", zone):
                example = f"{self.region}-a"
                raise ValueError(f"zone {zone!r} is not a zone of region {self.region} (e.g. {example})")
        return self

    def cidr_blocks(self) -> dict[str, str]:
        """The node, pod and proxy-only ranges (the Service range is the GKE cluster's ``service_cidr``)."""
        blocks = {"cidr": self.cidr, "pods_cidr": self.pods_cidr}
        return blocks | ({"proxy_only_cidr": self.proxy_only_cidr} if self.proxy_only_cidr else {})


AZURE_ZONES = ("1", "2", "3")


class AzureCloudSpec(NetworkSpec):
    """Where the Azure share of the stack lives (one resource group, one VNet, in one location).

    Subnets on Azure span the location's zones, so ``zones`` places node pools, not subnets.
    """

    subscription_id: Guid = Field(
        description="The subscription the stack deploys into; the provider is pinned to it."
    )
    tenant_id: Guid = Field(
        description="The Microsoft Entra tenant of the subscription: the AKS Entra ID integration and the Key "
        "Vaults trust it."
    )
    location: str = Field(
        description="Azure location (region) name, lowercase without spaces, e.g. `eastus2` or `westeurope`."
    )
    nat: Literal["single", "per_zone"] = Field(
        default="single",
        description="Egress NAT layout. Azure has `single` only: a subnet takes one NAT gateway and a NAT "
        "gateway lives in one zone, so one gateway in the first zone serves every node.",
    )
    admin_group_object_ids: list[Guid] = Field(
        min_length=1,
        max_length=10,
        description="Entra ID groups (object ids) granted cluster-admin on every AKS cluster. Local accounts are "
        "disabled, so these groups (and Azure RBAC role holders) are the only way in.",
    )
    deployer_object_id: Guid | None = Field(
        default=None,
        description="Object id of the Entra ID principal that runs `pulumi up` (the CI service principal, or "
        "a user). It gets Azure Kubernetes Service RBAC Cluster Admin on every AKS cluster, which the "
        "Kubernetes layer needs (Azure RBAC authorizes every request). Omit only when that principal is a "
        "member of one of `admin_group_object_ids`.",
    )
    deployer_principal_type: Literal["ServicePrincipal", "User"] = Field(
        default="ServicePrincipal",
        description="Kind of `deployer_object_id`; sent with the role assignment so Azure need not look a "
        "just-created principal up in Entra ID.",
    )
    kubelogin_login: Literal["azurecli", "workloadidentity", "spn", "msi"] = Field(
        default="azurecli",
        description="How the kubeconfig output's `kubelogin get-token` signs in, non-interactively: "
        "`azurecli` (the Azure CLI's login: `az login` on a workstation, `azure/login` with OIDC in GitHub "
        "Actions), `workloadidentity` (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE), `spn` "
        "(AAD_SERVICE_PRINCIPAL_CLIENT_ID / _SECRET) or `msi` (a managed identity on the runner).",
    )
    secrets_kms: bool = Field(
        default=True,
        description="Encrypt Kubernetes secrets with a key in a Key Vault the stack owns (AKS KMS). The vault "
        "allows Azure RBAC only; AKS KMS cannot reach a vault behind its firewall without API server VNet "
        "integration, so its network access stays public.",
    )
    encryption_at_host: bool = Field(
        default=True,
        description="Encrypt node temp disks and disk caches at the VM host (needs the subscription feature "
        "`Microsoft.Compute/EncryptionAtHost` registered).",
    )
    cluster_tier: Literal["Free", "Standard", "Premium"] = Field(
        default="Standard",
        description="AKS control-plane tier: `Standard` carries the uptime SLA (production), `Free` none (dev).",
    )
    storage_sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS"] = Field(
        default="Standard_ZRS",
        description="Redundancy of the storage accounts: `Standard_ZRS` survives a zone outage, `Standard_LRS` "
        "is cheapest (dev), the GRS variants add a paired region.",
    )
    pod_cidr: Cidr = Field(
        default="10.244.0.0/16",
        description="Overlay address space for pods (Azure CNI overlay; AKS's documented default), shared by "
        "every AKS cluster of the stack. Not routed outside a cluster, but checked against every other block "
        "of the stack so pod addresses stay unambiguous.",
    )

    @field_validator("zones")
    @classmethod
    def _azure_zones(cls, zones: list[str]) -> list[str]:
        wrong = [z for z in zones if z not in AZURE_ZONES]
        if wrong:
            raise ValueError(f"Azure zones are {', '.join(AZURE_ZONES)}; got {wrong}")
        return zones

    @field_validator("location")
    @classmethod
    def _location(cls, location: str) -> str:
        if not re.match(r"^[a-z][a-z0-9]{2,29}$", location):
            raise ValueError(
                f"{location!r} is not an Azure location name: lowercase letters and digits, e.g. eastus2, westeurope"
            )
        return location

    def cidr_blocks(self) -> dict[str, str]:
        """The VNet and the pod overlay range (each cluster's Service range is its ``service_cidr``)."""
        return {"cidr": self.cidr, "pod_cidr": self.pod_cidr}


class Clouds(Model):
    """The clouds this stack places resources on, each with its region and network."""

    aws: AwsCloudSpec | None = Field(default=None, description="AWS placement; omit to use no AWS.")
    azure: AzureCloudSpec | None = Field(default=None, description="Azure placement; omit to use no Azure.")
    gcp: GcpCloudSpec | None = Field(default=None, description="GCP placement; omit to use no GCP.")

    def configured(self) -> dict[str, NetworkSpec]:
        """The clouds that are set, by name."""
        return {
            name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None
        }


def zone_index(zone: str) -> int:
    """A zone's stable index (its letter or number), used to carve its subnet.

    Indexing by the zone's own letter instead of its list position keeps every subnet's
    address block stable when zones are added, removed or reordered.
    """
    last = zone[-1]
    return ord(last) - ord("a") if last.isalpha() else int(last) - 1
