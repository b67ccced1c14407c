"""Slow clients against the production process layout: gunicorn's sync workers behind the
deployment's own nginx configuration (deploy/k8s/nginx.conf.template), real sockets.

A client that sends its request head one line at a time holds a sync worker for as
long as it likes; gunicorn alone is taken down by as many such clients as it has
workers. Behind the buffering proxy, fifty of them do not stop /healthz from
answering. How fast it answers then is measured in bench/bench_slow_clients.py.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.common import bench_env, buffering_proxy, gunicorn, slow_clients

pytestmark = pytest.mark.slow

SLOW_SECONDS = 8.0
PATIENCE_S = 3.0
"""Far above /healthz's answer on an idle machine (milliseconds) and far below the slow
clients' hold (SLOW_SECONDS): an answer within it was not held up by them."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = bench_env(os.environ["DATABASE_URL"], LOG_LEVEL="ERROR")
    with gunicorn(env, workers=3) as base:
        yield base


def healthz_during_slow_clients(target: str, slow: int, via: str) -> list[float | None]:
    """Seconds each /healthz took (None: no answer within PATIENCE_S) while ``slow``
    slow clients hold connections to ``target``."""
    stop = threading.Event()
    holder = threading.Thread(target=slow_clients, args=(target, slow, SLOW_SECONDS, stop))
    holder.start()
    try:
        time.sleep(1.0)  # every slow client is connected and has begun its head
        took: list[float | None] = []
        deadline = time.monotonic() + SLOW_SECONDS - 3.0
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                ok = httpx.get(f"{via}/healthz", timeout=PATIENCE_S).status_code == 200
                took.append(time.perf_counter() - start if ok else None)
            except httpx.TimeoutException:
                took.append(None)
            time.sleep(0.1)
        return took
    finally:
        stop.set()
        holder.join()


def test_a_few_slow_clients_take_gunicorn_alone_down(server: str) -> None:
    # Why the proxy is there: 5 slow clients against 3 sync workers, no proxy.
    took = healthz_during_slow_clients(server, slow=5, via=server)
    assert None in took, took


def test_fifty_slow_clients_do_not_hold_up_healthz_behind_the_proxy(
    server: str, tmp_path: Path
) -> None:
    upstream = server.removeprefix("http://")
    with buffering_proxy(upstream, tmp_path) as proxy:
        took = healthz_during_slow_clients(proxy, slow=50, via=proxy)
    assert len(took) >= 10
    assert None not in took, took


def test_a_body_over_the_proxys_limit_is_an_api_problem_not_nginxs_page(
    server: str, tmp_path: Path
) -> None:
    # nginx refuses it before gunicorn sees it; an API client still gets problem+json.
    body = b" " * (34 * 1024 * 1024)
    with buffering_proxy(server.removeprefix("http://"), tmp_path) as proxy:
        api = httpx.post(f"{proxy}/api/v1/score", content=body, timeout=30)
        page = httpx.post(f"{proxy}/upload", content=body, timeout=30)
    assert api.status_code == 413
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["errors"] == [
        {"path": "", "rule": "max-size", "message": api.json()["errors"][0]["message"]}
    ]
    assert "33 MiB" in api.json()["detail"]
    assert page.status_code == 413 and "text/html" in page.headers["content-type"]
