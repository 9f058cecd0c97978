"""The one way aistack installs a third-party controller: a pinned Helm Release that cannot strand a failed install."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.k8s import charts

CHART = charts.Chart(
    name="keda", version="2.20.2", repo="https://kedacore.github.io/charts", source="test fixture"
)
OCI = charts.Chart(name="oci://registry.example/charts/epp", version="1.6.0", repo="", source="test fixture")


def _declare(chart: charts.Chart, **kwargs):
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        charts.release(
            "c-keda",
            chart,
            namespace="keda",
            values={"a": 1},
            opts=pulumi.ResourceOptions(provider=provider),
            **kwargs,
        )

    return program


def test_release_pins_the_version_and_rolls_back_a_failed_install(declare) -> None:
    release = declare(_declare(CHART)).named("c-keda")
    assert release.type == "kubernetes:helm.sh/v3:Release"
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"], inputs["name"]) == ("keda", "2.20.2", "keda")
    assert inputs["repositoryOpts"] == {"repo": "https://kedacore.github.io/charts"}
    # A failed install neither stays behind in `failed` state nor blocks the next `pulumi up`.
    assert inputs["atomic"] is True and inputs["cleanupOnFail"] is True
    assert inputs["timeout"] == charts.TIMEOUT_S and inputs["maxHistory"] == charts.MAX_HISTORY
    assert inputs["values"] == {"a": 1} and inputs["namespace"] == "keda"


def test_oci_chart_has_no_repository_and_release_name_is_its_last_segment(declare) -> None:
    inputs = declare(_declare(OCI)).named("c-keda").inputs
    assert "repositoryOpts" not in inputs
    assert inputs["name"] == "epp" and inputs["chart"] == "oci://registry.example/charts/epp"


def test_release_name_override(declare) -> None:
    assert (
        declare(_declare(CHART, release_name="keda-operator")).named("c-keda").inputs["name"]
        == "keda-operator"
    )
