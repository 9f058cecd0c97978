"""Encryption at rest: object stores, block storage, Kubernetes secrets and keys."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import _aws
from .core import (
    ADVISORY,
    MANDATORY,
    REMEDIATE,
    CannotCheck,
    Indeterminate,
    Rule,
    Subject,
    as_bool,
    as_list,
    each,
    get,
    get_known,
)
from .tokens import (
    AZ_MANAGED_CLUSTER,
    AZ_STORAGE_ACCOUNT,
    EBS_VOLUME,
    EC2_INSTANCE,
    EC2_LAUNCH_TEMPLATE,
    EKS_CLUSTER,
    GCP_LOG_BUCKET,
    GCP_SECRET,
    GCS_BUCKET,
    GKE_CLUSTER,
    KMS_KEY,
    LOG_GROUP,
    S3_BUCKET,
    S3_SSE,
    SECRETSMANAGER_SECRET,
)

_KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def _sse_rules(r: Subject) -> list[tuple[str, Any]] | None:
    """``(path, rule)`` of an SSE configuration, or of a bucket's deprecated inline one
    (``None`` for a bucket without it)."""
    if r.type in S3_BUCKET:
        if get(r.inputs, "serverSideEncryptionConfiguration") is None:
            return None
        path = "serverSideEncryptionConfiguration.rule"
        return [(path, get(r.inputs, path, {}))]
    return [(f"rules.{i}", rule) for i, rule in enumerate(get(r.inputs, "rules", []))]


def check_s3_sse_kms(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """S3 default encryption uses SSE-KMS."""
    rules = _sse_rules(r)
    if rules is None:
        return
    if not rules:
        yield "declares no encryption rule"
    for path, rule in rules:
        algorithm = get(rule, "applyServerSideEncryptionByDefault.sseAlgorithm", where=path)
        if algorithm not in _KMS_ALGORITHMS:
            yield (
                f"{path}.applyServerSideEncryptionByDefault.sseAlgorithm is {algorithm!r}; use 'aws:kms' "
                "so reading objects also requires the KMS key"
            )


def check_s3_bucket_has_sse(subjects: Sequence[Subject], _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Every S3 bucket has a server-side encryption configuration."""
    joined = _aws.join(subjects, S3_SSE)
    for bucket in _aws.buckets(subjects):
        try:
            inline = get(bucket.inputs, "serverSideEncryptionConfiguration")
        except CannotCheck as exc:
            yield Indeterminate(exc.path, bucket.urn)
            continue
        if joined.children[bucket.urn] or inline is not None:
            continue
        if joined.unplaced:
            yield Indeterminate(_aws.unplaced_path(joined), bucket.urn)
        else:
            yield joined.orphan(bucket, "BucketServerSideEncryptionConfiguration")


