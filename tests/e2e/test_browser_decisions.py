"""The decision pages in a real browser: a mesh page, the cost page and the token page.

A corpus with a planted regression (Istio 1.24.1 slower than 1.23.2), real Gateway
API conformance reports, and a member of an organization, all through the real
pipeline; then headless Chromium checks that the mesh page draws its four charts,
says "regression" where the API does and links to the leaderboard row; that the
cost page takes a fleet and shows the API's figures, cheapest first; and that a
member creates a token, sees it once, submits with it, and revokes it. Screenshots
go to ``$ARTIFACTS_DIR`` (default ``artifacts/screenshots``). As in test_browser.py,
the ORM is used only before the browser starts.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from ingest.models import Membership, MeshConfig, Organization, Result
from tests.e2e.browsing import DESKTOP, PHONE, Watcher, assert_chart_drawn, fmt, shoot
from tests.factories import make_bundle
from tests.pipeline import accept
from tests.smp.test_conformance import REPORTS

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "a-long-test-password-1"


def runs(org: Organization, version: str, p50: float, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    config = {"mesh_type": "istio", "mesh_version": version, "mtls_enabled": True}
    for i in range(n):
        mesh_p50 = float(p50 * rng.normal(1.0, 0.02))
        accept(org, config=config, p50=mesh_p50, p99=mesh_p50 * 3.2, n=seed * 100 + i)


@pytest.fixture
def world(org: Organization) -> dict[str, Any]:
    runs(org, "1.22.3", 1.55, 6, seed=1)
    runs(org, "1.23.2", 1.55, 6, seed=2)
    runs(org, "1.24.1", 2.10, 6, seed=3)  # the planted regression
    linkerd = {"mesh_type": "linkerd", "mesh_version": "2.16.0", "mtls_enabled": True}
    for i in range(6):
        accept(org, config=linkerd, p50=1.1 + i / 100, p99=3.3, n=500 + i)
    reports = [REPORTS / "v1.2.1/istio-istio/experimental-1.24-default-report.yaml",
               REPORTS / "v1.1.0/istio-istio/experimental-1.22-default-report.yaml"]  # fmt: skip
    call_command("import_conformance", *reports, organization=org.slug, stdout=io.StringIO())
    user = User.objects.create_user("ada", password=PASSWORD)
    Membership.objects.create(organization=org, user=user)
    regressed = MeshConfig.objects.get(mesh_type="istio", version="1.24.1")
    result = Result.objects.filter(role="mesh", mesh_config=regressed).order_by("pk").first()
    assert result is not None
    return {"regressed": regressed.pk, "result": result.pk}


def test_the_mesh_page_draws_its_trend_flags_the_regression_and_links_the_rows(
    world: dict[str, Any], live_server: Any, browser: Any, artifacts: Path
) -> None:
    base = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watcher = Watcher(page, base)

    page.goto(f"{base}/meshes/istio")
    api = page.request.get(f"{base}/api/v1/meshes/istio/trend").json()
    [group] = api["groups"]
    [series] = group["series"]
    for canvas in page.locator("section.trend canvas[data-chart]").all():
        assert_chart_drawn(page, canvas.get_attribute("id"))
    assert page.locator("section.trend canvas[data-chart]").count() == 4
    for step in series["steps"]:
        row = page.locator(f'tr[data-version="{step["to_version"]}"]')
        words = {"regression": "regression", "no-change": "no detectable change"}
        assert words[step["verdict"]] in row.inner_text()
        assert fmt(step["median_diff"], 2).lstrip("-") in row.inner_text()
    assert [s["verdict"] for s in series["steps"]] == ["no-change", "regression"]
    assert "HTTP ✓" in page.locator('tr[data-version="1.24.1"]').inner_text()
    page.locator("#capabilities").scroll_into_view_if_needed()
    shoot(page, artifacts, "mesh-desktop")

    page.locator('tr[data-version="1.24.1"] th a').click()
    page.wait_for_url(f"**/leaderboards/http-1k?**#config-{world['regressed']}")
    target = page.locator(f"#config-{world['regressed']}")
    assert target.is_visible() and "istio 1.24.1" in target.inner_text()
    feed = page.request.get(f"{base}/meshes/istio/regressions.atom")
    assert feed.ok and "1.24.1 (mTLS on): MeshMark" in feed.text()
    watcher.check()
    context.close()

    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = phone.new_page()
    page.goto(f"{base}/meshes/istio")
    for canvas in page.locator("canvas[data-chart]").all():
        assert_chart_drawn(page, canvas.get_attribute("id"))
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the mesh page is {overflow}px wider than a phone"
    shoot(page, artifacts, "mesh-phone")
    phone.close()

    plain = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = plain.new_page()
    page.goto(f"{base}/meshes/istio")
    assert page.locator("table.trend-table tbody tr").count() == 3
    plain.close()


def test_the_cost_page_takes_a_fleet_and_shows_the_apis_figures(
    world: dict[str, Any], live_server: Any, browser: Any, artifacts: Path
) -> None:
    base = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watcher = Watcher(page, base)

    page.goto(f"{base}/results/{world['result']}")
    page.locator("#cost-link").click()
    page.wait_for_url("**/cost?**")
    assert page.locator("#cost-table tbody tr").count() == 1  # pre-filled with this config

    page.goto(f"{base}/cost")
    assert page.locator(".cost-form .example").count() == 5
    fleet = {"rps": "25000", "pods": "300", "clusters": "2", "usd_per_vcpu_hour": "0.05",
             "usd_per_gib_hour": "0.007"}  # fmt: skip
    for name, value in fleet.items():
        page.fill(f"#c-{name}", value)
    page.get_by_role("button", name="Project").click()
    page.wait_for_url("**rps=25000**")
    assert page.locator(".cost-form .example").count() == 0
    api = page.request.get(f"{base}/api/v1/cost?" + "&".join(f"{k}={v}" for k, v in
                           fleet.items())).json()  # fmt: skip
    rows = page.locator("#cost-table tbody tr")
    assert rows.count() == len(api["configurations"]) == 4
    for i, config in enumerate(api["configurations"]):
        text = rows.nth(i).inner_text()
        usd = config["usd_per_month"]
        assert f"${fmt(usd['median'], 0)}" in text and f"${fmt(usd['low'], 0)}" in text
        assert fmt(config["vcpu"]["median"], 2) in text
    medians = [c["usd_per_month"]["median"] for c in api["configurations"]]
    assert medians == sorted(medians)
    assert page.locator(".assumptions li").count() == len(api["assumptions"])
    shoot(page, artifacts, "cost-desktop")
    watcher.check()

    # A figure the browser's own check would stop: the server names it (400, by design).
    page.fill("#c-rps", "-3")
    page.evaluate("document.querySelector('#c-rps').removeAttribute('min')")
    page.get_by_role("button", name="Project").click()
    assert "rps" in page.locator(".problem").inner_text()
    context.close()


def test_a_member_creates_sees_once_uses_and_revokes_a_token(
    world: dict[str, Any], live_server: Any, browser: Any, artifacts: Path
) -> None:
    base = live_server.url
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    watcher = Watcher(page, base)

    page.goto(f"{base}/organizations/acme/tokens")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/organizations/acme/tokens")

    page.fill("#id_name", "ci pipeline")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text().strip()
    assert secret.startswith("mm_")
    shoot(page, artifacts, "tokens-issued")

    bundle = json.dumps(make_bundle(labels={"from": "browser"}))
    submitted = page.request.post(f"{base}/api/v1/submissions", data=bundle, headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})  # fmt: skip
    assert submitted.status == 202

    page.reload()  # a GET: the secret is not shown again
    assert page.locator("#new-token").count() == 0
    row = page.locator("#token-table tbody tr", has_text="ci pipeline")
    assert secret.split("_")[1] in row.inner_text()  # its prefix
    assert "never" not in row.inner_text()  # last use recorded
    row.get_by_role("button", name="Revoke ci pipeline").click()
    page.wait_for_url("**/organizations/acme/tokens")
    assert "revoked" in page.locator("#token-table tbody tr", has_text="ci pipeline").inner_text()
    history = page.locator("#token-history").inner_text().lower()
    assert "token revoked" in history and "by ada" in history
    shoot(page, artifacts, "tokens-revoked")
    refused = page.request.post(f"{base}/api/v1/submissions", data=bundle, headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})  # fmt: skip
    assert refused.status == 401
    watcher.check()
    context.close()
