"""AWS preflight on moto: zone offerings from moto's EC2 data, quotas at the boto3 boundary.

moto's us-east-1 data offers g6.xlarge in us-east-1a, b, c, d and f (not e), p4d.24xlarge in
a–d; g6.xlarge has 4 vCPUs, g6.2xlarge 8, p5.48xlarge 192, m6i.large 2.
"""

from __future__ import annotations

from aistack import cli, preflight
from aistack.preflight import aws
from aistack.preflight.checks import pools

G_OD, G_SPOT, P_OD, STD_OD = "L-DB2E81BA", "L-3819A6DF", "L-417A185B", "L-1216C47A"


def _run(path):
    name, spec = preflight.load(None, path)
    return preflight.run(spec, name)


def _check(findings, pool, check):
    row = next(r for r in findings["pools"] if r["pool"] == pool)
    return next(c for c in row["checks"] if c["check"] == check)


def l4(**over):
    return {
        "accelerator": "L4-24GB",
        "instance_types": ["g6.xlarge", "g6.2xlarge"],
        "min_nodes": 0,
        "max_nodes": 2,
        **over,
    }


def test_all_pass_when_offered_and_within_quota(ec2_quotas, write_stack):
    ec2_quotas.update({G_OD: 16, STD_OD: 64})
    findings = _run(write_stack({"l4": l4()}))
    assert findings["status"] == "pass" and preflight.exit_code(findings) == 0
    assert [r["pool"] for r in findings["pools"]] == ["system", "l4"]
    quota = _check(findings, "l4", "quota")
    # 2 nodes × 8 vCPUs of the largest type (g6.2xlarge) against the on-demand G/VT quota.
    assert quota["detail"] == f"{G_OD} on-demand: need 16 vCPUs (2 × g6.2xlarge (8 vCPUs)), limit 16"
    assert _check(findings, "system", "quota")["detail"].startswith(
        f"{STD_OD} on-demand: need 6 vCPUs (3 × m6i.large"
    )


def test_zone_not_offering_the_type_fails_with_the_zones_that_do(ec2_quotas, write_stack):
    ec2_quotas.update({G_OD: 64, STD_OD: 64})
    path = write_stack({"l4": l4(zones=["us-east-1e"])}, zones=["us-east-1a", "us-east-1e"])
    findings = _run(path)
    zones = _check(findings, "l4", "zones")
    assert zones["status"] == "fail" and preflight.exit_code(findings) == 1
    assert zones["detail"] == "g6.xlarge not offered in us-east-1e; g6.2xlarge not offered in us-east-1e"
    assert zones["fixes"][0] == (
        "g6.xlarge is offered in us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f: "
        "name only those zones for aistack:clusters.main.gpu_pools.l4"
    )
    # The system pool spans the cloud's zones; m6i.large is not offered in us-east-1e on moto either.
    assert _check(findings, "system", "zones")["status"] == "fail"


def test_offered_zones_read_from_ec2(ec2_quotas):
    checker = aws.AwsChecker("us-east-1")
    assert checker.offered_zones("p4d.24xlarge", "A100-40GB") == [
        "us-east-1a",
        "us-east-1b",
        "us-east-1c",
        "us-east-1d",
    ]
    assert checker.offered_zones("g9.nonexistent", None) == []


def test_quota_below_need_fails_with_vcpus_to_request(ec2_quotas, write_stack):
    ec2_quotas.update({P_OD: 192, STD_OD: 64})
    h100 = {"accelerator": "H100-80GB", "instance_types": ["p5.48xlarge"], "min_nodes": 1, "max_nodes": 2}
    findings = _run(write_stack({"h100": h100}))
    quota = _check(findings, "h100", "quota")
    assert quota["status"] == "fail" and preflight.exit_code(findings) == 1
    assert quota["detail"] == f"{P_OD} on-demand: need 384 vCPUs (2 × p5.48xlarge (192 vCPUs)), limit 192"
    assert quota["fixes"] == [
        f"request 384 vCPUs of {P_OD} (Running On-Demand P instances) in us-east-1: aws service-quotas "
        f"request-service-quota-increase --service-code ec2 --quota-code {P_OD} --desired-value 384 --region us-east-1"
    ]
    assert _check(findings, "h100", "zones")["status"] == "pass"


def test_spot_pool_with_floor_needs_both_quotas(ec2_quotas, write_stack):
    ec2_quotas.update({G_OD: 8, G_SPOT: 16, STD_OD: 64})
    pool = l4(capacity="spot", on_demand_floor=1, min_nodes=1, max_nodes=3)
    quota = _check(_run(write_stack({"l4": pool})), "l4", "quota")
    # 1 on-demand floor node and 2 spot nodes, 8 vCPUs each.
    assert quota["status"] == "pass"
    assert quota["detail"] == (
        f"{G_OD} on-demand: need 8 vCPUs (1 × g6.2xlarge (8 vCPUs)), limit 8; "
        f"{G_SPOT} spot: need 16 vCPUs (2 × g6.2xlarge (8 vCPUs)), limit 16"
    )


