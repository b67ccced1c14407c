"""MeshMark next to a peer: Conbench, a Flask + SQLAlchemy + PostgreSQL benchmark-results service.

Both services run here side by side, each in its production shape: gunicorn with 3 sync
workers (MeshMark's default, ``meshmark/gunicorn_conf.py``; Conbench with its own
``conbench/gunicorn-conf.py`` and the worker count overridden), each on its own scratch
PostgreSQL database on the same server, quiet logs (WARNING) on both. Each is loaded
through its own API to the same number of results:

* Conbench: one ``POST /api/benchmarks/`` per result, as a logged-in user; results come in
  runs of 100 cases, one run per commit of one repository, so its history and compare
  endpoints have real series to work on. The commits are written straight into Conbench's
  ``commit`` table first, with the fields Conbench would otherwise fetch from GitHub's API
  (this machine has no route there, and a bench sends nothing off the machine).
* MeshMark: demo bundles (``meshmark.demo.generate``, 2 results each, a distinct label
  spliced in) through ``POST /api/v1/submissions/bulk`` (NDJSON), processed eagerly (no
  broker), so every result is stored and on its leaderboard when the call returns.

Then wrk (16 connections) drives four pairs of requests, rounds interleaved (Conbench,
MeshMark, Conbench, MeshMark, ...): reads first, writes last (writes grow the corpora):

1. list 100 results: Conbench ``GET /api/benchmarks/?run_id=<a run of 100>`` (its list
   endpoint has no limit parameter; the run filter is how a client gets 100) against
   MeshMark ``GET /api/v1/results?limit=100``;
2. compare: Conbench ``GET /api/compare/runs/<run>...<run>/`` (two runs of 100 results,
   paired by case, with z-scores) against MeshMark
   ``GET /api/v1/compare?profile=http-1k&configs=a,b`` (the two configurations with the most
   results, with a significance test and latency curves);
3. history: Conbench ``GET /api/history/<result>/`` (one case across every commit) against
   MeshMark's leaderboard ``GET /api/v1/leaderboards/http-1k``;
4. writes answered: Conbench ``POST /api/benchmarks/`` (one result) against MeshMark
   ``POST /api/v1/submissions`` (a bundle of 2 results, processed before the answer, like
   Conbench's), both counting 2xx answers per second.

Each cell's figure is its best round (the highest req/s, with that round's latencies; other
work on a shared machine only ever slows a round down), the median round beside it.

Conbench comes from PyPI into its own virtualenv outside this repository; the script makes
it when missing (``--venv``, default ``../peer/cbvenv`` beside the repository)::

    python3 -m venv VENV
    VENV/bin/pip install -c CONSTRAINTS 'conbench[dev]==2023.4.10'

where CONSTRAINTS (``CONBENCH_PINS`` below) pins the server's dependencies to their
releases of April 2023: the package pins none, and today's SQLAlchemy 2.1, Flask 3,
marshmallow 4 and pandas 3 do not run it (SQLAlchemy 2.1 alone already picks a driver,
psycopg 3, that the venv does not have).

Usage: .venv/bin/python -m bench.bench_peer [--size 2000] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from bench.common import (
    ADMIN_URL,
    ROOT,
    bench_env,
    free_port,
    manage,
    reset_database,
    wrk_figures,
    wrk_raw,
)
from bench.report import machine_line, write_section

CONBENCH_VERSION = "2023.4.10"
# The server's dependencies as released by April 2023 (conbench pins none of them).
CONBENCH_PINS = """\
Flask==2.2.3
Werkzeug==2.2.3
Jinja2==3.1.2
itsdangerous==2.1.2
SQLAlchemy==2.0.9
alembic==1.10.3
marshmallow==3.19.0
Flask-Login==0.6.2
Flask-WTF==1.1.1
WTForms==3.0.1
flask-swagger-ui==4.11.1
apispec==6.3.0
apispec-webframeworks==0.5.2
prometheus-client==0.16.0
prometheus-flask-exporter==0.22.3
bokeh==3.1.0
pandas==2.0.0
numpy==1.24.2
gunicorn==20.1.0
orjson==3.8.10
dacite==1.8.0
tenacity==8.2.2
email-validator==1.3.1
"""
DEFAULT_VENV = ROOT.parent / "peer" / "cbvenv"
CB_DB = "peer_conbench"
MM_DB = "peer_meshmark"
CACHE = "redis://127.0.0.1:6379/10"
WORKERS = 3
CONNECTIONS = 16
# Conbench's compare and history answer in seconds at 16 connections: wrk's usual 10 s
# timeout would drop them as errors.
WRK_TIMEOUT_S = 60
PIDS: dict[str, int] = {}  # base URL -> gunicorn master pid
CASES = 100  # Conbench: results per run, one per case
REPO = "https://github.com/meshmark/peer-bench"  # only a name: never contacted
ORG = "bench"
MARK = "@@PEER@@"
BULK = 100  # MeshMark bundles per NDJSON call while loading
LOADERS = 4  # client threads while loading, per system
PROFILE = "http-1k"
# Conbench's /api/ping/ needs a /buildinfo.json (its container image's); a public list
# query answers 200 once the app is up.
CB_READY = "/api/benchmarks/?run_id=ready"
MACHINE = {
    "name": "peer-bench",
    "architecture_name": "x86_64",
    "kernel_name": "Linux",
    "os_name": "Linux",
    "os_version": "6",
    "cpu_model_name": "bench",
    "cpu_l1d_cache_bytes": 32768,
    "cpu_l1i_cache_bytes": 32768,
    "cpu_l2_cache_bytes": 1048576,
    "cpu_l3_cache_bytes": 33554432,
    "cpu_core_count": 2,
    "cpu_thread_count": 2,
    "cpu_frequency_max_hz": 3000000000,
    "memory_bytes": 24 * 2**30,
    "gpu_count": 0,
    "gpu_product_names": [],
}

# Posts one body per request from a file of (before, after) line pairs split around the
# marker, with a per-thread tag spliced in; counts the statuses. (bench_ingest's posting
# script puts a new tag in every body; here Conbench's tag is its run id, one per thread.)
LUA_POST = r"""
local parts = {}
local f = assert(io.open("@POOL@", "rb"))
while true do
  local before = f:read("*l")
  if not before then break end
  parts[#parts + 1] = {before, f:read("*l")}
end
f:close()
wrk.method = "POST"
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
  local part = parts[n % #parts + 1]
  local tag = "@TAG@-" .. tid
  if @PER_REQUEST@ then tag = tag .. "-" .. n end
  return wrk.format(nil, nil, nil, part[1] .. tag .. part[2])
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


@dataclass
class Cell:
    """One system's rounds on one row."""

    runs: list[dict[str, float]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, float]:
        return max(self.runs, key=lambda r: r["rps"])

    @property
    def median_rps(self) -> float:
        return statistics.median(r["rps"] for r in self.runs)


@dataclass
class Target:
    """What wrk drives on one system for one row."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    script: Path | None = None  # a POST script: then the rate counts 2xx answers


# Conbench ------------------------------------------------------------------------------------


def ensure_venv(venv: Path) -> Path:
    """Conbench's virtualenv, made when missing; returns its gunicorn."""
    gunicorn = venv / "bin" / "gunicorn"
    if gunicorn.exists():
        return gunicorn
    print(f"making {venv} (pip install conbench[dev]=={CONBENCH_VERSION}, a minute or two)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(CONBENCH_PINS)
    try:
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-c", pins.name,
             f"conbench[dev]=={CONBENCH_VERSION}"],
            check=True,
        )  # fmt: skip
    finally:
        os.unlink(pins.name)
    return gunicorn


def conbench_conf(venv: Path) -> Path:
    (conf,) = venv.glob("lib/python*/site-packages/conbench/gunicorn-conf.py")
    return conf


def wait_for(url: str, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url}: {log.read_text(errors='replace')[-3000:]}")


@contextlib.contextmanager
def serve(argv: list[str], env: dict[str, str], ready: str, what: str, log: Path) -> Iterator[str]:
    """A gunicorn on a free port (``{port}`` in argv); yields its base URL once ``ready``
    answers 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v.replace("{port}", str(port)) for k, v in env.items()}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [a.replace("{port}", str(port)) for a in argv],
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip
    PIDS[base] = proc.pid
    try:
        wait_for(base + ready, what, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def conbench_env(tmp: Path) -> dict[str, str]:
    (tmp / "prom-conbench").mkdir(exist_ok=True)
    admin = urllib.parse.urlsplit(ADMIN_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DB_"))}
    return {
        **env,
        "FLASK_APP": "conbench",  # conbench/__init__.py builds `application` only then
        "DB_HOST": admin.hostname or "127.0.0.1",
        "DB_PORT": str(admin.port or 5432),
        "DB_NAME": CB_DB,
        "DB_USERNAME": admin.username or "postgres",
        "DB_PASSWORD": admin.password or "",
        "SECRET_KEY": "bench-only-" + "y" * 50,
        "REGISTRATION_KEY": "bench-registration",
        "CONBENCH_INTENDED_BASE_URL": "http://127.0.0.1:{port}/",
        "CONBENCH_LOG_LEVEL_STDERR": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prom-conbench"),
        "BENCHMARKS_DATA_PUBLIC": "true",
    }


def conbench_argv(venv: Path, gunicorn: Path, workers: int = WORKERS) -> list[str]:
    return [
        str(gunicorn), "--config", str(conbench_conf(venv)), "--bind", "127.0.0.1:{port}",
        "--workers", str(workers), "--threads", "1", "--access-logfile", "/dev/null",
    ]  # fmt: skip


def conbench_login(base: str) -> httpx.Client:
    """Register a user with the registration key and log in; the client holds the cookies."""
    client = httpx.Client(base_url=base, timeout=60)
    user = {"email": "bench@example.com", "password": "bench-password", "name": "bench"}
    r = client.post("/api/register/", json={**user, "secret": "bench-registration"})
    if r.status_code != 201 and "already in use" not in r.text:
        raise RuntimeError(f"Conbench register: {r.status_code} {r.text[:300]}")
    r = client.post("/api/login/", json={"email": user["email"], "password": user["password"]})
    if r.status_code != 204:
        raise RuntimeError(f"Conbench login: {r.status_code} {r.text[:300]}")
    return client


def commit_sha(i: int) -> str:
    return hashlib.sha1(f"peer-bench-{i}".encode()).hexdigest()


def seed_commits(n: int) -> None:
    """``n`` commits of one default branch, in Conbench's own table, as Conbench would have
    stored them from GitHub's answers (sha = fork point sha: on the default branch)."""
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{CB_DB}"
    start = dt.datetime(2024, 1, 1)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO commit (id, sha, branch, fork_point_sha, parent, repository, message,"
            " author_name, author_login, timestamp) VALUES (%s, %s, 'main', %s, %s, %s, %s,"
            " 'bench', 'bench', %s)",
            [
                (uuid.uuid4().hex, commit_sha(i), commit_sha(i),
                 commit_sha(i - 1) if i else None, REPO, f"commit {i}",
                 start + dt.timedelta(hours=i))
                for i in range(n)
            ],
        )  # fmt: skip


def conbench_result(run: int, case: int, run_id: str | None = None) -> dict[str, Any]:
    base = 0.1 + 0.01 * (case % 17)
    drift = 1 + 0.002 * ((run * 7 + case) % 11)
    data = [round(base * drift * (1 + 0.01 * k), 6) for k in range(3)]
    return {
        "run_id": run_id or f"run-{run:05d}",
        "batch_id": f"run-{run:05d}" if run_id is None else "wrk",
        "timestamp": (dt.datetime(2024, 1, 1) + dt.timedelta(hours=run)).isoformat() + "Z",
        "tags": {"name": f"peer-{case % 10}", "dataset": f"d{case // 10}"},
        "stats": {
            "data": data,
            "times": [],
            "unit": "s",
            "time_unit": "s",
            "iterations": len(data),
        },
        "context": {"benchmark_language": "Python"},
        "info": {},
        "machine_info": MACHINE,
        "github": {"commit": commit_sha(run), "repository": REPO, "branch": "main"},
    }


def load_conbench(client: httpx.Client, runs: int) -> float:
    """Post ``runs`` runs of CASES results, one request each; returns results/s."""

    def post_run(run: int, http: httpx.Client) -> None:
        for case in range(CASES):
            r = http.post("/api/benchmarks/", json=conbench_result(run, case))
            if r.status_code != 201:
                raise RuntimeError(f"Conbench POST: {r.status_code} {r.text[:300]}")

    start = time.perf_counter()
    post_run(0, client)  # the cases, context and hardware first, from one client

    def chunk(k: int) -> None:
        with httpx.Client(base_url=str(client.base_url), cookies=client.cookies, timeout=60) as c:
            for run in range(1 + k, runs, LOADERS):
                post_run(run, c)

    with cf.ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(chunk, range(LOADERS)))
    return runs * CASES / (time.perf_counter() - start)


