"""How ``pulumi up`` reaches each cluster's Kubernetes API: pieces shared by the cloud families.

Each cluster's spec names its deployer path (``api.deployer``; docs/first-deploy.md explains the
choice per cloud). The path is also written on the cloud's cluster resource as the tag or label
:data:`DEPLOYER_TAG`, so the ``deploy`` policy rules can tell a declared in-network runner from a
private-only API nobody can reach.
"""

from __future__ import annotations

import pulumi
from pulumi.output import UNKNOWN

from aistack.spec.clusters import ApiEndpointSpec

DEPLOYER_TAG = "aistack-deployer"
"""Tag (EKS, AKS) or label (GKE) carrying ``api.deployer``; a valid key and value on every cloud."""


def allow_list(api: ApiEndpointSpec) -> pulumi.Input[list[str]]:
    """The public endpoint's allow-list.

    Left unset in the stack file (``deployer: allow-listed`` awaiting the operator's runner CIDRs),
    it is an unknown value: previews show it as such and the ``deploy`` rules report that they
    cannot decide yet, while ``pulumi up`` refuses to start (``registry.check_deploy_inputs``).
    """
    if api.awaits_operator_cidrs:
        return pulumi.Output.from_input(UNKNOWN)
    return list(api.public_cidrs)
