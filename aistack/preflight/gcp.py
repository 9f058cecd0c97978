"""GCP preflight: machine and accelerator types per zone, regional GPU quotas (google-cloud-compute).

A GPU node needs both its machine type and its accelerator type in the zone. A2, A3 and G2
machine types carry their GPUs (the API lists them on the machine type); N1 types get attached
GPUs, named by the pool's canonical accelerator. GPU quotas are regional metrics counted in GPUs:
``NVIDIA_<MODEL>_GPUS`` on-demand and ``PREEMPTIBLE_NVIDIA_<MODEL>_GPUS`` for spot.
"""

from __future__ import annotations

from typing import Any

from aistack.errors import InputError
from aistack.preflight.checks import STANDARD, NotChecked, Quota
from aistack.spec.clouds import GcpCloudSpec

# Canonical accelerator → GCP accelerator type, for GPUs attached to N1 machine types.
ACCELERATOR_TYPES = {
    "H100-80GB": "nvidia-h100-80gb",
    "A100-80GB": "nvidia-a100-80gb",
    "A100-40GB": "nvidia-tesla-a100",
    "L4-24GB": "nvidia-l4",
    "T4-16GB": "nvidia-tesla-t4",
}
# GCP accelerator type → on-demand quota metric (spot: the same with a ``PREEMPTIBLE_`` prefix).
QUOTA_METRICS = {
    "nvidia-h100-80gb": "NVIDIA_H100_GPUS",
    "nvidia-a100-80gb": "NVIDIA_A100_80GB_GPUS",
    "nvidia-tesla-a100": "NVIDIA_A100_GPUS",
    "nvidia-l4": "NVIDIA_L4_GPUS",
    "nvidia-tesla-t4": "NVIDIA_T4_GPUS",
    "nvidia-tesla-v100": "NVIDIA_V100_GPUS",
    "nvidia-tesla-p100": "NVIDIA_P100_GPUS",
    "nvidia-tesla-p4": "NVIDIA_P4_GPUS",
}


def credentials_error(err: Exception, action: str) -> InputError:
    """One line for missing Google credentials or a refused permission (``action``), exit 2."""
    return InputError(
        "credentials",
        "gcp",
        f"{action}: {err.__class__.__name__}: {str(err).splitlines()[0]} "
        "(run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS, "
        "and grant the principal that permission)",
    )


def call(action: str, fn: Any, **kwargs: Any) -> Any:
    """Call one Google API method, turning missing credentials or permissions into an InputError."""
    import google.auth.exceptions
    from google.api_core import exceptions

    try:
        return fn(**kwargs)
    except (google.auth.exceptions.GoogleAuthError, exceptions.Unauthorized, exceptions.Forbidden) as err:
        raise credentials_error(err, action) from None
    except exceptions.NotFound as err:
        raise InputError("stack", "aistack:clouds.gcp", f"{action}: {err.message}") from None


