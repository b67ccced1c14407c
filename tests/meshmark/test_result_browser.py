"""``/results``: filters, pages cut by key, and bad filters named."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ingest import moderation
from ingest.models import Organization, Result
from meshmark import views_results
from tests import pipeline
from tests.factories import make_bundle, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(org: Organization, other_org: Organization) -> None:
    pipeline.seed_corpus(org, other_org, runs=4)
    lone = make_bundle(labels={"lone": "yes"})
    lone["runs"] = [make_run("mesh", p50=1.7, p99=5.0)]  # no baseline: kept, unranked
    pipeline.process_bundle(org, lone)


def listed(response: Any) -> list[int]:
    return [int(i) for i in re.findall(r'href="/results/(\d+)"', response.content.decode())]


def test_the_page_lists_mesh_runs_newest_first(corpus: None) -> None:
    response = Client().get("/results")

    assert response.status_code == 200
    expected = list(
        Result.objects.filter(role="mesh")
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
    )
    assert listed(response) == expected
    assert 'href="/meshes/linkerd"' in response.content.decode()


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"mesh": "istio"}, {"mesh_config__mesh_type": "istio"}),
        ({"organization": "globex"}, {"organization__slug": "globex"}),
        ({"ranked": "false"}, {"ranked": False}),
        (
            {"ranked": "true", "mesh": "cilium"},
            {"ranked": True, "mesh_config__mesh_type": "cilium"},
        ),
        ({"version": "2.16.0"}, {"mesh_config__version": "2.16.0"}),
        ({"profile": "http-1k", "mtls": "false"}, {"mesh_config__mtls": False}),
    ],
)
def test_each_filter_narrows_the_list(
    corpus: None, params: dict[str, str], where: dict[str, Any]
) -> None:
    expected = set(Result.objects.filter(role="mesh", **where).values_list("pk", flat=True))

    got = listed(Client().get("/results", params))

    assert expected and set(got) == expected


def test_all_runs_include_the_baselines(corpus: None) -> None:
    got = listed(Client().get("/results", {"role": "all"}))

    assert len(got) == Result.objects.count()
    assert "baseline" in Client().get("/results", {"role": "baseline"}).content.decode()


def test_pages_follow_one_another_without_gaps_or_repeats(
    corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views_results, "PAGE_SIZE", 5)
    seen: list[int] = []
    url: str | None = "/results?role=all"
    while url:
        response = Client().get(url.replace("&amp;", "&"))
        seen += listed(response)
        match = re.search(r'<a href="([^"]+)" rel="next"', response.content.decode())
        url = match.group(1) if match else None
    expected = list(Result.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert seen == expected and len(seen) > 10


@pytest.mark.parametrize(
    ("params", "field"),
    [({"mtls": "maybe"}, "mtls"), ({"since": "yesterday"}, "since"), ({"before": "x"}, "before"),
     ({"before": "999999"}, "before"), ({"ranked": "perhaps"}, "ranked")],
)  # fmt: skip
def test_a_bad_filter_is_named(corpus: None, params: dict[str, str], field: str) -> None:
    response = Client().get("/results", params)

    assert response.status_code == 400
    assert f"<code>{field}</code>" in response.content.decode()


def test_the_api_takes_the_ranked_filter_too(corpus: None) -> None:
    body = Client().get("/api/v1/results", {"ranked": "false"}).json()

    assert body["count"] == 1 and body["results"][0]["ranked"] is False


def test_the_results_page_queries_are_bounded(
    corpus: None, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    # the listing's state, results with their joins, their scores, profiles, environment classes
    with django_assert_max_num_queries(5):
        assert Client().get("/results", {"role": "all"}).status_code == 200
    with django_assert_max_num_queries(1):  # the state: the rendered page is cached
        assert Client().get("/results", {"role": "all"}).status_code == 200
    first = Result.objects.order_by("-created_at", "-id").first()
    assert first is not None
    with django_assert_max_num_queries(6):  # + the result the page starts before
        assert Client().get("/results", {"before": first.pk}).status_code == 200


def test_a_new_result_reaches_the_cached_results_page(corpus: None, org: Organization) -> None:
    before = listed(Client().get("/results"))

    pipeline.accept(org, config=pipeline.ISTIO, p50=1.6, p99=5.0, n=900)

    after = listed(Client().get("/results"))
    assert after[0] not in before and after[1:] == before[: len(after) - 1]


def test_an_unlisted_result_leaves_the_cached_results_page(corpus: None) -> None:
    shown = listed(Client().get("/results"))
    result = Result.objects.get(pk=shown[0])

    moderation.result_set_listed(result=result, listed=False, reason="bad run", actor=None)

    assert shown[0] not in listed(Client().get("/results"))
