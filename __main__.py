"""aistack's Pulumi program: the composition root.

Loads the stack spec from config (validated completely before anything is declared), builds one
explicit provider per cloud, lets each cloud's component family declare its share, and exports
the outputs. No logic worth testing lives here.
"""

import pulumi

from aistack import cost
from aistack.errors import InputError
from aistack.plan import capacity_by_share, resolve
from aistack.spec import spec_from_pulumi_config
from components import apikey, contract, dns, interconnect, k8s, private_dns, registry
from components.replication import deploy as deploy_replicas

stack_file = f"stacks/Pulumi.{pulumi.get_stack()}.yaml"
try:
    spec, plan = resolve(spec_from_pulumi_config(), stack_file)
    registry.check_features(spec, stack_file)
    if not pulumi.runtime.is_dry_run():
        registry.check_deploy_inputs(spec, stack_file)
except InputError as err:
    raise pulumi.RunError(err.line()) from None
if plan is not None:
    pulumi.export("sizing", plan.to_json())
if replication := cost.replication(spec):
    # Egress of one full copy of the weights into each replica store (the cost report's replication lines).
    pulumi.export("replication", replication)

prefix = f"{pulumi.get_project()}-{pulumi.get_stack()}"
tags = contract.stack_tags(spec)

# One API key per endpoint served from several clouds, stored in each serving cloud's secret manager.
multi = [name for name, e in spec.endpoints.items() if e.serve_from is not None]
shared = apikey.SharedKeys("api-keys", multi).values if multi else {}

stacks: dict[str, contract.CloudStack] = {}
for cloud, cloud_spec in spec.clouds.configured().items():
    family = registry.family(cloud)
    stacks[cloud] = family.deploy(spec, family.provider(cloud_spec, tags), prefix, shared_keys=shared)
# The global names' DNS-01 roles trust every serving cluster's issuer: declared once all clusters are;
# their records are weighted by each cluster's planned capacity (aistack.plan.capacity_by_share).
names = (
    dns.GlobalNames(spec, stacks, prefix, capacity=capacity_by_share(spec, plan, stack_file))
    if spec.dns
    else None
)
served: dict[tuple[str, str], k8s.ServingEndpoint] = {}
for cloud, deployed in stacks.items():
    endpoints = k8s.deploy_serving(spec, deployed, names)
    served |= endpoints
    # One cluster per cloud serves an endpoint (serve_from clusters are on distinct clouds).
    pulumi.export(
        cloud, {**deployed.outputs(), "endpoints": {n: e.endpoint_url for (n, _), e in endpoints.items()}}
    )
if names is not None:
    pulumi.export("global_names", {e: g.fqdn for e, g in names.publish().items()})

if spec.interconnect.vpn:
    # Site-to-site VPNs between the clouds' networks (needs every cloud's network and provider).
    pulumi.export("interconnect", interconnect.deploy(spec, stacks, prefix))
if spec.interconnect.private_zone:
    # The private zone on every network, and in each the records of every internal-lb endpoint with a
    # hostname, from its serving clusters' internal entry points (the own cloud's preferred).
    private_names = private_dns.PrivateNames(spec, stacks, prefix)
    if published := private_names.publish_served(served):
        pulumi.export("private_names", published)

# Replica stores, kept identical to their primaries (needs both clouds' stores and providers).
# Exported as `replicas` (`replication` is the cost report's egress per copy).
replicas = deploy_replicas(spec, stacks)
if replicas:
    pulumi.export(
        "replicas",
        {
            n: {"source": r.source, "target": r.target, "schedule": r.schedule, "mechanism": r.mechanism}
            for n, r in replicas.items()
        },
    )
