"""The capacity board and a capacity result's trial chart in a real browser (headless
Chromium driven by Playwright), from runs stored through the real pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.models import Organization, Result
from tests.e2e.browsing import DESKTOP, PHONE, Watcher, assert_chart_drawn, shoot
from tests.ingest.test_new_kinds import capacity_bundle
from tests.pipeline import process_bundle

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def capacity_result(org: Organization) -> int:
    for n, (base, mesh) in enumerate([(4000, 3000), (4100, 3100)]):
        process_bundle(org, capacity_bundle(base, mesh, n))
    return Result.objects.filter(role="mesh").order_by("pk")[0].pk


def test_the_capacity_trials_are_charted_and_the_board_shows_the_capacity_kept(
    capacity_result: int, live_server: Any, browser: Any, artifacts: Path
) -> None:
    base = live_server.url
    for viewport, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        watcher = Watcher(page, base)
        page.goto(f"{base}/results/{capacity_result}")
        assert_chart_drawn(page, "capacity-chart")
        # Five trials a phase in the table, and the capacity kept above them.
        assert page.locator("#trials-table tbody tr").count() == 10
        assert page.locator("#capacity-kept .value").inner_text().strip() == "75%"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the result page is {overflow}px wider than the screen"
        shoot(page, artifacts, f"capacity-result-{name}")
        page.goto(f"{base}/capacity/http-capacity-p99-10ms")
        cells = page.locator("#capacity-table tbody tr").first.locator("td")
        assert cells.nth(1).inner_text().split()[0] == "75%"
        shoot(page, artifacts, f"capacity-board-{name}")
        watcher.check()
        context.close()
