"""Faults with real processes: a Redis of the test's own that goes away, and workers that die.

Each test starts its own redis-server on a free port (so the machine's Redis is
never touched), real Celery workers against the test database, and asserts
the final counts in the database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from ingest import tasks, tokens
from ingest.models import Result, Submission
from meshmark.celery import app
from tests.e2e.processes import stop_group
from tests.factories import make_bundle

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    """A private redis-server that can be stopped and started again on the same port."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir = port, workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(_free_port(), tmp_path)
    server.start()
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = server.url, False
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield server
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        app._pool = None
        app.amqp._producer_pool = None
        server.stop()


def _worker(broker: str, log: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        **extra_env,
    }
    # The child keeps its own copy of the log's descriptor; ours closes right away.
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "meshmark", "worker", "--concurrency", "2",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def _wait_all_done(ids: list[str], timeout_s: float, log: Path) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        open_count = Submission.objects.filter(
            pk__in=ids, status__in=["received", "processing"]
        ).count()
        if open_count == 0:
            break
        time.sleep(0.5)
    counts: dict[str, int] = {}
    for status in Submission.objects.filter(pk__in=ids).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    assert set(counts) <= {"accepted", "rejected"}, (counts, log.read_text()[-3000:])
    return counts


def _client() -> Client:
    org = tokens.organization_create(slug="acme")
    _, secret = tokens.token_issue(organization=org)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _post(client: Client, i: int) -> Any:
    return client.post(
        "/api/v1/submissions",
        data=json.dumps(make_bundle(labels={"n": str(i)})),
        content_type="application/json",
    )


def test_uploads_keep_being_accepted_while_redis_is_down_and_the_backlog_drains(
    redis: Redis, tmp_path: Path
) -> None:
    client = _client()
    log = tmp_path / "worker.log"
    worker = _worker(redis.url, log)
    try:
        before = [_post(client, i) for i in range(5)]
        redis.stop()
        started = time.monotonic()
        during = [_post(client, 100 + i) for i in range(5)]
        outage_s = time.monotonic() - started
        redis.start()
        after = [_post(client, 200 + i) for i in range(5)]
        responses = before + during + after
        assert [r.status_code for r in responses] == [202] * 15
        assert outage_s < 30, f"uploads during the outage took {outage_s:.1f} s"
        ids = [r.json()["id"] for r in responses]
        assert Submission.objects.filter(pk__in=ids).count() == 15  # all stored
        # Nobody re-sends: the periodic sweep re-queues what the outage left behind.
        assert tasks.sweep_submissions(older_than_s=0) >= 5
        counts = _wait_all_done(ids, 90, log)
    finally:
        stop_group(worker)
    assert counts == {"accepted": 15}
    assert Result.objects.count() == 30  # one baseline + one mesh each, no duplicates


def test_a_worker_killed_mid_batch_leaves_nothing_lost_or_duplicated(
    redis: Redis, tmp_path: Path
) -> None:
    client = _client()
    ids = []
    for i in range(500):
        response = _post(client, i)
        assert response.status_code == 202
        ids.append(response.json()["id"])
    log = tmp_path / "worker.log"
    worker = _worker(redis.url, log)
    deadline = time.monotonic() + 60
    while Submission.objects.filter(pk__in=ids, status="accepted").count() < 50:
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    stop_group(worker, signal.SIGKILL)  # mid-batch: some tasks are claimed, none acknowledged
    interrupted = Submission.objects.filter(pk__in=ids, status="processing").count()
    done_at_kill = Submission.objects.filter(pk__in=ids, status="accepted").count()
    assert done_at_kill < 500, "the worker finished before it could be killed"
    # The new worker treats a claim older than 1 s as abandoned (production: 300 s).
    worker = _worker(redis.url, log, SUBMISSION_STALE_AFTER_S="1")
    try:
        # Claims of the killed worker go stale; the sweep hands them out again.
        time.sleep(1.5)
        tasks.sweep_submissions(older_than_s=1)
        counts = _wait_all_done(ids, 120, log)
    finally:
        stop_group(worker)
    assert counts == {"accepted": 500}, (counts, interrupted, done_at_kill)
    assert Result.objects.count() == 1000
    assert Result.objects.values("submission", "run_index").distinct().count() == 1000
