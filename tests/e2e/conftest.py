"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, a screenshot folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Not skipped when missing: CI installs playwright (dev extras) and Debian's chromium.
import playwright.sync_api as playwright_api
import pytest

from tests.e2e.browsing import CHROMIUM, CHROMIUM_ARGS, ROOT


@pytest.fixture
def artifacts() -> Path:
    directory = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "artifacts" / "screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
        )
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