def cookie_header(client: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


# MeshMark ------------------------------------------------------------------------------------


def meshmark_argv() -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "meshmark.wsgi:application",
        "--config", "python:meshmark.gunicorn_conf", "--bind", "127.0.0.1:{port}",
        "--workers", str(WORKERS), "--threads", "1",
    ]  # fmt: skip


def demo_bodies(count: int, seed: int) -> list[tuple[bytes, bytes, int]]:
    """Distinct demo bundles split around MARK in their labels: (before, after, runs)."""
    from meshmark.demo.generate import generate

    out = []
    for sub in generate(count, seed):
        doc = json.loads(sub.body)
        doc.setdefault("labels", {})["bench"] = MARK
        text = json.dumps(doc, separators=(",", ":")).encode()
        before, after = text.split(MARK.encode())
        out.append((before, after, len(doc["runs"])))
    return out


def load_meshmark(
    base: str, secret: str, pool: list[tuple[bytes, bytes, int]], results: int
) -> tuple[float, int]:
    """Bulk-post bundles from ``pool`` (each with a unique label) until ``results`` results
    were accepted; returns (results/s, results accepted)."""
    bodies, total = [], 0
    i = 0
    while total < results:
        before, after, runs = pool[i % len(pool)]
        bodies.append((before + f"load-{i}".encode() + after, runs))
        total += runs
        i += 1
    batches = [bodies[k : k + BULK] for k in range(0, len(bodies), BULK)]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
    accepted: Counter[int] = Counter()

    def chunk(k: int) -> None:
        with httpx.Client(headers=headers, timeout=300) as http:
            for batch in batches[k::LOADERS]:
                r = http.post(
                    f"{base}/api/v1/submissions/bulk", content=b"\n".join(b for b, _ in batch)
                )
                r.raise_for_status()
                for item in r.json()["items"]:
                    accepted[item["status"]] += batch[item["index"]][1]

    start = time.perf_counter()
    with cf.ThreadPoolExecutor(LOADERS) as pool_:
        list(pool_.map(chunk, range(LOADERS)))
    seconds = time.perf_counter() - start
    if set(accepted) - {202}:
        raise RuntimeError(f"MeshMark bulk: results by item status {dict(accepted)}")
    return accepted[202] / seconds, accepted[202]


