"""Mesh pages, the trend API and the regression feed on a corpus with a planted regression.

Istio's 1.24.1 is planted clearly slower than 1.23.2 (a regression), its 1.22.3
and 1.23.2 come from one distribution (noise), its mTLS-off series has too few
runs for a verdict; Linkerd's two releases come from one distribution too.
Every run goes through the real pipeline.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from django.test import Client
from django.utils.http import urlencode

from ingest.models import LeaderboardRow, MeshConfig, Organization
from tests import pipeline

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


def istio(version: str, mtls: bool = True) -> dict[str, Any]:
    return {"mesh_type": "istio", "mesh_version": version, "mtls_enabled": mtls}


def linkerd(version: str) -> dict[str, Any]:
    return {"mesh_type": "linkerd", "mesh_version": version, "mtls_enabled": True}


def runs(org: Organization, config: dict[str, Any], p50: float, n: int, seed: int) -> None:
    """``n`` runs whose mesh p50 and p99 vary by a few percent around ``p50``."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        mesh_p50 = float(p50 * rng.normal(1.0, 0.02))
        pipeline.accept(org, config=config, p50=mesh_p50, p99=mesh_p50 * 3.2, n=seed * 100 + i)


@pytest.fixture
def trend_corpus(org: Organization) -> None:
    runs(org, istio("1.22.3"), 1.55, 8, seed=1)
    runs(org, istio("1.23.2"), 1.55, 8, seed=2)
    runs(org, istio("1.24.1"), 2.10, 8, seed=3)  # the planted regression
    runs(org, istio("1.23.2", mtls=False), 1.50, 3, seed=4)
    runs(org, istio("1.24.1", mtls=False), 2.05, 3, seed=5)
    runs(org, istio("1.25.0-rc.1"), 1.50, 2, seed=6)  # a pre-release: not in the trend
    runs(org, linkerd("2.15.0"), 1.20, 8, seed=7)
    runs(org, linkerd("2.16.0"), 1.20, 8, seed=8)  # same distribution: noise


def steps(body: dict[str, Any], series_label: str) -> list[dict[str, Any]]:
    [group] = body["groups"]
    [series] = [s for s in group["series"] if s["label"] == series_label]
    return series["steps"]


def test_the_trend_flags_the_planted_regression_and_nothing_else(trend_corpus: None) -> None:
    body = Client().get("/api/v1/meshes/istio/trend", {"profile": "http-1k"}).json()

    assert body["profile"] == "http-1k" and body["rule"]["alpha"] == 0.01
    [group] = body["groups"]
    assert group["versions"] == ["1.22.3", "1.23.2", "1.24.1"]
    assert group["unreleased_versions"] == ["1.25.0-rc.1"]
    on = steps(body, "mTLS on")
    assert [(s["from_version"], s["to_version"], s["verdict"]) for s in on] == [
        ("1.22.3", "1.23.2", "no-change"),
        ("1.23.2", "1.24.1", "regression"),
    ]
    regression = on[1]
    assert regression["n_before"] == regression["n_after"] == 8
    assert regression["median_diff"] < -1 and regression["diff_high"] < 0
    assert regression["p_value"] < 0.01
    off = steps(body, "mTLS off")
    assert [s["verdict"] for s in off] == ["not-enough-runs"]
    assert "at least 5" in off[0]["reason"]


def test_runs_of_one_distribution_across_two_releases_raise_no_verdict(
    trend_corpus: None,
) -> None:
    body = Client().get("/api/v1/meshes/linkerd/trend").json()

    [step] = steps(body, "mTLS on")
    assert (step["from_version"], step["to_version"]) == ("2.15.0", "2.16.0")
    assert step["verdict"] == "no-change"


def test_each_point_is_its_leaderboard_row(trend_corpus: None) -> None:
    body = Client().get("/api/v1/meshes/istio/trend").json()
    [group] = body["groups"]
    for series in group["series"]:
        for point in series["points"]:
            row = LeaderboardRow.objects.get(
                mesh_config_id=point["mesh_config_id"], profile_id="http-1k", complete=True
            )
            assert point["median"] == row.median and point["results"] == row.results
            assert point["ci_low"] == row.ci_low and point["ci_high"] == row.ci_high
            assert point["added_p99_ms"] == row.added_p99_ms
            assert point["board_url"].endswith(f"#config-{row.mesh_config_id}")


def test_a_release_with_one_run_has_no_interval(org: Organization) -> None:
    runs(org, istio("1.23.2"), 1.55, 6, seed=2)
    runs(org, istio("1.24.1"), 1.55, 1, seed=3)

    body = Client().get("/api/v1/meshes/istio/trend").json()

    points = {p["version"]: p for p in body["groups"][0]["series"][0]["points"]}
    assert points["1.24.1"]["results"] == 1
    assert points["1.24.1"]["ci_low"] is None and points["1.24.1"]["ci_high"] is None
    assert points["1.23.2"]["ci_low"] is not None


