"""AWS components under the mock runtime: exact children, security inputs, parenting, secrecy."""

from __future__ import annotations

import json
import subprocess

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.output import Unknown

from aistack.spec import load_stack_file, validate
from aistack.spec.clusters import ClusterSpec, GpuPoolSpec
from aistack.spec.stores import StoreSpec
from components.aws import ObjectStore, deploy
from components.aws.gpupool import ami_type
from components.aws.network import subnet_blocks
from components.aws.nodegroup import is_graviton, scaling_command
from tests.conftest import REPO


def _with_provider(fn):
    def body():
        provider = aws.Provider("aws", region="us-east-1")
        fn(pulumi.ResourceOptions(provider=provider))

    return body


def _deploy(stack: str, provisioning: str | None = None):
    """The AWS family's share of a stack; ``provisioning`` overrides every GPU pool's mode (prod's pools
    are ``auto``: ``groups`` keeps the managed node group tests on prod's sized pools and floors)."""
    _, spec = load_stack_file(REPO / "stacks" / f"Pulumi.{stack}.yaml")
    if provisioning is not None:
        data = spec.model_dump()
        for cluster in data["clusters"].values():
            for pool in cluster["gpu_pools"].values():
                pool["provisioning"] = provisioning
        spec = validate(data, f"Pulumi.{stack}.yaml")

    def body():
        provider = aws.Provider("aws", region="us-east-1")
        deployed = deploy(spec, provider, f"aistack-{stack}")
        pulumi.export("aws", deployed.outputs())

    return body


