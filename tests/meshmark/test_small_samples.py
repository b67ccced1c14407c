"""A configuration with one run: no interval, no rank, no "±0", and it says why."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from ingest.models import LeaderboardRow, MeshConfig, Organization
from meshmark import selectors
from tests import pipeline

pytestmark = pytest.mark.django_db

KUMA = {"mesh_type": "kuma", "mesh_version": "2.9.0", "mtls_enabled": True}


@pytest.fixture
def with_single(org: Organization, other_org: Organization) -> int:
    pipeline.seed_corpus(org, other_org, runs=6)
    pipeline.accept(org, config=KUMA, p50=1.3, p99=4.0, n=1)  # between Linkerd and Istio
    return MeshConfig.objects.get(mesh_type="kuma").pk


def test_a_row_of_one_run_has_no_interval_and_no_rank(with_single: int) -> None:
    body = Client().get("/api/v1/leaderboards/http-1k").json()

    rows = {r["mesh_config_id"]: r for r in body["rows"]}
    single = rows[with_single]
    assert single["results"] == 1
    assert single["ci_low"] is None and single["ci_high"] is None
    assert single["rank"] is None and single["tied"] is False
    assert "one run" in single["interval_note"]
    assert body["rows"][-1]["mesh_config_id"] == with_single  # after the ranked rows
    stored = LeaderboardRow.objects.get(mesh_config_id=with_single)
    assert stored.ci_low == stored.ci_high == stored.median  # what the database holds


def test_one_run_neither_splits_nor_joins_the_ranking(with_single: int) -> None:
    board = selectors.leaderboard("http-1k", {})

    ranked = [(r.label, r.rank, r.tied) for r in board.rows if r.rank is not None]
    # The same ranks as without it: Linkerd first, Istio and Cilium tied second.
    assert ranked[0] == ("linkerd 2.16.0 mTLS", 1, False)
    assert {rank for _, rank, _ in ranked[1:]} == {2}
    assert all(tied for _, _, tied in ranked[1:])


def test_the_page_says_why_there_is_no_interval(with_single: int) -> None:
    html = Client().get("/leaderboards/http-1k").content.decode()

    row = re.search(rf'<tr id="config-{with_single}".*?</tr>', html, flags=re.S)
    assert row is not None
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0)))
    assert "no interval: one run" in cells and "n=1" in cells
    assert "—" in cells.split("kuma")[0]  # the rank cell
    median = LeaderboardRow.objects.get(mesh_config_id=with_single).median
    assert f"[{median:.2f}, {median:.2f}]" not in html
    data = re.search(
        r'<script id="leaderboard-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert data is not None
    chart = json.loads(data.group(1))
    i = chart["labels"].index("kuma 2.9.0 mTLS")
    assert chart["low"][i] is None and chart["high"][i] is None and chart["ranks"][i] == "—"


def test_the_badge_of_one_run_prints_no_plus_minus(with_single: int) -> None:
    one = Client().get("/badge/kuma/2.9.0/http-1k.svg").content.decode()
    many = Client().get("/badge/istio/1.24.1/http-1k.svg").content.decode()

    assert "(n=1)" in one and "±" not in one
    assert "±" in many


def test_the_home_page_shows_no_interval_for_one_run(org: Organization) -> None:
    pipeline.accept(org, config=KUMA, p50=1.3, p99=4.0, n=1)

    home = re.sub(r"<[^>]+>", " ", Client().get("/").content.decode())

    assert "no interval: one run" in home and "n=1" in home


def test_compare_shows_no_interval_for_one_run(with_single: Any) -> None:
    istio = MeshConfig.objects.get(mesh_type="istio").pk
    compare = Client().get("/compare", {"profile": "http-1k", "configs": f"{istio},{with_single}"})
    assert compare.status_code == 200
    assert "no interval: one run" in compare.content.decode()
    api = (
        Client()
        .get("/api/v1/compare", {"profile": "http-1k", "configs": f"{istio},{with_single}"})
        .json()
    )
    assert api["rows"][1]["ci_low"] is None
    assert api["tests"][0]["significant"] is False
