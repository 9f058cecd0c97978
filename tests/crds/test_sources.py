"""The vendored CRD files are whole upstream CRDs, each pinned in SOURCES.md to a tag, commit and checksum."""

from __future__ import annotations

import datetime
import hashlib
import re
import shutil

import pytest
import yaml

from aistack import crds

# libyaml's safe loader parses the same YAML as yaml.SafeLoader, about ten times faster (3 MB of CRDs).
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SOURCES = crds.SCHEMA_DIR / "SOURCES.md"
FILES = sorted(p.relative_to(crds.SCHEMA_DIR).as_posix() for p in crds.SCHEMA_DIR.glob("*/*.yaml"))
ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| (?P<kinds>[^|]+) \| \[(?P<repo>[\w.-]+/[\w.-]+)\]\(https://github\.com/(?P=repo)\) "
    r"\| `(?P<tag>v\d+\.\d+\.\d+)` \| `(?P<commit>[0-9a-f]{40})` \| `(?P<path>[^`]+)` "
    r"\| (?P<date>\d{4}-\d{2}-\d{2}) \| (?P<licence>[^|]+) \| `(?P<sha>[0-9a-f]{64})` \|$"
)
ROWS = [m.groupdict() for m in map(ROW.match, SOURCES.read_text().splitlines()) if m]
AUTHORED_ROW = re.compile(
    r"^\| `(?P<file>[^`]+)` \| (?P<kinds>[^|]+) \| <(?P<url>https://[^>]+)> \| (?P<date>\d{4}-\d{2}-\d{2}) "
    r"\| `(?P<sha>[0-9a-f]{64})` \|$"
)
AUTHORED = [m.groupdict() for m in map(AUTHORED_ROW.match, SOURCES.read_text().splitlines()) if m]

# The kinds the serving and capacity work render (see SOURCES.md for what could not be vendored).
NEEDED = {
    ("inference.networking.k8s.io/v1", "InferencePool"),
    ("inference.networking.x-k8s.io/v1alpha2", "InferenceObjective"),
    ("gateway.networking.k8s.io/v1", "Gateway"),
    ("gateway.networking.k8s.io/v1", "GatewayClass"),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet"),
    ("karpenter.sh/v1", "NodePool"),
    ("karpenter.sh/v1", "NodeClaim"),
    ("karpenter.k8s.aws/v1", "EC2NodeClass"),
    ("karpenter.azure.com/v1beta1", "AKSNodeClass"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("external-secrets.io/v1", "SecretStore"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.googleapis.com/v1", "PodMonitoring"),
    ("cloud.google.com/v1", "ComputeClass"),
}


@pytest.mark.parametrize("name", FILES)
def test_each_file_is_one_upstream_crd_with_a_schema_per_served_version(name):
    docs = [d for d in yaml.load_all((crds.SCHEMA_DIR / name).read_text(), Loader=LOADER) if d]
    assert len(docs) == 1, "one CRD per file, nothing else bundled"
    (crd,) = docs
    assert (crd["apiVersion"], crd["kind"]) == ("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    assert name.split("/")[1] == f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"
    served = [v for v in crd["spec"]["versions"] if v.get("served")]
    assert served and all(v["schema"]["openAPIV3Schema"]["type"] == "object" for v in served)


def test_every_file_has_exactly_one_sources_row():
    listed = [r["file"] for r in ROWS + AUTHORED]
    assert sorted(listed) == FILES, "each vendored file needs one row in schemas/crds/SOURCES.md"


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_row_pins_the_file_to_its_tag_commit_and_checksum(row):
    content = (crds.SCHEMA_DIR / row["file"]).read_bytes()
    assert hashlib.sha256(content).hexdigest() == row["sha"], "file changed: re-vendor it and update its row"
    assert row["path"].rsplit("/", 1)[-1] == row["file"].rsplit("/", 1)[-1]
    assert datetime.date.fromisoformat(row["date"]) <= datetime.date(2026, 12, 4)
    assert row["licence"].strip() == "Apache-2.0"
    # The Kind column names the CRD's kind and every version it serves.
    crd = yaml.load(content, Loader=LOADER)
    versions = [v["name"] for v in crd["spec"]["versions"] if v.get("served")]
    assert row["kinds"].startswith(crd["spec"]["names"]["kind"] + " (")
    assert all(f"{crd['spec']['group']}/{v}" in row["kinds"] for v in versions)


@pytest.mark.parametrize("row", AUTHORED, ids=[r["file"] for r in AUTHORED])
def test_authored_schema_row_pins_its_checksum_and_reference(row):
    content = (crds.SCHEMA_DIR / row["file"]).read_bytes()
    assert hashlib.sha256(content).hexdigest() == row["sha"], (
        "schema changed: update its row (and re-read the reference)"
    )
    assert datetime.date.fromisoformat(row["date"]) <= datetime.date(2026, 12, 4)
    assert row["url"] in content.decode(), "the file's header cites the reference it was written from"
    crd = yaml.load(content, Loader=LOADER)
    assert row["kinds"].startswith(crd["spec"]["names"]["kind"] + " (")


def test_the_kinds_the_roadmap_needs_are_served_and_current():
    served = crds.served()
    assert set(served) >= NEEDED
    assert [k for k in NEEDED if served[k].deprecated] == []


def test_a_second_crd_for_the_same_kind_is_refused(tmp_path):
    for project in ("a", "b"):
        (tmp_path / project).mkdir()
        shutil.copy(crds.SCHEMA_DIR / "keda/keda.sh_scaledobjects.yaml", tmp_path / project)
    with pytest.raises(
        crds.CRDError,
        match=r"b/keda.sh_scaledobjects.yaml: keda.sh/v1alpha1 ScaledObject is already served by a/",
    ):
        crds.load(tmp_path)


def test_a_non_crd_document_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "svc.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n")
    with pytest.raises(crds.CRDError, match=r"x/svc.yaml: a 'Service' document"):
        crds.load(tmp_path)


def test_a_pattern_python_cannot_compile_fails_the_load_not_the_check():
    assert crds._python_pattern("^(?i)(abort|warn)?$", "f") == "(?i)^(abort|warn)?$"
    with pytest.raises(crds.CRDError, match=r"f: pattern '\(\?P=x\)' is not a Python regular expression"):
        crds._python_pattern("(?P=x)", "f")
