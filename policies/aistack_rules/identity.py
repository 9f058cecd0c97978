"""Identity and access: IAM documents, attachments, trust, role bindings on every cloud."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from . import _aws, _gcp
from .core import MANDATORY, Rule, Subject, as_list, each, get, get_known
from .tokens import (
    AZ_ROLE_ASSIGNMENT,
    GCP_PROJECT_IAM_BINDING,
    GCP_PROJECT_IAM_MEMBER,
    GCP_PROJECT_IAM_POLICY,
    IAM_ATTACHMENTS,
    IAM_EXCLUSIVE_ATTACHMENTS,
    IAM_POLICY_DOCUMENTS,
    IAM_ROLE,
    K8S_BINDINGS,
    K8S_ROLES,
)

# AWS managed policies that amount to full control of the account (IAMFullAccess lets the
# holder grant itself anything).
_AWS_ADMIN_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(AdministratorAccess|IAMFullAccess)$")
_GCP_BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
# Built-in Azure role definition ids (Azure RBAC built-in roles reference): Owner, User Access
# Administrator and Role Based Access Control Administrator can all grant access to others.
_AZURE_OWNER_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}
# Scopes above a resource group: tenant root, management groups and whole subscriptions.
_AZURE_BROAD_SCOPE = re.compile(
    r"^/$|^/providers/Microsoft\.Management/managementGroups/[^/]+/?$|^/subscriptions/[^/]+/?$", re.IGNORECASE
)
_K8S_ESCALATING_VERBS = ("escalate", "bind", "impersonate")
_K8S_PUBLIC_GROUPS = ("system:anonymous", "system:unauthenticated", "system:authenticated")


def _documents(r: Subject) -> list[tuple[str, Any]]:
    if r.type == IAM_ROLE:
        return [
            (f"inlinePolicies.{i}.policy", get(p, "policy", where=f"inlinePolicies.{i}"))
            for i, p in enumerate(get(r.inputs, "inlinePolicies", []))
        ]
    return [("policy", r.inputs.get("policy"))]


def check_iam_no_wildcard(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """No IAM statement allows every action on every resource."""

    def judge(path: str, document: Any) -> Iterator[str]:
        for i, st in enumerate(_aws.statements(document, path)):
            if (
                st.get("Effect") == "Allow"
                and "*" in as_list(st.get("Action"))
                and "*" in as_list(st.get("Resource"))
            ):
                yield f"{path} Statement {i} allows Action '*' on Resource '*'"

    yield from each([lambda p=p, d=d: judge(p, d) for p, d in _documents(r)])


def check_iam_no_admin_attach(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """No AdministratorAccess or IAMFullAccess attachment."""
    if r.type in IAM_ATTACHMENTS:
        arns = [("policyArn", get(r.inputs, "policyArn"))]
    elif r.type == IAM_EXCLUSIVE_ATTACHMENTS:
        arns = [("policyArns", a) for a in get_known(r.inputs, "policyArns", [])]
    else:
        arns = [("managedPolicyArns", a) for a in get_known(r.inputs, "managedPolicyArns", [])]
    for path, arn in arns:
        if isinstance(arn, str) and _AWS_ADMIN_POLICY.match(arn):
            yield f"{path} attaches {arn.rsplit('/', 1)[-1]}; grant the actions the workload needs"


def check_iam_trust_scoped(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Role trust policies name who may assume them; web-identity trust pins the subject."""
    for i, st in enumerate(_aws.statements(r.inputs.get("assumeRolePolicy"), "assumeRolePolicy")):
        if st.get("Effect") != "Allow":
            continue
        principal, condition = st.get("Principal"), st.get("Condition") or {}
        if _aws.is_public_principal(principal) and not condition:
            yield f"assumeRolePolicy Statement {i} lets any AWS principal assume the role"
        actions = [str(a) for a in as_list(st.get("Action"))]
        federated = isinstance(principal, Mapping) and principal.get("Federated")
        if federated and any(a.startswith("sts:AssumeRoleWithWebIdentity") for a in actions):
            keys = [k for values in condition.values() if isinstance(values, Mapping) for k in values]
            if not any(k.endswith(":sub") for k in keys):
                yield (
                    f"assumeRolePolicy Statement {i} trusts a web identity without a ':sub' condition; "
                    "any service account of the cluster could assume it"
                )