def check_eks_secrets_encryption(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """EKS envelope-encrypts Kubernetes secrets with a KMS key."""
    if "secrets" not in get_known(r.inputs, "encryptionConfig.resources", []):
        yield "encryptionConfig.resources does not include 'secrets'; envelope-encrypt secrets with a KMS key"
    elif not get(r.inputs, "encryptionConfig.provider.keyArn"):
        yield "encryptionConfig.provider.keyArn is not set"


def _kms_rotatable(inputs: Mapping[str, Any]) -> bool:
    # AWS rotates only symmetric encryption keys held in KMS itself.
    return (
        get(inputs, "customerMasterKeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
        and get(inputs, "keyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
        and not get(inputs, "customKeyStoreId")
    )


def check_kms_rotation(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Symmetric KMS keys rotate automatically."""
    if _kms_rotatable(r.inputs) and as_bool(get(r.inputs, "enableKeyRotation")) is not True:
        yield "enableKeyRotation is not true; turn on automatic rotation"


def remediate_kms_rotation(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Turn on rotation (an in-place update; old key material stays usable)."""
    try:
        needed = _kms_rotatable(inputs) and as_bool(get(inputs, "enableKeyRotation")) is not True
    except CannotCheck:
        return None
    return {"enableKeyRotation": True} if needed else None


_KMS_USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey")
"""Cryptographic actions (prefixes: ``kms:ReEncrypt*``, ``kms:GenerateDataKey*`` ...)."""


def _grants_use(actions: list[Any]) -> bool:
    for action in actions:
        a = str(action).lower()
        if a in ("*", "kms:*") or any(a.startswith(use.lower()) for use in _KMS_USE):
            return True
        if a.endswith("*") and any(use.lower().startswith(a[:-1]) for use in _KMS_USE):
            return True
    return False


def _is_account_root(principal: Any) -> bool:
    values = principal.get("AWS") if isinstance(principal, Mapping) else principal
    return any(
        isinstance(v, str) and (v.endswith(":root") or v.isdigit())
        for v in ([values] if isinstance(values, str) else values or [])
    )


def check_kms_key_policy(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """KMS keys carry their own policy: no ``kms:*``, and the account root may not use the key.

    Without a policy AWS applies the default one (``kms:*`` to the account root), so anyone whose
    IAM policies allow ``kms:*`` may use and administer the key. The root may keep the
    administrative actions (so the key stays manageable) and use it only through a service
    (``kms:ViaService``).
    """
    policy = get(r.inputs, "policy")
    if not policy:
        yield "policy is not set, so AWS applies the default key policy (kms:* to the account root); declare administrators and users"
        return
    for i, st in enumerate(_aws.statements(policy, "policy")):
        if st.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in as_list(st.get("Action"))]
        if {"*", "kms:*"} & {a.lower() for a in actions}:
            yield f"policy statement {i} allows {actions[0]!r}; separate key administrators from key users"
        elif _is_account_root(st.get("Principal")) and _grants_use(actions):
            condition = st.get("Condition") or {}
            via = any(
                "kms:viaservice" in {k.lower() for k in (v or {})}
                for v in condition.values()
                if isinstance(v, Mapping)
            )
            if not via:
                yield (
                    f"policy statement {i} lets the account root use the key for data; name the roles "
                    "that use it, or limit it to a service with kms:ViaService"
                )


def check_log_group_kms(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """CloudWatch log groups are encrypted with a customer-managed KMS key."""
    if not get(r.inputs, "kmsKeyId"):
        yield "kmsKeyId is not set; encrypt the log group with a customer-managed key (audit and flow logs name callers)"


def check_gcp_log_bucket_cmek(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Cloud Logging buckets are encrypted with a customer-managed Cloud KMS key."""
    if not get(r.inputs, "cmekSettings.kmsKeyName"):
        yield "cmekSettings.kmsKeyName is not set; logs use Google-managed keys"


def _ebs_encrypted(ebs: Any, path: str) -> Iterator[str]:
    if as_bool(get(ebs, "encrypted", where=path)) is not True:
        yield f"{path}.encrypted is not true"


def check_block_storage_encrypted(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """EBS volumes, instance and launch-template block devices are encrypted."""
    inputs = r.inputs
    if r.type == EBS_VOLUME:
        if as_bool(get(inputs, "encrypted")) is not True:
            yield "encrypted is not true"
        return
    if r.type == EC2_INSTANCE:
        root = get(inputs, "rootBlockDevice")
        parts = []
        # Without rootBlockDevice, a launch template (checked itself) may define the root volume.
        if root is not None or get(inputs, "launchTemplate") is None:
            parts.append(lambda: _ebs_encrypted(root or {}, "rootBlockDevice"))
        devices = get(inputs, "ebsBlockDevices", [])
        parts += [lambda i=i, d=d: _ebs_encrypted(d, f"ebsBlockDevices.{i}") for i, d in enumerate(devices)]
        yield from each(parts)
        return
    mappings = get(inputs, "blockDeviceMappings", [])
    if not mappings:
        yield (
            "declares no blockDeviceMappings, so the root volume follows the AMI and is unencrypted "
            "unless the account encrypts EBS by default; map the root device with ebs.encrypted=true"
        )
    parts = []
    for i, mapping in enumerate(mappings):
        ebs = get(mapping, "ebs", where=f"blockDeviceMappings.{i}")
        if ebs is not None:  # instance-store and no-device mappings carry no EBS volume
            parts.append(lambda ebs=ebs, i=i: _ebs_encrypted(ebs, f"blockDeviceMappings.{i}.ebs"))
    yield from each(parts)


def check_azure_storage_encryption(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[Any]:
    """Storage accounts require infrastructure (double) encryption; Key Vault keys are named."""
    enc = get(r.inputs, "encryption")
    if enc is None:
        yield "encryption is not set; declare it with requireInfrastructureEncryption=true"
        return

    def infrastructure() -> Iterator[str]:
        if as_bool(get(enc, "requireInfrastructureEncryption", where="encryption")) is not True:
            yield "encryption.requireInfrastructureEncryption is not true"

    def key_vault() -> Iterator[str]:
        if get(enc, "keySource", where="encryption") == "Microsoft.Keyvault" and not get(
            enc, "keyVaultProperties.keyName", where="encryption"
        ):
            yield "encryption.keySource is Microsoft.Keyvault but keyVaultProperties.keyName is not set"

    def services() -> Iterator[str]:
        for service in ("blob", "file", "queue", "table"):
            if as_bool(get(enc, f"services.{service}.enabled", where="encryption")) is False:
                yield f"encryption.services.{service}.enabled is false"

    yield from each([infrastructure, key_vault, services])


def check_aks_encryption(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """AKS encrypts etcd secrets with a Key Vault key (KMS plugin)."""
    kms = "securityProfile.azureKeyVaultKms"
    if as_bool(get(r.inputs, f"{kms}.enabled")) is not True:
        yield f"{kms}.enabled is not true; encrypt secrets in etcd with a Key Vault key"
    elif not get(r.inputs, f"{kms}.keyId"):
        yield f"{kms}.keyId is not set"


def check_gke_secrets_encryption(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """GKE application-layer secrets encryption with a Cloud KMS key."""
    state = get(r.inputs, "databaseEncryption.state")
    if state != "ENCRYPTED":
        yield f"databaseEncryption.state is {state!r}; set ENCRYPTED with a Cloud KMS keyName"
    elif not get(r.inputs, "databaseEncryption.keyName"):
        yield "databaseEncryption.keyName is not set"


def check_secret_manager_cmk(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """Secret-manager secrets are encrypted with a customer-managed key (AWS KMS, Cloud KMS per replica)."""
    if r.type == SECRETSMANAGER_SECRET:
        if not get(r.inputs, "kmsKeyId"):
            yield "kmsKeyId is not set; the secret uses the AWS-managed aws/secretsmanager key"
        return
    if get(r.inputs, "replication.auto") is not None:
        if not get(r.inputs, "replication.auto.customerManagedEncryption.kmsKeyName"):
            yield "replication.auto has no customerManagedEncryption.kmsKeyName; Google-managed keys are used"
        return
    replicas = get(r.inputs, "replication.userManaged.replicas", [])
    if not replicas:
        yield "declares no replication with a customer-managed key"
    for i, replica in enumerate(replicas):
        if not get(
            replica, "customerManagedEncryption.kmsKeyName", where=f"replication.userManaged.replicas.{i}"
        ):
            yield f"replication.userManaged.replicas.{i} has no customerManagedEncryption.kmsKeyName"


def check_gcs_cmek(r: Subject, _cfg: Mapping[str, Any]) -> Iterator[str]:
    """GCS buckets encrypt with a customer-managed Cloud KMS key."""
    if not get(r.inputs, "encryption.defaultKmsKeyName"):
        yield "encryption.defaultKmsKeyName is not set; objects use Google-managed keys"


RULES = (
    Rule(
        "aws-s3-sse-kms",
        MANDATORY,
        "S3 server-side encryption configurations use SSE-KMS (aws:kms).",
        (*S3_SSE, *S3_BUCKET),
        check_s3_sse_kms,
    ),
    Rule(
        "aws-s3-bucket-has-sse",
        MANDATORY,
        "Every S3 bucket has a server-side encryption configuration (stack: joins the v7 split resource).",
        (*S3_BUCKET, *S3_SSE),
        check_s3_bucket_has_sse,
        stack=True,
    ),
    Rule(
        "aws-eks-secrets-encryption",
        MANDATORY,
        "EKS clusters envelope-encrypt Kubernetes secrets with a KMS key.",
        (EKS_CLUSTER,),
        check_eks_secrets_encryption,
    ),
    Rule(
        "aws-kms-rotation",
        REMEDIATE,
        "Symmetric KMS keys have automatic rotation on (remediated in place).",
        (KMS_KEY,),
        check_kms_rotation,
        remediate=remediate_kms_rotation,
    ),
    Rule(
        "aws-kms-key-policy",
        MANDATORY,
        "KMS keys declare a key policy that separates administrators from users and never grants kms:*.",
        (KMS_KEY,),
        check_kms_key_policy,
    ),
    Rule(
        "aws-log-group-kms",
        MANDATORY,
        "CloudWatch log groups are encrypted with a customer-managed KMS key.",
        (LOG_GROUP,),
        check_log_group_kms,
    ),
    Rule(
        "gcp-log-bucket-cmek",
        MANDATORY,
        "Cloud Logging buckets are encrypted with a customer-managed Cloud KMS key.",
        (GCP_LOG_BUCKET,),
        check_gcp_log_bucket_cmek,
    ),
    Rule(
        "aws-block-storage-encrypted",
        MANDATORY,
        "EBS volumes, instance block devices and launch-template volumes are encrypted.",
        (EBS_VOLUME, EC2_INSTANCE, EC2_LAUNCH_TEMPLATE),
        check_block_storage_encrypted,
    ),
    Rule(
        "azure-storage-encryption",
        MANDATORY,
        "Storage accounts require infrastructure encryption and name their Key Vault key when customer-managed.",
        (AZ_STORAGE_ACCOUNT,),
        check_azure_storage_encryption,
    ),
    Rule(
        "azure-aks-encryption",
        MANDATORY,
        "AKS clusters encrypt secrets in etcd with a Key Vault key (KMS).",
        (AZ_MANAGED_CLUSTER,),
        check_aks_encryption,
    ),
    Rule(
        "gcp-gke-secrets-encryption",
        MANDATORY,
        "GKE clusters encrypt secrets at the application layer with a Cloud KMS key.",
        (GKE_CLUSTER,),
        check_gke_secrets_encryption,
    ),
    Rule(
        "secret-manager-cmk",
        MANDATORY,
        "AWS Secrets Manager and GCP Secret Manager secrets are encrypted with a customer-managed key.",
        (SECRETSMANAGER_SECRET, GCP_SECRET),
        check_secret_manager_cmk,
    ),
    Rule(
        "gcp-gcs-cmek",
        ADVISORY,
        "GCS buckets encrypt with a customer-managed Cloud KMS key.",
        (GCS_BUCKET,),
        check_gcs_cmek,
    ),
)
