"""Azure preflight: VM sizes per zone from resource SKUs, vCPU quotas from compute usages.

A VM size is offered in the zones its SKU lists for the location, less any zone (or the whole
location) named in its restrictions (``NotAvailableForSubscription``, ``QuotaId``). On-demand
nodes draw on the size's family quota (``standardNCADSA100v4Family``); spot nodes on the
regional ``lowPriorityCores`` quota. Both count vCPUs.
"""

from __future__ import annotations

from typing import Any

from aistack.errors import InputError
from aistack.preflight.checks import STANDARD, NotChecked, Quota
from aistack.spec.clouds import AzureCloudSpec

SPOT_QUOTA = "lowPriorityCores"


def credentials_error(err: Exception, action: str) -> InputError:
    """One line for missing Azure credentials or a refused permission (``action``), exit 2."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
    return InputError(
        "credentials",
        "azure",
        f"{action}: {first} (run `az login` or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, "
        "and grant the principal that permission)",
    )


def call(action: str, fn: Any, **kwargs: Any) -> list[Any]:
    """List through one Azure operation, turning missing credentials or permissions into an InputError."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    try:
        return list(fn(**kwargs))
    except ClientAuthenticationError as err:
        raise credentials_error(err, action) from None
    except HttpResponseError as err:
        if err.status_code in (401, 403):
            raise credentials_error(err, action) from None
        raise


class AzureChecker:
    """Preflight questions answered by the Azure Compute resource provider in one location.

    Args:
        subscription_id: Azure subscription id.
        location: Azure region, e.g. ``eastus``.
        credential: An azure-identity token credential; default: ``DefaultAzureCredential``.
        base_url: Resource Manager endpoint; default: the public cloud's.
        client_kwargs: Passed to ``ComputeManagementClient`` (pipeline options).
    """

    cloud = "azure"

    def __init__(
        self,
        subscription_id: str,
        location: str,
        *,
        credential: Any = None,
        base_url: str | None = None,
        **client_kwargs: Any,
    ) -> None:
        from azure.mgmt.compute import ComputeManagementClient

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.subscription_id = subscription_id
        self.region = location
        extra = {"base_url": base_url} if base_url else {}
        self._client = ComputeManagementClient(credential, subscription_id, **extra, **client_kwargs)
        self._skus: dict[str, Any] | None = None
        self._usages: dict[str, Any] | None = None

    def sku(self, vm_size: str) -> Any:
        """The resource SKU of a VM size in the location (all sizes read once), None if unknown."""
        if self._skus is None:
            listed = call(
                "Microsoft.Compute/skus/read",
                self._client.resource_skus.list,
                filter=f"location eq '{self.region}'",
            )
            self._skus = {s.name: s for s in listed if s.resource_type == "virtualMachines"}
        return self._skus.get(vm_size)

    def offered_zones(self, instance_type: str, accelerator: str | None) -> list[str]:
        """Zones of the location offering the size to this subscription."""
        sku = self.sku(instance_type)
        if sku is None:
            return []
        zones: set[str] = set()
        for info in sku.location_info or []:
            if info.location.lower() == self.region.lower():
                zones |= set(info.zones or [])
        for restriction in sku.restrictions or []:
            where = restriction.restriction_info
            if restriction.type == "Location":
                return []
            if restriction.type == "Zone" and where is not None:
                zones -= set(where.zones or [])
        return sorted(zones)

    def usage(self, name: str) -> tuple[float, str]:
        """(limit, display name) of a compute usage in the location; (0, name) when not listed."""
        if self._usages is None:
            listed = call(
                "Microsoft.Compute/locations/usages/read", self._client.usage.list, location=self.region
            )
            self._usages = {u.name.value: u for u in listed}
        found = self._usages.get(name)
        return (float(found.limit), found.name.localized_value or name) if found else (0.0, name)

    def quota(self, instance_type: str, accelerator: str | None, capacity: str) -> Quota:
        """The vCPU quota a node draws on: the size's family (on-demand) or ``lowPriorityCores`` (spot)."""
        sku = self.sku(instance_type)
        if sku is None:
            raise NotChecked(f"{instance_type} is not a VM size in {self.region}")
        vcpus = next((int(c.value) for c in sku.capabilities or [] if c.name == "vCPUs"), None)
        if vcpus is None:
            raise NotChecked(f"the SKU of {instance_type} lists no vCPUs")
        code = SPOT_QUOTA if capacity == "spot" else sku.family
        limit, name = self.usage(code)
        return Quota(
            code=code,
            name=name,
            unit="vCPUs",
            per_node=vcpus,
            limit=limit,
            how_to_raise=(
                f"Azure portal → Quotas → Compute, subscription {self.subscription_id}, region {self.region}, "
                f"'{name}': new limit {{value}}"
            ),
        )

    AKS_API_VERSION = "2024-10-01"

    def kubernetes_versions(self) -> dict[str, str]:
        """AKS minors the location offers (Managed Clusters - List Kubernetes Versions) → support status.

        A minor is in standard support when AKS lists the ``KubernetesOfficial`` support plan for it
        and it is not a preview; an ``AKSLongTermSupport``-only minor needs the Premium tier.
        """
        from azure.core.exceptions import ClientAuthenticationError
        from azure.core.rest import HttpRequest

        action = "Microsoft.ContainerService/locations/kubernetesVersions/read"
        url = (
            f"/subscriptions/{self.subscription_id}/providers/Microsoft.ContainerService/locations/"
            f"{self.region}/kubernetesVersions?api-version={self.AKS_API_VERSION}"
        )
        try:
            response = self._client._send_request(HttpRequest("GET", url))
        except ClientAuthenticationError as err:
            raise credentials_error(err, action) from None
        if response.status_code in (401, 403):
            raise credentials_error(Exception(response.text()), action)
        response.raise_for_status()
        found: dict[str, str] = {}
        for value in response.json().get("values", []):
            plans = (value.get("capabilities") or {}).get("supportPlan") or []
            if value.get("isPreview"):
                found[value["version"]] = "preview"
            else:
                found[value["version"]] = STANDARD if "KubernetesOfficial" in plans else "lts-only"
        return found


def checker(spec: AzureCloudSpec) -> AzureChecker:
    """The Azure checker for a stack's Azure placement (its subscription and location; default credentials)."""
    return AzureChecker(spec.subscription_id, spec.location)
