"""GCP physical names: within each resource's limits, deterministic, distinct when cut."""

from __future__ import annotations

import re

import pytest

from components import naming

RFC1035 = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
LONG = "a-very-long-cluster-name-that-goes-on-and-on-and-on-past-every-limit-there-is"


@pytest.mark.parametrize(
    ("fn", "limit"), [(naming.gcp, 63), (naming.gke_cluster, 40), (naming.gcp_service_account, 30)]
)
@pytest.mark.parametrize("name", ["main", "main-models-read", LONG, "UPPER_and.dots"])
def test_names_fit_and_are_rfc1035(fn, limit, name):
    result = fn("aistack-prod", name)
    assert len(result) <= limit
    assert RFC1035.match(result), result
    assert fn("aistack-prod", name) == result


def test_short_names_are_kept_whole():
    assert naming.gcp("aistack-dev", "main-vpc") == "aistack-dev-main-vpc"
    assert naming.gke_cluster("aistack-dev", "main") == "aistack-dev-main"
    assert naming.gcp_service_account("aistack-dev", "main-nodes") == "aistack-dev-main-nodes"


def test_cut_names_keep_a_prefix_and_differ_by_hash():
    a = naming.gcp_service_account("aistack-multicloud", "central-models-read")
    b = naming.gcp_service_account("aistack-multicloud", "central-weights-read")
    assert a != b
    assert a.startswith("aistack-multicloud-cen") and b.startswith("aistack-multicloud-cen")
    assert len(a) == len(b) == 30


def test_names_start_with_a_letter():
    assert naming.gcp("1st", "stack") == "x-1st-stack"
    assert naming.gke_cluster("9", "main")[0].isalpha()


def test_service_account_ids_are_at_least_six_characters():
    short = naming.gcp_service_account("a", "b")
    assert 6 <= len(short) <= 30
    assert RFC1035.match(short)
    assert short.startswith("a-b-")


def test_log_bucket_ids_allow_underscores_and_100_characters():
    assert naming.gcp_log_bucket("aistack-dev", "main_logs") == "aistack-dev-main_logs"
    long = naming.gcp_log_bucket("aistack-dev", LONG * 2)
    assert len(long) == 100
    assert re.fullmatch(r"[a-z0-9_-]+", long)
