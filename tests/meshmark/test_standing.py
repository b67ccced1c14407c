"""Where a result stands in its group: on its page and on its organization's page."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ingest.models import LeaderboardEntry, Organization, Result
from tests import pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(org: Organization, other_org: Organization) -> None:
    pipeline.seed_corpus(org, other_org, runs=6)


def by_hand(result: Result) -> tuple[int, int]:
    """(percent better than, n) counted straight from the group's entries."""
    mine = LeaderboardEntry.objects.get(result=result)
    group = list(
        LeaderboardEntry.objects.filter(
            profile_id=mine.profile_id, environment_class=mine.environment_class,
            complete=mine.complete, listed=True, is_outlier=False,
        ).values_list("result_id", "value")
    )  # fmt: skip
    others = [v for rid, v in group if rid != result.pk]
    better = sum(1.0 for v in others if v < mine.value) + 0.5 * sum(
        1 for v in others if v == mine.value
    )
    return round(100 * better / len(others)), len(group)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_result_page_says_where_the_run_stands(corpus: None) -> None:
    for mesh in ("linkerd", "istio", "cilium"):
        result = Result.objects.filter(role="mesh", mesh_config__mesh_type=mesh).first()
        assert result is not None
        percent, n = by_hand(result)

        page = text(Client().get(f"/results/{result.pk}").content.decode())

        assert f"Better than {percent}% of the ranked runs of http-1k on" in page
        assert f"n = {n}" in page and n == 18


def test_the_organization_page_lists_its_runs_with_their_standing(corpus: None) -> None:
    html = Client().get("/organizations/acme").content.decode()

    for result in Result.objects.filter(role="mesh", organization__slug="acme"):
        percent, n = by_hand(result)
        row = re.search(rf'href="/results/{result.pk}".*?</tr>', html, flags=re.S)
        assert row is not None, result.pk
        assert f"better than {percent}% n={n}" in text(row.group(0))


def test_a_new_run_in_the_group_moves_the_standing(corpus: None, org: Organization) -> None:
    best = max(
        Result.objects.filter(role="mesh"),
        key=lambda r: LeaderboardEntry.objects.get(result=r).value,
    )
    assert "Better than 100%" in text(Client().get(f"/results/{best.pk}").content.decode())

    pipeline.accept(org, config=pipeline.LINKERD, p50=1.045, p99=3.2, n=50)  # a better run

    page = text(Client().get(f"/results/{best.pk}").content.decode())
    assert "Better than 100%" not in page
    assert f"Better than {by_hand(best)[0]}%" in page and "n = 19" in page


def test_the_organization_page_reads_each_group_once(
    corpus: None, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    Client().get("/organizations/acme")
    # organization, counts, results, their scores, entries, group states (cached scores)
    with django_assert_max_num_queries(6):
        assert Client().get("/organizations/acme").status_code == 200
