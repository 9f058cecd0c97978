"""The GKE cluster: private, allow-listed, Workload Identity, KMS-encrypted secrets, system pool."""

from __future__ import annotations

import json

import pytest

from aistack import engine
from components import naming
from tests.components.gcp.gcp_fixtures import PROJECT, PROJECT_NUMBER

CLUSTER = "aistack:gcp:Cluster"


@pytest.fixture
def declared(gcp_stack):
    return gcp_stack()


def test_children_are_exactly_the_cluster_pieces(declared):
    cluster = declared.named("main")
    assert cluster.type == CLUSTER
    assert sorted((r.type, r.name) for r in declared.children(cluster)) == [
        ("gcp:container/cluster:Cluster", "main-gke"),
        ("gcp:container/nodePool:NodePool", "main-system"),
        ("gcp:kms/cryptoKey:CryptoKey", "main-secrets-key"),
        ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "main-secrets-key-agent"),
        ("gcp:kms/keyRing:KeyRing", "main-keyring"),
        ("gcp:logging/projectBucketConfig:ProjectBucketConfig", "main-logs"),
        ("gcp:logging/projectSink:ProjectSink", "main-logs-sink"),
        ("gcp:projects/iAMMember:IAMMember", "main-nodes-sa-role"),
        ("gcp:serviceaccount/account:Account", "main-nodes-sa"),
    ]