def test_pools_sharing_a_quota_are_summed(ec2_quotas, write_stack):
    ec2_quotas.update({G_OD: 24, STD_OD: 64})
    findings = _run(write_stack({"a": l4(), "b": l4(instance_types=["g6.xlarge"], max_nodes=3)}))
    # a needs 16, b 12: each fits 24 alone, together 28 do not.
    for name in ("a", "b"):
        quota = _check(findings, name, "quota")
        assert quota["status"] == "fail", name
        assert quota["fixes"][0].startswith(f"request 28 vCPUs of {G_OD}")
    assert ", 28 with main/b" in _check(findings, "a", "quota")["detail"]


def test_unknown_family_is_skipped_not_passed(ec2_quotas, write_stack):
    ec2_quotas.update({STD_OD: 64})
    pool = {"accelerator": "A10G-24GB", "instance_types": ["inf2.xlarge"], "min_nodes": 0, "max_nodes": 1}
    quota = _check(_run(write_stack({"x": pool})), "x", "quota")
    assert quota["status"] == "skip"
    assert quota["detail"] == "inf2.xlarge on-demand: no EC2 vCPU quota known for the family of inf2.xlarge"


def test_quota_falls_back_to_the_aws_default(ec2_quotas):
    ec2_quotas.defaults[G_OD] = 0.0
    quota = aws.AwsChecker("us-east-1").quota("g6.xlarge", "L4-24GB", "on-demand")
    assert (quota.code, quota.limit, quota.per_node, quota.unit) == (G_OD, 0.0, 4, "vCPUs")


def test_quota_unknown_to_service_quotas_is_skipped(ec2_quotas, write_stack):
    ec2_quotas.update({STD_OD: 64})
    quota = _check(_run(write_stack({"l4": l4()})), "l4", "quota")
    assert quota["status"] == "skip"
    assert quota["detail"].startswith(
        f"g6.xlarge on-demand: Service Quotas lists no ec2 quota {G_OD} in us-east-1"
    )


def test_families():
    assert [aws.family(t) for t in ("g6.xlarge", "g4dn.xlarge", "vt1.3xlarge", "p5.48xlarge", "m6i.large", "inf2.xlarge")] == [
        "g", "g", "g", "p", "standard", None,
    ]  # fmt: skip


def test_constraints_for_sizing(ec2_quotas, write_stack):
    ec2_quotas.update({G_OD: 20, G_SPOT: 9, STD_OD: 64})
    findings = _run(write_stack({"od": l4(), "sp": l4(capacity="spot", instance_types=["g6.xlarge"])}))
    limits = preflight.constraints(findings)
    assert limits[("aws", "us-east-1", "g6.xlarge")] == {
        "zones": ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"],
        "max_nodes": 2,  # spot: floor(9 / 4); on-demand allows floor(20 / 4) = 5
        "max_nodes_by_capacity": {"on-demand": 5, "spot": 2},
    }
    assert limits[("aws", "us-east-1", "g6.2xlarge")]["max_nodes"] == 2  # floor(20 / 8)
    assert limits[("aws", "us-east-1", "m6i.large")]["max_nodes"] == 32


def test_system_pool_uses_the_family_default(write_stack):
    _, spec = preflight.load(None, write_stack({"l4": l4()}, system_pool={"max_nodes": 4}))
    system = pools(spec)[0]
    assert (system.name, system.instance_types, system.max_nodes) == (
        "system",
        ("m6i.large",),
        {"on-demand": 4},
    )


def test_cli_text_and_exit_code(ec2_quotas, write_stack, capsys):
    ec2_quotas.update({G_OD: 8, STD_OD: 64})
    code = cli.main(["preflight", "--stack-file", str(write_stack({"l4": l4()}))])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == "preflight t: fail"
    assert out[1].split() == ["cluster/pool", "cloud", "region", "instance", "types", "zones", "quota"]
    assert out[3].split() == ["main/l4", "aws", "us-east-1", "g6.xlarge,", "g6.2xlarge", "pass", "FAIL"]
    assert (
        f"  fix: request 16 vCPUs of {G_OD} (Running On-Demand G and VT instances) in us-east-1: "
        in "\n".join(out)
    )


def test_cli_json(ec2_quotas, write_stack, capsys):
    import json

    ec2_quotas.update({G_OD: 16, STD_OD: 64})
    assert cli.main(["preflight", "--stack-file", str(write_stack({"l4": l4()})), "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)
    assert findings["status"] == "pass"
    assert {o["instance_type"] for o in findings["offerings"]} == {"m6i.large", "g6.xlarge", "g6.2xlarge"}
