"""Cloud name → component family, and what each family cannot do, as data.

Families are imported lazily so a single-cloud stack does not load every cloud's SDK.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from aistack.errors import InputError
from aistack.spec import StackSpec

FAMILIES = {"aws": "components.aws", "azure": "components.azure", "gcp": "components.gcp"}

# Features a spec may ask for that a cloud cannot provide: cloud → feature → reason.
UNSUPPORTED: dict[str, dict[str, str]] = {
    "aws": {
        "deployer dns-endpoint": "EKS has no IAM-authenticated DNS endpoint; use deployer: allow-listed (the "
        "public endpoint for your runners' public_cidrs, next to the private one) or in-network",
    },
    "gcp": {
        "several_instance_types": "a GKE node pool has one machine type; declare one pool per machine type",
        "deployer in-network": "aistack declares no runner network next to the GKE cluster; use deployer: "
        "dns-endpoint (IAM-authenticated, reachable from any runner with Google credentials)",
        "several_clusters": "the GCP subnetwork's pod and service ranges serve one GKE cluster (clusters "
        "cannot share secondary ranges); put a second GKE cluster in its own stack",
        # Compute Engine's GPU models (https://cloud.google.com/compute/docs/gpus), as in gcp/accelerators.py.
        "accelerator L40S-48GB": "Compute Engine offers no L40S GPUs",
        "accelerator A10G-24GB": "the A10G is an AWS-only part (EC2 G5)",
        "accelerator A10-24GB": "Compute Engine offers no A10 GPUs",
    },
    "azure": {
        "private_and_public_api": "an AKS API server is either private or public with authorized IP ranges "
        "(both at once needs API server VNet integration); set api.private: false to allow-list public_cidrs",
        "deployer dns-endpoint": "AKS has no IAM-authenticated DNS endpoint; use deployer: allow-listed "
        "(private: false with public_cidrs)",
        "deployer in-network": "a private AKS API server answers only inside the stack's VNet (or networks "
        "linked to its private DNS zone), where aistack places no runner; use deployer: allow-listed "
        "(private: false with public_cidrs)",
        "reservations": "AKS node auto-provisioning selects no capacity reservations; use provisioning: "
        "auto without reservations",
        "per_zone_nat": "a subnet takes one NAT gateway and a NAT gateway lives in one zone; set nat: single",
        "several_instance_types": "an AKS agent pool has a single VM size; declare one pool per VM size",
        # Azure's GPU VM families (NC, ND, NV), as in azure/accelerators.py.
        "accelerator L4-24GB": "Azure offers no L4 GPUs",
        "accelerator L40S-48GB": "Azure offers no L40S GPUs",
        "accelerator A10G-24GB": "the A10G is an AWS-only part (EC2 G5)",
    },
}


def family(cloud: str) -> ModuleType:
    """The component family module for a cloud (``components.aws`` ...)."""
    return importlib.import_module(FAMILIES[cloud])


def requested_features(spec: StackSpec) -> list[tuple[str, str, str]]:
    """Every (cloud, feature, key path) the spec asks for."""
    found = []
    for cloud, net in spec.clouds.configured().items():
        if net.nat == "per_zone":
            found.append((cloud, "per_zone_nat", f"aistack:clouds.{cloud}.nat"))
    clouds_seen: set[str] = set()
    for cname, cluster in spec.clusters.items():
        key = f"aistack:clusters.{cname}"
        if cluster.cloud in clouds_seen:
            found.append((cluster.cloud, "several_clusters", f"{key}.cloud"))
        clouds_seen.add(cluster.cloud)
        if cluster.api.private and cluster.api.deployer == "allow-listed":
            found.append((cluster.cloud, "private_and_public_api", f"{key}.api.private"))
        found.append((cluster.cloud, f"deployer {cluster.api.deployer}", f"{key}.api.deployer"))
        for pname, pool in cluster.gpu_pools.items():
            if pool.capacity == "spot":
                found.append((cluster.cloud, "spot", f"{key}.gpu_pools.{pname}.capacity"))
            if pool.on_demand_floor:
                found.append((cluster.cloud, "on_demand_floor", f"{key}.gpu_pools.{pname}.on_demand_floor"))
            where = f"{key}.gpu_pools.{pname}"
            if len(pool.instance_types) > 1:
                found.append((cluster.cloud, "several_instance_types", f"{where}.instance_types"))
            found.append((cluster.cloud, f"accelerator {pool.accelerator}", f"{where}.accelerator"))
            if pool.reservations:
                found.append((cluster.cloud, "reservations", f"{where}.reservations"))
    for sname, store in spec.stores.items():
        if store.customer_managed_key:
            found.append(
                (store.cloud, "customer_managed_key", f"aistack:stores.{sname}.customer_managed_key")
            )
    return found


def check_features(spec: StackSpec, file: str) -> None:
    """Fail with a clear error, before anything is registered, if a cloud cannot do what is asked."""
    for cloud, feature, key in requested_features(spec):
        reason = UNSUPPORTED.get(cloud, {}).get(feature)
        if reason:
            raise InputError(file, key, f"{cloud} does not support {feature}: {reason}")
    # A family may also check rules only it knows (which machine types carry which GPU).
    for cloud in spec.clouds.configured():
        check = getattr(family(cloud), "check", None)
        if check is not None:
            check(spec, file)
    # And the Kubernetes layer: add-on releases pinned for each cluster's version.
    importlib.import_module("components.k8s").check(spec, file)
    # And every replica store has a transfer that can fill it.
    importlib.import_module("aistack.replication").check(spec, file)


def check_deploy_inputs(spec: StackSpec, file: str) -> None:
    """What ``pulumi up`` needs beyond what a preview needs: the operator's runner CIDRs.

    A stack may leave ``api.public_cidrs`` of an ``allow-listed`` cluster empty so that previews
    (offline and ``pulumi preview``) run before the operator knows where ``pulumi up`` will run;
    the allow-list is then unknown in the preview. A deployment without it would leave the API
    unreachable, so it is refused before anything is declared.
    """
    for name, cluster in spec.clusters.items():
        if cluster.api.awaits_operator_cidrs:
            raise InputError(
                file,
                f"aistack:clusters.{name}.api.public_cidrs",
                "required by pulumi up with deployer: allow-listed: set the public egress CIDRs of the "
                "machines that run pulumi up (e.g. your address /32, your CI runners' static range); "
                "see docs/first-deploy.md",
            )
