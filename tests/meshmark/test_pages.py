"""Web pages: the numbers the API gives, 404s, the raw-submission rule, bounded queries."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from django.template.defaultfilters import floatformat
from django.test import Client

from ingest import leaderboards, moderation, scores
from ingest.models import Environment, MeshConfig, Organization, Result, Submission
from meshmark import views
from tests import pipeline

pytestmark = pytest.mark.django_db


def accept(org: Organization, **kwargs: Any) -> Submission:
    """Pages draw histograms: every run carries buckets that agree with its percentiles."""
    return pipeline.accept(org, histograms=True, **kwargs)


def seed_corpus(org: Organization, other_org: Organization, runs: int = 6) -> None:
    pipeline.seed_corpus(org, other_org, runs, histograms=True)


@pytest.fixture
def corpus(org: Organization, other_org: Organization) -> None:
    seed_corpus(org, other_org)


def fmt(value: float, digits: int) -> str:
    """A number as the pages print it (Django's floatformat rounds half up)."""
    return str(floatformat(value, digits))


def config_ids() -> dict[str, int]:
    return {m.mesh_type: m.pk for m in MeshConfig.objects.all()}


def mesh_result(mesh: str) -> Result:
    result = Result.objects.filter(role="mesh", mesh_config__mesh_type=mesh).order_by("pk").first()
    assert result is not None
    return result


def text(response: Any) -> str:
    """The page's visible text, whitespace collapsed (tags dropped)."""
    html = re.sub(r"<script.*?</script>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def chart_data(response: Any, element_id: str) -> Any:
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        flags=re.S,
    )
    assert match, f"no chart data {element_id}"
    return json.loads(match.group(1))


# Home


def test_the_home_page_shows_the_profiles_the_top_of_each_board_and_recent_runs(
    corpus: None,
) -> None:
    response = Client().get("/")
    assert response.status_code == 200
    page = text(response)
    assert "What does this mesh cost us?" in page
    for profile in ("http-100", "http-1k", "http-5k", "grpc-1k", "http-chain-1k"):
        assert profile in page
    api = Client().get("/api/v1/leaderboards/http-1k").json()
    top = api["rows"][0]
    assert top["label"] == "linkerd 2.16.0 mTLS"
    shown = f"{fmt(top['median'], 2)} n=6 [{fmt(top['ci_low'], 1)}, {fmt(top['ci_high'], 1)}]"
    assert shown in page
    assert "=2" in page
    assert "Recent submissions" in page and "Acme Platform Team" in page
    assert 'href="/api/docs/"' in response.content.decode()


def test_the_home_page_renders_with_no_results(db: Any) -> None:
    response = Client().get("/")
    assert response.status_code == 200
    assert "No ranked results yet." in text(response)


# Leaderboard


def test_the_leaderboard_page_shows_the_numbers_the_api_gives(corpus: None) -> None:
    response = Client().get("/leaderboards/http-1k")
    assert response.status_code == 200
    page = text(response)
    api = Client().get("/api/v1/leaderboards/http-1k").json()
    for row in api["rows"]:
        rank = f"={row['rank']}" if row["tied"] else str(row["rank"])
        ci = f"[{fmt(row['ci_low'], 2)}, {fmt(row['ci_high'], 2)}]"
        cells = (
            f"{rank} {row['label']} {fmt(row['median'], 2)} {ci}"
            f" n={row['results']} {row['submissions']} {row['organizations']}"
            f" {row['environments']} {row['outliers']} {fmt(row['added_p99_ms'], 2)}"
        )
        assert cells in page
    assert "normalized to the reference machine" in page
    chart = chart_data(response, "leaderboard-data")
    assert chart["median"] == [row["median"] for row in api["rows"]]
    assert chart["n"] == [6, 6, 6]
    html = response.content.decode()
    assert "/api/v1/leaderboards/http-1k?environment_class=" in html and "format=csv" in html
    assert html.count('name="configs"') == 3
    assert "x86_64/16-31 cores" in page


def test_the_leaderboard_page_is_cached_until_a_new_result_changes_its_rows(
    corpus: None, org: Organization, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    first = Client().get("/leaderboards/http-1k").content.decode()
    # the rows' state and the conformance reports' state; the table comes from the cache
    with django_assert_max_num_queries(2):
        assert Client().get("/leaderboards/http-1k").content.decode() == first
    by_median = Client().get("/leaderboards/http-1k", {"sort": "-median"}).content.decode()
    assert by_median != first  # the sort is part of the key

    pipeline.accept(org, config=pipeline.ISTIO, p50=1.65, p99=5.1, n=77)

    after = Client().get("/leaderboards/http-1k").content.decode()
    assert after != first
    rows = Client().get("/api/v1/leaderboards/http-1k").json()["rows"]
    assert next(r["results"] for r in rows if r["mesh_type"] == "istio") == 7


def test_the_leaderboard_sorts_on_the_server_and_falls_back_to_rank(corpus: None) -> None:
    def labels(sort: str) -> list[str]:
        html = Client().get("/leaderboards/http-1k", {"sort": sort}).content.decode()
        cells = re.findall(r'<td class="label" data-sort="[^"]*">(.*?)</td>', html)
        return [re.sub(r"<[^>]+>", "", cell) for cell in cells]  # the mesh name is a link

    by_rank = labels("rank")
    assert by_rank[0] == "linkerd 2.16.0 mTLS"
    assert labels("label") == sorted(by_rank, key=str.lower)
    assert labels("-label") == sorted(by_rank, key=str.lower, reverse=True)
    assert labels("-added_p99_ms")[-1] == "linkerd 2.16.0 mTLS"
    assert labels("nonsense") == by_rank
    html = Client().get("/leaderboards/http-1k", {"sort": "-median"}).content.decode()
    assert 'aria-sort="descending" data-sort-type="number" data-sort-first="descending">' in html


def test_the_leaderboard_filters_and_names_bad_input(corpus: None) -> None:
    istio = Client().get("/leaderboards/http-1k", {"mesh": "istio"})
    assert istio.status_code == 200
    assert text(istio).count("n=6") == 1
    bad = Client().get("/leaderboards/http-1k", {"mtls": "maybe"})
    assert bad.status_code == 400
    assert "mtls must be true or false" in text(bad)
    unknown = Client().get("/leaderboards/http-9000")
    assert unknown.status_code == 404
    assert "unknown profile" in text(unknown) and "http-1k" in text(unknown)
    none = Client().get("/leaderboards/http-1k", {"since": "2999-01-01"})
    assert "No configuration matches these filters." in text(none)
    old = Client().get("/leaderboards/http-1k", {"formula_version": "meshmark-0"})
    assert old.status_code == 200 and "No ranked results for this profile yet." in text(old)
    assert "formula_version=meshmark-0" in old.content.decode()


def test_partial_rows_are_shown_apart_with_what_they_lack(corpus: None, org: Organization) -> None:
    kuma = {"mesh_type": "kuma", "mesh_version": "2.9.0", "mtls_enabled": True}
    submission = accept(org, config=kuma, p50=1.3, p99=4.0, n=7)
    Result.objects.filter(submission=submission).update(
        app_mem_mb=None, sidecar_mem_mb=None, control_plane_mem_mb=None
    )
    scores.results_score(result_ids=list(submission.results.values_list("pk", flat=True)))
    leaderboards.rows_refresh_pending()  # what the pipeline does once the scores commit
    page = text(Client().get("/leaderboards/http-1k"))
    assert "Ranked apart: incomplete scores" in page
    partial = page.split("Ranked apart")[1]
    assert "kuma 2.9.0 mTLS memory_app_share" in partial
    assert "kuma" not in page.split("Ranked apart")[0].split("Ranking")[1]
    html = Client().get("/leaderboards/http-1k").content.decode()
    main_table = html.split('id="leaderboard-table"')[1].split("</table>")[0]
    for row in re.findall(r"<tr data-config.*?</tr>", main_table, flags=re.S):
        assert row.count("<td") == 11  # as many cells as headings: no "missing" column here


# Result


def test_the_result_page_shows_the_score_breakdown_charts_and_links(corpus: None) -> None:
    result = mesh_result("istio")
    response = Client().get(f"/results/{result.pk}")
    assert response.status_code == 200
    api = Client().get(f"/api/v1/results/{result.pk}").json()["meshmark"]
    page = text(response)
    assert f"MeshMark {fmt(api['score'], 2)} / 100" in page
    for name, value in api["classes"].items():
        assert f"{name} {fmt(value, 3)}" in page
    assert f"latency_p999 {fmt(api['mues']['latency_p999'], 3)}" in page
    assert f"{fmt(api['figures']['added_p99_ms'], 2)} ms" in page
    assert "as measured (not normalized: no usable calibration)" in page
    latency = chart_data(response, "latency-data")
    assert latency["labels"] == ["p50", "p90", "p95", "p99", "p99.9"]
    assert latency["mesh"][0] == result.p50_ms and latency["baseline"][0] == 1.0
    hist = chart_data(response, "histogram-data")
    assert hist["mesh"] and hist["baseline"]
    html = response.content.decode()
    assert f"/api/v1/results/{result.pk}?format=smp-json" in html
    assert f"/api/v1/results/{result.pk}?format=smp-yaml" in html
    assert f"/submissions/{result.submission_id}/raw" in html
    assert "istio 1.24.1" in page and "x86_64/16-31 cores" in page and "Sidecars CPU" in page


def test_the_histogram_is_a_density_whose_area_is_all_requests() -> None:
    buckets = [{"start_ms": 1.0, "end_ms": 2.0, "count": 30},
               {"start_ms": 2.0, "end_ms": 4.0, "count": 60},
               {"start_ms": 6.0, "end_ms": 8.0, "count": 10}]  # fmt: skip
    points = views.histogram_points(buckets)
    area = sum(a["y"] * (b["x"] - a["x"]) for a, b in pairwise(points) if a["y"])
    assert area == pytest.approx(100.0)
    assert {"x": 4.0, "y": 0.0} in points  # the gap falls to zero
    assert views.histogram_points([]) == []


def test_a_missing_mue_is_marked_on_the_result_page(corpus: None) -> None:
    result = mesh_result("cilium")
    Result.objects.filter(pk=result.pk).update(app_mem_mb=None, sidecar_mem_mb=None,
                                              control_plane_mem_mb=None)  # fmt: skip
    scores.results_score(result_ids=[result.pk])
    page = text(Client().get(f"/results/{result.pk}"))
    assert "memory_app_share missing" in page
    assert "partial" in page


def test_a_baseline_result_page_links_its_mesh_runs(corpus: None) -> None:
    mesh = mesh_result("linkerd")
    assert mesh.baseline_id is not None
    page = text(Client().get(f"/results/{mesh.baseline_id}"))
    assert "Baseline run: not scored." in page
    assert f"#{mesh.pk} linkerd 2.16.0 (mTLS)" in page


def test_unknown_and_unlisted_results_are_not_found(corpus: None) -> None:
    assert Client().get("/results/999999").status_code == 404
    result = mesh_result("istio")
    moderation.result_set_listed(result=result, listed=False, reason="bad", actor=None)
    assert Client().get(f"/results/{result.pk}").status_code == 404


# Raw submissions


def test_the_raw_submission_is_served_verbatim_only_when_its_results_are_public(
    corpus: None, org: Organization
) -> None:
    result = mesh_result("linkerd")
    submission = Submission.objects.get(pk=result.submission_id)
    response = Client().get(f"/submissions/{submission.pk}/raw")
    assert response.status_code == 200
    assert response.content == bytes(submission.raw)
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"

    rejected = Submission.objects.create(
        organization=org, raw=b"{}", content_type="application/json", size=2, sha256="1" * 64,
        content_digest="rejected", status=Submission.Status.REJECTED,
    )  # fmt: skip
    assert Client().get(f"/submissions/{rejected.pk}/raw").status_code == 404
    assert Client().get("/submissions/00000000-0000-0000-0000-000000000000/raw").status_code == 404

    for run in submission.results.all():
        moderation.result_set_listed(result=run, listed=False, reason="spam", actor=None)
    assert Client().get(f"/submissions/{submission.pk}/raw").status_code == 404


def test_a_raw_submission_of_an_unlisted_organization_is_not_served(
    corpus: None, org: Organization
) -> None:
    submission = mesh_result("istio").submission
    moderation.organization_set_listed(organization=org, listed=False, reason="x", actor=None)
    assert Client().get(f"/submissions/{submission.pk}/raw").status_code == 404


def test_a_raw_submission_with_an_unsafe_content_type_is_served_as_octet_stream(
    corpus: None,
) -> None:
    submission = mesh_result("istio").submission
    Submission.objects.filter(pk=submission.pk).update(content_type="text/html")
    response = Client().get(f"/submissions/{submission.pk}/raw")
    assert response["Content-Type"] == "application/octet-stream"
    assert "sandbox" in response["Content-Security-Policy"]


# Compare


def test_the_compare_page_gives_the_test_in_plain_words(corpus: None) -> None:
    ids = config_ids()
    response = Client().get(
        "/compare", {"profile": "http-1k", "configs": [ids["linkerd"], ids["istio"]]}
    )
    assert response.status_code == 200, text(response)
    page = text(response)
    api = (
        Client()
        .get(
            "/api/v1/compare", {"profile": "http-1k", "configs": f"{ids['linkerd']},{ids['istio']}"}
        )
        .json()
    )
    (test,) = api["tests"]
    assert "Significant difference" in page
    assert views.p_value_text(test["p_value"]) in page
    assert (
        "Large effect: a run of linkerd 2.16.0 mTLS scores higher than a run of istio 1.24.1 "
        "mTLS 100% of the time" in page
    )
    assert f"+{fmt(test['median_diff'], 2)} points" in page
    for row in api["rows"]:
        assert (
            f"{fmt(row['median'], 2)} [{fmt(row['ci_low'], 2)}, {fmt(row['ci_high'], 2)}] n=6"
            in page
        )
    html = response.content.decode()
    assert f"/api/v1/compare?profile=http-1k&amp;configs={ids['linkerd']}%2C{ids['istio']}" in html
    curves = chart_data(response, "curves-data")
    assert curves["labels"] == ["p50", "p90", "p99", "p99.9"]
    assert (
        curves["series"][1]["mesh"][0] == api["latency_curves_ms"][str(ids["istio"])]["mesh"]["p50"]
    )


def test_close_configurations_are_called_a_tie(corpus: None) -> None:
    ids = config_ids()
    page = text(
        Client().get(
            "/compare", {"profile": "http-1k", "configs": f"{ids['istio']},{ids['cilium']}"}
        )
    )
    assert "No significant difference" in page and "treat them as tied" in page


def test_compare_says_not_comparable_and_names_bad_input(corpus: None, org: Organization) -> None:
    other_env = {"kubernetes_version": "1.30", "node": [{"cores": 2, "mem_mb": 4096,
                                                          "arch": "arm64"}]}  # fmt: skip
    accept(org, config={"mesh_type": "consul", "mesh_version": "1.20.0", "mtls_enabled": True},
           p50=1.5, p99=5.0, n=1, environment=other_env)  # fmt: skip
    ids = config_ids()
    response = Client().get("/compare", {"profile": "http-1k",
                                         "configs": f"{ids['consul']},{ids['istio']}"})  # fmt: skip
    assert response.status_code == 409
    assert "Not comparable" in text(response) and "no comparability group in common" in text(
        response
    )
    assert Client().get("/compare", {"profile": "http-1k", "configs": "x"}).status_code == 400
    assert Client().get("/compare", {"configs": "1,2"}).status_code == 400
    start = Client().get("/compare")
    assert start.status_code == 200 and "Compare selected" in text(start)


# Organizations, environments, methodology


def test_the_organization_page_lists_its_public_results(
    corpus: None, org: Organization, other_org: Organization
) -> None:
    response = Client().get("/organizations/acme")
    assert response.status_code == 200
    page = text(response)
    assert "Acme Platform Team" in page
    assert "Accepted submissions 15" in page and "Mesh runs 15" in page
    assert "Mesh configurations 3" in page
    assert Client().get("/organizations/nobody").status_code == 404
    moderation.organization_set_listed(
        organization=other_org, listed=False, reason="spam", actor=None
    )
    assert Client().get("/organizations/globex").status_code == 404


def test_the_environment_page_shows_the_cluster_calibration_and_runs(corpus: None) -> None:
    environment = Environment.objects.get()
    response = Client().get(f"/environments/{environment.pk}")
    assert response.status_code == 200
    page = text(response)
    assert "x86_64/16-31 cores" in page and "n2-standard-8" in page
    assert "meshmark-cpu-1" in page and "as measured (not normalized" in page
    assert page.count("n2-standard-8") == 1
    assert len(re.findall(r"/results/\d+", response.content.decode())) >= 18
    assert Client().get("/environments/999999").status_code == 404


def test_an_environment_without_public_results_is_not_found(
    corpus: None, org: Organization
) -> None:
    environment = Environment.objects.get()
    moderation.organization_set_listed(organization=org, listed=False, reason="x", actor=None)
    Organization.objects.filter(slug="globex").update(is_listed=False)
    assert Client().get(f"/environments/{environment.pk}").status_code == 404


def test_the_methodology_page_renders_the_spec_with_the_worked_example(db: Any) -> None:
    response = Client().get("/methodology")
    assert response.status_code == 200
    html = response.content.decode()
    assert "MeshMark = 100 · (0.731250 + 0.992394 + 0.666667 + 0.600000) / 4 = 74.76" in html
    assert "<table>" in html and 'id="8-worked-example"' in html
    assert views.methodology_html() is views.methodology_html()  # rendered once, then cached


# One round trip, bounded queries


def test_pages_need_a_bounded_number_of_queries(
    corpus: None, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    """18 results in 3 rows: any query per row or per result would break these bounds."""
    result = mesh_result("istio")
    ids = config_ids()
    pages = [
        # rows' state (the cache key), reports' state, profile, groups, rows, reports
        ("/leaderboards/http-1k", 6),
        ("/leaderboards/http-1k?since=2000-01-01", 7),  # + the group's entries
        # the listing's state (the cache key), result with its joins, its score; its entry,
        # its group's state and scores
        (f"/results/{result.pk}", 6),
        (f"/results/{result.baseline_id}", 5),  # + its mesh runs and their scores
        # rows, the runs' scores, their latencies (2), the conformance reports
        (f"/compare?profile=http-1k&configs={ids['linkerd']},{ids['istio']}", 6),
        (f"/environments/{result.environment_id}", 5),
        ("/organizations/acme", 7),  # + the runs' entries, their groups' states and scores
        # 2 + 3 per profile with results (one here) + recent runs and their scores + the
        # capacity profile's board (its runs; their configurations when it has some)
        ("/", 8),
    ]
    for url, queries in pages:
        with django_assert_max_num_queries(queries):
            assert Client().get(url).status_code == 200, url
    with django_assert_max_num_queries(1):  # the listing's state: the page is cached
        assert Client().get(f"/results/{result.pk}").status_code == 200
