"""The pages in a real browser: headless Chromium (Debian's) driven by Playwright.

Seeds a corpus through the real ingestion pipeline, serves it with pytest-django's
live server, and checks that the home, leaderboard, result and compare pages draw
their charts, show the numbers the API gives, sort, fit a phone, and keep their
tables without JavaScript. Screenshots go to ``$ARTIFACTS_DIR`` (default
``artifacts/screenshots``).

Needs ``/usr/bin/chromium`` (Debian package ``chromium``) or ``CHROMIUM_PATH``;
never ``playwright install``. Django's ORM is used only before the browser starts:
Playwright's sync API leaves an asyncio loop marked as running on this thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.models import MeshConfig, Organization, Result
from tests.e2e.browsing import (
    DESKTOP,
    PHONE,
    Watcher,
    assert_chart_drawn,
    fmt,
    shoot,
)
from tests.pipeline import seed_corpus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def seeded(org: Organization, other_org: Organization) -> dict[str, Any]:
    seed_corpus(org, other_org, runs=5, histograms=True)
    result = Result.objects.filter(role="mesh", mesh_config__mesh_type="istio").order_by("pk")[0]
    return {
        "result": result.pk,
        "configs": {m.mesh_type: m.pk for m in MeshConfig.objects.all()},
    }


def check_leaderboard_matches_api(page: Any, api: dict[str, Any]) -> None:
    for row in api["rows"]:
        cells = page.locator(f'#leaderboard-table tr[data-config="{row["mesh_config_id"]}"] td')
        rank = f"={row['rank']}" if row["tied"] else str(row["rank"])
        assert cells.nth(1).inner_text().strip() == rank
        assert cells.nth(2).inner_text().strip() == row["label"]
        assert cells.nth(3).inner_text().split() == [
            fmt(row["median"], 2),
            f"[{fmt(row['ci_low'], 2)},",
            f"{fmt(row['ci_high'], 2)}]",
            f"n={row['results']}",
        ]
        assert cells.nth(7).inner_text().strip() == str(row["outliers"])


def labels_in_order(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#leaderboard-table tbody td.label").all_inner_texts()]


def test_the_pages_draw_their_charts_match_the_api_and_work_on_phones_and_without_js(
    seeded: dict[str, Any], live_server: Any, browser: Any, artifacts: Path
) -> None:
    base = live_server.url
    desktop = browser.new_context(viewport=DESKTOP)
    page = desktop.new_page()
    watcher = Watcher(page, base)

    # Home: the top of each board is the API's.
    page.goto(f"{base}/")
    board = page.request.get(f"{base}/api/v1/leaderboards/http-1k").json()
    top = page.locator('[data-profile="http-1k"] table.top tbody tr')
    assert top.count() == min(3, len(board["rows"]))
    first = top.nth(0).inner_text()
    assert board["rows"][0]["label"] in first and fmt(board["rows"][0]["median"], 2) in first
    shoot(page, artifacts, "home-desktop")

    # Leaderboard: chart, numbers, sorting without a reload, compare selection.
    page.goto(f"{base}/leaderboards/http-1k")
    assert_chart_drawn(page, "leaderboard-chart")
    check_leaderboard_matches_api(page, board)
    shoot(page, artifacts, "leaderboard-desktop")
    by_rank = labels_in_order(page)
    page.evaluate("window.__sameDocument = true")
    page.locator("#leaderboard-table thead th", has_text="Configuration").locator("a").click()
    assert labels_in_order(page) == sorted(by_rank, key=str.lower)
    page.locator("#leaderboard-table thead th", has_text="Configuration").locator("a").click()
    assert labels_in_order(page) == sorted(by_rank, key=str.lower, reverse=True)
    medians = page.locator("#leaderboard-table thead th", has_text="MeshMark")
    medians.locator("a").click()
    assert medians.get_attribute("aria-sort") == "descending"
    assert labels_in_order(page) == [r["label"] for r in board["rows"]]
    assert page.evaluate("window.__sameDocument") is True  # sorted in place, no reload
    assert "sort=-median" in page.url

    ids = seeded["configs"]
    page.check(f'input[name="configs"][value="{ids["linkerd"]}"]')
    page.check(f'input[name="configs"][value="{ids["istio"]}"]')
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url("**/compare?**")
    assert_chart_drawn(page, "curves-chart")
    compare = page.request.get(
        f"{base}/api/v1/compare?profile=http-1k&configs={ids['linkerd']},{ids['istio']}"
    ).json()
    test = compare["tests"][0]
    verdict = page.locator("article.test").inner_text()
    assert ("Significant difference" in verdict) is test["significant"]
    assert fmt(test["cliffs_delta"], 2) in verdict and fmt(test["median_diff"], 2) in verdict
    shoot(page, artifacts, "compare-desktop")

    # Result: the score is the API's; both latency charts drew.
    result_id = seeded["result"]
    page.goto(f"{base}/results/{result_id}")
    api_result = page.request.get(f"{base}/api/v1/results/{result_id}").json()
    score = fmt(api_result["meshmark"]["score"], 2)
    assert page.locator("#meshmark-score").inner_text().strip() == score
    assert_chart_drawn(page, "latency-chart")
    assert_chart_drawn(page, "histogram-chart")
    shoot(page, artifacts, "result-desktop")
    watcher.check()
    desktop.close()

    # A phone: nothing wider than the screen (wide tables scroll in their own box).
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    watcher = Watcher(page, base)
    pages = {
        "home": "/",
        "leaderboard": "/leaderboards/http-1k",
        "result": f"/results/{result_id}",
        "compare": f"/compare?profile=http-1k&configs={ids['linkerd']},{ids['istio']}",
    }
    for name, path in pages.items():
        page.goto(base + path)
        for canvas in page.locator("canvas[data-chart]").all():
            assert_chart_drawn(page, canvas.get_attribute("id"))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
        shoot(page, artifacts, f"{name}-phone")
    watcher.check()
    phone.close()

    # Without JavaScript: the tables are there, headings sort through the server.
    plain = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = plain.new_page()
    page.goto(f"{base}/leaderboards/http-1k")
    assert not page.locator("#leaderboard-chart").is_visible()
    check_leaderboard_matches_api(page, board)
    page.locator("#leaderboard-table thead th", has_text="Configuration").locator("a").click()
    page.wait_for_url("**sort=label**")
    assert labels_in_order(page) == sorted(by_rank, key=str.lower)
    shoot(page, artifacts, "leaderboard-nojs")
    page.goto(f"{base}/results/{result_id}")
    assert page.locator("#meshmark-score").inner_text().strip() == score
    assert page.locator("table.latency tbody tr").count() == 2
    plain.close()