def compare_configs(base: str) -> tuple[int, int]:
    """The two configurations of the leaderboard with the most results that compare."""
    board = httpx.get(f"{base}/api/v1/leaderboards/{PROFILE}", timeout=60).json()
    rows = sorted(board["rows"], key=lambda r: -r["results"])
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            a_id, b_id = a["mesh_config_id"], b["mesh_config_id"]
            url = f"{base}/api/v1/compare?profile={PROFILE}&configs={a_id},{b_id}"
            if httpx.get(url, timeout=60).status_code == 200:
                return a_id, b_id
    raise RuntimeError("no two MeshMark configurations compare")


# Measuring -----------------------------------------------------------------------------------


def split_mark(doc: dict[str, Any]) -> tuple[bytes, bytes]:
    before, after = json.dumps(doc, separators=(",", ":")).encode().split(MARK.encode())
    return before, after


def write_pool(path: Path, parts: list[tuple[bytes, bytes]]) -> None:
    with path.open("wb") as out:
        for before, after in parts:
            assert b"\n" not in before + after
            out.write(before + b"\n" + after + b"\n")


def post_script(path: Path, pool: Path, tag: str, per_request: bool) -> Path:
    path.write_text(
        LUA_POST.replace("@POOL@", str(pool))
        .replace("@TAG@", tag)
        .replace("@PER_REQUEST@", "true" if per_request else "false")
    )
    return path


