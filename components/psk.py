"""Pre-shared keys of site-to-site VPN tunnels, generated once per tunnel and fed to both ends."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_random as random

from aistack.spec.interconnect import Tunnel
from components import contract


def preshared_key(
    owner: contract.Component, tunnel: Tunnel, generator: random.Provider
) -> random.RandomPassword:
    """The tunnel's pre-shared key (a secret in state, fed to both ends), ``-<tunnel>-psk`` of ``owner``.

    Letters only: AWS takes 8–64 characters of letters, digits, ``.`` and ``_`` that do not start with 0
    (EC2 API, ``VpnTunnelOptionsSpecification.PreSharedKey``); Cloud VPN and Azure take any of those. 40
    letters are about 228 bits.
    """
    return random.RandomPassword(
        owner.child(f"{tunnel.name}-psk"),
        length=40,
        special=False,
        numeric=False,
        opts=owner.opts(provider=generator),
    )


def tunnel_keys(owner: contract.Component, tunnels: Sequence[Tunnel]) -> dict[str, pulumi.Output[str]]:
    """A new pre-shared key per tunnel under ``owner`` (its ``-random`` provider): tunnel name → secret key.

    Marked secret here as well as by pulumi-random: azure-native does not mark a connection's ``sharedKey``
    secret itself, so the key must arrive as a secret Output to stay encrypted in its state.
    """
    generator = random.Provider(owner.child("random"), opts=owner.opts())
    return {t.name: pulumi.Output.secret(preshared_key(owner, t, generator).result) for t in tunnels}
