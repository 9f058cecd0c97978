"""Fixtures for preflight: stack files on disk, and EC2 quotas at the boto3 boundary.

moto implements Service Quotas for the ``vpc`` service only, so ``GetServiceQuota`` for ``ec2``
codes is answered here, at ``botocore``'s client call (parameters validated against the real API
model), and every other call, EC2's included, goes to moto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.client
import botocore.exceptions
import botocore.validate
import pytest
import yaml
from moto import mock_aws

REGION = "us-east-1"

_real_call = botocore.client.BaseClient._make_api_call


class Quotas(dict):
    """EC2 quota code → applied value (vCPUs); ``defaults``: code → AWS default value;
    ``eks_versions``: EKS minor → ``versionStatus`` that ``DescribeClusterVersions`` lists."""

    def __init__(self) -> None:
        super().__init__()
        self.defaults: dict[str, float] = {}
        self.eks_versions: dict[str, str] = {
            "1.34": "EXTENDED_SUPPORT",
            "1.35": "STANDARD_SUPPORT",
            "1.36": "STANDARD_SUPPORT",
        }


@pytest.fixture
def ec2_quotas(monkeypatch: pytest.MonkeyPatch) -> Iterator[Quotas]:
    """Applied and default EC2 quotas; a code left out answers NoSuchResourceException, as AWS does."""
    values = Quotas()

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        model = self.meta.service_model
        if model.service_name == "service-quotas" and params.get("ServiceCode") == "ec2":
            botocore.validate.validate_parameters(params, model.operation_model(operation).input_shape)
            code = params["QuotaCode"]
            table = values.defaults if operation == "GetAWSDefaultServiceQuota" else values
            if code not in table:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "NoSuchResourceException", "Message": f"no quota {code}"}}, operation
                )
            return {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "Value": table[code], "Unit": "None"}}
        if model.service_name == "eks" and operation == "DescribeClusterVersions":
            # moto does not implement it: answer in the real API's shape (parameters validated).
            botocore.validate.validate_parameters(params, model.operation_model(operation).input_shape)
            versions = [
                {"clusterVersion": v, "clusterType": "eks", "versionStatus": s, "status": s}
                for v, s in values.eks_versions.items()
            ]
            return {"clusterVersions": versions}
        return _real_call(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    with mock_aws():
        yield values


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[..., Path]:
    """Write a one-cluster AWS stack file; pools and zones as given. Returns its path."""

    def write(
        gpu_pools: dict[str, Any], *, zones: list[str] | None = None, name: str = "t", **cluster: Any
    ) -> Path:
        config = {
            "pulumi:disable-default-providers": ["*"],
            "aistack:environment": "dev",
            "aistack:clouds": {
                "aws": {
                    "region": REGION,
                    "zones": zones or [f"{REGION}a", f"{REGION}b"],
                    "cidr": "10.10.0.0/16",
                }
            },
            "aistack:clusters": {
                "main": {
                    "cloud": "aws",
                    "api": {"deployer": "allow-listed"},
                    "gpu_pools": gpu_pools,
                    **cluster,
                }
            },
        }
        path = tmp_path / f"Pulumi.{name}.yaml"
        path.write_text(yaml.safe_dump({"config": config}))
        return path

    return write