def check_gcp_no_basic_roles(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Project IAM grants no basic role (owner, editor, viewer)."""
    if r.type == GCP_PROJECT_IAM_POLICY:
        roles = [b.get("role") for b in _gcp.policy_bindings(r.inputs)]
    else:
        roles = [get(r.inputs, "role")]
    for role in roles:
        if role in _GCP_BASIC_ROLES:
            yield f"grants basic role {role}; use a predefined or custom role"


def check_azure_no_broad_owner(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """No Owner-like role assignment at subscription, management-group or root scope."""
    role_id = str(get(r.inputs, "roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
    role = _AZURE_OWNER_ROLES.get(role_id)
    if role is None:
        return
    scope = get(r.inputs, "scope", "")
    if _AZURE_BROAD_SCOPE.match(str(scope)):
        yield f"assigns {role} at scope {scope!r}; scope it to a resource group or resource"


def check_k8s_rbac_least_privilege(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Roles use no wildcard or escalating verbs; nothing binds cluster-admin or public groups."""
    if r.type in K8S_BINDINGS:
        if (
            get(r.inputs, "roleRef.kind") == "ClusterRole"
            and get(r.inputs, "roleRef.name") == "cluster-admin"
        ):
            yield "binds cluster-admin; bind a role limited to what the subject needs"
        for i, subject in enumerate(get(r.inputs, "subjects", [])):
            name = get(subject, "name", where=f"subjects.{i}")
            if name in _K8S_PUBLIC_GROUPS:
                yield f"subjects.{i} binds the group {name}"
        return

    def judge(i: int, rule: Mapping[str, Any]) -> Iterator[str]:
        where = f"rules.{i}"
        verbs = get_known(rule, "verbs", [], where=where)
        resources = get_known(rule, "resources", [], where=where)
        if "*" in verbs:
            yield f"{where}.verbs contains '*'"
        if "*" in resources:
            yield f"{where}.resources contains '*'"
        for verb in _K8S_ESCALATING_VERBS:
            if verb in verbs:
                yield f"{where}.verbs contains {verb!r} (privilege escalation)"

    yield from each(
        [lambda i=i, rule=rule: judge(i, rule) for i, rule in enumerate(get(r.inputs, "rules", []))]
    )


RULES = (
    Rule(
        "aws-iam-no-wildcard",
        MANDATORY,
        "No IAM policy statement allows Action '*' on Resource '*'.",
        (*IAM_POLICY_DOCUMENTS, IAM_ROLE),
        check_iam_no_wildcard,
    ),
    Rule(
        "aws-iam-no-admin-attach",
        MANDATORY,
        "No role, user or group gets AdministratorAccess or IAMFullAccess attached.",
        (*IAM_ATTACHMENTS, IAM_EXCLUSIVE_ATTACHMENTS, IAM_ROLE),
        check_iam_no_admin_attach,
    ),
    Rule(
        "aws-iam-trust-scoped",
        MANDATORY,
        "Role trust policies do not trust every principal, and web-identity (IRSA) trust pins ':sub'.",
        (IAM_ROLE,),
        check_iam_trust_scoped,
    ),
    Rule(
        "gcp-iam-no-basic-roles",
        MANDATORY,
        "Project IAM grants no basic role (roles/owner, roles/editor, roles/viewer).",
        (GCP_PROJECT_IAM_MEMBER, GCP_PROJECT_IAM_BINDING, GCP_PROJECT_IAM_POLICY),
        check_gcp_no_basic_roles,
    ),
    Rule(
        "azure-rbac-no-broad-owner",
        MANDATORY,
        "No Owner, User Access Administrator or RBAC Administrator assignment at subscription scope or above.",
        (AZ_ROLE_ASSIGNMENT,),
        check_azure_no_broad_owner,
    ),
    Rule(
        "k8s-rbac-least-privilege",
        MANDATORY,
        "Kubernetes roles use no '*' or escalate/bind/impersonate verbs; no binding to cluster-admin or "
        "to anonymous/all-authenticated groups.",
        (*K8S_ROLES, *K8S_BINDINGS),
        check_k8s_rbac_least_privilege,
    ),
)
