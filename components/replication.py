"""Declare what keeps every replica store identical to its primary (the plan is ``aistack.replication``).

Runs after every cloud family declared its share: a transfer needs the primary's store on one cloud and
the replica's on another, and the providers of both.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumiverse_time

from aistack import replication
from aistack.spec import StackSpec
from components import contract


def deploy(spec: StackSpec, stacks: Mapping[str, contract.CloudStack]) -> dict[str, contract.WeightsReplica]:
    """One :class:`contract.WeightsReplica` per replica store, named ``<replica>-replication``.

    A scheduled copy's cluster also gets, once: ``<cluster>-replication-namespace`` (through the serving
    layer's Kubernetes provider of the cluster) and ``<cluster>-aws-oidc`` (its OIDC issuer in AWS IAM).
    """
    made: dict[str, contract.WeightsReplica] = {}
    clusters: dict[str, tuple] = {}
    time: pulumiverse_time.Provider | None = None
    for t in replication.plan(spec):
        source = stacks[t.source_cloud].stores[t.primary]
        target = stacks[t.target_cloud].stores[t.replica]
        providers = [stacks[t.source_cloud].provider, stacks[t.target_cloud].provider]
        name = f"{t.replica}-replication"
        if t.mechanism == "storage-transfer":
            from components.gcp.transfer import StorageTransfer

            made[t.replica] = StorageTransfer(
                name,
                source=source,
                target=target,
                project=spec.clouds.gcp.project,
                interval_s=t.interval_s,
                opts=pulumi.ResourceOptions(providers=providers),
            )
            continue
        from components.azure import replication as azure_replication

        assert t.runs_in is not None  # replication.check: a scheduled copy has its cluster
        cluster = stacks["azure"].clusters[t.runs_in]
        if t.runs_in not in clusters:
            # The serving layer's provider for the cluster (created after its nodes).
            kube = stacks["azure"].kubernetes[t.runs_in]
            clusters[t.runs_in] = (
                kube,
                azure_replication.namespace(
                    f"{t.runs_in}-replication-namespace",
                    pulumi.ResourceOptions(parent=cluster, provider=kube),
                ),
                azure_replication.oidc_provider(
                    f"{t.runs_in}-aws-oidc",
                    cluster,
                    pulumi.ResourceOptions(parent=cluster, provider=stacks[t.source_cloud].provider),
                ),
            )
        kube, namespace, oidc = clusters[t.runs_in]
        if time is None:
            # The wait for the Blob grant to propagate runs under an explicit time provider (no defaults).
            time = pulumiverse_time.Provider("replication-time")
        azure = spec.clouds.azure
        made[t.replica] = azure_replication.ScheduledCopy(
            name,
            source=source,
            source_region=spec.clouds.aws.region,
            target=target,
            cluster=cluster,
            oidc=oidc,
            namespace=namespace.metadata.name,
            subscription_id=azure.subscription_id,
            location=azure.location,
            tags=dict(getattr(stacks["azure"].provider, "default_tags", {})),
            cron=t.cron,
            opts=pulumi.ResourceOptions(providers=[*providers, kube, time], depends_on=[namespace]),
        )
    return made
