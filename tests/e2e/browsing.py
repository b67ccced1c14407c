"""What the browser tests share: Chromium's settings, a request watcher, chart checks,
screenshots. Fixtures (``browser``, ``artifacts``) are in ``conftest.py``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.template.defaultfilters import floatformat

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PAINTED = """(canvas) => {
  const {width, height} = canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let painted = 0;
  const colours = new Set();
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] === 0) continue;
    painted++;
    colours.add((pixels[i] >> 4) << 8 | (pixels[i + 1] >> 4) << 4 | pixels[i + 2] >> 4);
  }
  return {fraction: painted / (width * height), colours: colours.size};
}"""


def fmt(value: float, digits: int) -> str:
    """A number as the pages print it."""
    return str(floatformat(value, digits))


class Watcher:
    """Records what a page asks for and complains about: no CDN, no fetches, no errors."""

    def __init__(self, page: Any, origin: str) -> None:
        self.origin = origin
        self.foreign: list[str] = []
        self.fetches: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))

    def _request(self, request: Any) -> None:
        if not request.url.startswith(self.origin) and not request.url.startswith("data:"):
            self.foreign.append(request.url)
        if request.resource_type in {"xhr", "fetch"}:
            self.fetches.append(request.url)

    def check(self) -> None:
        assert self.foreign == [], f"requests left the server: {self.foreign}"
        assert self.fetches == [], f"pages must not fetch their data: {self.fetches}"
        assert self.errors == [], self.errors


def assert_chart_drawn(page: Any, canvas_id: str) -> None:
    canvas = page.locator(f"canvas#{canvas_id}")
    canvas.wait_for(state="visible")
    page.wait_for_selector(f'canvas#{canvas_id}[data-chart-ready="true"]', timeout=10_000)
    painted = canvas.evaluate(PAINTED)
    assert painted["fraction"] > 0.01 and painted["colours"] > 3, (canvas_id, painted)


def shoot(page: Any, artifacts: Path, name: str) -> None:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
