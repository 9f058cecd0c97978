"""Physical names that fit each cloud's limits, deterministically.

Most resources are auto-named by Pulumi (logical name plus a random suffix). Where a cloud needs
an explicit name (EKS clusters, whose log group name embeds it; Azure storage accounts and AKS
agent pools; GCP service accounts), the name is built here so every cloud's rules are in one
tested place. A name too long for its limit keeps a readable prefix and ends with a short hash
of the full name, so two long names never collide and the same input always gives the same name.
"""

from __future__ import annotations

import hashlib
import re


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(
    name: str, limit: int, *, alphabet: str = "a-z0-9-", lowercase: bool = True, hash_len: int = 6
) -> str:
    """Fit ``name`` to ``limit`` characters drawn from ``alphabet`` (a regex character-class body).

    Args:
        name: The wanted name, e.g. ``"aistack-prod-main"``.
        limit: Maximum length the cloud allows.
        alphabet: Allowed characters; others are dropped (``-`` kept only if allowed).
        lowercase: Lower-case the name first.
        hash_len: Length of the disambiguating hash used when the name must be cut.

    Returns:
        The name unchanged if it already fits, otherwise a cut name ending in a hash of the original.
    """
    wanted = name.lower() if lowercase else name
    clean = re.sub(f"[^{alphabet}]", "", wanted)
    # A dash is allowed only as a literal at either end of the class body ("a-z" is a range).
    dash = alphabet.startswith("-") or alphabet.endswith("-")
    if dash:
        clean = re.sub("-{2,}", "-", clean).strip("-")
    if len(clean) <= limit and clean == wanted:
        return clean
    sep = "-" if dash else ""
    keep = limit - hash_len - len(sep)
    return f"{clean[:keep].rstrip('-')}{sep}{_digest(wanted, hash_len)}"


def eks_cluster(prefix: str, name: str) -> str:
    """EKS cluster name: 1–100 characters, letters, digits, dashes and underscores."""
    return fit(f"{prefix}-{name}", 100, alphabet="a-zA-Z0-9_-", lowercase=False)


def gcp(prefix: str, name: str, limit: int = 63) -> str:
    """A GCP resource name (RFC 1035 label): lowercase letters, digits, dashes, a letter first.

    Args:
        prefix: The stack prefix, ``<project>-<stack>``.
        name: The resource's own name.
        limit: The resource type's maximum length (63 for most GCP resources).
    """
    wanted = f"{prefix}-{name}"
    if not wanted[:1].isalpha():
        # RFC 1035 names start with a letter; a prefix of digits would otherwise be refused.
        wanted = f"x-{wanted}"
    return fit(wanted, limit)


def gke_cluster(prefix: str, name: str) -> str:
    """GKE cluster name: at most 40 characters, lowercase letters, digits, dashes, a letter first."""
    return gcp(prefix, name, 40)


def gcp_service_account(prefix: str, name: str) -> str:
    """Service account id: 6–30 characters, lowercase letters, digits, dashes, a letter first.

    Ids shorter than six characters are padded with a hash so they stay deterministic.
    """
    account = gcp(prefix, name, 30)
    return account if len(account) >= 6 else f"{account}-{_digest(account, 4)}"


def gcp_log_bucket(prefix: str, name: str) -> str:
    """Cloud Logging bucket id: at most 100 letters, digits, underscores and dashes."""
    return fit(f"{prefix}-{name}", 100, alphabet="a-z0-9_-")


def _unique(scope: str, full: str, readable: str, limit: int, sep: str = "") -> str:
    """A globally unique name: ``readable`` (the resource's own name first, then the stack prefix)
    cut to fit, then a digest of the scope and the ``full`` name before any character was dropped."""
    digest = _digest(f"{scope}/{full}", 6)
    return f"{readable[: limit - len(digest) - len(sep)].rstrip('-')}{sep}{digest}"


def azure_storage_account(subscription_id: str, prefix: str, name: str) -> str:
    """Storage account name: 3–24 lowercase letters and digits, unique across all of Azure.

    It always ends with a digest of the subscription and the full name, so the same stack in two
    subscriptions (or two stacks whose names differ only in dashes) never asks for the same name.
    """
    full = f"{name}-{prefix}"
    return _unique(subscription_id, full, re.sub("[^a-z0-9]", "", full.lower()), 24)


def azure_key_vault(subscription_id: str, prefix: str, name: str) -> str:
    """Key Vault name: 3–24 letters, digits and single dashes, starting with a letter, unique across Azure.

    Ends with a digest like :func:`azure_storage_account`. A deleted vault keeps its name for its
    soft-delete retention (purge protection is on), so a destroyed stack cannot be re-created
    under the same name within that period.
    """
    full = f"{name}-{prefix}"
    readable = re.sub("-{2,}", "-", re.sub("[^a-z0-9-]", "", full.lower())).strip("-")
    if not readable[:1].isalpha():
        readable = f"kv-{readable}"
    return _unique(subscription_id, full, readable, 24, sep="-")


def azure_resource_group(prefix: str, name: str) -> str:
    """Resource group name: 1–90 letters, digits, ``-_.()``, not ending with a period."""
    return fit(f"{prefix}-{name}", 90, alphabet="a-zA-Z0-9_.()-", lowercase=False).rstrip(".")


def aks_cluster(prefix: str, name: str) -> str:
    """AKS cluster name: 1–63 letters, digits, dashes and underscores, starting and ending alphanumeric."""
    return fit(f"{prefix}-{name}", 63, alphabet="a-zA-Z0-9_-", lowercase=False).strip("_")


def aks_dns_prefix(prefix: str, name: str) -> str:
    """AKS DNS prefix (the API server's host name): 1–54 letters, digits and dashes, alphanumeric at both ends."""
    return fit(f"{prefix}-{name}", 54, alphabet="a-z0-9-")


def aks_agent_pool(pool: str, suffix: str) -> str:
    """AKS Linux agent pool name: 1–12 lowercase letters and digits, starting with a letter.

    Unique within a cluster: the pool's name plus its raw suffix (``nodes``, ``ondemand``,
    ``spot``), with a digest whenever characters had to be dropped or cut.
    """
    return fit(f"{pool}{suffix}", 12, alphabet="a-z0-9")
