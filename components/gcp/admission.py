"""GKE Binary Authorization: the project's policy admits only the repositories the stack runs."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from components import contract
from components.gcp.kms import enable_api

ENFORCEMENT = {
    "dev": "DRYRUN_AUDIT_LOG_ONLY",
    "staging": "ENFORCED_BLOCK_AND_AUDIT_LOG",
    "prod": "ENFORCED_BLOCK_AND_AUDIT_LOG",
}
"""Per environment: dev logs what would be refused (to find a missing pattern without an outage);
staging and prod refuse it."""


class ImageAdmission(contract.Component):
    """The project's Binary Authorization policy, which GKE clusters evaluate on every Pod.

    Children: ``-api`` (the Binary Authorization API enabled; a cluster naming the project
    policy fails to create without it, and the API is never disabled on destroy, since other
    projects' workloads may rely on it) and ``-policy`` (the project singleton: every image not
    matching an allow-list pattern is refused, or only logged in dev; Google-maintained system
    images exempt through the global policy, so GKE's own add-ons keep running).

    Binary Authorization has one policy per project: a second stack in the same project would
    replace it; give every GKE stack its own project.

    Outputs: ``policy_id``.
    """

    CLOUD = "gcp"
    CONCEPT = "ImageAdmission"
    OUTPUTS = ("policy_id",)

    def __init__(
        self,
        name: str,
        *,
        project: str,
        patterns: list[str],
        environment: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(name, opts)
        api = enable_api(self, project=project, service="binaryauthorization.googleapis.com")
        policy = gcp.binaryauthorization.Policy(
            self.child("policy"),
            project=project,
            description="aistack: only the repositories the stack declares",
            global_policy_evaluation_mode="ENABLE",
            admission_whitelist_patterns=[{"name_pattern": pattern} for pattern in patterns],
            default_admission_rule={
                "evaluation_mode": "ALWAYS_DENY",
                "enforcement_mode": ENFORCEMENT[environment],
            },
            opts=self.opts(depends_on=[api]),
        )
        self.policy = policy
        self.finish(policy_id=policy.id)
