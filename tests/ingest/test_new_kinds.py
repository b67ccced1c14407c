"""Capacity, churn and real-world runs through the real pipeline, and the pages that show them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.test import Client

from ingest.models import LeaderboardEntry, Result, Score, Submission
from tests.factories import make_bundle, make_run
from tests.pipeline import process_bundle

pytestmark = pytest.mark.django_db

OBJECTIVE = 10.0


def trial(rate: float, p99: float, passed: bool) -> dict[str, Any]:
    return {"requested_qps": rate, "actual_qps": rate * 0.998, "p99_ms": p99,
            "error_rate": 0.0, "passed": passed, "duration_s": 10.0}  # fmt: skip


def capacity_run(
    role: str, capacity: float, *, converged: bool = True, n: int = 0
) -> dict[str, Any]:
    """The trial at ``capacity`` of a search that passed up to it and failed just above."""
    run = make_run(role, p50=1.0 + 0.01 * n, p99=6.0, qps=capacity * 0.998)
    run["requested_qps"] = capacity
    run["profile_id"] = "http-capacity-p99-10ms"
    run["duration_s"] = 10.0
    run["end_time"] = "2026-11-01T10:00:10Z"
    run["request_count"] = run["status_codes"]["200"] = int(capacity * 0.998 * 10)
    trials = [trial(500, 2.0, True), trial(1000, 2.5, True), trial(2000, 3.0, True)]
    trials += [trial(capacity, 6.0, True), trial(capacity * 1.04, 40.0, False)]
    run["capacity"] = {"objective_p99_ms": OBJECTIVE, "rps": capacity, "converged": converged,
                       "tolerance": 0.05, "trials": trials}  # fmt: skip
    return run


def capacity_bundle(baseline: float, mesh: float, n: int = 0, **kw: Any) -> dict[str, Any]:
    doc = make_bundle(profile="http-capacity-p99-10ms", labels={"n": str(n)})
    doc["runs"] = [capacity_run("baseline", baseline, n=n), capacity_run("mesh", mesh, n=n, **kw)]
    return doc


def test_a_capacity_run_is_stored_ranked_by_capacity_kept_and_not_scored_by_meshmark(
    org: Any, client: Client
) -> None:
    for n, (base, mesh) in enumerate([(4000, 3000), (4100, 3100), (3900, 2950)]):
        process_bundle(org, capacity_bundle(base, mesh, n))
    mesh_runs = Result.objects.filter(profile_id="http-capacity-p99-10ms", role="mesh")
    assert mesh_runs.count() == 3 and all(r.ranked for r in mesh_runs), [
        r.admission for r in mesh_runs
    ]
    assert sorted(r.capacity_rps for r in mesh_runs) == [2950, 3000, 3100]
    assert not Score.objects.filter(result__in=mesh_runs).exists()
    assert not LeaderboardEntry.objects.filter(result__in=mesh_runs).exists()

    board = client.get("/api/v1/capacity/http-capacity-p99-10ms").json()
    (row,) = board["rows"]
    kept = sorted([3000 / 4000, 3100 / 4100, 2950 / 3900])
    assert row["capacity_kept"] == pytest.approx(kept[1], abs=1e-4)
    assert row["ci_low"] <= row["capacity_kept"] <= row["ci_high"]
    assert (row["baseline_rps"], row["mesh_rps"], row["results"]) == (4000, 3000, 3)
    assert board["profile"]["objective_p99_ms"] == OBJECTIVE

    page = client.get("/capacity/http-capacity-p99-10ms").content.decode()
    assert "Capacity kept" in page and "75%" in page and 'id="capacity-table"' in page
    # The profile's leaderboard address leads to its capacity board.
    moved = client.get("/leaderboards/http-capacity-p99-10ms")
    assert moved.status_code == 302 and moved["Location"] == "/capacity/http-capacity-p99-10ms"
    home = client.get("/").content.decode()
    assert 'href="/capacity/http-capacity-p99-10ms"' in home

    result = mesh_runs.order_by("pk").first()
    assert result is not None
    detail = client.get(f"/results/{result.pk}").content.decode()
    assert 'id="capacity-kept"' in detail and 'data-chart="capacity"' in detail
    assert detail.count("<tr><td>baseline</td>") == 5 and detail.count("<tr><td>mesh</td>") == 5
    assert "What <code>http-capacity-p99-10ms</code> measures" in detail


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"converged": False}, "capacity-converged"),
        ({"objective_p99_ms": 20.0}, "capacity-objective"),
    ],
)
def test_a_capacity_search_that_breaks_a_rule_is_kept_and_not_ranked(
    org: Any, client: Client, change: dict[str, Any], rule: str
) -> None:
    doc = capacity_bundle(4000, 3000)
    doc["runs"][1]["capacity"].update(change)
    submission = process_bundle(org, doc)
    mesh = Result.objects.get(submission=submission, role="mesh")
    assert not mesh.ranked and rule in {p["rule"] for p in mesh.admission}
    assert client.get("/api/v1/capacity/http-capacity-p99-10ms").json()["rows"] == []


def test_a_baseline_that_passed_at_the_searchs_ceiling_is_only_a_lower_bound(org: Any) -> None:
    submission = process_bundle(org, capacity_bundle(40_000, 30_000))
    mesh = Result.objects.get(submission=submission, role="mesh")
    assert ("runs[0].capacity.rps", "capacity-ceiling") in {
        (p["path"], p["rule"]) for p in mesh.admission
    }


def test_a_fixed_rate_run_is_not_a_capacity_search(org: Any) -> None:
    doc = make_bundle(profile="http-capacity-p99-10ms")
    for run in doc["runs"]:
        run["profile_id"] = "http-capacity-p99-10ms"
    submission = process_bundle(org, doc)
    mesh = Result.objects.get(submission=submission, role="mesh")
    assert not mesh.ranked and "capacity-search" in {p["rule"] for p in mesh.admission}


def churn_bundle(keepalive: str | None, profile: str = "http-churn-100") -> dict[str, Any]:
    doc = make_bundle(profile=profile, labels={"k": str(keepalive)})
    for run in doc["runs"]:
        run["profile_id"] = profile
        if profile == "http-churn-100":
            run["requested_qps"], run["connections"] = 100.0, 4
            run["actual_qps"] = 99.9
            run["request_count"] = run["status_codes"]["200"] = 5994
        if keepalive is not None:
            run["labels"] = {"loadgen.keepalive": keepalive}
    return doc


@pytest.mark.parametrize(
    ("profile", "keepalive", "ranked"),
    [
        ("http-churn-100", "false", True),
        ("http-churn-100", None, False),  # nothing says the connections were new
        ("http-1k", "false", False),  # a churn run under a keep-alive profile
        ("http-1k", None, True),
    ],
)
def test_churn_runs_say_they_opened_a_connection_per_request(
    org: Any, profile: str, keepalive: str | None, ranked: bool
) -> None:
    submission = process_bundle(org, churn_bundle(keepalive, profile))
    mesh = Result.objects.get(submission=submission, role="mesh")
    assert mesh.ranked is ranked, mesh.admission
    if not ranked:
        assert "profile-keepalive" in {p["rule"] for p in mesh.admission}


def real_world_bundle(profile: str, seed: str | None, p99: float = 5.5) -> dict[str, Any]:
    doc = make_bundle(profile=profile, labels={"realworld.seed": seed or "", "p": str(p99)})
    doc["runs"][1] = make_run("mesh", p50=1.6, p99=p99)
    doc["runs"][1]["resources"] = {"workloads": [{"name": "app", "cpu_mcores": 1500.0,
                                                 "mem_mb": 400.0}]}  # fmt: skip
    for run in doc["runs"]:
        run["profile_id"] = profile
        if seed is not None:
            run["labels"] = {"realworld.seed": seed, "realworld.model": "rw-1"}
    return doc


def test_real_world_runs_rank_on_their_own_board_and_the_mesh_page_compares_both(
    org: Any, client: Client
) -> None:
    wrong = process_bundle(org, real_world_bundle("http-1k", "99"))
    assert "real-world-seed" in {
        p["rule"] for p in Result.objects.get(submission=wrong, role="mesh").admission
    }
    unseeded = process_bundle(org, real_world_bundle("http-1k-real-world", None))
    assert not Result.objects.get(submission=unseeded, role="mesh").ranked
    for i in range(3):
        process_bundle(org, real_world_bundle("http-1k", None, p99=5.5 + 0.01 * i))
        process_bundle(org, real_world_bundle("http-1k-real-world", str(i), p99=7.0 + 0.01 * i))
    ranked = Result.objects.filter(profile_id="http-1k-real-world", role="mesh", ranked=True)
    assert ranked.count() == 3
    board = client.get("/api/v1/leaderboards/http-1k-real-world").json()
    assert [row["results"] for row in board["rows"]] == [3]

    page = client.get("/meshes/istio").content.decode()
    assert 'id="real-world-http-1k-real-world"' in page
    section = page.split('id="real-world-http-1k-real-world"', 1)[1].split("</section>", 1)[0]
    fixed = client.get("/api/v1/leaderboards/http-1k").json()["rows"][0]["median"]
    real = board["rows"][0]["median"]
    assert f"{fixed:.2f}" in section and f"{real:.2f}" in section
    assert f"{real - fixed:.2f}" in section and real < fixed

    result = ranked.order_by("pk").first()
    assert result is not None
    detail = client.get(f"/results/{result.pk}").content.decode()
    assert "smp-runner run --profile http-1k --real-world --seed 0 --local" in detail


def test_the_demo_corpus_fills_the_new_boards(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """`make serve` seeds the corpus with its capacity, churn and real-world runs: the
    capacity board shows the published max-throughput ratios, the churn board both mTLS
    settings, and a mesh page its real-world comparison."""
    from meshmark.demo.kinds import PUBLISHED_KEPT
    from meshmark.demo.seed import seed

    with django_capture_on_commit_callbacks(execute=True):
        report = seed(size=30, kinds=True)
    assert sum(report.kinds.values()) == 48
    statuses = Counter(Submission.objects.values_list("status", flat=True))
    assert statuses == {"accepted": 78}, statuses
    rows = client.get("/api/v1/capacity/http-capacity-p99-10ms").json()["rows"]
    kept = {row["mesh_type"]: row["capacity_kept"] for row in rows}
    assert set(kept) == set(PUBLISHED_KEPT)
    for mesh, share in PUBLISHED_KEPT.items():
        assert kept[mesh] == pytest.approx(share, rel=0.1)
    assert [row["mesh_type"] for row in rows] == ["cilium", "linkerd", "istio"]
    churn = client.get("/api/v1/leaderboards/http-churn-100").json()
    assert {row["mtls"] for row in churn["rows"] + churn["partial_rows"]} == {True, False}
    page = client.get("/meshes/istio").content.decode()
    assert 'id="real-world-http-1k-real-world"' in page
    result = Result.objects.filter(profile_id="http-capacity-p99-10ms", role="mesh").first()
    assert result is not None
    assert 'data-chart="capacity"' in client.get(f"/results/{result.pk}").content.decode()