def _cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its children (a gunicorn master and its workers)."""
    total = 0.0
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    for p in [pid, *map(int, kids)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def quiesce(pid: int, limit_s: float = 180) -> None:
    """Wait until the server at ``pid`` is idle. wrk drops the requests still in flight when
    it stops, but a sync worker still answers each one queued: without this wait that
    backlog would run into the next measurement (of the other service, on the same cores)."""
    deadline = time.monotonic() + limit_s
    before = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - before < 0.025:  # under 5% of one core over the half second
            return
        before = now
    print(f"warning: server {pid} still busy after {limit_s:.0f} s", flush=True)


def measure(target: Target, seconds: int) -> dict[str, float]:
    out = wrk_raw(target.url, seconds=seconds, connections=CONNECTIONS, script=target.script,
                  headers=target.headers, timeout_s=WRK_TIMEOUT_S)  # fmt: skip
    lines = out.splitlines()
    figures = wrk_figures(b"\n".join(ln for ln in lines if not ln.startswith(b"STATUS ")))
    if target.script is not None:
        statuses: Counter[int] = Counter()
        for line in lines:
            if line.startswith(b"STATUS "):
                _, status, count = line.split()
                statuses[int(status)] += int(count)
        ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
        figures["rps"] = ok / figures["seconds"]
        figures["errors"] = float(sum(statuses.values()) - ok)
    return figures


def check(target: Target) -> None:
    """One request by hand: a GET must answer 200 with a body."""
    if target.script is None:
        r = httpx.get(target.url, headers=target.headers, timeout=120)
        if r.status_code != 200 or not r.content:
            raise RuntimeError(f"{target.url}: {r.status_code} {r.text[:300]}")


# Report --------------------------------------------------------------------------------------

ROWS = (
    ("list", "list 100 results"),
    ("compare", "compare two configurations"),
    ("history", "history (Conbench) / leaderboard (MeshMark)"),
    ("write", "writes answered 2xx"),
)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and b == b and a == a else "n/a"


def _ms(value: float) -> str:
    if value != value:  # nan: no request finished within the measurement
        return "n/a"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def report(
    cells: dict[tuple[str, str], Cell],
    paths: dict[tuple[str, str], str],
    loaded: dict[str, dict[str, float]],
    args: argparse.Namespace,
    load: tuple[float, float],
    elapsed: float,
) -> list[str]:
    rows = [
        "| row | Conbench req/s | p50 | p99 | MeshMark req/s | p50 | p99 "
        "| req/s MeshMark / Conbench | p99 MeshMark / Conbench |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, title in ROWS:
        cb, mm = cells[(key, "conbench")].best, cells[(key, "meshmark")].best
        rows.append(
            f"| {title} | {cb['rps']:,.0f} | {_ms(cb['p50_ms'])} | {_ms(cb['p99_ms'])} "
            f"| {mm['rps']:,.0f} | {_ms(mm['p50_ms'])} | {_ms(mm['p99_ms'])} "
            f"| {_ratio(mm['rps'], cb['rps'])} | {_ratio(mm['p99_ms'], cb['p99_ms'])} |"
        )
    medians = "; ".join(
        f"{title}: Conbench {cells[(key, 'conbench')].median_rps:,.0f}, MeshMark "
        f"{cells[(key, 'meshmark')].median_rps:,.0f}"
        for key, title in ROWS
    )
    errors = ", ".join(
        f"{system} {key} {int(sum(r['errors'] for r in cell.runs))}"
        for (key, system), cell in cells.items()
        if any(r["errors"] for r in cell.runs)
    )
    command = (
        f".venv/bin/python -m bench.bench_peer --size {args.size} --seconds {args.seconds} "
        f"--rounds {args.rounds}"
    )
    cb, mm = loaded["conbench"], loaded["meshmark"]
    return [
        machine_line(),
        f"Command: `{command}` ({dt.date.today()}; {elapsed:.0f} s, run under "
        "`flock /tmp/meshmark-load.lock`). "
        f"Peer: Conbench {CONBENCH_VERSION} from PyPI (`pip install -c CONSTRAINTS "
        f"'conbench[dev]=={CONBENCH_VERSION}'` into a virtualenv outside the repository, the "
        "server's dependencies pinned to their April 2023 releases, `CONBENCH_PINS` in the "
        "script), not the August 2024 Conbench main that the issue's anchor figures came from: "
        "the endpoints differ (2023.4.10 has `/api/benchmarks/`, no `limit`, no "
        "`/api/benchmark-results/`), so these figures are not those.",
        "",
        f"Both on gunicorn, {WORKERS} sync workers, one PostgreSQL server, quiet logs; MeshMark "
        "with its production settings (`meshmark/gunicorn_conf.py`, Redis cache, no broker: "
        "submissions processed before the answer), Conbench with its own "
        "`gunicorn-conf.py`. Loaded through their APIs to "
        f"{int(cb['results']):,} results (Conbench, {cb['rate']:,.0f} results/s, one POST per "
        f"result, {LOADERS} clients; {int(cb['results']) // CASES} runs of {CASES} cases, one "
        f"commit each) and {int(mm['results']):,} results (MeshMark, {mm['rate']:,.0f} "
        f"results/s, NDJSON bulk of {BULK} bundles of 2 results, {LOADERS} clients). wrk, "
        f"{CONNECTIONS} connections, {args.seconds} s per measurement after a 2 s warm-up, best "
        f"of {args.rounds} rounds interleaved Conbench, MeshMark; reads first, writes last; "
        f"wrk's timeout {WRK_TIMEOUT_S} s; after each wrk run the bench waits until that "
        "server is idle (its sync workers still answer the requests wrk left in flight). "
        "Everything (wrk, both servers, PostgreSQL) shares the 2 cores; 1-minute load average "
        f"{load[0]:.2f} before and {load[1]:.2f} after.",
        "",
        *rows,
        "",
        "What each row asks:",
        "",
        *(
            f"- {title}: Conbench `{paths[(key, 'conbench')]}`; MeshMark "
            f"`{paths[(key, 'meshmark')]}`"
            for key, title in ROWS
        ),
        "",
        f"Median rounds, req/s: {medians}. Non-2xx answers or socket errors: {errors or 'none'}.",
        "",
        "The rows are the nearest pairs, not the same work. Conbench's list has no limit, so "
        "100 results are asked for as one run; its compare pairs two runs of 100 results case "
        "by case, MeshMark's compares two mesh configurations over all their results with a "
        "significance test; Conbench's history is one case's series across every commit "
        "(computed per request with pandas), MeshMark's leaderboard is the ranked profile, "
        "kept up to date as results arrive and cached in Redis. A Conbench write stores one "
        "result; a MeshMark write stores and scores a bundle of 2 results (about 14 KB) and "
        "refreshes its leaderboard row before answering. Conbench's commits are written "
        "into its `commit` table before loading, as it would have fetched them from GitHub "
        "(no route from this machine), so its history and compare have real commit series.",
    ]


# Main ----------------------------------------------------------------------------------------


def drop_databases() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        for name in (CB_DB, MM_DB):
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=2000, help="results loaded into each")
    parser.add_argument("--seconds", type=int, default=10, help="wrk time per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="Conbench's virtualenv")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave the doc alone")
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install -y wrk)")
    if args.size < 2 * CASES:
        sys.exit(f"--size must be at least {2 * CASES}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    gunicorn = ensure_venv(args.venv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    cache = redis.Redis.from_url(CACHE)
    cache.flushdb()
    load_before = os.getloadavg()[0]
    try:
        cells, paths, loaded = run(args, gunicorn, tmp)
    finally:
        cache.flushdb()
        if not args.keep:
            drop_databases()
    load_after = os.getloadavg()[0]
    lines = report(cells, paths, loaded, args, (load_before, load_after),
                   time.perf_counter() - started)  # fmt: skip
    print("\n".join(lines))
    if not args.no_doc:
        write_section("peer", f"Peer: MeshMark next to Conbench {CONBENCH_VERSION}", lines)
    shutil.rmtree(tmp, ignore_errors=True)


def run(
    args: argparse.Namespace, gunicorn: Path, tmp: Path
) -> tuple[dict[tuple[str, str], Cell], dict[tuple[str, str], str], dict[str, dict[str, float]]]:
    runs = args.size // CASES
    # MeshMark: database, organization, token, bodies.
    mm_env = bench_env(
        reset_database(MM_DB), CACHE_URL=CACHE, PROMETHEUS_MULTIPROC_DIR=str(tmp / "prom-mm")
    )
    mm_env.pop("CELERY_BROKER_URL", None)  # eager: processed before the answer
    for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS"):
        mm_env.pop(name, None)
    manage(mm_env, "migrate", "--noinput", "-v", "0")
    manage(mm_env, "create_org", ORG)
    secret = manage(mm_env, "issue_token", ORG).strip().splitlines()[-1]
    pool = demo_bodies(600, seed=20241122)
    reset_database(CB_DB)

    cb_log, mm_log = tmp / "conbench.log", tmp / "meshmark.log"
    # Conbench makes its tables on start (CREATE_ALL_TABLES): once, from one worker, as
    # three at once collide; production runs its migrations instead.
    cb_env = conbench_env(tmp)
    with serve(conbench_argv(args.venv, gunicorn, 1), cb_env, CB_READY, "Conbench", cb_log):
        pass
    cb_env["CREATE_ALL_TABLES"] = "false"
    with (
        serve(conbench_argv(args.venv, gunicorn), cb_env, CB_READY, "Conbench", cb_log) as cb,
        serve(meshmark_argv(), mm_env, "/healthz", "MeshMark", mm_log) as mm,
    ):  # fmt: skip
        # Load both (Conbench made its tables on start).
        seed_commits(runs)
        client = conbench_login(cb)
        cb_rate = load_conbench(client, runs)
        print(f"Conbench loaded: {runs * CASES} results, {cb_rate:.0f}/s", flush=True)
        mm_rate, mm_results = load_meshmark(mm, secret, pool, runs * CASES)
        print(f"MeshMark loaded: {mm_results} results, {mm_rate:.0f}/s", flush=True)
        count = httpx.get(f"{mm}/api/v1/results?limit=1", timeout=60).json()["count"]
        loaded = {
            "conbench": {"results": float(runs * CASES), "rate": cb_rate},
            "meshmark": {"results": float(count), "rate": mm_rate},
        }
        history_id = httpx.get(f"{cb}/api/benchmarks/?run_id=run-00000", timeout=60).json()[0]["id"]
        a, b = compare_configs(mm)

        # The write pools: Conbench results for the existing cases on the newest commit,
        # run id spliced in per wrk thread; MeshMark demo bundles, a label per request.
        cb_pool = tmp / "conbench-pool.txt"
        write_pool(cb_pool, [split_mark(conbench_result(runs - 1, c, MARK)) for c in range(CASES)])
        mm_pool = tmp / "meshmark-pool.txt"
        write_pool(mm_pool, [(before, after) for before, after, _ in pool])

        cookie = {"Cookie": cookie_header(client)}
        bearer = {"Authorization": f"Bearer {secret}"}
        paths = {
            ("list", "conbench"): f"GET /api/benchmarks/?run_id=run-{runs - 1:05d}",
            ("list", "meshmark"): "GET /api/v1/results?limit=100",
            (
                "compare",
                "conbench",
            ): f"GET /api/compare/runs/run-{runs - 2:05d}...run-{runs - 1:05d}/",
            ("compare", "meshmark"): f"GET /api/v1/compare?profile={PROFILE}&configs={a},{b}",
            ("history", "conbench"): f"GET /api/history/{history_id}/",
            ("history", "meshmark"): f"GET /api/v1/leaderboards/{PROFILE}",
            ("write", "conbench"): "POST /api/benchmarks/ (one result, JSON, session cookie)",
            ("write", "meshmark"): "POST /api/v1/submissions (a demo bundle of 2 results, token)",
        }
        bases = {"conbench": cb, "meshmark": mm}
        targets: dict[tuple[str, str], Target] = {}
        for (key, system), path in paths.items():
            if key != "write":
                url = bases[system] + path.split(" ", 1)[1]
                targets[(key, system)] = Target(url, cookie if system == "conbench" else {})
        targets[("write", "conbench")] = Target(f"{cb}/api/benchmarks/", cookie)
        targets[("write", "meshmark")] = Target(f"{mm}/api/v1/submissions", bearer)
        for (key, _), target in targets.items():
            if key != "write":
                check(target)

        cells = {k: Cell() for k in targets}
        for keys in (("list", "compare", "history"), ("write",)):
            for round_no in range(args.rounds):
                for key in keys:
                    for system in ("conbench", "meshmark"):
                        target = targets[(key, system)]
                        if key == "write":
                            pool_file = cb_pool if system == "conbench" else mm_pool
                            tag = f"w{round_no}"
                            target.script = post_script(
                                tmp / f"{system}-{tag}.lua", pool_file, tag,
                                per_request=system == "meshmark",
                            )  # fmt: skip
                            warm = Target(target.url, target.headers, post_script(
                                tmp / f"{system}-{tag}-warm.lua", pool_file, f"{tag}warm",
                                per_request=system == "meshmark",
                            ))  # fmt: skip
                        else:
                            warm = target
                        pid = PIDS[bases[system]]
                        measure(warm, 2)
                        quiesce(pid)
                        figures = measure(target, args.seconds)
                        quiesce(pid)
                        cells[(key, system)].runs.append(figures)
                        print(
                            f"round {round_no + 1} {key} {system}: {figures['rps']:.0f} req/s, "
                            f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
                            f"errors {figures['errors']:.0f}",
                            flush=True,
                        )
    return cells, paths, loaded


if __name__ == "__main__":
    main()
