"""The explicit azure-native provider, carrying the stack's tags."""

from __future__ import annotations

import pulumi_azure_native as azure_native

from aistack.spec.clouds import AzureCloudSpec


class Provider(azure_native.Provider):
    """An azure-native provider pinned to the spec's subscription, tenant and location.

    azure-native has no default tags, so the provider carries them (``default_tags``) and the
    family passes them to every resource that takes tags, where they show in the inputs.
    """

    def __init__(self, name: str, spec: AzureCloudSpec, tags: dict[str, str]) -> None:
        super().__init__(
            name, subscription_id=spec.subscription_id, tenant_id=spec.tenant_id, location=spec.location
        )
        self.default_tags = dict(tags)