def test_store_declares_every_split_setting_and_is_protected(declare):
    d = declare(
        _with_provider(
            lambda o: ObjectStore("models", StoreSpec(cloud="aws"), protect=True, region="us-east-1", opts=o)
        )
    )
    component = d.named("models")
    assert component.type == "aistack:aws:ObjectStore"
    children = {r.name: r for r in d.children(component)}
    assert set(children) == {
        "models-key",
        "models-bucket",
        "models-sse",
        "models-public-access-block",
        "models-ownership",
        "models-versioning",
        "models-lifecycle",
        "models-tls-only",
    }
    assert children["models-bucket"].protect and children["models-key"].protect
    assert children["models-key"].inputs["enableKeyRotation"] is True
    rule = children["models-sse"].inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert (
        rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == children["models-key"].outputs["arn"]
    )
    assert rule["bucketKeyEnabled"] is True
    pab = children["models-public-access-block"].inputs
    assert all(
        pab[flag] is True
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert children["models-ownership"].inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert children["models-versioning"].inputs["versioningConfiguration"]["status"] == "Enabled"
    policy = json.loads(children["models-tls-only"].inputs["policy"])
    insecure = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert insecure["Effect"] == "Deny" and insecure["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    bucket = children["models-bucket"].outputs["bucket"]
    for child in ("models-sse", "models-public-access-block", "models-versioning", "models-tls-only"):
        assert children[child].inputs["bucket"] == bucket


def test_store_unprotected_outside_prod_and_without_cmk_uses_aws_kms(declare):
    spec = StoreSpec(cloud="aws", customer_managed_key=False)
    d = declare(
        _with_provider(lambda o: ObjectStore("scratch", spec, protect=False, region="us-east-1", opts=o))
    )
    assert not d.named("scratch-bucket").protect
    assert not d.of_type("aws:kms/key:Key")
    rule = d.named("scratch-sse").inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule == {"sseAlgorithm": "aws:kms"}


def test_cluster_is_private_encrypted_logged_and_kubeconfig_secret(declare):
    d = declare(_deploy("dev"))
    eks = d.of_type("aws:eks/cluster:Cluster")[0]
    vpc = eks.inputs["vpcConfig"]
    # Shipped: the private endpoint for the nodes, the public one for the runner's CIDRs, which the
    # operator sets before pulumi up (unknown in the preview until then).
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is True
    assert isinstance(vpc["publicAccessCidrs"], Unknown)
    private_subnets = {r.outputs["id"] for r in d.of_type("aws:ec2/subnet:Subnet") if "-private-" in r.name}
    assert set(vpc["subnetIds"]) == private_subnets
    assert eks.inputs["encryptionConfig"]["resources"] == ["secrets"]
    key = d.named("main-secrets-key")
    assert eks.inputs["encryptionConfig"]["provider"]["keyArn"] == key.outputs["arn"]
    assert key.inputs["enableKeyRotation"] is True
    assert {"api", "audit", "authenticator"} <= set(eks.inputs["enabledClusterLogTypes"])
    assert eks.inputs["accessConfig"]["authenticationMode"] == "API"
    assert d.named("main-logs").inputs["name"] == f"/aws/eks/{eks.inputs['name']}/cluster"
    kubeconfig = d.outputs["aws"]["clusters"]["main"]["kubeconfig"]
    assert kubeconfig["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"  # secret sig
    config = json.loads(kubeconfig["value"])
    assert config["users"][0]["user"]["exec"]["command"] == "aws"
    assert config["clusters"][0]["cluster"]["server"] == eks.outputs["endpoint"]


def test_public_api_endpoint_is_allow_listed(declare):
    _, base = load_stack_file(REPO / "stacks" / "Pulumi.dev.yaml")
    cluster = base.clusters["main"].model_dump()
    cluster["api"] = {"deployer": "allow-listed", "private": True, "public_cidrs": ["52.94.0.0/22"]}
    spec = base.model_copy(update={"clusters": {"main": ClusterSpec.model_validate(cluster)}})

    def body():
        deploy(spec, aws.Provider("aws", region="us-east-1"), "aistack-dev")

    vpc = declare(body).of_type("aws:eks/cluster:Cluster")[0].inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["52.94.0.0/22"]


def test_gpu_pool_is_tainted_nvidia_ami_with_ignored_desired_size(declare):
    d = declare(_deploy("prod", provisioning="groups"))
    pool = d.named("main-a10g")
    assert pool.type == "aistack:aws:GpuNodePool"
    groups = {r.name: r for r in d.children(pool) if r.type == "aws:eks/nodeGroup:NodeGroup"}
    assert set(groups) == {"main-a10g-ondemand", "main-a10g-spot"}
    ondemand, spot = groups["main-a10g-ondemand"].inputs, groups["main-a10g-spot"].inputs
    assert ondemand["capacityType"] == "ON_DEMAND" and spot["capacityType"] == "SPOT"
    assert ondemand["scalingConfig"] == {"minSize": 2, "maxSize": 2, "desiredSize": 2}
    # The autoscaler owns the spot pool's count and its scaling command its bounds; the fixed floor's
    # desired size follows its bounds, so raising the floor sends the new desired size with the new
    # minimum (terraform-aws-eks #3306).
    assert groups["main-a10g-spot"].ignore_changes == [
        "scalingConfig.desiredSize",
        "scalingConfig.minSize",
        "scalingConfig.maxSize",
    ]
    assert groups["main-a10g-ondemand"].ignore_changes == []
    commands = [r.name for r in d.children(pool) if r.type == "command:local:Command"]
    assert commands == ["main-a10g-spot-scaling"]  # the fixed floor has no bounds to apply
    _, spec = load_stack_file(REPO / "stacks" / "Pulumi.prod.yaml")  # sized: bounds from the plan
    assert spot["scalingConfig"]["maxSize"] == spec.clusters["main"].gpu_pools["a10g"].max_nodes - 2
    for group in groups.values():
        inputs = group.inputs
        assert inputs["amiType"] == "AL2023_x86_64_NVIDIA"
        assert inputs["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        assert inputs["labels"]["aistack.io/accelerator"] == "A10G-24GB"
        assert len(inputs["instanceTypes"]) == 3
        template = next(r for r in d.resources if r.outputs.get("id") == inputs["launchTemplate"]["id"])
        assert template.parent == pool.urn
        ebs = template.inputs["blockDeviceMappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["volumeType"] == "gp3"
        assert template.inputs["metadataOptions"]["httpTokens"] == "required"


def test_network_nat_per_zone_in_prod_single_in_dev(declare):
    prod = declare(_deploy("prod"))
    assert len(prod.of_type("aws:ec2/natGateway:NatGateway")) == 3
    dev = declare(_deploy("dev"))
    assert len(dev.of_type("aws:ec2/natGateway:NatGateway")) == 1
    subnets = {r.name: r.inputs for r in prod.of_type("aws:ec2/subnet:Subnet")}
    assert subnets["aws-private-us-east-1b"]["tags"]["kubernetes.io/role/internal-elb"] == "1"
    assert subnets["aws-public-us-east-1b"]["tags"]["kubernetes.io/role/elb"] == "1"
    assert subnets["aws-private-us-east-1b"]["tags"]["kubernetes.io/cluster/aistack-prod-main"] == "shared"
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets.values())
    endpoint = prod.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")[0].inputs
    assert (
        endpoint["serviceName"] == "com.amazonaws.us-east-1.s3" and endpoint["vpcEndpointType"] == "Gateway"
    )
    assert len(endpoint["routeTableIds"]) == 3
    flow = prod.of_type("aws:ec2/flowLog:FlowLog")[0].inputs
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"


def test_pod_identity_reads_exactly_its_bucket(declare):
    d = declare(_deploy("dev"))
    identity = d.named("main-models-reader")
    policy = json.loads(d.named("main-models-reader-read").inputs["policy"])
    bucket_arn = d.named("models-bucket").outputs["arn"]
    resources = {(a, s["Resource"]) for s in policy["Statement"] for a in s["Action"]}
    assert resources == {
        ("s3:ListBucket", bucket_arn),
        ("s3:GetObject", f"{bucket_arn}/*"),
        ("kms:Decrypt", d.named("models-key").outputs["arn"]),
    }
    trust = json.loads(d.named("main-models-reader-role").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == "models-reader"
    association = d.named("main-models-reader-association").inputs
    assert association["namespace"] == "aistack-serving" and association["serviceAccount"] == "models-reader"
    assert d.named("main-models-reader-association").parent == identity.urn


def test_every_child_is_parented_and_named_after_its_component(declare):
    d = declare(_deploy("prod"))
    components = {r.urn: r for r in d.resources if not r.custom}
    for r in d.resources:
        if r.type.startswith("pulumi:providers:") or not r.custom:
            continue
        assert r.parent in components, f"{r.name} has no component parent"
        assert r.name.startswith(components[r.parent].name + "-")


@pytest.mark.parametrize(
    ("zone", "private", "public"),
    [("us-east-1a", "10.30.0.0/19", "10.30.224.0/22"), ("us-east-1c", "10.30.64.0/19", "10.30.232.0/22")],
)
def test_subnet_blocks_follow_the_zone_letter_not_the_list_position(zone, private, public):
    assert subnet_blocks("10.30.0.0/16", zone) == (private, public)


def test_ami_type_follows_architecture():
    assert is_graviton("g5g.xlarge") and not is_graviton("g5.xlarge") and not is_graviton("p5e.48xlarge")
    assert ami_type(["g5g.xlarge", "g5g.2xlarge"]) == "AL2023_ARM_64_NVIDIA"
    with pytest.raises(ValueError, match="mix Arm and x86"):
        ami_type(["g5g.xlarge", "g5.xlarge"])


def test_spot_split_keeps_bounds():
    pool = GpuPoolSpec(
        accelerator="L4-24GB",
        instance_types=["g6.xlarge"],
        capacity="spot",
        on_demand_floor=1,
        min_nodes=1,
        max_nodes=4,
    )
    assert pool.split() == {"ondemand": ("on-demand", 1, 1), "spot": ("spot", 0, 3)}


def test_nodes_volumes_and_interfaces_carry_the_stack_tags(declare):
    # EKS passes neither node group tags nor provider default tags to the instances it launches: the
    # GPU cost is allocated only if the launch template tags them.
    d = declare(_deploy("prod", provisioning="groups"))
    templates = d.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert {t.name for t in templates} >= {"main-system-lt", "main-a10g-spot-lt", "main-a10g-ondemand-lt"}
    for template in templates:
        specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
        assert set(specs) == {"instance", "volume", "network-interface"}
        for tags in specs.values():
            assert tags["managed-by"] == "aistack" and tags["aistack-environment"] == "prod"


def test_autoscaled_group_bounds_are_applied_by_a_command_after_it(declare):
    d = declare(_deploy("prod", provisioning="groups"))
    group = d.named("main-h100-nodes")
    command = d.named("main-h100-nodes-scaling")
    low, high = (int(group.inputs["scalingConfig"][key]) for key in ("minSize", "maxSize"))
    assert low < high
    assert command.type == "command:local:Command" and command.parent == group.parent
    assert command.dependencies == [group.urn]
    assert command.inputs["triggers"] == [low, high]
    assert command.inputs["create"] == command.inputs["update"] == scaling_command(low, high)
    assert command.inputs["environment"]["REGION"] == "us-east-1"
    provider = d.named("aws-command")
    assert provider.type == "pulumi:providers:command"
    assert command.provider.startswith(provider.urn)
    assert scaling_command(1, 4) == "\n".join(
        [
            "set -eu",
            "MIN=1 MAX=4",
            'LIVE=$(aws eks describe-nodegroup --cluster-name "$CLUSTER" --nodegroup-name "$NODEGROUP"'
            ' --region "$REGION" --output text --query \'[nodegroup.scalingConfig.minSize,'
            "nodegroup.scalingConfig.maxSize,nodegroup.scalingConfig.desiredSize]')",
            "set -- $LIVE; LIVE_MIN=$1 LIVE_MAX=$2 LIVE=$3",
            'DESIRED=$LIVE; [ "$DESIRED" -lt "$MIN" ] && DESIRED=$MIN; [ "$DESIRED" -gt "$MAX" ] && DESIRED=$MAX',
            '[ "$LIVE_MIN" -eq "$MIN" ] && [ "$LIVE_MAX" -eq "$MAX" ] && [ "$LIVE" -eq "$DESIRED" ] && exit 0',
            'aws eks update-nodegroup-config --cluster-name "$CLUSTER" --nodegroup-name "$NODEGROUP"'
            ' --region "$REGION" --scaling-config "minSize=$MIN,maxSize=$MAX,desiredSize=$DESIRED"',
            'aws eks wait nodegroup-active --cluster-name "$CLUSTER" --nodegroup-name "$NODEGROUP"'
            ' --region "$REGION"',
        ]
    )


@pytest.mark.parametrize(
    ("live", "bounds", "calls"),
    [
        # Raising the minimum above the live count: the desired size rises with it.
        ("1\t1\t1", (3, 6), ["update minSize=3,maxSize=6,desiredSize=3", "wait"]),
        # The autoscaler's count inside the new bounds is kept.
        ("1\t8\t5", (2, 6), ["update minSize=2,maxSize=6,desiredSize=5", "wait"]),
        # Lowering the maximum below the live count: the desired size falls to it.
        ("0\t8\t7", (0, 4), ["update minSize=0,maxSize=4,desiredSize=4", "wait"]),
        # Bounds already live (the run right after create): nothing is sent, EKS refuses a no-op.
        ("2\t6\t4", (2, 6), []),
    ],
)
def test_scaling_command_clamps_the_live_desired_size(tmp_path, live, bounds, calls):
    log = tmp_path / "calls"
    fake = tmp_path / "aws"
    fake.write_text(
        "#!/bin/sh\n"
        f'case "$2" in\n'
        f"  describe-nodegroup) printf '{live}\\n' ;;\n"
        f'  update-nodegroup-config) echo "update ${{10}}" >> {log} ;;\n'
        f"  wait) echo wait >> {log} ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CLUSTER": "c", "NODEGROUP": "n", "REGION": "us-east-1"}
    run = subprocess.run(["/bin/sh", "-c", scaling_command(*bounds)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (log.read_text().splitlines() if log.exists() else []) == calls


def test_scaling_command_fails_when_the_group_cannot_be_read(tmp_path):
    fake = tmp_path / "aws"
    fake.write_text("#!/bin/sh\necho 'ResourceNotFoundException' >&2\nexit 254\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CLUSTER": "c", "NODEGROUP": "n", "REGION": "us-east-1"}
    run = subprocess.run(["/bin/sh", "-c", scaling_command(0, 3)], env=env, capture_output=True, text=True)
    assert run.returncode != 0


def test_scaling_command_refuses_inverted_bounds():
    with pytest.raises(ValueError, match="min=4, max=2"):
        scaling_command(4, 2)