def test_the_mesh_page_shows_the_trend_with_links_to_the_rows(trend_corpus: None) -> None:
    response = Client().get("/meshes/istio")

    assert response.status_code == 200
    html = response.content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "regression" in text and "no detectable change" in text and "not enough runs" in text
    assert "Not in the trend (not releases): 1.25.0-rc.1" in text
    config = MeshConfig.objects.get(mesh_type="istio", version="1.24.1", mtls=True)
    env = LeaderboardRow.objects.get(mesh_config=config).environment_class
    link = (
        f'href="/leaderboards/http-1k?{urlencode({"environment_class": env})}#config-{config.pk}"'
    )
    assert link in html
    board = Client().get("/leaderboards/http-1k").content.decode()
    assert f'id="config-{config.pk}"' in board
    chart = re.search(
        r'<script id="group-[0-9a-f]+-data" type="application/json">(.*?)</script>', html
    )
    assert chart is not None
    assert '"versions": ["1.22.3", "1.23.2", "1.24.1"]' in chart.group(1)
    assert 'href="/meshes/istio/regressions.atom"' in html


def test_the_regression_feed_lists_the_regression(trend_corpus: None) -> None:
    response = Client().get("/meshes/istio/regressions.atom")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    title = entries[0].findtext(f"{ATOM}title")
    assert title is not None and title.startswith("1.24.1 (mTLS on): MeshMark -")
    assert "vs 1.23.2 on http-1k" in title
    assert entries[0].findtext(f"{ATOM}id", "").startswith("tag:meshmark,2026:regression/istio/")
    quiet = ET.fromstring(Client().get("/meshes/linkerd/regressions.atom").content)
    assert quiet.findall(f"{ATOM}entry") == []


def test_unknown_meshes_and_profiles_are_named(trend_corpus: None) -> None:
    assert Client().get("/meshes/nosuchmesh").status_code == 404
    assert Client().get("/meshes/nosuchmesh/regressions.atom").status_code == 404
    api = Client().get("/api/v1/meshes/nosuchmesh/trend")
    assert api.status_code == 404 and api.json()["errors"][0]["path"] == "mesh"
    bad = Client().get("/api/v1/meshes/istio/trend", {"profile": "grpc-1k"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == "profile"
    assert "http-1k" in bad.json()["detail"]


def test_a_known_mesh_without_runs_says_what_to_do(db: Any) -> None:
    response = Client().get("/meshes/kuma")

    assert response.status_code == 200
    assert "No ranked runs of kuma yet" in response.content.decode()


def test_every_mesh_name_on_the_leaderboard_links_to_its_mesh_page(trend_corpus: None) -> None:
    html = Client().get("/leaderboards/http-1k").content.decode()

    assert html.count('href="/meshes/istio"') >= 3
    assert 'href="/meshes/linkerd"' in html


def test_the_mesh_page_queries_are_bounded_and_verdicts_come_from_the_cache(
    trend_corpus: None, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    cache.clear()
    # the rows' and reports' states, rows, conformance reports, runs of the profile shown,
    # the rows of the real-world comparison
    with django_assert_max_num_queries(6):
        assert Client().get("/meshes/istio").status_code == 200
    with django_assert_max_num_queries(2):  # the two states: the body is cached
        assert Client().get("/meshes/istio").status_code == 200
    with django_assert_max_num_queries(2):  # the rows' state, then rows for the items
        assert Client().get("/meshes/istio/regressions.atom").status_code == 200
    with django_assert_max_num_queries(1):  # the rows' state: the feed is cached
        assert Client().get("/meshes/istio/regressions.atom").status_code == 200
    with django_assert_max_num_queries(2):  # the rows' state, rows: verdicts are cached
        assert Client().get("/api/v1/meshes/istio/trend").status_code == 200
    with django_assert_max_num_queries(1):  # the rows' state: the answer is cached
        assert Client().get("/api/v1/meshes/istio/trend").status_code == 200


def test_a_new_run_recomputes_only_the_steps_beside_its_row(
    trend_corpus: None, org: Organization
) -> None:
    Client().get("/api/v1/meshes/istio/trend")
    runs(org, istio("1.24.1"), 2.10, 1, seed=9)

    body = Client().get("/api/v1/meshes/istio/trend").json()

    regression = steps(body, "mTLS on")[1]
    assert regression["n_after"] == 9  # the new run is in the verdict, not a stale one