def test_nodes_are_private_and_the_runner_uses_the_iam_authenticated_dns_endpoint(declared):
    gke = declared.named("main-gke").inputs
    assert gke["name"] == naming.gke_cluster("aistack-test", "main")
    assert gke["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    # The IP endpoint stays private; pulumi up reaches the API through the DNS endpoint with IAM.
    assert gke["controlPlaneEndpointsConfig"] == {"dnsEndpointConfig": {"allowExternalTraffic": True}}
    assert gke["resourceLabels"] == {"aistack-deployer": "dns-endpoint"}
    authorized = gke["masterAuthorizedNetworksConfig"]
    assert [b["cidrBlock"] for b in authorized["cidrBlocks"]] == ["10.50.0.0/20"]
    assert authorized["gcpPublicCidrsAccessEnabled"] is False
    assert authorized["privateEndpointEnforcementEnabled"] is True
    assert gke["masterAuth"] == {"clientCertificateConfig": {"issueClientCertificate": False}}


def test_public_cidrs_open_an_allow_listed_public_endpoint(gcp_stack):
    declared = gcp_stack(
        {
            "aistack:clusters": {
                "main": {"api": {"deployer": "allow-listed", "public_cidrs": ["34.99.0.0/16"]}}
            }
        }
    )
    gke = declared.named("main-gke").inputs
    assert gke["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": False}
    assert "controlPlaneEndpointsConfig" not in gke
    blocks = [b["cidrBlock"] for b in gke["masterAuthorizedNetworksConfig"]["cidrBlocks"]]
    assert blocks == ["10.50.0.0/20", "34.99.0.0/16"]
    config = json.loads(engine.unwrap(declared.outputs["gcp"]["clusters"]["main"]["kubeconfig"]))
    assert (
        config["clusters"][0]["cluster"]["server"]
        == f"https://{declared.named('main-gke').outputs['endpoint']}"
    )


def test_workload_identity_shielded_nodes_and_vpc_native_networking(declared):
    gke = declared.named("main-gke").inputs
    assert gke["workloadIdentityConfig"] == {"workloadPool": f"{PROJECT}.svc.id.goog"}
    assert gke["enableShieldedNodes"] is True
    assert gke["enableLegacyAbac"] is False
    assert gke["networkingMode"] == "VPC_NATIVE"
    assert gke["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }
    assert gke["datapathProvider"] == "ADVANCED_DATAPATH"
    assert gke["removeDefaultNodePool"] is True
    assert gke["location"] == "us-central1"
    assert gke["minMasterVersion"] == "1.35"


def test_secrets_are_encrypted_with_a_rotating_key_the_gke_agent_may_use(declared):
    key = declared.named("main-secrets-key")
    assert key.inputs["rotationPeriod"] == "7776000s"
    assert key.inputs["keyRing"] == declared.named("main-keyring").outputs["id"]
    assert declared.named("main-gke").inputs["databaseEncryption"] == {
        "state": "ENCRYPTED",
        "keyName": key.outputs["id"],
    }
    grant = declared.named("main-secrets-key-agent").inputs
    assert grant == {
        "cryptoKeyId": key.outputs["id"],
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:service-{PROJECT_NUMBER}@container-engine-robot.iam.gserviceaccount.com",
    }


def test_control_plane_logs_and_gpu_metrics(declared):
    gke = declared.named("main-gke").inputs
    assert {"SYSTEM_COMPONENTS", "APISERVER", "WORKLOADS"} <= set(gke["loggingConfig"]["enableComponents"])
    monitoring = gke["monitoringConfig"]
    assert "DCGM" in monitoring["enableComponents"]
    assert monitoring["managedPrometheus"] == {"enabled": True}


def test_logs_are_kept_for_the_configured_days(declared):
    bucket = declared.named("main-logs")
    assert bucket.inputs["retentionDays"] == 30
    assert bucket.inputs["project"] == PROJECT
    sink = declared.named("main-logs-sink").inputs
    assert sink["destination"] == f"logging.googleapis.com/{bucket.outputs['name']}"
    cluster_name = declared.named("main-gke").outputs["name"]
    assert f'resource.labels.cluster_name="{cluster_name}"' in sink["filter"]


def test_nodes_run_as_a_least_privilege_service_account(declared):
    account = declared.named("main-nodes-sa")
    assert account.inputs["accountId"] == naming.gcp_service_account("aistack-test", "main-nodes")
    role = declared.named("main-nodes-sa-role").inputs
    assert role == {
        "project": PROJECT,
        "role": "roles/container.defaultNodeServiceAccount",
        "member": account.outputs["member"],
    }
    assert declared.named("main-system").inputs["nodeConfig"]["serviceAccount"] == account.outputs["email"]


def test_system_pool_is_untainted_shielded_and_autoscaler_owned(declared):
    system = declared.named("main-system")
    config = system.inputs["nodeConfig"]
    assert config["machineType"] == "e2-standard-2"
    assert config["taints"] == []
    assert config["spot"] is False
    assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert config["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert config.get("guestAccelerators", []) == []
    assert system.inputs["autoscaling"]["totalMinNodeCount"] == 2
    assert system.inputs["autoscaling"]["totalMaxNodeCount"] == 3
    assert "nodeCount" in system.ignore_changes
    assert system.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}


def test_kubeconfig_is_secret_and_uses_the_gke_auth_plugin(declared):
    exported = declared.outputs["gcp"]["clusters"]["main"]["kubeconfig"]
    assert engine.mask(exported) == engine.SECRET_MASK
    config = json.loads(engine.unwrap(exported))
    gke = declared.named("main-gke").outputs
    cluster = config["clusters"][0]["cluster"]
    # The DNS endpoint's name, served with a publicly trusted certificate: no cluster CA.
    dns = gke["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["endpoint"]
    assert dns.endswith(".us-central1.gke.goog")
    assert cluster == {"server": f"https://{dns}"}
    exec_ = config["users"][0]["user"]["exec"]
    assert (exec_["command"], exec_["interactiveMode"]) == ("gke-gcloud-auth-plugin", "Never")
    assert config["current-context"] == gke["name"]


def test_nothing_is_protected_outside_prod(declared):
    assert not any(r.protect for r in declared.resources)
    assert declared.named("main-gke").inputs["deletionProtection"] is False


def test_prod_protects_the_cluster_and_its_key(gcp_stack):
    declared = gcp_stack({"aistack:environment": "prod"})
    for name in ("main-gke", "main-secrets-key", "main-keyring"):
        assert declared.named(name).protect, name
    assert declared.named("main-gke").inputs["deletionProtection"] is True
