"""Cloud KMS keys that a Google service agent uses on the stack's behalf (GKE secrets, GCS CMEK)."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components.contract import Component

ROTATION_PERIOD = "7776000s"
"""90 days: CIS Google Cloud Foundations benchmark 1.10 asks for rotation within 90 days."""

DESTROY_SCHEDULED = "2592000s"
"""30 days between destroying a key version and its deletion (the AWS keys' deletion window)."""


def service_agent(project_number: str, service: str) -> str:
    """The IAM member of a Google-managed service agent, e.g. ``container-engine-robot``.

    Service agents are named after the project number, which is why the spec carries it.
    """
    return f"serviceAccount:service-{project_number}@{service}.iam.gserviceaccount.com"


def enable_api(owner: Component, *, project: str, service: str) -> gcp.projects.Service:
    """``<owner>-api``: a Google API on in the project, left on when the stack goes (other users may need it).

    A new project has most APIs off: resources, service-agent lookups and grants of a service fail until it is on.
    """
    return gcp.projects.Service(
        owner.child("api"), project=project, service=service, disable_on_destroy=False, opts=owner.opts()
    )


def agent_key(
    owner: Component, suffix: str, *, location: str, agent: pulumi.Input[str], protect: bool
) -> tuple[gcp.kms.CryptoKey, gcp.kms.CryptoKeyIAMMember]:
    """A rotating key in its own key ring, usable (encrypt/decrypt only) by one service agent.

    Children of ``owner``: ``-keyring``, ``-<suffix>`` (the key) and ``-<suffix>-agent`` (the
    grant). Key rings cannot be deleted on GCP, so they are auto-named and never reused.

    Returns:
        The key and the grant, which anything encrypting with the key must depend on.
    """
    ring = gcp.kms.KeyRing(owner.child("keyring"), location=location, opts=owner.opts(protect=protect))
    key = gcp.kms.CryptoKey(
        owner.child(suffix),
        key_ring=ring.id,
        purpose="ENCRYPT_DECRYPT",
        rotation_period=ROTATION_PERIOD,
        destroy_scheduled_duration=DESTROY_SCHEDULED,
        opts=owner.opts(protect=protect),
    )
    grant = gcp.kms.CryptoKeyIAMMember(
        owner.child(f"{suffix}-agent"),
        crypto_key_id=key.id,
        role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
        member=agent,
        opts=owner.opts(),
    )
    return key, grant
