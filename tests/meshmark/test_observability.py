"""Request ids, structured logs and the Prometheus metrics (web and worker)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from ingest.models import Organization, Submission
from meshmark import metrics
from meshmark.middleware import JsonFormatter, RequestIdFilter

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def scrape(client: Client, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def sample(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


# --- Request ids ------------------------------------------------------------


@pytest.mark.django_db
def test_a_sane_request_id_from_the_client_is_echoed(client: Client) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a.2_b")
    assert response["X-Request-ID"] == "edge-7f3a.2_b"


@pytest.mark.django_db
@pytest.mark.parametrize("given", [None, "", "x" * 65, "has space", "inject\nheader", "ü"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_fresh_one(
    client: Client, given: str | None
) -> None:
    headers = {} if given is None else {"HTTP_X_REQUEST_ID": given}
    first = client.get("/healthz", **headers)["X-Request-ID"]
    second = client.get("/healthz", **headers)["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_its_request_id(
    client: Client, json_log: io.StringIO
) -> None:
    client.get("/no-such-page", HTTP_X_REQUEST_ID="req-42")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    by_logger = {line["logger"]: line for line in lines}
    # Django's own warning about the 404, and our access line.
    assert by_logger["django.request"]["request_id"] == "req-42"
    access = by_logger["meshmark.request"]
    assert access["request_id"] == "req-42"
    assert access["method"] == "GET"
    assert access["path"] == "/no-such-page"
    assert access["status"] == 404
    assert access["duration_ms"] >= 0
    assert access["level"] == "INFO"
    assert access["time"].endswith("+00:00")


def test_log_lines_outside_a_request_say_so(json_log: io.StringIO) -> None:
    logging.getLogger("meshmark.test").warning("no request here", extra={"figure": 3})
    line = json.loads(json_log.getvalue())
    assert line["request_id"] == "-"
    assert line["message"] == "no request here"
    assert line["figure"] == 3


def test_production_logs_are_json_lines_and_plain_text_can_be_chosen() -> None:
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('meshmark.test').warning('hello %s', 'there')"
    )
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "meshmark.settings",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
    }
    json_run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True
    )
    assert json_run.returncode == 0, json_run.stderr
    line = json.loads(json_run.stderr.strip().splitlines()[-1])
    assert (line["message"], line["level"], line["request_id"]) == ("hello there", "WARNING", "-")
    plain_run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "LOG_FORMAT": "plain"},
        capture_output=True,
        text=True,
    )
    assert plain_run.stderr.strip().endswith("WARNING meshmark.test [-] hello there")


# --- /metrics on the web side ----------------------------------------------


@pytest.mark.django_db
def test_metrics_count_each_request_by_method_route_and_status(client: Client) -> None:
    counted = sample(
        "meshmark_http_requests_total", method="GET", route="api/v1/profiles", status="200"
    )
    timed = sample(
        "meshmark_http_request_duration_seconds_count", method="GET", route="api/v1/profiles"
    )
    before = scrape(client)
    assert client.get("/api/v1/profiles").status_code == 200
    after = scrape(client)
    assert after[counted] == before.get(counted, 0) + 1
    assert after[timed] == before.get(timed, 0) + 1


@pytest.mark.django_db
def test_metrics_label_unknown_paths_and_methods_without_growing_series(client: Client) -> None:
    client.get(f"/no-such-page/{uuid.uuid4()}")
    brewed = client.generic("BREW", "/api/v1/profiles")
    after = scrape(client)
    unresolved = sample(
        "meshmark_http_requests_total", method="GET", route="<unresolved>", status="404"
    )
    other = sample(
        "meshmark_http_requests_total",
        method="OTHER",
        route="api/v1/profiles",
        status=str(brewed.status_code),
    )
    assert after[unresolved] >= 1
    assert after[other] >= 1
    assert not any("no-such-page" in str(labels) for _, labels in after)


@pytest.mark.django_db
def test_metrics_report_submissions_by_status(client: Client) -> None:
    org = Organization.objects.create(slug="metrics", name="Metrics")
    for n, status in enumerate(["received", "accepted", "accepted", "rejected"]):
        Submission.objects.create(
            organization=org,
            raw=b"{}",
            content_type="application/json",
            size=2,
            sha256=f"{n:064x}",
            content_digest=f"{n:064x}",
            status=status,
        )
    figures = scrape(client)
    assert figures[sample("meshmark_submissions", status="received")] == 1
    assert figures[sample("meshmark_submissions", status="processing")] == 0
    assert figures[sample("meshmark_submissions", status="accepted")] == 2
    assert figures[sample("meshmark_submissions", status="rejected")] == 1


@pytest.mark.django_db
def test_metrics_report_the_depth_of_the_celery_queue_in_redis(client: Client) -> None:
    queue = f"meshmark-test-metrics-{uuid.uuid4().hex}"
    high_priority = f"{queue}\x06\x169"
    broker = redis.Redis.from_url(REDIS_URL)
    broker.lpush(queue, "m1", "m2", "m3")
    broker.lpush(high_priority, "m4")
    try:
        with override_settings(CELERY_BROKER_URL=REDIS_URL, CELERY_TASK_DEFAULT_QUEUE=queue):
            figures = scrape(client)
    finally:
        broker.delete(queue, high_priority)
    assert figures[sample("meshmark_celery_queue_length", queue=queue)] == 4
    assert figures[sample("meshmark_celery_broker_up")] == 1


@pytest.mark.django_db
def test_metrics_still_answer_when_the_broker_is_down(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        figures = scrape(client)
    assert figures[sample("meshmark_celery_broker_up")] == 0
    assert not any(name == "meshmark_celery_queue_length" for name, _ in figures)


@pytest.mark.django_db
def test_metrics_have_no_queue_figures_in_eager_mode(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=""):
        figures = scrape(client)
    assert not any(name.startswith("meshmark_celery") for name, _ in figures)


@pytest.mark.django_db
def test_metrics_can_be_turned_off(client: Client) -> None:
    with override_settings(METRICS_ENABLED=False):
        assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_token_is_required_as_a_bearer_token_when_set(client: Client) -> None:
    with override_settings(METRICS_TOKEN="s3cret-scrape"):
        missing = client.get("/metrics")
        wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
        scheme = client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-scrape")
        right = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape")
    assert [missing.status_code, wrong.status_code, scheme.status_code] == [401, 401, 401]
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert right.status_code == 200
    assert b"meshmark_http_requests_total" in right.content


# --- Celery tasks and the worker's endpoints --------------------------------


@pytest.mark.django_db
def test_task_durations_are_observed_by_task_name_and_state(client: Client) -> None:
    from ingest.tasks import sweep_submissions

    metrics.connect_celery_signals()
    metrics.connect_celery_signals()  # connecting twice must not count twice
    counted = sample(
        "meshmark_task_duration_seconds_count", task="ingest.sweep_submissions", state="SUCCESS"
    )
    before = scrape(client).get(counted, 0)
    sweep_submissions.apply()
    assert scrape(client)[counted] == before + 1


@pytest.fixture
def worker_endpoints() -> Iterator[str]:
    server = metrics.start_worker_http_server(0, host="127.0.0.1")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_serves_healthz_and_its_task_metrics(worker_endpoints: str) -> None:
    health = httpx.get(f"{worker_endpoints}/healthz")
    assert health.status_code == 200
    assert health.json()["checks"]["database"] == "ok"
    scraped = httpx.get(f"{worker_endpoints}/metrics")
    assert scraped.status_code == 200
    assert "meshmark_task_duration_seconds" in scraped.text
    # The database figures belong to the web side's scrape, not to every worker's.
    assert "meshmark_submissions" not in scraped.text
    assert httpx.get(f"{worker_endpoints}/other").status_code == 404


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_reports_503_when_its_broker_is_unreachable(worker_endpoints: str) -> None:
    from meshmark.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
            health = httpx.get(f"{worker_endpoints}/healthz", timeout=30)
    finally:
        app.conf.broker_url = previous
    assert health.status_code == 503
    assert health.json()["checks"]["broker"].startswith("error")


def test_a_worker_asks_for_the_metrics_token_too(worker_endpoints: str) -> None:
    with override_settings(METRICS_TOKEN="s3cret-scrape"):
        denied = httpx.get(f"{worker_endpoints}/metrics")
        allowed = httpx.get(
            f"{worker_endpoints}/metrics", headers={"Authorization": "Bearer s3cret-scrape"}
        )
    assert (denied.status_code, allowed.status_code) == (401, 200)
