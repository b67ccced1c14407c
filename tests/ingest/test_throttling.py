"""Throttling: per token and per client address, counted in one shared cache (Redis)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from rest_framework.throttling import SimpleRateThrottle

from ingest import auth, tokens
from ingest.models import ApiToken, Organization, Submission

from .conftest import make_bundle, post_json

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
}
GENEROUS = "100000/minute"


def rates(**scopes: str) -> dict[str, str]:
    return {"submissions": GENEROUS, "submissions_ip": GENEROUS, "anon": GENEROUS, **scopes}


@pytest.fixture(autouse=True)
def fresh_counts() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def submit(client: Client, n: int, **extra: Any) -> Any:
    return post_json(client, make_bundle(labels={"n": str(n)}), **extra)


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert 0 < int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["status"] == 429 and body["title"] == "Too many requests"


def evaluate_in_another_process(token_pk: int, address: str) -> str:
    """One throttle evaluation by a separate Python process sharing only Redis."""
    code = (
        "import sys, django; django.setup()\n"
        "from rest_framework.request import Request\n"
        "from rest_framework.test import APIRequestFactory\n"
        "from ingest.auth import SubmissionRateThrottle\n"
        "from ingest.models import ApiToken\n"
        "request = Request(APIRequestFactory().post('/', REMOTE_ADDR=sys.argv[2]))\n"
        "request.auth = ApiToken(pk=int(sys.argv[1]))\n"
        "throttle = SubmissionRateThrottle()\n"
        "print(throttle.allow_request(request, None), throttle.wait())\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "meshmark.settings",
        "CACHE_URL": REDIS_URL,
        "THROTTLE_SUBMISSIONS": "2/minute",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code, str(token_pk), address],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.django_db
def test_processes_sharing_redis_share_a_tokens_count(
    api: Client, token: tuple[ApiToken, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates(submissions="2/minute"))
    address = f"198.51.100.{secrets.randbelow(250) + 1}"
    with override_settings(CACHES=REDIS_CACHE):
        key = auth.SubmissionRateThrottle.cache_format % {
            "scope": "submissions",
            "ident": f"token:{token[0].pk}",
        }
        cache.clear()
        try:
            assert evaluate_in_another_process(token[0].pk, address).startswith("True ")
            assert submit(api, 1).status_code == 202  # this process: the second request
            allowed, wait = evaluate_in_another_process(token[0].pk, address).split()
            assert (allowed, 0 < float(wait) <= 60) == ("False", True)
            assert_throttled(submit(api, 2))
            # All four requests were counted, from two processes, in one counter: the raw
            # counts of this window and the last (peek_window weighs the last one by the
            # part of the period left, so a test that straddles a minute would see 3.99).
            current, previous, _, _ = auth._windows(key, 60)
            assert int(cache.get(current) or 0) + int(cache.get(previous) or 0) == 4
        finally:
            cache.clear()
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_one_address_shares_one_submission_budget_across_tokens(
    api: Client, org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates(submissions_ip="2/minute"))
    _, secret = tokens.token_issue(organization=org, name="second")
    second = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert submit(api, 1).status_code == 202
    assert submit(second, 2).status_code == 202
    assert_throttled(submit(second, 3))
    # Another address still gets in.
    assert submit(second, 4, REMOTE_ADDR="203.0.113.9").status_code == 202
    assert Submission.objects.count() == 3


@pytest.mark.django_db
def test_a_forwarded_for_header_is_ignored_without_a_proxy_count(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates(submissions_ip="1/minute"))
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    assert submit(api, 1, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 202
    # A new forged address per request does not buy a new budget.
    assert_throttled(submit(api, 2, HTTP_X_FORWARDED_FOR="192.0.2.2"))


@pytest.mark.django_db
def test_behind_one_proxy_the_address_it_appended_is_counted(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates(submissions_ip="1/minute"))
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        first = submit(api, 1, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5")
        # The client's own (forgeable) entries on the left change nothing.
        forged = submit(api, 2, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.5")
        other = submit(api, 3, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.6")
    assert first.status_code == 202
    assert_throttled(forged)
    assert other.status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/profiles", "/api/v1/results", "/api/schema/"])
def test_anonymous_reads_are_throttled_per_address(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates(anon="2/minute"))
    client = Client()
    assert [client.get(path).status_code for _ in range(2)] == [200, 200]
    assert_throttled(client.get(path))
    assert client.get(path, REMOTE_ADDR="203.0.113.7").status_code == 200


@pytest.mark.django_db
def test_submissions_go_through_when_the_throttle_cache_is_down(
    api: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates(submissions="1/minute"))
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=unreachable):
        codes = [submit(api, n).status_code for n in range(2)]
    assert codes == [202, 202]
    assert "cache is unreachable" in caplog.text


def test_production_without_a_shared_cache_warns_at_every_command() -> None:
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(DEBUG=False, CACHES=local):
        (warning,) = auth.throttle_cache_is_shared(None)
    assert warning.id == "ingest.W001"
    assert "CACHE_URL" in str(warning.hint)
    with override_settings(DEBUG=False, CACHES=REDIS_CACHE):
        assert auth.throttle_cache_is_shared(None) == []
    with override_settings(DEBUG=True, CACHES=local):
        assert auth.throttle_cache_is_shared(None) == []
