"""The cost model: a line per priced resource, with the arithmetic and the basis a reviewer checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from aistack import cost
from aistack.errors import InputError
from sizing.plan import HOURS_PER_MONTH
from tests.report.factories import CATALOG, component, provider, resource

H = HOURS_PER_MONTH
BUNDLED = cost.load_prices()


def usd(value: float):
    """Equal to the cent: the report rounds every figure to cents."""
    return pytest.approx(value, abs=0.005)


def table(tmp_path: Path, *rows: str) -> list[cost.PriceRow]:
    path = tmp_path / "prices.csv"
    path.write_text(",".join(cost.COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return cost.load_prices(path)


def line_for(report: dict, name: str) -> dict:
    (line,) = [line for line in report["lines"] if line["urn"].endswith(f"::{name}")]
    return line


def estimate(resources, prices=()):
    return cost.estimate(resources, catalog=CATALOG, prices=list(prices))


# --- node pools, priced per node from the catalog -------------------------------------------------


def test_eks_node_group_spot_between_min_and_max_at_the_first_instance_type():
    aws = provider("aws", "us-east-1")
    pool = component("aws", "GpuNodePool", "main-l4")
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "main-l4-nodes",
        cloud="aws",
        parent=pool,
        provider=aws,
        inputs={
            "instanceTypes": ["g6.xlarge", "g6.2xlarge"],
            "capacityType": "SPOT",
            "scalingConfig": {"minSize": 1.0, "maxSize": 3.0, "desiredSize": 1.0},
        },
    )
    report = estimate([aws, pool, group])
    line = line_for(report, "main-l4-nodes")
    assert line["monthly_usd"] == usd(0.40 * 1 * H)
    assert line["monthly_usd_max"] == usd(0.40 * 3 * H)
    assert line["basis"].startswith("1–3 × g6.xlarge spot $0.4/h [catalog aws us-east-1")
    assert line["component"] == "aistack:aws:GpuNodePool::main-l4"
    assert report["unpriced"] == []


def test_eks_on_demand_group_uses_the_on_demand_price():
    aws = provider("aws", "us-east-1")
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "system",
        cloud="aws",
        provider=aws,
        inputs={
            "instanceTypes": ["m6i.large"],
            "capacityType": "ON_DEMAND",
            "scalingConfig": {"minSize": 2, "maxSize": 2},
        },
    )
    line = line_for(estimate([aws, group]), "system")
    assert line["monthly_usd"] == line["monthly_usd_max"] == usd(0.10 * 2 * H)
    assert line["basis"].startswith("2 × m6i.large on-demand")


def test_spot_without_a_catalog_spot_price_falls_back_to_on_demand_and_says_so():
    aws = provider("aws", "us-west-2")
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "h100",
        cloud="aws",
        provider=aws,
        inputs={
            "instanceTypes": ["p5.48xlarge"],
            "capacityType": "SPOT",
            "scalingConfig": {"minSize": 1, "maxSize": 1},
        },
    )
    line = line_for(estimate([aws, group]), "h100")
    assert line["monthly_usd"] == usd(90.0 * H)
    assert "on-demand (no spot price in catalog)" in line["basis"]


def test_a_region_without_a_catalog_row_is_priced_elsewhere_and_labelled():
    aws = provider("aws", "eu-west-1")
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "system",
        cloud="aws",
        provider=aws,
        inputs={"instanceTypes": ["m6i.large"], "scalingConfig": {"minSize": 1, "maxSize": 1}},
    )
    line = line_for(estimate([aws, group]), "system")
    assert line["monthly_usd"] == usd(0.10 * H)
    assert "catalog aws us-east-1 (no eu-west-1 row)" in line["basis"]


def test_an_instance_type_missing_from_the_catalog_is_reported_unpriced():
    aws = provider("aws", "us-east-1")
    group = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "odd",
        cloud="aws",
        provider=aws,
        inputs={"instanceTypes": ["x9.huge"], "scalingConfig": {"minSize": 1, "maxSize": 2}},
    )
    report = estimate([aws, group])
    assert report["lines"] == []
    assert report["unpriced"] == [
        {"urn": group["urn"], "cloud": "aws", "reason": "no catalog row for aws x9.huge"}
    ]
    assert report["monthly_usd"] == 0.0


def test_aks_agent_pool_autoscaled_spot_and_fixed_count():
    azure = provider("azure", "East US")
    spot = resource(
        "azure-native:containerservice:AgentPool",
        "a100",
        cloud="azure",
        provider=azure,
        inputs={
            "vmSize": "Standard_NC24ads_A100_v4",
            "scaleSetPriority": "Spot",
            "enableAutoScaling": True,
            "minCount": 0,
            "maxCount": 4,
            "count": 0,
        },
    )
    fixed = resource(
        "azure-native:containerservice:AgentPool",
        "fixed",
        cloud="azure",
        provider=azure,
        inputs={"vmSize": "Standard_NC24ads_A100_v4", "count": 2},
    )
    report = estimate([azure, spot, fixed])
    assert line_for(report, "a100")["monthly_usd"] == 0.0
    assert line_for(report, "a100")["monthly_usd_max"] == usd(0.50 * 4 * H)
    assert line_for(report, "fixed")["monthly_usd"] == usd(3.50 * 2 * H)
    assert "catalog azure eastus" in line_for(report, "fixed")["basis"]


def test_aks_managed_cluster_prices_its_pool_profiles_and_its_tier(tmp_path):
    prices = table(
        tmp_path,
        "azure,azure-native:containerservice:ManagedCluster,cluster management,sku.tier=Standard,*,hour,0.10,,src,2026",
    )
    azure = provider("azure", "eastus")
    cluster = resource(
        "azure-native:containerservice:ManagedCluster",
        "main-aks",
        cloud="azure",
        provider=azure,
        inputs={
            "sku": {"name": "Base", "tier": "Standard"},
            "agentPoolProfiles": [
                {
                    "vmSize": "Standard_D4s_v5",
                    "enableAutoScaling": True,
                    "minCount": 2,
                    "maxCount": 3,
                    "count": 2,
                }
            ],
        },
    )
    line = line_for(estimate([azure, cluster], prices), "main-aks")
    assert line["monthly_usd"] == usd(0.20 * 2 * H + 0.10 * H)
    assert line["monthly_usd_max"] == usd(0.20 * 3 * H + 0.10 * H)
    assert line["basis"].startswith("agentPoolProfiles[0]: 2–3 × Standard_D4s_v5 on-demand $0.2/h")
    assert "cluster management $0.1/h [any region, 2026]" in line["basis"]


def test_a_tier_without_a_price_row_is_unpriced_not_free(tmp_path):
    prices = table(
        tmp_path,
        "azure,azure-native:containerservice:ManagedCluster,cluster management,sku.tier=Standard,*,hour,0.10,,src,2026",
    )
    azure = provider("azure", "eastus")
    cluster = resource(
        "azure-native:containerservice:ManagedCluster",
        "premium",
        cloud="azure",
        provider=azure,
        inputs={"sku": {"tier": "Premium"}},
    )
    report = estimate([azure, cluster], prices)
    assert report["unpriced"][0]["reason"] == "cluster management: no price row for sku.tier=Premium"


def test_gke_node_pool_totals_per_zone_counts_and_guest_accelerators():
    gcp = provider("gcp", "us-central1")
    totals = resource(
        "gcp:container/nodePool:NodePool",
        "l4",
        cloud="gcp",
        provider=gcp,
        inputs={
            "location": "us-central1",
            "nodeLocations": ["us-central1-a", "us-central1-b"],
            "autoscaling": {"totalMinNodeCount": 1, "totalMaxNodeCount": 4},
            "nodeConfig": {
                "machineType": "g2-standard-8",
                "spot": True,
                "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
            },
        },
    )
    per_zone = resource(
        "gcp:container/nodePool:NodePool",
        "t4",
        cloud="gcp",
        provider=gcp,
        inputs={
            "location": "us-central1-a",
            "nodeLocations": ["us-central1-a", "us-central1-b", "us-central1-c"],
            "autoscaling": {"minNodeCount": 1, "maxNodeCount": 2},
            "nodeConfig": {
                "machineType": "n1-standard-8",
                "guestAccelerators": [{"type": "nvidia-tesla-t4", "count": 2}],
            },
        },
    )
    report = estimate([gcp, totals, per_zone])
    assert line_for(report, "l4")["monthly_usd"] == usd(0.34 * 1 * H)
    assert line_for(report, "l4")["monthly_usd_max"] == usd(0.34 * 4 * H)
    # Per-zone bounds times three zones; the two-GPU N1 row, not the one-GPU row.
    assert line_for(report, "t4")["monthly_usd"] == usd(1.10 * 3 * H)
    assert line_for(report, "t4")["monthly_usd_max"] == usd(1.10 * 6 * H)


def test_gke_n1_pool_without_accelerators_is_not_priced_as_a_gpu_node():
    gcp = provider("gcp", "us-central1")
    pool = resource(
        "gcp:container/nodePool:NodePool",
        "cpu",
        cloud="gcp",
        provider=gcp,
        inputs={"nodeCount": 1, "nodeConfig": {"machineType": "n1-standard-8"}},
    )
    report = estimate([gcp, pool])
    assert report["lines"] == []
    assert report["unpriced"][0]["reason"] == "no catalog row for gcp n1-standard-8"


# --- the price table ---------------------------------------------------------------------------


def test_cloud_nat_is_charged_per_vm_of_the_cloud_and_capped(tmp_path):
    prices = table(tmp_path, "gcp,gcp:compute/routerNat:RouterNat,gateway,,*,vm_hour,0.0014,0.044,src,2026")
    gcp = provider("gcp", "us-central1")
    nat = resource(
        "gcp:compute/routerNat:RouterNat", "nat", cloud="gcp", provider=gcp, inputs={"region": "us-central1"}
    )

    def pool(name: str, low: int, high: int) -> dict:
        return resource(
            "gcp:container/nodePool:NodePool",
            name,
            cloud="gcp",
            provider=gcp,
            inputs={
                "autoscaling": {"totalMinNodeCount": low, "totalMaxNodeCount": high},
                "nodeConfig": {"machineType": "e2-standard-4"},
            },
        )

    small = line_for(estimate([gcp, nat, pool("a", 2, 3), pool("b", 1, 40)], prices), "nat")
    assert small["monthly_usd"] == usd(0.0014 * 3 * H)
    assert small["monthly_usd_max"] == usd(0.044 * H)  # 43 VMs: over the 32-VM cap
    assert "× 3–43 VMs (cap $0.044/h)" in small["basis"]


def test_storage_is_priced_at_the_stated_assumed_size_and_the_most_specific_row_wins(tmp_path):
    prices = table(
        tmp_path,
        "gcp,gcp:storage/bucket:Bucket,storage,storageClass=,us-central1,gib_month,0.020,,absent,2026",
        "gcp,gcp:storage/bucket:Bucket,storage,storageClass=STANDARD,us-central1,gib_month,0.020,,standard,2026",
        "gcp,gcp:storage/bucket:Bucket,storage,storageClass=NEARLINE,us-central1,gib_month,0.010,,nearline,2026",
    )
    gcp = provider("gcp", "us-central1")
    buckets = [
        resource(
            "gcp:storage/bucket:Bucket",
            "plain",
            cloud="gcp",
            provider=gcp,
            inputs={"location": "US-CENTRAL1"},
        ),
        resource(
            "gcp:storage/bucket:Bucket",
            "cold",
            cloud="gcp",
            provider=gcp,
            inputs={"location": "US-CENTRAL1", "storageClass": "NEARLINE"},
        ),
    ]
    report = estimate([gcp, *buckets], prices)
    assert line_for(report, "plain")["monthly_usd"] == usd(0.020 * cost.ASSUMED_STORE_GIB)
    assert line_for(report, "cold")["monthly_usd"] == usd(0.010 * cost.ASSUMED_STORE_GIB)
    assert (
        f"{cost.ASSUMED_STORE_GIB} GiB × $0.01/GiB-month [us-central1, 2026]"
        in line_for(report, "cold")["basis"]
    )
    assert any(f"{cost.ASSUMED_STORE_GIB} GiB" in a for a in report["assumptions"])


def test_kubernetes_load_balancer_service_is_priced_by_its_cluster_cloud_only(tmp_path):
    prices = table(
        tmp_path,
        "aws,kubernetes:core/v1:Service,load balancer,spec.type=LoadBalancer,us-east-1,hour,0.0225,,nlb,2026",
    )
    aws = provider("aws", "us-east-1")
    lb = resource(
        "kubernetes:core/v1:Service", "serve", cloud="aws", inputs={"spec": {"type": "LoadBalancer"}}
    )
    internal = resource(
        "kubernetes:core/v1:Service", "cip", cloud="aws", inputs={"spec": {"type": "ClusterIP"}}
    )
    report = estimate([aws, lb, internal], prices)
    assert line_for(report, "serve")["monthly_usd"] == usd(0.0225 * H)
    # No row says what a ClusterIP Service costs: it is reported, never silently free.
    assert [u["urn"] for u in report["unpriced"]] == [internal["urn"]]


def test_services_that_provision_no_load_balancer_cost_nothing_and_make_no_line():
    aws = provider("aws", "us-east-1")
    services = [
        resource("kubernetes:core/v1:Service", name, cloud="aws", inputs={"spec": spec})
        for name, spec in (("cip", {"type": "ClusterIP"}), ("default", {}), ("np", {"type": "NodePort"}))
    ]
    report = cost.estimate([aws, *services], catalog=CATALOG, prices=BUNDLED)
    assert report["lines"] == [] and report["unpriced"] == []


def test_totals_roll_up_by_cloud_and_by_outermost_component(tmp_path):
    prices = table(
        tmp_path,
        "aws,aws:ec2/natGateway:NatGateway,gateway,,us-east-1,hour,0.045,,a,2026",
        "aws,aws:kms/key:Key,key,,*,month,1.00,,b,2026",
        "gcp,gcp:kms/cryptoKey:CryptoKey,key,,*,month,0.06,,c,2026",
    )
    aws, gcp = provider("aws", "us-east-1"), provider("gcp", "us-central1")
    network = component("aws", "Network", "aws")
    store = component("aws", "ObjectStore", "models")
    nested = component("aws", "Inner", "models-inner", parent=store)
    resources = [
        aws,
        gcp,
        network,
        store,
        nested,
        resource("aws:ec2/natGateway:NatGateway", "nat-a", cloud="aws", parent=network, provider=aws),
        resource("aws:ec2/natGateway:NatGateway", "nat-b", cloud="aws", parent=network, provider=aws),
        resource("aws:kms/key:Key", "models-key", cloud="aws", parent=nested, provider=aws),
        resource("gcp:kms/cryptoKey:CryptoKey", "key", cloud="gcp", provider=gcp),
        resource("aws:iam/role:Role", "free", cloud="aws", provider=aws),
    ]
    report = estimate(resources, prices)
    assert report["by_cloud"] == {"aws": round(2 * 0.045 * H + 1.0, 2), "gcp": 0.06}
    assert report["by_component"]["aistack:aws:Network::aws"]["monthly_usd"] == round(2 * 0.045 * H, 2)
    assert report["by_component"]["aistack:aws:ObjectStore::models"]["monthly_usd"] == 1.0
    assert report["monthly_usd"] == usd(sum(line["monthly_usd"] for line in report["lines"]))
    assert len(report["lines"]) == 4  # the IAM role has no price and is not a line


# --- the bundled price table ---------------------------------------------------------------------


def _inputs_for(row: cost.PriceRow) -> dict:
    inputs: dict = {}
    for path, value in row.match:
        if value == "":
            continue
        target = inputs
        *parents, leaf = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return inputs


@pytest.mark.parametrize(
    "row", BUNDLED, ids=lambda r: f"{r.cloud}:{r.type.rsplit(':', 1)[-1]}:{r.component}:{r.match}"
)
def test_every_bundled_price_row_prices_a_matching_resource(row: cost.PriceRow):
    cloud = "aws" if row.cloud == cost.ANY_CLOUD else row.cloud
    region = "us-east-1" if row.region == cost.ANY_REGION else row.region
    cloud_provider = provider(cloud, region)
    target = resource(row.type, "priced", cloud=cloud, provider=cloud_provider, inputs=_inputs_for(row))
    pool = resource(
        "aws:eks/nodeGroup:NodeGroup",
        "pool",
        cloud=cloud,
        provider=cloud_provider,
        inputs={"instanceTypes": ["m6i.large"], "scalingConfig": {"minSize": 2, "maxSize": 5}},
    )
    report = cost.estimate([cloud_provider, target, pool], catalog=CATALOG, prices=[row])
    if row.unit == "none":
        assert not [line for line in report["lines"] if line["urn"] == target["urn"]]
        assert target["urn"] not in {u["urn"] for u in report["unpriced"]}
        return
    line = line_for(report, "priced")
    expected = {
        "hour": row.usd * H,
        "month": row.usd,
        "gib_month": row.usd * cost.ASSUMED_STORE_GIB,
        "usage": 0.0,
        "vm_hour": min(row.usd * 2, row.cap_usd or 0.0) * H,
    }[row.unit]
    assert line["monthly_usd"] == usd(expected)
    assert line["basis"].startswith(row.component)
    assert row.source and row.as_of


def test_bundled_table_prices_each_type_the_families_declare():
    priced = {(row.cloud, row.type) for row in BUNDLED}
    assert {
        ("aws", "aws:eks/cluster:Cluster"),
        ("aws", "aws:ec2/natGateway:NatGateway"),
        ("aws", "aws:s3/bucket:Bucket"),
        ("aws", "aws:lb/loadBalancer:LoadBalancer"),
        ("azure", "azure-native:containerservice:ManagedCluster"),
        ("azure", "azure-native:network:NatGateway"),
        ("azure", "azure-native:storage:StorageAccount"),
        ("azure", "azure-native:network:LoadBalancer"),
        ("gcp", "gcp:container/cluster:Cluster"),
        ("gcp", "gcp:compute/routerNat:RouterNat"),
        ("gcp", "gcp:storage/bucket:Bucket"),
        ("gcp", "gcp:compute/forwardingRule:ForwardingRule"),
    } <= priced
    services = {cloud for cloud, type_ in priced if type_ == "kubernetes:core/v1:Service"}
    assert services == {"aws", "azure", "gcp", cost.ANY_CLOUD}


def test_bundled_table_has_no_two_rows_for_the_same_case():
    keys = [(r.cloud, r.type, r.component, r.match, r.region) for r in BUNDLED]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("aws,t,c,,us-east-1,fortnight,1,,s,2026", "row 2.unit: unknown unit 'fortnight'"),
        ("aws,t,c,,us-east-1,hour,-1,,s,2026", "row 2.usd: must be a finite number >= 0, got -1"),
        ("aws,t,c,,us-east-1,usage,0.5,,s,2026", "row 2.usd: a 'usage' row has no fixed price"),
        ("aws,t,c,,us-east-1,vm_hour,0.5,,s,2026", "row 2.cap_usd: required for unit vm_hour and only there"),
        ("aws,t,c,tier,us-east-1,hour,1,,s,2026", "row 2.match: conditions are path=value joined by '&'"),
        ("aws,t,c,,us-east-1,hour,1,,,2026", "row 2.source: required"),
    ],
)
def test_bad_price_rows_are_one_line_errors(tmp_path, row, message):
    with pytest.raises(InputError) as err:
        table(tmp_path, row)
    assert message in err.value.line()


# --- the real stacks -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_priced_resource_of_a_stack_has_a_line(preview, stack):
    report = preview(stack)
    resources = report["resources"]
    priced_types = {
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
    }
    expected = {r["urn"] for r in resources if r["type"] in priced_types}
    assert expected <= {line["urn"] for line in report["cost"]["lines"]}
    assert report["cost"]["unpriced"] == []
    assert report["cost"]["monthly_usd"] > 0
    assert report["cost"]["monthly_usd_max"] >= report["cost"]["monthly_usd"]
    nats = [r for r in resources if r["type"] == "aws:ec2/natGateway:NatGateway"]
    assert len(nats) == (1 if stack == "dev" else 3)
