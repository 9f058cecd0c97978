"""The global name in the stack spec: ``aistack:dns``, ``hostname`` and ``expose: public-lb``."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from aistack.errors import InputError
from aistack.preview import REPO
from aistack.spec import spec_from_config

DNS = {
    "provider": "route53",
    "zone": "ai.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "acme_email": "ops@example.com",
    "allowed_cidrs": ["203.0.113.0/24"],
}
DEV = yaml.safe_load((REPO / "stacks/Pulumi.dev.yaml").read_text())["config"]


def config(dns: Any = DNS, **chat: Any) -> dict[str, Any]:
    values = copy.deepcopy(DEV)
    if dns is not None:
        values["aistack:dns"] = dns
    values["aistack:endpoints"]["chat"] |= {"expose": "public-lb", "hostname": "chat", **chat}
    values["aistack:endpoints"]["chat"] = {
        k: v for k, v in values["aistack:endpoints"]["chat"].items() if v is not None
    }
    return values


def error(values: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as caught:
        spec_from_config(values, "Pulumi.dev.yaml")
    return caught.value


def test_a_public_endpoint_with_its_name():
    spec = spec_from_config(config(), "Pulumi.dev.yaml")
    assert spec.dns.fqdn(spec.endpoints["chat"].hostname) == "chat.ai.example.com"
    assert spec.dns.acme_server == "https://acme-v02.api.letsencrypt.org/directory"
    assert (spec.dns.ttl_s, spec.dns.failure_threshold) == (60, 3)


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        (config(hostname=None), "aistack:endpoints.chat.hostname", "required with expose: public-lb"),
        (config(dns=None), "aistack:endpoints.chat.expose", "public-lb needs aistack:dns"),
        (
            config(expose="cluster"),
            "aistack:endpoints.chat.hostname",
            "set expose: public-lb for the global name",
        ),
        (
            config(dns={**DNS, "allowed_cidrs": ["0.0.0.0/0"]}),
            "aistack:dns.allowed_cidrs",
            "0.0.0.0/0 would open the model servers to the internet",
        ),
        (config(dns={**DNS, "allowed_cidrs": []}), "aistack:dns.allowed_cidrs", "at least 1 item"),
        (
            config(dns={k: v for k, v in DNS.items() if k != "hosted_zone_id"}),
            "aistack:dns",
            "provider route53 needs hosted_zone_id",
        ),
        (
            config(dns={**DNS, "provider": "cloud-dns"}),
            "aistack:dns",
            "provider 'cloud-dns': aistack builds the health-checked global record on Route 53 only",
        ),
        (
            config(dns={**DNS, "provider": "azure-dns"}),
            "aistack:dns",
            "Traffic Manager profile with endpoint monitoring and a CNAME in Azure DNS) is not built yet",
        ),
        (config(hostname="Chat_1"), "aistack:endpoints.chat.hostname", "should match pattern"),
        (
            config(ingress={"host": "chat.example.com", "tls_secret": "chat-tls"}),
            "aistack:endpoints.chat.ingress",
            "remove ingress",
        ),
    ],
)
def test_refused_with_the_key_and_the_reason(values, key, message):
    err = error(values)
    assert err.key == key
    assert message in err.message


def test_route53_needs_the_aws_account():
    gcp_dev = yaml.safe_load((REPO / "stacks/Pulumi.gcp-dev.yaml").read_text())["config"]
    values = copy.deepcopy(gcp_dev)
    values["aistack:dns"] = DNS
    (name,) = values["aistack:endpoints"]
    values["aistack:endpoints"][name] |= {"expose": "public-lb", "hostname": "chat"}
    err = error(values)
    assert err.key == "aistack:dns.provider"
    assert "configure aistack:clouds.aws" in err.message
