"""An attacker's afternoon, replayed: each finding of the probe (issue 18) as a test.

Every input here was answered 500, stored where it could not be, or served back
unsafely before; each must now get a 4xx naming the field and the rule, or be
served harmlessly. The slow-client finding is tests/e2e/test_slow_clients.py.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.throttling import SimpleRateThrottle

from bench.probe import NUL_URLS, STORABLE, set_at
from ingest import tokens
from ingest.models import LeaderboardRow, Membership, Organization, Result, Submission
from meshmark.middleware import JsonFormatter
from tests.factories import make_bundle, multipart_form

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    cache.clear()


def post(api: Client, capture: Capture, doc: Any) -> Any:
    with capture(execute=True):
        return api.post("/api/v1/submissions", data=doc, content_type="application/json")


def rules(response: Any) -> set[tuple[str, str]]:
    return {(e["path"], e["rule"]) for e in response.json()["errors"]}


# CSV formula injection --------------------------------------------------------------------


def test_csv_exports_defuse_cells_a_spreadsheet_would_run(
    api: Client, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    doc["mesh_config"]["mesh_version"] = '=HYPERLINK("http://evil.example/","x")'
    for run in doc["runs"]:
        run["load_generator"] = {"name": "+cmd|' /C calc'!A0", "version": "@SUM(1+1)"}
    assert post(api, django_capture_on_commit_callbacks, doc).status_code == 202

    results = Client().get("/api/v1/results", {"format": "csv"}).content.decode()
    board = Client().get("/api/v1/leaderboards/http-1k", {"format": "csv"}).content.decode()
    for text in (results, board):
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                # Text a spreadsheet would run; a negative number is a number.
                if cell.startswith(("=", "+", "@", "\t", "\r")) or (
                    cell.startswith("-") and not _is_number(cell)
                ):
                    pytest.fail(f"formula cell {cell!r}")
    assert "'=HYPERLINK" in results and "'+cmd" in results
    assert "'=HYPERLINK" in board


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# Architecture names, headers -------------------------------------------------------------


@pytest.mark.parametrize("arch", ['x";filename=a.html;x="', "a\r\nX-Injected: 1"])
def test_an_architecture_that_is_not_a_plain_name_is_refused_at_the_door(
    api: Client, django_capture_on_commit_callbacks: Capture, arch: str
) -> None:
    doc = make_bundle()
    doc["environment"]["node"][0]["arch"] = arch
    response = post(api, django_capture_on_commit_callbacks, doc)
    assert response.status_code == 400
    assert ("environment.node[0].arch", "token") in rules(response)


def test_download_names_are_built_from_safe_tokens() -> None:
    from meshmark.exports import attachment

    header = attachment('meshmark-x";filename=a.html;x="\r\nX-Injected: 1.csv')
    assert header.count('"') == 2 and "\r" not in header and "\n" not in header
    assert ";" not in header.split("filename=", 1)[1]


# NUL bytes and control characters in queries ----------------------------------------------


@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_byte_in_a_path_or_query_is_a_400_naming_it(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert {e["rule"] for e in response.json()["errors"]} == {"no-control"}


# Numbers, depths and sizes that used to be 500s --------------------------------------------


def test_a_huge_limit_is_capped_and_a_huge_offset_refused() -> None:
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from meshmark.pagination import MAX_LIMIT, CappedPagination

    assert Client().get("/api/v1/results", {"limit": "9" * 30}).status_code == 200
    request = Request(APIRequestFactory().get("/", {"limit": "100000000"}))
    assert CappedPagination().get_limit(request) == MAX_LIMIT == 1000
    response = Client().get("/api/v1/results", {"offset": "9" * 30})
    assert response.status_code == 400 and ("offset", "invalid") in rules(response)


def test_the_score_preview_refuses_figures_it_cannot_compute_with() -> None:
    doc = make_bundle()
    doc["mesh_config"]["sidecar"]["cpu_mcores"] = 1e308
    response = Client().post("/api/v1/score", data=doc, content_type="application/json")
    assert response.status_code == 400
    assert ("mesh_config.sidecar.cpu_mcores", "max-value") in rules(response)
    doc = make_bundle()
    doc["runs"][0]["start_time"] = "0001-01-01T00:00:00+14:00"
    response = Client().post("/api/v1/score", data=doc, content_type="application/json")
    assert response.status_code == 400
    assert ("runs[0].start_time", "datetime-range") in rules(response)


def test_a_preview_body_over_its_limit_is_a_413_problem() -> None:
    from meshmark.apis import PREVIEW_MAX_BYTES

    response = Client().post(
        "/api/v1/score", data=b" " * (PREVIEW_MAX_BYTES + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"


def test_a_bulk_body_nested_too_deep_is_a_400(api: Client) -> None:
    response = api.post(
        "/api/v1/submissions/bulk", data=b"[" * 3000, content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_a_form_with_a_thousand_fields_is_a_400_problem_not_an_html_page(api: Client) -> None:
    fields = {f"f{i}": "x" for i in range(1000)}
    body, content_type = multipart_form(fields, {"baseline": [("b", b"{}")]})
    response = api.post("/api/v1/submissions", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


# Values the database cannot hold -----------------------------------------------------------


@pytest.mark.parametrize(("path", "value", "rule"), STORABLE)
def test_values_the_database_cannot_hold_are_refused_at_the_door(
    api: Client, django_capture_on_commit_callbacks: Capture, path: str, value: Any, rule: str
) -> None:
    doc = make_bundle()
    set_at(doc, path, value)
    response = post(api, django_capture_on_commit_callbacks, doc)
    assert response.status_code == 400, response.content
    assert (path, rule) in rules(response)
    stored = Submission.objects.get(pk=response.json()["submission"]["id"])
    assert stored.status == "rejected" and not Result.objects.exists()


def test_a_nul_byte_in_a_forms_environment_is_refused_at_the_door(
    api: Client, samples: Any
) -> None:
    data = (samples / "fortio" / "fortio_0.8.1_http_golden.json").read_bytes()
    body, content_type = multipart_form(
        {"profile": "http-1k", "mesh_type": "istio", "environment": '{"cni": "a\\u0000"}'},
        {"baseline": [("b", data)], "mesh": [("m", data)]},
    )
    response = api.post("/api/v1/submissions", data=body, content_type=content_type)
    assert response.status_code == 400
    assert ("environment.cni", "no-nul") in rules(response)


# Replays across organizations -------------------------------------------------------------


def test_another_organization_replaying_public_bytes_is_refused_naming_the_original(
    api: Client, org: Organization, django_capture_on_commit_callbacks: Capture
) -> None:
    doc = make_bundle()
    first = post(api, django_capture_on_commit_callbacks, doc).json()["id"]
    raw = Client().get(f"/submissions/{first}/raw").content
    other = tokens.organization_create(slug="globex")
    _, secret = tokens.token_issue(organization=other)
    replay = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    with django_capture_on_commit_callbacks(execute=True):
        response = replay.post("/api/v1/submissions", data=raw, content_type="application/json")
    assert response.status_code == 409, response.content
    assert rules(response) == {("", "published-elsewhere")}
    assert first in response.json()["errors"][0]["message"]
    row = LeaderboardRow.objects.get()
    assert (row.results, row.submissions, row.organizations) == (1, 1, 1)


# The web upload ---------------------------------------------------------------------------


def test_the_web_upload_keeps_to_the_submission_size_limit(org: Organization) -> None:
    user = User.objects.create_user("ana", password="a-long-password-1")
    Membership.objects.create(organization=org, user=user)
    browser = Client()
    browser.force_login(user)
    with override_settings(SUBMISSION_MAX_BYTES=10_000):
        response = browser.post(
            "/upload",
            data=b"x" * 200_000,
            content_type="multipart/form-data; boundary=b",
        )
    assert response.status_code == 413
    assert not Submission.objects.exists()


# Throttles ---------------------------------------------------------------------------------


def test_guessing_tokens_is_throttled_per_address() -> None:
    with override_settings(AUTH_FAILURES_PER_MINUTE=5):
        codes = [
            Client(HTTP_AUTHORIZATION=f"Bearer mm_deadbee{i % 10}_{'x' * 40}")
            .post("/api/v1/submissions", data={}, content_type="application/json")
            .status_code
            for i in range(8)
        ]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


# Like every transactional test here, it restores what it flushes (the seeded profiles).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_anonymous_requests_never_exceed_the_limit(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "5/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(lambda _: client.get(f"{live_server.url}/api/v1/profiles").status_code,
                     range(40))
        )  # fmt: skip
    assert codes.count(200) == 5 and codes.count(429) == 35


def test_wrong_passwords_are_throttled() -> None:
    User.objects.create_user("ana", password="a-long-password-1")
    browser = Client()
    with override_settings(LOGIN_FAILURES_PER_WINDOW=3):
        codes = [
            browser.post("/accounts/login/", {"username": "ana", "password": "nope"}).status_code
            for _ in range(5)
        ]
        right = browser.post(
            "/accounts/login/", {"username": "ana", "password": "a-long-password-1"}
        )
    assert codes == [200, 200, 200, 429, 429]
    assert right.status_code == 429  # the budget holds even for the right password


def test_password_reset_is_not_offered_without_mail() -> None:
    assert Client().post("/accounts/password_reset/", {"email": "a@b.c"}).status_code == 404


# Logs, metrics, badges ---------------------------------------------------------------------


def test_a_token_in_a_url_never_reaches_the_json_log() -> None:
    from django.test import RequestFactory

    request = RequestFactory().post("/api/v1/submissions?access_token=mm_deadbeef_SECRETvalue1")
    record = logging.LogRecord("django.request", logging.WARNING, "", 0, "Unauthorized", (), None)
    record.request = request
    line = JsonFormatter().format(record)
    assert "SECRETvalue1" not in line and "access_token" not in line
    assert json.loads(line)["request"] == "POST /api/v1/submissions"


def test_metrics_need_a_token_in_production_unless_declared_public() -> None:
    with override_settings(METRICS_PUBLIC=False, METRICS_TOKEN=""):
        assert Client().get("/metrics").status_code == 401
    with override_settings(METRICS_PUBLIC=True, METRICS_TOKEN=""):
        assert Client().get("/metrics").status_code == 200


def test_a_badge_is_only_drawn_for_a_standard_profile_and_a_known_mesh() -> None:
    assert Client().get("/badge/istio/1.24.1/http-1k.svg").status_code == 200
    assert Client().get("/badge/istio/1.24.1/anything you like.svg").status_code == 404
    assert Client().get("/badge/evil/1.24.1/http-1k.svg").status_code == 404
