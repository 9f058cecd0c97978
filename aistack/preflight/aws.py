"""AWS preflight: EC2 instance type offerings per zone and EC2 vCPU quotas from Service Quotas.

Quota codes (service ``ec2``, per region, counted in vCPUs), as AWS Service Quotas names them:

| family | on-demand | spot |
|---|---|---|
| G and VT (g4dn, g5, g6, g6e, vt1) | ``L-DB2E81BA`` Running On-Demand G and VT instances | ``L-3819A6DF`` All G and VT Spot Instance Requests |
| P (p4d, p5) | ``L-417A185B`` Running On-Demand P instances | ``L-7212CCBC`` All P Spot Instance Requests |
| Standard (A, C, D, H, I, M, R, T, Z) | ``L-1216C47A`` Running On-Demand Standard instances | ``L-34B43A08`` All Standard Spot Instance Requests |
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import botocore.exceptions

from aistack.errors import InputError
from aistack.preflight.checks import STANDARD, NotChecked, Quota
from aistack.spec.clouds import AwsCloudSpec

# Instance family prefix → (on-demand code and name, spot code and name).
QUOTAS: dict[str, dict[str, tuple[str, str]]] = {
    "g": {
        "on-demand": ("L-DB2E81BA", "Running On-Demand G and VT instances"),
        "spot": ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    },
    "p": {
        "on-demand": ("L-417A185B", "Running On-Demand P instances"),
        "spot": ("L-7212CCBC", "All P Spot Instance Requests"),
    },
    "standard": {
        "on-demand": ("L-1216C47A", "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"),
        "spot": ("L-34B43A08", "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests"),
    },
}
FAMILY = {"g": "g", "vt": "g", "p": "p", **{letter: "standard" for letter in "acdhimrtz"}}

CREDENTIAL_ERRORS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.NoRegionError,
    botocore.exceptions.ProfileNotFound,
    botocore.exceptions.TokenRetrievalError,
    botocore.exceptions.SSOError,
)
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure", "UnrecognizedClientException",
          "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch"}  # fmt: skip


def family(instance_type: str) -> str | None:
    """The quota family of an instance type (``g``, ``p``, ``standard``), None if unknown."""
    match = re.match(r"^([a-z]+)\d", instance_type)
    return FAMILY.get(match.group(1)) if match else None


def credentials_error(err: Exception, action: str) -> InputError:
    """One line for missing credentials or permissions (exit 2)."""
    if isinstance(err, botocore.exceptions.ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        return InputError(
            "credentials", "aws", f"{action} was refused ({code}): the credentials lack that permission"
        )
    return InputError(
        "credentials", "aws", f"{err} ({action}): set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    )


def call(client: Any, operation: str, action: str, **params: Any) -> dict[str, Any]:
    """Call one AWS operation, turning missing credentials or permissions into an InputError."""
    try:
        return getattr(client, operation)(**params)
    except CREDENTIAL_ERRORS as err:
        raise credentials_error(err, action) from None
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in DENIED:
            raise credentials_error(err, action) from None
        raise


class AwsChecker:
    """Preflight questions answered by EC2 and Service Quotas in one region.

    Args:
        region: AWS region, e.g. ``us-east-1``.
        session: The boto3 session whose credentials are used; default: the environment's.
    """

    cloud = "aws"

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        session = session or boto3.Session()
        self._ec2 = session.client("ec2", region_name=region)
        self._quotas = session.client("service-quotas", region_name=region)
        self._eks = session.client("eks", region_name=region)
        self._vcpus: dict[str, int | None] = {}
        self._limits: dict[str, float] = {}

    def offered_zones(self, instance_type: str, accelerator: str | None) -> list[str]:
        """Availability zones offering the type (``ec2:DescribeInstanceTypeOfferings``)."""
        zones: list[str] = []
        params: dict[str, Any] = {
            "LocationType": "availability-zone",
            "Filters": [{"Name": "instance-type", "Values": [instance_type]}],
        }
        while True:
            page = call(
                self._ec2, "describe_instance_type_offerings", "ec2:DescribeInstanceTypeOfferings", **params
            )
            zones += [o["Location"] for o in page.get("InstanceTypeOfferings", [])]
            if not page.get("NextToken"):
                return sorted(set(zones))
            params["NextToken"] = page["NextToken"]

    def vcpus(self, instance_type: str) -> int | None:
        """Default vCPUs of a type (``ec2:DescribeInstanceTypes``), None if EC2 does not know it."""
        if instance_type not in self._vcpus:
            try:
                found = call(
                    self._ec2,
                    "describe_instance_types",
                    "ec2:DescribeInstanceTypes",
                    InstanceTypes=[instance_type],
                )["InstanceTypes"]
            except botocore.exceptions.ClientError as err:
                if err.response.get("Error", {}).get("Code") != "InvalidInstanceType":
                    raise
                found = []
            self._vcpus[instance_type] = found[0]["VCpuInfo"]["DefaultVCpus"] if found else None
        return self._vcpus[instance_type]

    def limit(self, code: str) -> float:
        """The applied value of an EC2 quota, or its default where none was applied.

        Raises:
            NotChecked: Service Quotas knows neither in this region.
        """
        if code not in self._limits:
            action = "servicequotas:GetServiceQuota"
            try:
                value = call(self._quotas, "get_service_quota", action, ServiceCode="ec2", QuotaCode=code)
            except botocore.exceptions.ClientError as err:
                if err.response.get("Error", {}).get("Code") != "NoSuchResourceException":
                    raise
                try:
                    value = call(
                        self._quotas, "get_aws_default_service_quota", "servicequotas:GetAWSDefaultServiceQuota",
                        ServiceCode="ec2", QuotaCode=code,
                    )  # fmt: skip
                except botocore.exceptions.ClientError as err:
                    if err.response.get("Error", {}).get("Code") != "NoSuchResourceException":
                        raise
                    raise NotChecked(f"Service Quotas lists no ec2 quota {code} in {self.region}") from None
            self._limits[code] = float(value["Quota"]["Value"])
        return self._limits[code]

    def quota(self, instance_type: str, accelerator: str | None, capacity: str) -> Quota:
        """The vCPU quota of the type's family for the purchase option."""
        fam = family(instance_type)
        if fam is None:
            raise NotChecked(f"no EC2 vCPU quota known for the family of {instance_type}")
        vcpus = self.vcpus(instance_type)
        if vcpus is None:
            raise NotChecked(f"{instance_type} is not an EC2 instance type in {self.region}")
        code, name = QUOTAS[fam][capacity]
        return Quota(
            code=code,
            name=name,
            unit="vCPUs",
            per_node=vcpus,
            limit=self.limit(code),
            how_to_raise=(
                "aws service-quotas request-service-quota-increase --service-code ec2 "
                f"--quota-code {code} --desired-value {{value}} --region {self.region}"
            ),
        )

    def kubernetes_versions(self) -> dict[str, str]:
        """EKS minors for new clusters in the region (``eks:DescribeClusterVersions``) → support status."""
        found: dict[str, str] = {}
        params: dict[str, Any] = {"clusterType": "eks"}
        while True:
            page = call(self._eks, "describe_cluster_versions", "eks:DescribeClusterVersions", **params)
            for version in page.get("clusterVersions", []):
                status = version.get("versionStatus") or version.get("status") or ""
                found[version["clusterVersion"]] = STANDARD if status == "STANDARD_SUPPORT" else status
            if not page.get("nextToken"):
                return found
            params["nextToken"] = page["nextToken"]


def checker(spec: AwsCloudSpec) -> AwsChecker:
    """The AWS checker for a stack's AWS placement (its region; credentials from the environment)."""
    return AwsChecker(spec.region)
