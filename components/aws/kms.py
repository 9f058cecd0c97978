"""Explicit KMS key policies: administrators apart from users, services only through their context.

AWS gives a key created without a policy the *default key policy*, whose one statement lets the
account root do ``kms:*``: every principal whose IAM policies allow ``kms:*`` can then use and
administer the key (AWS KMS Developer Guide, "Default key policy"). The policies here replace it
with three kinds of statement (the guide's "Allows key administrators to administer the KMS key"
and "Allows key users to use the KMS key" statements):

* administrators get the management actions and none of the cryptographic ones;
* users (roles of this stack, and the spec's ``key_users``) get the cryptographic actions only;
* services (CloudWatch Logs, CloudTrail) are allowed only for their own encryption context.

The policies are the keys' ``policy`` input, so a key never exists with the default policy.

KMS refuses a policy that would leave its caller unable to change it again
(``MalformedPolicyDocumentException``, the "policy lockout safety check" of ``PutKeyPolicy``);
the safety check is never bypassed (``bypassPolicyLockoutSafetyCheck`` stays unset). So the identity running ``pulumi up`` must be among the
administrators: with ``key_administrators`` unset that is the account root, which leaves
administration to IAM policies but no longer hands them the key's use.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.iam import partition
from components.contract import Component

ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
"""The key-administrator actions of the AWS KMS Developer Guide's example policy: manage, never use."""

USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
"""The key-user actions of the same guide (cryptographic operations and describing the key)."""

DECRYPT_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
"""What a reader of encrypted objects needs (S3 decrypts with the reader's own permission)."""


def account_of(arn: str) -> str:
    """The account id field of an ARN (``arn:partition:service:region:account:resource``)."""
    return arn.split(":")[4]


def deploying_account(owner: Component) -> pulumi.Output[str]:
    """The account the provider's credentials belong to (STS ``GetCallerIdentity``).

    Key policies are the keys' own ``policy`` input, so they cannot read the account from the
    key's ARN; the provider is inherited from ``owner``.
    """
    return aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=owner)).account_id


def administrators(admins: list[str], region: str, account: pulumi.Input[str]) -> list[Any]:
    """The spec's key administrators, or the account root when none are named."""
    if admins:
        return list(admins)
    return [pulumi.Output.concat("arn:", partition(region), ":iam::", account, ":root")]


def admin_statement(principals: list[Any]) -> dict[str, Any]:
    """Administrators manage the key (policy, rotation, deletion, grants) and cannot use it."""
    return {
        "Sid": "KeyAdministrators",
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": ADMIN_ACTIONS,
        "Resource": "*",
    }


def user_statement(
    sid: str, principals: list[Any], actions: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Named principals may use the key for data, optionally only under ``condition``."""
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement
