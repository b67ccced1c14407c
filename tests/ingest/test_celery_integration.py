"""A real Celery worker, fed through real Redis, processes submissions end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client

from ingest import tokens
from ingest.models import Result, Submission
from meshmark.celery import app

from .conftest import make_bundle, post_json

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WAIT_S = 90


def _reset_pool() -> None:
    # Connections made for the previous broker URL must not be reused.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def broker() -> Iterator[str]:
    redis.Redis.from_url(BROKER).flushdb()
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = BROKER
    app.conf.task_always_eager = False
    _reset_pool()
    try:
        yield BROKER
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        _reset_pool()
        redis.Redis.from_url(BROKER).flushdb()


@pytest.fixture
def worker(broker: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": broker}
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "meshmark",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_until_done(ids: list[str], log: Path) -> dict[str, str]:
    deadline = time.monotonic() + WAIT_S
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = {
            str(k): v for k, v in Submission.objects.filter(pk__in=ids).values_list("pk", "status")
        }
        if all(s in ("accepted", "rejected") for s in statuses.values()):
            return statuses
        time.sleep(0.25)
    pytest.fail(f"not processed within {WAIT_S}s: {statuses}\n{log.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_processes_submissions_through_redis(
    worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    org = tokens.organization_create(slug="acme")
    _, secret = tokens.token_issue(organization=org)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    ids = []
    for i in range(8):
        doc: dict[str, Any] = make_bundle(labels={"n": str(i)})
        if i == 7:
            doc["profile"] = "no-such-profile"
        response = post_json(client, doc)
        assert response.status_code == 202, response.content
        assert response.json()["status"] == "received"  # queued, not run inline
        ids.append(response.json()["id"])
    statuses = _wait_until_done(ids, tmp_path / "worker.log")
    assert list(statuses.values()).count("accepted") == 7
    assert statuses[ids[7]] == "rejected"
    assert Result.objects.count() == 14
    assert Submission.objects.filter(attempts=1).count() == 8
    rejected = Submission.objects.get(pk=ids[7])
    assert "known-profile" in {e["rule"] for e in rejected.errors}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_bulk_upload_is_processed_in_batches_by_real_workers(
    worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    from ingest.models import LeaderboardRow, PendingRefresh

    org = tokens.organization_create(slug="acme")
    _, secret = tokens.token_issue(organization=org)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    lines = [
        json.dumps(make_bundle(labels={"n": str(i)}), separators=(",", ":")) for i in range(120)
    ]
    lines[5] = lines[5].replace('"profile":"http-1k"', '"profile":"no-such-profile"')

    response = client.post(
        "/api/v1/submissions/bulk", data="\n".join(lines), content_type="application/x-ndjson"
    )

    assert response.status_code == 202, response.content
    ids = [item["id"] for item in response.json()["items"]]
    assert len(set(ids)) == 120
    statuses = _wait_until_done(ids, tmp_path / "worker.log")
    assert list(statuses.values()).count("accepted") == 119
    assert statuses[ids[5]] == "rejected"
    assert Result.objects.count() == 238
    # Two worker processes took batches of 50 concurrently: every mesh run still
    # reached its row exactly once, with no refresh left pending.
    deadline = time.monotonic() + 10
    while PendingRefresh.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not PendingRefresh.objects.exists()
    assert sum(LeaderboardRow.objects.values_list("results", flat=True)) == 119


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_burst_of_single_uploads_queues_one_task_and_leaves_no_no_ops(
    broker: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from ingest import processing

    org = tokens.organization_create(slug="acme")
    _, secret = tokens.token_issue(organization=org)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    queue = redis.Redis.from_url(broker)
    burst = 2 * processing.BACKLOG_BATCH + 20
    ids = []
    for i in range(burst):
        response = post_json(client, make_bundle(labels={"n": str(i)}))
        assert response.status_code == 202, response.content
        ids.append(response.json()["id"])
    # No worker yet: the first upload queued a task, the others found it waiting.
    assert queue.llen("celery") == 1

    request.getfixturevalue("worker")
    statuses = _wait_until_done(ids, tmp_path / "worker.log")
    assert set(statuses.values()) == {"accepted"}
    assert Result.objects.count() == 2 * burst
    assert Submission.objects.filter(attempts=1).count() == burst
    # Each task took a full batch and queued the next while others waited: three tasks,
    # none finding its work done, and nothing left queued behind them.
    deadline = time.monotonic() + 10
    log = tmp_path / "worker.log"
    received = re.compile(r"Task ingest\.process_submission\[[^\]]+\] received")
    while log.read_text().count("succeeded in") < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(received.findall(log.read_text())) == 3, log.read_text()[-3000:]
    assert queue.llen("celery") == 0
    assert not queue.exists("meshmark:ingest:processing-task-waiting")


def test_the_waiting_task_key_lets_one_publisher_in_until_released(broker: str) -> None:
    from ingest import queueing

    assert queueing.waiting_claim(app.conf) is True
    assert queueing.waiting_claim(app.conf) is False
    ttl = redis.Redis.from_url(broker).ttl(queueing.KEY)
    assert 0 < ttl <= queueing.KEY_TTL_S
    queueing.waiting_release(app.conf)
    assert queueing.waiting_claim(app.conf) is True
    app.conf.task_always_eager = True  # no broker in between: every upload publishes
    assert queueing.waiting_claim(app.conf) is True
    assert queueing.waiting_claim(app.conf) is True
