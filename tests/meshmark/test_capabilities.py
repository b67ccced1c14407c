"""Capabilities beside overhead: real conformance reports on boards, mesh pages and compare."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from ingest import moderation
from ingest.models import MeshConfig, Organization
from meshmark import conformance
from tests import pipeline
from tests.smp.test_conformance import REPORTS

pytestmark = pytest.mark.django_db

ISTIO_124_OLD = "v1.2.0/istio-istio/experimental-1.24-default-report.yaml"
ISTIO_124 = "v1.2.1/istio-istio/experimental-1.24-default-report.yaml"
ISTIO_122 = "v1.1.0/istio-istio/experimental-1.22-default-report.yaml"
ISTIO_120 = "v1.0.0/istio-istio/1.20-report.yaml"
CILIUM_116 = "v1.1.0/cilium-cilium/experimental-1.16-default-report.yaml"
CILIUM_120 = "v1.6/cilium/experimental-v1.20.0-default-report.yaml"
LINKERD_218 = "v1.3.0/linkerd-linkerd/standard-2.18-default-report.yaml"


def import_reports(org: Organization, *names: str) -> None:
    call_command("import_conformance", *(REPORTS / n for n in names), organization=org.slug,
                 stdout=io.StringIO())  # fmt: skip


def features(name: str, profile: str = "MESH-HTTP") -> set[str]:
    """The supported features of a report's profile, read with plain YAML."""
    doc = yaml.safe_load((REPORTS / name).read_text())
    legacy = {"MESH-HTTP": "MESH"}
    for entry in doc["profiles"]:
        if entry["name"] in (profile, legacy.get(profile)):
            return set(entry.get("extended", {}).get("supportedFeatures", []))
    return set()


@pytest.fixture
def corpus(org: Organization, other_org: Organization) -> dict[str, int]:
    pipeline.seed_corpus(org, other_org, runs=3)
    cilium_120 = {"mesh_type": "cilium", "mesh_version": "1.20.0", "mtls_enabled": False}
    for i in range(3):
        pipeline.accept(org, config=cilium_120, p50=1.6 + i / 100, p99=5.0, n=40 + i)
    import_reports(org, ISTIO_124_OLD, ISTIO_124, ISTIO_122, ISTIO_120, CILIUM_116, CILIUM_120,
                   LINKERD_218)  # fmt: skip
    return {f"{m.mesh_type} {m.version}": m.pk for m in MeshConfig.objects.all()}


def row_html(html: str, config_id: int) -> str:
    match = re.search(rf'<tr id="config-{config_id}".*?</tr>', html, flags=re.S)
    assert match is not None, config_id
    return match.group(0)


def test_the_report_shown_for_a_version_follows_the_rule(corpus: dict[str, int]) -> None:
    reports = conformance.public_reports()

    shown = conformance.capability_for(reports, "istio", "1.24.1")
    assert shown is not None
    assert shown.report.gateway_api_version == "v1.2.1"  # the newer of the two 1.24 reports
    assert conformance.capability_for(reports, "istio", "1.2.0") is None  # 1.20 is not 1.2
    assert conformance.capability_for(reports, "istio", "1.20.3") is not None
    assert conformance.capability_for(reports, "linkerd", "2.16.0") is None


def test_leaderboard_rows_show_which_profile_passed(corpus: dict[str, int]) -> None:
    html = Client().get("/leaderboards/http-1k").content.decode()

    istio = row_html(html, corpus["istio 1.24.1"])
    assert f'HTTP ✓ <span class="n">+{len(features(ISTIO_124))}</span>' in istio
    assert "Gateway API v1.2.1" in istio
    cilium = row_html(html, corpus["cilium 1.20.0"])
    assert "HTTP ✓" in cilium and "GRPC ✓" in cilium
    linkerd = row_html(html, corpus["linkerd 2.16.0"])
    assert "No Gateway API conformance report covers this version." in linkerd


