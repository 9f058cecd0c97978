"""IAM and KMS building blocks: policy documents as plain JSON (no provider lookups, so the offline
engine can check them) and the rotating customer-managed key."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.contract import Component


def partition(region: str) -> str:
    """The ARN partition of a region (``aws``, ``aws-us-gov``, ``aws-cn``)."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def managed_policy(region: str, name: str) -> str:
    """ARN of an AWS-managed policy in the region's partition."""
    return f"arn:{partition(region)}:iam::aws:policy/{name}"


def service_trust(service: str, actions: tuple[str, ...] = ("sts:AssumeRole",), **condition: Any) -> str:
    """A trust policy letting one AWS service principal assume the role."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": list(actions),
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def rotating_key(
    owner: Component, suffix: str, description: str, *, protect: bool, policy: pulumi.Input[str] | None = None
) -> aws.kms.Key:
    """A customer-managed KMS key, child of ``owner``, rotated yearly and protected in production.

    Args:
        policy: The key policy (see ``components.aws.kms``); without it AWS applies the default
            policy, which hands the key to every principal whose IAM policies allow ``kms:*``.
    """
    return aws.kms.Key(
        owner.child(suffix),
        description=description,
        policy=policy,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        opts=owner.opts(protect=protect),
    )


def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """A policy document from statements whose values may be Outputs."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})
