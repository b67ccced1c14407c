"""Leaderboards: ranking with ties, filters, outliers, incremental updates, compare, badges."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ingest import leaderboards, moderation, scores
from ingest.models import LeaderboardEntry, LeaderboardRow, MeshConfig, Organization, Result, Score
from meshmark import selectors
from scoring import FORMULA_VERSION
from tests.pipeline import ISTIO, LINKERD, accept, seed_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(org: Organization, other_org: Organization) -> None:
    """Linkerd clearly best, Istio and Cilium close together (a tie), repeated runs."""
    seed_corpus(org, other_org)


def board(**params: str) -> selectors.Leaderboard:
    return selectors.leaderboard("http-1k", params)


def test_rows_rank_by_median_and_overlapping_intervals_share_a_rank(corpus: None) -> None:
    rows = board().rows
    assert rows[0].mesh_type == "linkerd"
    linkerd, second, third = rows
    assert linkerd.rank == 1 and not linkerd.tied
    assert {second.mesh_type, third.mesh_type} == {"istio", "cilium"}
    assert second.rank == third.rank == 2 and second.tied and third.tied
    assert linkerd.ci_low <= linkerd.median <= linkerd.ci_high
    assert linkerd.results == 6 and linkerd.organizations == 2 and linkerd.submissions == 6
    assert linkerd.environments == 1


def test_rows_carry_normalized_resource_figures(corpus: None) -> None:
    istio = next(r for r in board().rows if r.mesh_type == "istio")
    # make_bundle: 700 sidecar + 50 control plane mCores at 990 rps, calibration 1000 (factor 1)
    assert istio.cpu_mcores_per_1k_rps == pytest.approx(750 / 0.99, rel=1e-6)
    assert istio.mem_mb_per_proxy == pytest.approx(40.0)
    assert istio.added_p99_ms == pytest.approx(5.125 - 3.0, rel=1e-6)
    assert istio.normalized is False  # make_bundle's probe is not the reference probe


def test_row_filters_narrow_the_board(corpus: None) -> None:
    assert [r.mesh_type for r in board(mesh="istio").rows] == ["istio"]
    assert {r.mesh_type for r in board(mtls="true").rows} == {"istio", "linkerd"}
    assert [r.mesh_type for r in board(min_version="2").rows] == ["linkerd"]
    assert {r.mesh_type for r in board(max_version="1.24.1").rows} == {"istio", "cilium"}
    assert {r.mesh_type for r in board(max_version="1.20").rows} == {"cilium"}
    with pytest.raises(selectors.SelectorError, match="mtls must be true or false"):
        board(mtls="maybe")


def test_entry_filters_aggregate_only_the_matching_runs(corpus: None) -> None:
    assert board(kubernetes_version="1.30").rows  # make_bundle's cluster is 1.30
    assert board(kubernetes_version="1.29").rows == []
    assert board(since="2000-01-01").from_entries is True
    assert len(board(since="2000-01-01").rows) == 3
    assert board(until="2000-01-01").rows == []


def test_an_outlier_is_flagged_and_left_out_but_not_deleted(
    corpus: None, org: Organization
) -> None:
    before = next(r for r in board().rows if r.mesh_type == "linkerd")
    accept(org, config=LINKERD, p50=9.0, p99=40.0, n=99)  # a noisy-neighbour run
    after = next(r for r in board().rows if r.mesh_type == "linkerd")
    assert after.outliers == 1
    assert after.results == before.results
    assert after.median == pytest.approx(before.median)
    flagged = LeaderboardEntry.objects.get(is_outlier=True)
    assert flagged.result.p50_ms == 9.0
    assert Result.objects.filter(pk=flagged.result_id).exists()


def test_a_new_result_updates_its_row_in_the_accepting_transaction(
    corpus: None, org: Organization
) -> None:
    row = LeaderboardRow.objects.get(mesh_config__mesh_type="istio")
    accept(org, config=ISTIO, p50=1.7, p99=5.3, n=42)
    row.refresh_from_db()
    assert row.results == 7


def test_unlisting_removes_a_result_from_its_row(corpus: None) -> None:
    result = Result.objects.filter(mesh_config__mesh_type="istio").first()
    assert result is not None
    moderation.result_set_listed(result=result, listed=False, reason="bad", actor=None)
    assert LeaderboardRow.objects.get(mesh_config__mesh_type="istio").results == 5
    moderation.result_set_listed(result=result, listed=True, reason="ok", actor=None)
    assert LeaderboardRow.objects.get(mesh_config__mesh_type="istio").results == 6


def test_unlisting_an_organization_drops_its_rows(corpus: None, other_org: Organization) -> None:
    moderation.organization_set_listed(
        organization=other_org, listed=False, reason="spam", actor=None
    )
    linkerd = LeaderboardRow.objects.get(mesh_config__mesh_type="linkerd")
    assert linkerd.results == 3 and linkerd.organizations == 1


def test_a_rebuild_reproduces_the_incremental_rows(corpus: None) -> None:
    def snapshot() -> list[tuple[Any, ...]]:
        return sorted(
            LeaderboardRow.objects.values_list("mesh_config_id", "results", "median", "ci_low")
        )

    incremental = snapshot()
    LeaderboardRow.objects.all().delete()
    LeaderboardEntry.objects.all().delete()
    assert leaderboards.leaderboards_rebuild() == 3
    rebuilt = snapshot()
    assert [r[:2] for r in rebuilt] == [r[:2] for r in incremental]
    assert [r[2:] for r in rebuilt] == [pytest.approx(r[2:]) for r in incremental]


def test_partial_scores_are_ranked_apart(corpus: None, org: Organization) -> None:
    doc_config = {"mesh_type": "kuma", "mesh_version": "2.9.0", "mtls_enabled": True}
    submission = accept(org, config=doc_config, p50=1.3, p99=4.0, n=7)
    Result.objects.filter(submission=submission).update(app_mem_mb=None, sidecar_mem_mb=None,
                                                       control_plane_mem_mb=None)  # fmt: skip
    scores.results_score(result_ids=list(submission.results.values_list("pk", flat=True)))
    leaderboards.rows_refresh_pending()  # what the pipeline does once the scores commit
    current = board()
    assert "kuma" not in {r.mesh_type for r in current.rows}
    assert [r.mesh_type for r in current.partial_rows] == ["kuma"]


def test_the_sql_rebuild_of_entries_matches_the_incremental_entries(
    corpus: None, org: Organization, other_org: Organization
) -> None:
    # Cover the flags the SQL computes: an unlisted result, a partial score.
    unlisted = LeaderboardEntry.objects.filter(profile_id="http-1k").first()
    assert unlisted is not None
    moderation.result_set_listed(
        result=unlisted.result, listed=False, reason="broken run", actor=None
    )
    Score.objects.filter(pk=LeaderboardEntry.objects.last().score_id).update(  # type: ignore[union-attr]
        classes={"latency": 0.9, "cpu": None}
    )
    leaderboards.leaderboards_update(score_ids=Score.objects.values_list("pk", flat=True))
    fields = [f.name for f in LeaderboardEntry._meta.concrete_fields if f.name not in ("id",)]

    def snapshot() -> list[tuple[Any, ...]]:
        return sorted(LeaderboardEntry.objects.values_list(*fields))

    incremental = snapshot()
    assert any(not row[fields.index("complete")] for row in incremental)
    assert any(not row[fields.index("listed")] for row in incremental)
    LeaderboardEntry.objects.all().delete()

    written = leaderboards.entries_sync_all(version=FORMULA_VERSION)

    assert written == len(incremental)
    rebuilt = snapshot()
    outlier = fields.index("is_outlier")
    assert [r[:outlier] + r[outlier + 1 :] for r in rebuilt] == [
        r[:outlier] + r[outlier + 1 :] for r in incremental
    ]


def test_the_leaderboard_api_answers_json_and_csv(
    corpus: None, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    with django_assert_max_num_queries(5):  # state, profile, groups, rows (+ a savepoint)
        response = Client().get("/api/v1/leaderboards/http-1k")
    assert response.status_code == 200
    body = response.json()
    assert body["profile"]["id"] == "http-1k"
    assert [r["rank"] for r in body["rows"]] == [1, 2, 2]
    assert body["groups"][0]["results"] == 18
    as_csv = Client().get("/api/v1/leaderboards/http-1k", {"format": "csv"})
    assert as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert rows[0]["mesh_type"] == "linkerd"
    assert float(rows[0]["median"]) == pytest.approx(body["rows"][0]["median"])


def test_the_leaderboard_api_names_bad_input(db: Any) -> None:
    unknown = Client().get("/api/v1/leaderboards/http-9000")
    assert unknown.status_code == 404
    assert "http-1k" in unknown.json()["detail"]
    empty = Client().get("/api/v1/leaderboards/http-1k").json()
    assert empty["rows"] == [] and empty["environment_class"] is None


def test_compare_gives_a_significance_test_and_latency_curves(corpus: None) -> None:
    ids = {m.mesh_type: m.pk for m in MeshConfig.objects.all()}
    response = Client().get(
        "/api/v1/compare", {"profile": "http-1k", "configs": f"{ids['linkerd']},{ids['istio']}"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    (test,) = body["tests"]
    assert test["significant"] is True and test["p_value"] < 0.05
    assert test["cliffs_delta"] == pytest.approx(1.0)  # every linkerd run beats every istio run
    curves = body["latency_curves_ms"][str(ids["istio"])]
    assert curves["baseline"]["p50"] == pytest.approx(1.0)
    assert curves["mesh"]["p50"] == pytest.approx(1.65)
    close = (
        Client()
        .get(
            "/api/v1/compare", {"profile": "http-1k", "configs": f"{ids['istio']},{ids['cilium']}"}
        )
        .json()
    )
    assert close["tests"][0]["significant"] is False


def test_compare_says_not_comparable_across_groups(corpus: None, org: Organization) -> None:
    other_env = {"kubernetes_version": "1.30", "node": [{"cores": 2, "mem_mb": 4096,
                                                          "arch": "arm64"}]}  # fmt: skip
    accept(org, config={"mesh_type": "consul", "mesh_version": "1.20.0", "mtls_enabled": True},
           p50=1.5, p99=5.0, n=1, environment=other_env)  # fmt: skip
    ids = {m.mesh_type: m.pk for m in MeshConfig.objects.all()}
    response = Client().get(
        "/api/v1/compare", {"profile": "http-1k", "configs": f"{ids['consul']},{ids['istio']}"}
    )
    assert response.status_code == 409
    assert "not comparable" in response.json()["detail"]
    bad = Client().get("/api/v1/compare", {"profile": "http-1k", "configs": "x"})
    assert bad.status_code == 400


def test_the_badge_shows_the_current_score_and_is_cacheable(corpus: None) -> None:
    response = Client().get("/badge/linkerd/2.16.0/http-1k.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "max-age" in response["Cache-Control"]
    row = LeaderboardRow.objects.get(mesh_config__mesh_type="linkerd")
    assert f"{row.median:.0f} ±" in response.content.decode()
    missing = Client().get("/badge/linkerd/9.9.9/http-1k.svg")
    assert "no results" in missing.content.decode()


def test_results_export_as_csv(corpus: None) -> None:
    response = Client().get("/api/v1/results", {"format": "csv", "role": "mesh"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 18
    assert all(r["meshmark"] for r in rows)


def test_an_outlier_flag_is_cleared_when_the_run_no_longer_stands_out(
    corpus: None, org: Organization
) -> None:
    accept(org, config=LINKERD, p50=9.0, p99=40.0, n=99)
    assert LeaderboardEntry.objects.filter(is_outlier=True).count() == 1
    # Runs spread between fast and slow arrive: the slow run is no longer unusual.
    for i, p50 in enumerate([2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]):
        accept(org, config=LINKERD, p50=p50, p99=4.0 * p50, n=200 + i)
    assert LeaderboardEntry.objects.filter(is_outlier=True).count() == 0


def test_tightly_grouped_runs_are_not_flagged_as_outliers(org: Organization) -> None:
    # Five nearly identical runs and one 3% slower: a tiny MAD, but no outlier.
    for i, p50 in enumerate([1.60, 1.601, 1.602, 1.603, 1.604, 1.65]):
        accept(org, config=ISTIO, p50=p50, p99=5.0, n=i)
    assert LeaderboardEntry.objects.filter(is_outlier=True).count() == 0


def test_the_leaderboard_api_is_cached_until_a_result_changes_it(
    corpus: None, org: Organization, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    first = Client().get("/api/v1/leaderboards/http-1k")
    etag = first["ETag"]

    with django_assert_max_num_queries(1):  # the rows' state, nothing else
        again = Client().get("/api/v1/leaderboards/http-1k")
    assert again.content == first.content and again["ETag"] == etag
    unchanged = Client().get("/api/v1/leaderboards/http-1k", HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged.content == b""
    filtered = Client().get("/api/v1/leaderboards/http-1k", {"mesh": "istio"})
    assert filtered["ETag"] != etag
    assert {r["mesh_type"] for r in filtered.json()["rows"]} == {"istio"}

    accept(org, config=ISTIO, p50=1.65, p99=5.1, n=99)

    after = Client().get("/api/v1/leaderboards/http-1k", HTTP_IF_NONE_MATCH=etag)
    assert after.status_code == 200 and after["ETag"] != etag
    assert after.json()["groups"][0]["results"] == first.json()["groups"][0]["results"] + 1


def test_a_failed_refresh_leaves_its_marks_for_the_next_one(
    org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.models import PendingRefresh

    def broken(**kwargs: Any) -> int:
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(leaderboards, "rows_refresh", broken)
    submission = accept(org, config=ISTIO, p50=1.6, p99=5.0, n=1)  # does not raise
    assert submission.status == "accepted"
    assert PendingRefresh.objects.count() == 1
    assert not LeaderboardRow.objects.exists()

    monkeypatch.undo()
    accept(org, config=ISTIO, p50=1.7, p99=5.1, n=2)

    assert not PendingRefresh.objects.exists()
    assert LeaderboardRow.objects.get().results == 2


def test_a_rebuild_leaves_no_refresh_pending(corpus: None) -> None:
    from ingest.models import PendingRefresh

    entry = LeaderboardEntry.objects.first()
    assert entry is not None
    # A mark committed while the rebuild held the lock: its own refresh found it taken.
    leaderboards.rows_mark(keys=[leaderboards.RowKey.of(entry)])

    assert leaderboards.leaderboards_rebuild(entries=False) == 3

    assert not PendingRefresh.objects.exists()
