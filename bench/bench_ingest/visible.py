"""Phase 3: time from a 202 to the result visible in its leaderboard row."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import psycopg

from bench.bench_ingest.bodies import Pool
from bench.bench_ingest.settings import POLL_S

VISIBLE_POLL = """
SELECT s.id, s.status,
       (SELECT max(id) FROM meshmark_pendingrefresh),
       (SELECT min(id) FROM meshmark_pendingrefresh)
FROM ingest_submission s WHERE s.id = ANY(%s)
"""


@dataclass
class Visibility:
    """Per submission: t_202 on the client; visible at the first poll where it is accepted and
    every refresh mark that existed when it was first seen accepted is gone (its own marks
    among them: they are written in its accepting transaction)."""

    db_url: str
    t202: dict[str, float] = field(default_factory=dict)
    seen_max_mark: dict[str, int] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def add(self, submission_id: str, t202: float) -> None:
        with self.lock:
            self.t202[submission_id] = t202

    def pending(self) -> list[str]:
        with self.lock:
            return [s for s in self.t202 if s not in self.delays]

    def poll_forever(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not self.stop.is_set():
                self.poll(conn)
                time.sleep(POLL_S)

    def poll(self, conn: psycopg.Connection[Any]) -> None:
        ids = self.pending()
        if not ids:
            return
        now = time.time()
        for sid, status, max_mark, min_mark in conn.execute(VISIBLE_POLL, ([*ids],)):
            key = str(sid)
            if status == "rejected":
                with self.lock:
                    self.delays[key] = float("nan")
                    self.rejected += 1
            elif status == "accepted":
                seen = self.seen_max_mark.setdefault(key, max_mark or 0)
                if min_mark is None or min_mark > seen:
                    with self.lock:
                        self.delays[key] = now - self.t202[key]

    def wait_all(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.pending() and time.monotonic() < deadline:
            time.sleep(POLL_S)

    def figures(self) -> dict[str, float]:
        values = np.array([d for d in self.delays.values() if d == d])
        if not len(values):
            return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
        return {
            "n": len(values),
            "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)),
            "max": float(values.max()),
            "unseen": len(self.pending()),
            "rejected": self.rejected,
        }


def visible_latency(
    url: str, secret: str, pool: Pool, db_url: str, tag: str, *, rate: float, count: int
) -> tuple[dict[str, float], float]:
    """Send ``count`` bundles at ``rate``/s (0: one at a time, each once visible); returns the
    202-to-visible figures and the rate achieved."""
    vis = Visibility(db_url)
    poller = threading.Thread(target=vis.poll_forever, daemon=True)
    poller.start()
    local = threading.local()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def post(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(headers=headers, timeout=60)
        r = local.client.post(url, content=pool.body(i, f"{tag}-{i}"))
        if r.status_code == 202:
            vis.add(r.json()["id"], time.time())

    start = time.perf_counter()
    if rate <= 0:
        for i in range(count):
            post(i)
            vis.wait_all(30)
            time.sleep(0.1)
    else:
        with cf.ThreadPoolExecutor(4) as senders:
            futures = []
            for i in range(count):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                futures.append(senders.submit(post, i))
            for future in futures:
                future.result()
    sent_for = time.perf_counter() - start
    vis.wait_all(120)
    vis.stop.set()
    poller.join()
    return vis.figures(), count / sent_for