class GcpChecker:
    """Preflight questions answered by the Compute Engine API in one project and region.

    Args:
        project: GCP project id.
        region: GCP region, e.g. ``us-central1``.
        attached_gpus: GPUs attached per node for machine types without built-in GPUs (N1).
        credentials: google-auth credentials; default: Application Default Credentials.
        client_options: Passed to every client (e.g. ``{"api_endpoint": ...}``).
    """

    cloud = "gcp"

    def __init__(
        self,
        project: str,
        region: str,
        *,
        attached_gpus: int = 1,
        credentials: Any = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        import google.auth.exceptions
        from google.cloud import compute_v1

        self.project = project
        self.region = region
        self.attached_gpus = attached_gpus
        self._credentials = credentials
        self._container_endpoint = (client_options or {}).get(
            "api_endpoint"
        ) or "https://container.googleapis.com"
        kwargs = {"credentials": credentials, "client_options": client_options, "transport": "rest"}
        try:
            self._regions = compute_v1.RegionsClient(**kwargs)
            self._machines = compute_v1.MachineTypesClient(**kwargs)
            self._accelerators = compute_v1.AcceleratorTypesClient(**kwargs)
        except google.auth.exceptions.DefaultCredentialsError as err:
            raise credentials_error(err, "no Google credentials") from None
        self._region: Any = None
        self._zones_of: dict[tuple[str, str], dict[str, Any]] = {}

    def region_info(self) -> Any:
        """The region (its zones and quotas), read once."""
        if self._region is None:
            self._region = call(
                "compute.regions.get", self._regions.get, project=self.project, region=self.region
            )
        return self._region

    def _in_region(self, kind: str, name: str) -> dict[str, Any]:
        """Zone → resource for a machine or accelerator type, over the region's zones (aggregated list)."""
        if (kind, name) not in self._zones_of:
            client, attr, permission = {
                "machine": (self._machines, "machine_types", "compute.machineTypes.list"),
                "accelerator": (self._accelerators, "accelerator_types", "compute.acceleratorTypes.list"),
            }[kind]
            region_zones = {z.rsplit("/", 1)[-1] for z in self.region_info().zones}
            pages = call(
                permission,
                client.aggregated_list,
                request={"project": self.project, "filter": f'name = "{name}"'},
            )
            found = {}
            for scope, listed in pages:
                zone = scope.rsplit("/", 1)[-1]
                for item in getattr(listed, attr):
                    if item.name == name and zone in region_zones:
                        found[zone] = item
            self._zones_of[(kind, name)] = found
        return self._zones_of[(kind, name)]

    def gpus(self, machine_type: str, accelerator: str | None) -> tuple[str, int] | None:
        """(accelerator type, GPUs per node) of a machine type, None for a CPU-only node."""
        machines = self._in_region("machine", machine_type)
        for item in machines.values():
            if item.accelerators:
                return item.accelerators[0].guest_accelerator_type, item.accelerators[
                    0
                ].guest_accelerator_count
        if accelerator is None:
            return None
        if accelerator not in ACCELERATOR_TYPES:
            raise NotChecked(f"{accelerator} is not offered on GCP")
        return ACCELERATOR_TYPES[accelerator], self.attached_gpus

    def offered_zones(self, instance_type: str, accelerator: str | None) -> list[str]:
        """Zones of the region offering the machine type and, for a GPU node, its accelerator type."""
        zones = set(self._in_region("machine", instance_type))
        try:
            gpu = self.gpus(instance_type, accelerator)
        except NotChecked:
            return []
        if gpu is not None:
            zones &= set(self._in_region("accelerator", gpu[0]))
        return sorted(zones)

    def quota(self, instance_type: str, accelerator: str | None, capacity: str) -> Quota:
        """The regional GPU quota the node draws on (GPUs; ``PREEMPTIBLE_`` for spot)."""
        if not self._in_region("machine", instance_type):
            raise NotChecked(f"{instance_type} is not a machine type in {self.region}")
        gpu = self.gpus(instance_type, accelerator)
        if gpu is None:
            raise NotChecked(f"{instance_type} has no GPUs; only regional GPU quotas are checked on GCP")
        accel_type, count = gpu
        if accel_type not in QUOTA_METRICS:
            raise NotChecked(f"no quota metric known for accelerator type {accel_type}")
        metric = ("PREEMPTIBLE_" if capacity == "spot" else "") + QUOTA_METRICS[accel_type]
        limits = {q.metric: q.limit for q in self.region_info().quotas}
        return Quota(
            code=metric,
            name=f"{'Preemptible ' if capacity == 'spot' else ''}{accel_type} GPUs in {self.region}",
            unit="GPUs",
            per_node=count,
            # A metric the region does not list cannot be used there: no quota.
            limit=float(limits.get(metric, 0.0)),
            how_to_raise=(
                f"Console → IAM & Admin → Quotas, project {self.project}, metric {metric}, "
                f"region {self.region}: request {{value}}"
            ),
        )

    CHANNEL = "REGULAR"
    """The release channel aistack's GKE clusters enrol in (components/gcp/cluster.py)."""

    def kubernetes_versions(self) -> dict[str, str]:
        """GKE minors the region offers in the cluster's release channel (``projects.locations.getServerConfig``)."""
        import google.auth
        import google.auth.exceptions
        from google.auth.transport.requests import AuthorizedSession

        action = "container.clusters.getServerConfig"
        try:
            credentials = self._credentials or google.auth.default()[0]
            session = AuthorizedSession(credentials)
            url = (
                f"{self._container_endpoint}/v1/projects/{self.project}/locations/{self.region}/serverConfig"
            )
            response = session.get(url, timeout=60)
        except google.auth.exceptions.GoogleAuthError as err:
            raise credentials_error(err, action) from None
        if response.status_code in (401, 403):
            raise credentials_error(Exception(response.text or response.reason), action)
        if response.status_code == 404:
            raise InputError("stack", "aistack:clouds.gcp", f"{action}: {response.text}")
        response.raise_for_status()
        found: dict[str, str] = {}
        for channel in response.json().get("channels", []):
            if channel.get("channel") == self.CHANNEL:
                for version in channel.get("validVersions", []):
                    found[".".join(version.split("-")[0].split(".")[:2])] = STANDARD
        return found


def checker(spec: GcpCloudSpec) -> GcpChecker:
    """The GCP checker for a stack's GCP placement (its project and region; ADC credentials)."""
    return GcpChecker(spec.project, spec.region)
