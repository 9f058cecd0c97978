"""The endpoint API key every cloud family generates the same way (``pulumi-random``)."""

from __future__ import annotations

import pulumi_random as random

from components.contract import Component

KEY_LENGTH = 48
"""Characters of a generated API key: letters and digits only (~285 bits), safe in any header or shell."""


def provider(owner: Component) -> random.Provider:
    """The ``-random`` child of ``owner``: the explicit provider the keys need (default providers are off)."""
    return random.Provider(owner.child("random"), opts=owner.opts())


def generate(owner: Component, endpoint: str, generator: random.Provider) -> random.RandomPassword:
    """The ``-<endpoint>-key`` child of ``owner``: a new key, kept in Pulumi state as a secret.

    ``RandomPassword.result`` is a secret output; it is written only into the cloud's secret manager.
    """
    return random.RandomPassword(
        owner.child(f"{endpoint}-key"), length=KEY_LENGTH, special=False, opts=owner.opts(provider=generator)
    )