def test_a_new_report_reaches_the_cached_leaderboard_page(
    org: Organization, other_org: Organization
) -> None:
    pipeline.seed_corpus(org, other_org, runs=3)
    before = Client().get("/leaderboards/http-1k").content.decode()
    assert "HTTP ✓" not in before

    import_reports(org, ISTIO_124)

    assert "HTTP ✓" in Client().get("/leaderboards/http-1k").content.decode()


def test_the_mesh_page_lists_the_reports_and_badges_each_release(
    corpus: dict[str, int],
) -> None:
    html = Client().get("/meshes/istio").content.decode()

    table = re.search(r'<table class="compact" id="capability-table">.*?</table>', html, re.S)
    assert table is not None
    releases = re.findall(r'<tr data-release="([^"]+)" data-profile="([^"]+)">', table.group(0))
    assert releases == [("1.24", "MESH-HTTP"), ("1.24", "MESH-HTTP"), ("1.22", "MESH-HTTP"),
                        ("1.20", "MESH-HTTP")]  # fmt: skip
    assert "reported as MESH (before v1.1)" in table.group(0)
    trend_row = re.search(r'<tr data-version="1.24.1".*?</tr>', html, re.S)
    assert trend_row is not None and "HTTP ✓" in trend_row.group(0)


def test_compare_shows_what_differs_between_two_configurations(corpus: dict[str, int]) -> None:
    istio, cilium = corpus["istio 1.24.1"], corpus["cilium 1.16.0"]

    html = Client().get("/compare", {"profile": "http-1k", "configs": f"{istio},{cilium}"})

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.content.decode()))
    only_istio = sorted(features(ISTIO_124) - features(CILIUM_116))
    only_cilium = sorted(features(CILIUM_116) - features(ISTIO_124))
    assert only_istio or only_cilium
    if only_istio:
        assert "only istio 1.24.1 mTLS: " + " ".join(only_istio) in text
    if only_cilium:
        assert "only cilium 1.16.0 no mTLS: " + " ".join(only_cilium) in text
    assert "MESH-HTTP" in text and "passed" in text


def test_compare_across_the_v1_4_line_compares_mesh_features_only(
    corpus: dict[str, int],
) -> None:
    istio, cilium = corpus["istio 1.24.1"], corpus["cilium 1.20.0"]

    html = Client().get("/compare", {"profile": "http-1k", "configs": f"{istio},{cilium}"})

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.content.decode()))
    assert "from v1.4 mesh profiles list only Mesh* features" in text
    istio_mesh = {f for f in features(ISTIO_124) if f.startswith("Mesh")}
    cilium_mesh = {f for f in features(CILIUM_120) if f.startswith("Mesh")}
    for feature in sorted(cilium_mesh - istio_mesh):
        assert feature in text
    assert "HTTPRouteRequestMirror" not in text.split("only cilium")[-1]


def test_the_api_lists_a_meshes_reports_and_the_one_for_a_version(
    corpus: dict[str, int],
) -> None:
    everything = Client().get("/api/v1/meshes/istio/conformance").json()
    one = Client().get("/api/v1/meshes/istio/conformance", {"version": "1.24.1"}).json()

    assert [r["mesh_version"] for r in everything["reports"]] == ["1.24", "1.24", "1.22", "1.20"]
    [report] = one["reports"]
    assert report["gateway_api_version"] == "v1.2.1"
    [http] = report["profiles"]
    assert http["passed"] is True and set(http["supported_features"]) == features(ISTIO_124)
    assert Client().get("/api/v1/meshes/nope/conformance").status_code == 404


def test_an_unlisted_organizations_reports_are_not_shown(
    corpus: dict[str, int], org: Organization
) -> None:
    moderation.organization_set_listed(organization=org, listed=False, reason="spam", actor=None)

    assert Client().get("/api/v1/meshes/istio/conformance").json()["reports"] == []


def test_the_query_count_of_a_mesh_page_with_reports_is_bounded(
    corpus: dict[str, int], django_assert_max_num_queries: Any
) -> None:
    Client().get("/meshes/istio")
    with django_assert_max_num_queries(2):  # rows, reports
        assert Client().get("/meshes/istio").status_code == 200
