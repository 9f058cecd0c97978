"""Azure physical names against Azure's limits."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from aistack.spec.base import NAME_PATTERN
from components import naming

names = st.from_regex(NAME_PATTERN, fullmatch=True)
prefixes = st.from_regex(r"[a-z][a-z0-9-]{0,40}[a-z0-9]", fullmatch=True)
subscriptions = st.uuids().map(str)
suffixes = st.sampled_from(["nodes", "ondemand", "spot"])

STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
KEY_VAULT = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
AGENT_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
AKS_CLUSTER = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,61}[a-zA-Z0-9]$")
DNS_PREFIX = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,52}[a-zA-Z0-9]$")


@given(subscriptions, prefixes, names)
def test_storage_account_fits_azure(subscription, prefix, name):
    account = naming.azure_storage_account(subscription, prefix, name)
    assert STORAGE_ACCOUNT.match(account), account
    assert account == naming.azure_storage_account(subscription, prefix, name)


@given(subscriptions, prefixes, names)
def test_key_vault_fits_azure(subscription, prefix, name):
    vault = naming.azure_key_vault(subscription, prefix, name)
    assert KEY_VAULT.match(vault) and "--" not in vault, vault


@given(names, suffixes)
def test_agent_pool_fits_aks(pool, suffix):
    assert AGENT_POOL.match(naming.aks_agent_pool(pool, suffix))


@given(prefixes, names)
def test_cluster_and_dns_prefix_fit_aks(prefix, name):
    assert AKS_CLUSTER.match(naming.aks_cluster(prefix, name))
    assert DNS_PREFIX.match(naming.aks_dns_prefix(prefix, name))
    group = naming.azure_resource_group(prefix, name)
    assert len(group) <= 90 and not group.endswith(".")


@given(st.lists(st.tuples(names, suffixes), min_size=2, max_size=2, unique=True))
def test_agent_pools_of_one_cluster_do_not_collide(pools):
    (a, sa), (b, sb) = pools
    assert naming.aks_agent_pool(a, sa) != naming.aks_agent_pool(b, sb)


def test_global_names_differ_per_subscription_and_per_store():
    one, two = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    assert naming.azure_storage_account(one, "aistack-dev", "models") != naming.azure_storage_account(
        two, "aistack-dev", "models"
    )
    # Dropping dashes must not merge two stores into one account name.
    assert naming.azure_storage_account(one, "aistack-dev", "a-b") != naming.azure_storage_account(
        one, "aistack-dev", "ab"
    )
    assert naming.azure_key_vault(one, "aistack-dev", "models") != naming.azure_key_vault(
        two, "aistack-dev", "models"
    )


def test_names_keep_the_readable_part_first():
    sub = "00000000-0000-0000-0000-000000000001"
    assert naming.azure_storage_account(sub, "aistack-dev", "models").startswith("modelsaistackdev")
    assert naming.azure_key_vault(sub, "aistack-dev", "models").startswith("models-aistack-de-")
    assert naming.aks_agent_pool("l4", "spot") == "l4spot"
    assert naming.aks_agent_pool("a100-long-name", "ondemand") == "a100lo" + naming._digest(
        "a100-long-nameondemand", 6
    )


def test_fit_treats_a_range_dash_as_a_range():
    # "a-z0-9" allows no dash: the digest is appended without a separator.
    cut = naming.fit("abcdefghijklmnop", 12, alphabet="a-z0-9")
    assert re.fullmatch(r"[a-z0-9]{12}", cut)
    assert naming.fit("abc-defghijklmnopq", 12) == "abc-d-" + naming._digest("abc-defghijklmnopq", 6)
