"""Ingest end to end: accepting, processing, time to visible, bulk, memory.

Each figure stands next to a baseline measured in the same run, on the same
scratch PostgreSQL database (``meshmark_bench_ingest``) and Redis db 9:

1. Single submissions accepted by ``POST /api/v1/submissions`` (202/s): gunicorn
   (sync workers; 2, 3 and 4 tried, the best kept), wrk with a Lua script that
   posts distinct demo bundles (~14 KB, 2 runs each) and counts the statuses;
   no Celery worker consumes, tasks are only queued. Baseline: psycopg
   inserting the same submission rows, one INSERT + commit per row.
2. Those submissions processed by two Celery workers (prefork, concurrency 1
   each): from the first claim until every one is accepted or rejected and no
   leaderboard refresh is pending. Baseline: what the database alone needs to
   store that output, per bundle ``json.loads`` of its body plus one INSERT of
   its result rows (the very rows the workers wrote) + commit.
3. Time from the 202 to visible in the leaderboard, at half the rate measured
   in 2, against the same path one bundle at a time on the idle workers.
4. Bulk uploads (NDJSON, 200 bundles a call, 2 client threads) in results/s,
   against psycopg COPY of the same rows; then their processing by the workers
   (``process_submissions``, 50 a task) against the batched baseline of 2.
5. The largest RSS of any gunicorn worker through the whole bench (against one
   just started), and the peak RSS growth of a fresh process storing and
   processing a bundle close to SUBMISSION_MAX_BYTES (against a 14 KB one).

Usage: .venv/bin/python -m bench.bench_ingest [--seconds 10] [--workers N]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import copy
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import redis

from bench.common import ROOT, bench_env, gunicorn, manage, reset_database, wrk_figures, wrk_raw
from bench.report import machine_line, write_section

BENCH_DB = "meshmark_bench_ingest"
BROKER = "redis://127.0.0.1:6379/9"
ORG = "bench"
MARK = "@@BENCH@@"
POLL_S = 0.05
SUBMISSION_COLUMNS = (
    "id, organization_id, token_id, source, raw, content_type, size, sha256, content_digest,"
    " detected_format, status, errors, warnings, attempts, received_at"
)

# Targets of the issue.
TARGET_ACCEPT = 200.0  # bundles/s answered 202
TARGET_PROCESS = 100.0  # bundles/s fully processed by two workers
TARGET_VISIBLE_P99_S = 2.0
TARGET_BULK = 2000.0  # results/s accepted
TARGET_RSS_MB = 300.0  # any gunicorn worker
TARGET_BIG_DELTA_MB = 150.0  # peak RSS growth processing a 5 MB submission


# Bodies --------------------------------------------------------------------------------


@dataclass
class Pool:
    """Demo bundles split around a marker in their labels: any tag makes a new body."""

    parts: list[tuple[bytes, bytes]]
    runs: list[int]
    docs: list[dict[str, Any]]

    def body(self, index: int, tag: str) -> bytes:
        prefix, suffix = self.parts[index % len(self.parts)]
        return prefix + tag.encode() + suffix

    def runs_of(self, index: int) -> int:
        return self.runs[index % len(self.runs)]

    def write(self, path: Path) -> None:
        """Two lines per bundle (before and after the marker), for the Lua script."""
        with path.open("wb") as out:
            for prefix, suffix in self.parts:
                out.write(prefix + b"\n" + suffix + b"\n")


def make_pool(size: int, seed: int) -> Pool:
    from meshmark.demo.generate import generate

    pool = Pool([], [], [])
    for sub in generate(size, seed):
        doc = json.loads(sub.body)
        pool.docs.append(copy.deepcopy(doc))
        doc.setdefault("labels", {})["bench"] = MARK
        text = json.dumps(doc, separators=(",", ":")).encode()
        prefix, suffix = text.split(MARK.encode())
        assert b"\n" not in text
        pool.parts.append((prefix, suffix))
        pool.runs.append(len(doc["runs"]))
    return pool


def _fine_histogram(run: dict[str, Any], per_bucket: int) -> None:
    """Split every bucket into ``per_bucket`` narrower ones, its count spread evenly."""
    fine = []
    for bucket in run["histogram"]:
        start, end, count = bucket["start_ms"], bucket["end_ms"], bucket["count"]
        k = per_bucket if end > start else 1
        edges = [start, *(round(start + (end - start) * j / k, 6) for j in range(1, k)), end]
        for j in range(k):
            share = count * (j + 1) // k - count * j // k
            fine.append({"start_ms": edges[j], "end_ms": edges[j + 1], "count": share})
    run["histogram"] = fine
    _percentiles_from_histogram(run)


def _percentiles_from_histogram(run: dict[str, Any]) -> None:
    """Reported percentiles as the fine histogram gives them, so the bundle stays consistent."""
    from smp.histogram import locate_percentile
    from smp.model import HistogramBucket

    buckets = [HistogramBucket(b["start_ms"], b["end_ms"], b["count"]) for b in run["histogram"]]
    for name, q in (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9)):
        if run["latencies_ms"].get(name) is not None:
            run["latencies_ms"][name] = round(locate_percentile(buckets, q)[0], 6)


def big_bundle(
    doc: dict[str, Any], limit: int, max_buckets: int, tag: str
) -> tuple[bytes, int, int]:
    """A valid bundle just under ``limit`` bytes: one baseline and as many mesh runs as fit,
    each with a histogram of up to ``max_buckets`` buckets. Returns (body, runs, buckets)."""
    doc = copy.deepcopy(doc)
    doc["labels"]["bench"] = tag
    baseline = next(r for r in doc["runs"] if r["role"] == "baseline")
    mesh = next(r for r in doc["runs"] if r["role"] == "mesh")
    per_bucket = max_buckets // max(len(baseline["histogram"]), len(mesh["histogram"]))
    _fine_histogram(baseline, per_bucket)
    template = copy.deepcopy(mesh)
    _fine_histogram(mesh, per_bucket)

    def mesh_run(n: int, per: int) -> dict[str, Any]:
        run = copy.deepcopy(template)
        run["id"] = f"{template['id']}-{n}"
        _fine_histogram(run, per)
        return run

    def encoded(runs: list[dict[str, Any]]) -> bytes:
        return json.dumps({**doc, "runs": runs}, separators=(",", ":")).encode()

    runs = [baseline, mesh]
    while len(encoded([*runs, mesh_run(len(runs), per_bucket)])) <= limit:
        runs.append(mesh_run(len(runs), per_bucket))
    low, high = 1, per_bucket  # the last run: the most buckets that still fit
    while low < high:
        mid = (low + high + 1) // 2
        if len(encoded([*runs, mesh_run(len(runs), mid)])) <= limit:
            low = mid
        else:
            high = mid - 1
    if len(encoded([*runs, mesh_run(len(runs), low)])) <= limit:
        runs.append(mesh_run(len(runs), low))
    body = encoded(runs)
    return body, len(runs), sum(len(r["histogram"]) for r in runs)


# Processes: RSS, Celery workers, Redis --------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


class RssSampler(threading.Thread):
    """VmRSS of every gunicorn worker and Celery process this bench started, 4 times a second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak: dict[str, float] = {"gunicorn": 0.0, "celery": 0.0}
        self.stop = threading.Event()

    def current(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {"gunicorn": [], "celery": []}
        for child in _children(os.getpid()):
            cmd = _cmdline(child)
            if "gunicorn" in cmd:  # the master: its children are the workers
                out["gunicorn"] += [_rss_mb(w) for w in _children(child)]
            elif "celery" in cmd:  # the master and its pool process
                out["celery"] += [_rss_mb(p) for p in [child, *_children(child)]]
        return out

    def run(self) -> None:
        while not self.stop.wait(0.25):
            for kind, values in self.current().items():
                self.peak[kind] = max([self.peak[kind], *values])


def _queue_hold(r: redis.Redis) -> list[str]:
    """Park the queued task messages, so workers start together on the same backlog."""
    held = []
    for key in r.scan_iter():
        name = key.decode()
        if r.type(key) == b"list" and not name.startswith(("_kombu", "bench-hold:")):
            r.rename(key, f"bench-hold:{name}")
            held.append(name)
    return held


def _queue_release(r: redis.Redis, held: list[str]) -> None:
    for name in held:
        r.rename(f"bench-hold:{name}", name)


@contextlib.contextmanager
def celery_workers(env: dict[str, str], r: redis.Redis, logdir: Path, n: int = 2) -> Iterator[None]:
    """``n`` real Celery workers (prefork, concurrency 1, default queue); the queue is held
    until all of them are ready."""
    held = _queue_hold(r)
    procs, logs = [], []
    worker_env = {**env, "LOG_LEVEL": "INFO"}  # the "ready." line; production logs INFO too
    try:
        for i in range(n):
            log = logdir / f"celery-{i}-{time.monotonic_ns()}.log"
            logs.append(log)
            argv = [
                sys.executable, "-m", "celery", "-A", "meshmark", "worker",
                "--concurrency", "1", "--pool", "prefork", "-Q", "celery",
                "-n", f"bench{i}@%h", "--without-gossip", "--without-mingle",
                "--loglevel", "INFO",
            ]  # fmt: skip
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(argv, cwd=ROOT, env=worker_env, stdout=out, stderr=out)
                )
        deadline = time.monotonic() + 120
        while not all(" ready." in log.read_text(errors="replace") for log in logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError(f"Celery workers did not start; see {logdir}")
            time.sleep(0.1)
        _queue_release(r, held)
        held = []
        yield
    finally:
        _queue_release(r, held)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# Database helpers ------------------------------------------------------------------------


def _ids(db_url: str) -> tuple[int, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT o.id, t.id FROM ingest_organization o JOIN ingest_apitoken t"
            " ON t.organization_id = o.id WHERE o.slug = %s",
            (ORG,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _submission_row(org_id: int, token_id: int, body: bytes) -> tuple[Any, ...]:
    digest = hashlib.sha256(body).hexdigest()
    return (
        uuid.uuid4(), org_id, token_id, "api", body, "application/json", len(body), digest,
        digest, "smp", "received", "[]", "[]", 0, dt.datetime.now(dt.UTC),
    )  # fmt: skip


def _scratch_copy(conn: psycopg.Connection[Any], table: str, of: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (LIKE {of} INCLUDING ALL)")
    conn.commit()


def plain_inserts(db_url: str, bodies: list[bytes]) -> float:
    """Rows/s: one INSERT + commit per submission row, one connection, into a scratch copy
    of ingest_submission (same columns, indexes and unique constraints)."""
    org_id, token_id = _ids(db_url)
    with psycopg.connect(db_url) as conn:
        _scratch_copy(conn, "bench_submission_copy", "ingest_submission")
        start = time.perf_counter()
        for body in bodies:
            conn.execute(
                f"INSERT INTO bench_submission_copy ({SUBMISSION_COLUMNS})"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                _submission_row(org_id, token_id, body),
            )
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_submission_copy")
    return len(bodies) / elapsed


def plain_copy(db_url: str, batches: list[list[bytes]]) -> float:
    """Bundles/s: one COPY FROM STDIN + commit per batch into a scratch copy of the table."""
    org_id, token_id = _ids(db_url)
    with psycopg.connect(db_url) as conn:
        _scratch_copy(conn, "bench_submission_copy", "ingest_submission")
        start = time.perf_counter()
        for batch in batches:
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY bench_submission_copy ({SUBMISSION_COLUMNS}) FROM STDIN") as out,
            ):
                for body in batch:
                    out.write_row(_submission_row(org_id, token_id, body))
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_submission_copy")
    return sum(len(b) for b in batches) / elapsed


def plain_results(db_url: str, submission_ids: list[Any], batch: int) -> float:
    """Bundles/s: per ``batch`` submissions, json.loads of each body and one INSERT of their
    result rows (exactly the rows the workers wrote, every column) + commit; one connection."""
    with psycopg.connect(db_url) as conn:
        bodies: dict[Any, bytes] = dict(
            conn.execute(
                "SELECT id, raw FROM ingest_submission WHERE id = ANY(%s)", (submission_ids,)
            ).fetchall()
        )
        rows: dict[Any, list[str]] = {}
        for sid, row in conn.execute(
            "SELECT submission_id, row_to_json(r)::text FROM ingest_result r"
            " WHERE submission_id = ANY(%s)",
            (submission_ids,),
        ):
            rows.setdefault(sid, []).append(row)
        _scratch_copy(conn, "bench_result_copy", "ingest_result")
        ids = [sid for sid in submission_ids if sid in rows]
        start = time.perf_counter()
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            for sid in chunk:
                json.loads(bytes(bodies[sid]))
            records = "[" + ",".join(r for sid in chunk for r in rows[sid]) + "]"
            conn.execute(
                "INSERT INTO bench_result_copy"
                " SELECT * FROM json_populate_recordset(NULL::bench_result_copy, %s::json)",
                (records,),
            )
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_result_copy")
    return len(ids) / elapsed


@dataclass
class Drain:
    bundles: int
    results: int
    seconds: float
    accepted: int
    rejected: int
    complete: bool

    @property
    def rate(self) -> float:
        return self.bundles / self.seconds if self.seconds else 0.0

    @property
    def results_rate(self) -> float:
        return self.results / self.seconds if self.seconds else 0.0


DRAIN_POLL = """
SELECT count(*) FILTER (WHERE status = 'received'),
       count(*) FILTER (WHERE status IN ('received', 'processing')),
       count(*) FILTER (WHERE status = 'accepted'),
       count(*) FILTER (WHERE status = 'rejected'),
       (SELECT count(*) FROM meshmark_pendingrefresh),
       (SELECT count(*) FROM ingest_result)
FROM ingest_submission
"""


def drain(db_url: str, timeout_s: float) -> Drain:
    """Wait for the workers to process every waiting submission; timed from the first claim
    (a submission leaving ``received``) to no submission waiting and no pending refresh."""
    with psycopg.connect(db_url, autocommit=True) as conn:

        def poll() -> tuple[int, int, int, int, int, int]:
            row = conn.execute(DRAIN_POLL).fetchone()
            assert row is not None
            return row

        _, waiting0, accepted0, rejected0, _, results0 = poll()
        start = None
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.perf_counter()
            received, waiting, accepted, rejected, pending, results = poll()
            if start is None and received < waiting0:
                start = now
            if start is not None and waiting == 0 and pending == 0:
                return Drain(
                    waiting0, results - results0, now - start,
                    accepted - accepted0, rejected - rejected0, True,
                )  # fmt: skip
            if time.monotonic() > deadline:
                done = waiting0 - waiting
                return Drain(
                    done, results - results0, now - (start or now),
                    accepted - accepted0, rejected - rejected0, False,
                )  # fmt: skip
            time.sleep(POLL_S)


# Phase 1: wrk ------------------------------------------------------------------------------

LUA = r"""
local parts = {}
local f = assert(io.open("@POOL@", "rb"))
while true do
  local before = f:read("*l")
  if not before then break end
  parts[#parts + 1] = {before, f:read("*l")}
end
f:close()
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer @SECRET@"
wrk.headers["Content-Type"] = "application/json"

local threads = {}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end

statuses = {}
local n = 0
function request()
  n = n + 1
  local part = parts[(n * 7 + tid) % #parts + 1]
  return wrk.format(nil, nil, nil, part[1] .. "@TAG@-" .. tid .. "-" .. n .. part[2])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, k in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %d %d\n", status, k))
    end
  end
end
"""


def post_wrk(
    url: str, secret: str, pool_file: Path, tag: str, seconds: int, connections: int
) -> dict[str, Any]:
    script = pool_file.with_name(f"post-{tag}.lua")
    script.write_text(
        LUA.replace("@POOL@", str(pool_file)).replace("@SECRET@", secret).replace("@TAG@", tag)
    )
    out = wrk_raw(url, seconds=seconds, connections=connections, script=script)
    statuses: Counter[int] = Counter()
    for line in out.decode().splitlines():
        if line.startswith("STATUS "):
            _, status, count = line.split()
            statuses[int(status)] += int(count)
    figures: dict[str, Any] = dict(
        wrk_figures(b"\n".join(ln for ln in out.splitlines() if not ln.startswith(b"STATUS ")))
    )
    figures["statuses"] = dict(statuses)
    figures["accepted_rate"] = statuses[202] / figures["seconds"]
    return figures


# Phase 3: 202 to visible -------------------------------------------------------------------

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


# Phase 4: bulk -----------------------------------------------------------------------------


@dataclass
class Bulk:
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    ids: list[str] = field(default_factory=list)
    results: int = 0

    @property
    def results_rate(self) -> float:
        return self.results / self.seconds


def bulk_post(url: str, secret: str, batches: list[list[bytes]], runs: list[list[int]]) -> Bulk:
    """Post each batch as one NDJSON call, two client threads; counts the results of the
    bundles answered 202."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
    lock = threading.Lock()
    out = Bulk()

    def run(indexes: list[int]) -> None:
        with httpx.Client(headers=headers, timeout=300) as client:
            for i in indexes:
                r = client.post(url, content=b"\n".join(batches[i]))
                r.raise_for_status()
                with lock:
                    for item in r.json()["items"]:
                        out.statuses[item["status"]] += 1
                        if item["status"] == 202:
                            out.ids.append(item["id"])
                            out.results += runs[i][item["index"]]

    clients = 2
    chunks = [list(range(len(batches)))[k::clients] for k in range(clients)]
    start = time.perf_counter()
    with cf.ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, chunks))
    out.seconds = time.perf_counter() - start
    return out


# Phase 5: memory of a big submission --------------------------------------------------------

MEMORY_PROBE = """
import json, re, sys, time
import django
django.setup()
from ingest import processing, services
from ingest.models import Organization, Submission

def status(field):
    text = open("/proc/self/status").read()
    return int(re.search(rf"^{field}:\\s+(\\d+) kB", text, re.MULTILINE).group(1)) / 1024

organization = Organization.objects.get(slug=sys.argv[1])
warm, target = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()

def store_and_process(body):
    submission, _ = services.submission_create(
        organization=organization, body=body, content_type="application/json"
    )
    processing.submission_process(submission_id=submission.pk)  # eager: already done, a no-op
    return Submission.objects.get(pk=submission.pk)

store_and_process(warm)  # imports, caches, connections: not the submission's cost
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # the peak (VmHWM) starts again from the current RSS
before = status("VmRSS")
start = time.perf_counter()
submission = store_and_process(target)
seconds = time.perf_counter() - start
print(json.dumps({
    "before_mb": before, "after_mb": status("VmHWM"), "seconds": seconds,
    "status": submission.status, "errors": submission.errors[:3],
    "results": submission.results.count(), "size": len(target),
}))
"""


def memory_probe(env: dict[str, str], warm: bytes, target: bytes, tmp: Path) -> dict[str, Any]:
    """RSS of a fresh process before, and its peak while, storing and processing ``target``
    (eager, no broker), once a small bundle went through first.

    The peak is VmHWM, reset just before: getrusage's ru_maxrss would not do, as a child
    inherits its parent's peak across fork and exec (this bench's own ~200 MB)."""
    warm_file, target_file = tmp / f"warm-{uuid.uuid4()}.json", tmp / f"target-{uuid.uuid4()}"
    warm_file.write_bytes(warm)
    target_file.write_bytes(target)
    probe_env = {**env, "CELERY_BROKER_URL": "", "DJANGO_SETTINGS_MODULE": "meshmark.settings"}
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, ORG, str(warm_file), str(target_file)],
        cwd=ROOT, env=probe_env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(json.loads(out.strip().splitlines()[-1]))


# Main ---------------------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="wrk time for phase 1")
    parser.add_argument("--sweep-seconds", type=int, default=5, help="wrk time per worker count")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: try 2-4)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pool", type=int, default=600, help="distinct demo bundles to cycle")
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--plain-rows", type=int, default=1000, help="rows of the 1. baseline")
    parser.add_argument("--bulk-batches", type=int, default=20)
    parser.add_argument("--bulk-size", type=int, default=200)
    parser.add_argument("--drain-timeout", type=int, default=240)
    parser.add_argument(
        "--max-bytes", type=int, default=5 * 1024 * 1024, help="SUBMISSION_MAX_BYTES (default)"
    )
    parser.add_argument("--no-doc", action="store_true", help="print only; leave the doc alone")
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = os.getloadavg()[0]

    db_url = reset_database(BENCH_DB)
    env = bench_env(db_url, CELERY_BROKER_URL=BROKER)
    r = redis.Redis.from_url(BROKER)
    r.flushdb()
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "create_org", ORG)
    secret = manage(env, "issue_token", ORG).strip().splitlines()[-1]
    pool = make_pool(args.pool, seed=20241122)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    pool_file = tmp / "pool.txt"
    pool.write(pool_file)
    sampler = RssSampler()
    sampler.start()

    # 1. Single submissions: which worker count, then the measured run.
    sweep: dict[int, dict[str, Any]] = {}
    if not args.workers:
        for workers in (2, 3, 4):
            with gunicorn(env, workers=workers) as base:
                url = f"{base}/api/v1/submissions"
                post_wrk(url, secret, pool_file, f"w{workers}-warm", 2, args.connections)
                sweep[workers] = post_wrk(
                    url, secret, pool_file, f"w{workers}", args.sweep_seconds, args.connections
                )
            print(f"  sweep {workers} workers: {sweep[workers]['accepted_rate']:.0f}/s", flush=True)
        with psycopg.connect(db_url) as conn:  # start phase 1 from an empty table and queue
            conn.execute("DELETE FROM ingest_submission")
        r.flushdb()
    workers = args.workers or max(sweep, key=lambda w: sweep[w]["accepted_rate"])

    with gunicorn(env, workers=workers) as base:
        url = f"{base}/api/v1/submissions"
        time.sleep(1)  # every worker booted
        idle_rss = max(sampler.current()["gunicorn"])
        plain = [pool.body(i, f"plain-{i}") for i in range(args.plain_rows)]
        insert_rates = [plain_inserts(db_url, plain)]  # right before and right after
        post_wrk(url, secret, pool_file, "warm", 2, args.connections)
        single = post_wrk(url, secret, pool_file, "main", args.seconds, args.connections)
        insert_rates.append(plain_inserts(db_url, plain))
        print(f"1. accepted {single['accepted_rate']:.0f}/s {single['statuses']}", flush=True)

        # 2. Processing by two workers, then 3. time to visible with them running.
        with celery_workers(env, r, tmp):
            processed = drain(db_url, args.drain_timeout)
            print(f"2. processed {processed.rate:.1f}/s ({processed})", flush=True)
            with psycopg.connect(db_url) as conn:
                ids = [  # phase 1's
                    row[0]
                    for row in conn.execute(
                        "SELECT id FROM ingest_submission WHERE status = 'accepted'"
                        " ORDER BY received_at LIMIT 1000"
                    )
                ]
            results_rates = [plain_results(db_url, ids, batch=1)]  # now and after 3.
            idle_vis, _ = visible_latency(url, secret, pool, db_url, "idle", rate=0, count=10)
            rate = max(processed.rate / 2, 1.0)
            loaded_vis, achieved = visible_latency(
                url, secret, pool, db_url, "lat", rate=rate,
                count=max(int(rate * args.latency_seconds), 20),
            )  # fmt: skip
            print(f"3. visible at {achieved:.1f}/s: {loaded_vis} (idle {idle_vis})", flush=True)
        results_rates.append(plain_results(db_url, ids, batch=1))

        # 4. Bulk: accepted (no worker consuming), then processed.
        batches = [
            [pool.body(b * args.bulk_size + k, f"bulk-{b}-{k}") for k in range(args.bulk_size)]
            for b in range(args.bulk_batches)
        ]
        batch_runs = [
            [pool.runs_of(b * args.bulk_size + k) for k in range(args.bulk_size)]
            for b in range(args.bulk_batches)
        ]
        runs_per_bundle = sum(map(sum, batch_runs)) / sum(map(len, batch_runs))
        copy_rates = [plain_copy(db_url, batches) * runs_per_bundle]  # before and after
        bulk = bulk_post(f"{url}/bulk", secret, batches, batch_runs)
        copy_rates.append(plain_copy(db_url, batches) * runs_per_bundle)
        print(f"4. bulk {bulk.results_rate:.0f} results/s {dict(bulk.statuses)}", flush=True)
        with celery_workers(env, r, tmp):
            bulk_processed = drain(db_url, args.drain_timeout)
            print(f"4. bulk processed {bulk_processed.results_rate:.0f} results/s", flush=True)
            bulk_ids = [uuid.UUID(i) for i in bulk.ids[:1000]]
            batched_rates = [plain_results(db_url, bulk_ids, batch=50)]  # now and at the end
            # 5. One bundle close to the size limit, through the API and a worker.
            big, big_runs, big_buckets = big_bundle(pool.docs[0], args.max_bytes, 10_000, "big")
            answer = httpx.post(
                url, content=big, timeout=120,
                headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            )  # fmt: skip
            big_api = drain(db_url, args.drain_timeout)
        batched_rates.append(plain_results(db_url, bulk_ids, batch=50))
    sampler.stop.set()
    sampler.join()

    # 5. Memory of one big submission in a fresh process, against a normal one.
    small = memory_probe(env, pool.body(1, "probe-warm-1"), pool.body(2, "probe-small"), tmp)
    big_probe, _, _ = big_bundle(pool.docs[0], args.max_bytes, 10_000, "big-probe")
    large = memory_probe(env, pool.body(3, "probe-warm-2"), big_probe, tmp)
    r.flushdb()
    load_after = os.getloadavg()[0]
    elapsed = time.perf_counter() - started

    # Report ----------------------------------------------------------------------------------
    lines = _report(
        args=args,
        workers=workers,
        sweep=sweep,
        single=single,
        insert_rates=insert_rates,
        processed=processed,
        results_rates=results_rates,
        idle_vis=idle_vis,
        loaded_vis=loaded_vis,
        achieved=achieved,
        rate=rate,
        bulk=bulk,
        copy_rates=copy_rates,
        bulk_processed=bulk_processed,
        batched_rates=batched_rates,
        idle_rss=idle_rss,
        peaks=sampler.peak,
        big=(len(big), big_runs, big_buckets),
        big_answer=answer.status_code,
        big_api=big_api,
        small=small,
        large=large,
        load=(load_before, load_after),
        elapsed=elapsed,
    )
    print("\n".join(lines))
    if not args.no_doc:
        write_section("ingest", "Ingest: accepted, processed, visible, bulk, memory", lines)
    shutil.rmtree(tmp, ignore_errors=True)  # bodies, Lua scripts, Celery logs


def _report(**k: Any) -> list[str]:
    args = k["args"]
    single, insert_rates = k["single"], k["insert_rates"]
    insert_rate, copy_rate = statistics.fmean(insert_rates), statistics.fmean(k["copy_rates"])
    processed, results_rates = k["processed"], k["results_rates"]
    results_rate = statistics.fmean(results_rates)
    idle_vis, loaded_vis = k["idle_vis"], k["loaded_vis"]
    bulk = k["bulk"]
    bulk_rate = bulk.results_rate
    bulk_processed = k["bulk_processed"]
    per_bundle = bulk_processed.results / bulk_processed.bundles if bulk_processed.bundles else 2
    results_batched = statistics.fmean(k["batched_rates"]) * per_bundle
    small, large = k["small"], k["large"]
    small_delta = small["after_mb"] - small["before_mb"]
    large_delta = large["after_mb"] - large["before_mb"]
    peak_rss = k["peaks"]["gunicorn"]
    size, big_runs, big_buckets = k["big"]
    command = (
        f".venv/bin/python -m bench.bench_ingest --seconds {args.seconds} "
        f"--sweep-seconds {args.sweep_seconds} --workers {args.workers} "
        f"--connections {args.connections} --pool {args.pool} "
        f"--latency-seconds {args.latency_seconds} --bulk-batches {args.bulk_batches} "
        f"--bulk-size {args.bulk_size} --plain-rows {args.plain_rows}"
    )
    codes = ", ".join(f"{c}: {n}" for c, n in sorted(single["statuses"].items()))
    rows = [
        "| # | what | measured | baseline, same run | ratio | target | |",
        "|---|---|---:|---:|---:|---|---|",
        f"| 1 | single bundles answered 202 (gunicorn {k['workers']} sync workers) | "
        f"{single['accepted_rate']:.0f}/s | plain INSERT + commit per row: {insert_rate:.0f}/s "
        f"({insert_rates[0]:.0f} before, {insert_rates[1]:.0f} after) | "
        f"{single['accepted_rate'] / insert_rate:.3f} | ≥ {TARGET_ACCEPT:.0f}/s | "
        f"{_met(single['accepted_rate'] >= TARGET_ACCEPT)} |",
        f"| 2 | bundles processed by 2 Celery workers | {processed.rate:.1f}/s | json.loads + "
        f"INSERT of its result rows + commit per bundle: {results_rate:.0f}/s "
        f"({results_rates[0]:.0f}, {results_rates[1]:.0f}) | "
        f"{processed.rate / results_rate:.3f} | ≥ {TARGET_PROCESS:.0f}/s | "
        f"{_met(processed.complete and processed.rate >= TARGET_PROCESS)} |",
        f"| 3 | 202 to visible, p99 (p50), at {k['achieved']:.1f} bundles/s | "
        f"{loaded_vis['p99']:.2f} s ({loaded_vis['p50']:.2f} s) | one at a time, idle workers: "
        f"{idle_vis['p99']:.2f} s ({idle_vis['p50']:.2f} s) | "
        f"{loaded_vis['p99'] / idle_vis['p99']:.1f} | p99 < {TARGET_VISIBLE_P99_S:.0f} s | "
        f"{_met(loaded_vis['p99'] < TARGET_VISIBLE_P99_S and not loaded_vis.get('unseen'))} |",
        f"| 4 | bulk results answered 202 (NDJSON, {args.bulk_size} a call, 2 clients) | "
        f"{bulk_rate:.0f}/s | COPY FROM STDIN + commit per batch: {copy_rate:.0f}/s "
        f"({k['copy_rates'][0]:.0f} before, {k['copy_rates'][1]:.0f} after) | "
        f"{bulk_rate / copy_rate:.3f} | ≥ {TARGET_BULK:,.0f}/s | "
        f"{_met(bulk_rate >= TARGET_BULK)} |",
        f"| 4 | bulk results processed by 2 workers (50 a task) | "
        f"{bulk_processed.results_rate:.0f}/s | as in 2, 50 bundles per INSERT + commit: "
        f"{results_batched:.0f}/s ({k['batched_rates'][0] * per_bundle:.0f}, "
        f"{k['batched_rates'][1] * per_bundle:.0f}) | "
        f"{bulk_processed.results_rate / results_batched:.3f} | "
        f"(none) | |",
        f"| 5 | largest gunicorn worker RSS, whole bench | {peak_rss:.0f} MB | a worker just "
        f"started: {k['idle_rss']:.0f} MB | {peak_rss / k['idle_rss']:.2f} | < "
        f"{TARGET_RSS_MB:.0f} MB | {_met(peak_rss < TARGET_RSS_MB)} |",
        f"| 5 | peak RSS growth storing + processing a {size / 2**20:.2f} MiB bundle | "
        f"{large_delta:.0f} MB (peak {large['after_mb']:.0f} MB) | a {small['size'] / 1024:.0f} "
        f"KB demo bundle: {small_delta:.0f} MB (peak {small['after_mb']:.0f} MB) | "
        f"{large['after_mb'] / small['after_mb']:.2f} (peaks) | < {TARGET_BIG_DELTA_MB:.0f} MB | "
        f"{_met(large_delta < TARGET_BIG_DELTA_MB and large['status'] == 'accepted')} |",
    ]
    sweep = k["sweep"]
    sweep_line = (
        "gunicorn workers tried (accepted/s, p99): "
        + ", ".join(
            f"{w}: {s['accepted_rate']:.0f}/s, {s['p99_ms']:.0f} ms" for w, s in sweep.items()
        )
        + f" ({args.sweep_seconds} s each after a 2 s warm-up); the best, {k['workers']}, "
        "served the rest of the bench."
        if sweep
        else f"gunicorn workers: {k['workers']} (given)."
    )
    return [
        machine_line(),
        f"Command: `{command}` ({dt.date.today()}; {k['elapsed']:.0f} s). Scratch PostgreSQL "
        "database, Redis db 9 as the broker, everything (wrk, clients, gunicorn, workers, "
        "PostgreSQL) on the same cores; 1-minute load average "
        f"{k['load'][0]:.2f} before and {k['load'][1]:.2f} after (other work shared the "
        "machine: read the ratios, not the absolute figures).",
        "",
        *rows,
        "",
        f"1. wrk, {args.connections} connections, {args.seconds} s after a 2 s warm-up, a Lua "
        f"script posting distinct bodies ({args.pool} demo bundles of ~14 KB, 2 runs each, with a "
        f"unique label spliced in); statuses {codes}; latency p50 {single['p50_ms']:.0f} ms, "
        f"p99 {single['p99_ms']:.0f} ms. Throttles off (bench_env); no worker consumed, tasks "
        f"were only queued. Baseline: psycopg inserting {args.plain_rows} such rows, one "
        "connection, into a scratch copy of ingest_submission (same columns, bytes, indexes), "
        "right before and right after wrk; the mean is the baseline. Each commit waits for its "
        "WAL flush, and the API's workers commit in parallel where the baseline commits from "
        "one connection. " + sweep_line,
        f"2. {processed.bundles} submissions ({processed.results} results; accepted "
        f"{processed.accepted}, rejected {processed.rejected}) in {processed.seconds:.1f} s, "
        "from the first claim until none waits and no leaderboard refresh is pending; "
        "`ingest.process_submission`, one task per bundle, workers `celery -A meshmark worker "
        "--concurrency 1 --pool prefork -Q celery` x 2. Baseline (results/s of the table "
        "divided by the runs per bundle): the rows the workers wrote for up to 1,000 of these "
        "bundles, measured twice (right after, and after 3.; the mean is the baseline), one "
        "connection into a scratch copy of ingest_result."
        + ("" if processed.complete else " **Timed out before the end.**"),
        f"3. Asked {k['rate']:.1f} bundles/s (half of 2) for {args.latency_seconds} s, got "
        f"{k['achieved']:.1f}/s; {loaded_vis['n']} bundles, max {loaded_vis['max']:.2f} s, "
        f"{loaded_vis.get('unseen', 0)} never visible within 120 s. Visible: accepted, and every "
        "pending leaderboard refresh mark that existed when it was first seen accepted is gone "
        f"(polled every {POLL_S * 1000:.0f} ms; clock starts when the client has the 202). "
        f"Baseline: {idle_vis['n']} bundles sent one at a time, each once the previous was "
        "visible.",
        f"4. {args.bulk_batches} calls of {args.bulk_size} bundles: {len(bulk.ids)} bundles "
        f"({bulk.results} results) answered 202 in {bulk.seconds:.1f} s (items "
        f"{dict(bulk.statuses)}); "
        f"then {bulk_processed.bundles} bundles ({bulk_processed.results} results) processed in "
        f"{bulk_processed.seconds:.1f} s ({bulk_processed.rate:.1f} bundles/s; single tasks: "
        f"{processed.rate:.1f}/s). Baselines: one connection, COPY of each batch's submission "
        "rows into a scratch copy of ingest_submission + commit, right before and right after "
        "the API run; for processing, as in 2. with one INSERT + commit per 50 bundles, "
        "measured right after the processing and at the end.",
        f"5. RSS sampled every 0.25 s from /proc (VmRSS) for each gunicorn worker; Celery "
        f"processes peaked at {k['peaks']['celery']:.0f} MB. The big bundle: {size:,} bytes, "
        f"{big_runs} runs, {big_buckets:,} histogram buckets in all; through the API it was "
        f"answered {k['big_answer']} and processed in {k['big_api'].seconds:.1f} s "
        f"(accepted {k['big_api'].accepted}). In a fresh process (django.setup(), one small "
        "bundle first so imports and caches are loaded; eager, no broker), "
        "`submission_create` + `submission_process`: RSS "
        f"{large['before_mb']:.0f} MB before, peak {large['after_mb']:.0f} MB, in "
        f"{large['seconds']:.1f} s, status {large['status']} ({large['results']} results); the "
        f"14 KB bundle {small['before_mb']:.0f} MB, peak {small['after_mb']:.0f} MB, in "
        f"{small['seconds'] * 1000:.0f} ms. The peak is VmHWM from /proc/self/status, reset "
        "(clear_refs) right before: getrusage's ru_maxrss is no use in a child process, which "
        "inherits its parent's peak across fork and exec.",
    ]


if __name__ == "__main__":
    main()
