"""Issue 18's probe, rerun against the production process layout.

Every reproduction of the attacker's afternoon is sent over real sockets to the
deployment's own nginx configuration in front of gunicorn (3 sync workers,
``DEBUG=false``), with a real Celery worker, PostgreSQL and Redis. Each row says
what was seen before the fixes (from the probe) and what is seen now; the run
fails when any answer is a 5xx or any row's expectation does not hold. The
table goes to docs/operations.md between ``<!-- probe:start/end -->``.

    .venv/bin/python -m bench.probe [--no-doc]

Throttles are left at their production defaults, so the anonymous-concurrency
row runs last: every anonymous request before it counts against the same minute.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from urllib3.filepost import encode_multipart_formdata

from bench.bench_ingest.processes import celery_workers
from bench.common import (
    ROOT,
    bench_env,
    buffering_proxy,
    free_port,
    manage,
    reset_database,
    wait_healthy,
)
from bench.common import slow_clients as hold_slow_clients

DOC = ROOT / "docs" / "operations.md"
DATABASE = "meshmark_probe"
BROKER = os.environ.get("PROBE_BROKER_URL", "redis://127.0.0.1:6379/9")
CACHE = os.environ.get("PROBE_CACHE_URL", "redis://127.0.0.1:6379/8")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Row:
    severity: str
    finding: str
    before: str
    after: str = ""
    ok: bool = False


@dataclass
class Probe:
    base: str  # through the proxy
    direct: str  # gunicorn itself
    acme: str  # token secrets
    globex: str
    log: Path
    statuses: list[int]

    def client(self, token: str | None = None, *, base: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=base or self.base,
            headers=headers,
            timeout=60,
            event_hooks={"response": [lambda r: self.statuses.append(r.status_code)]},
        )


def demo_doc(index: int = 0) -> dict[str, Any]:
    from meshmark.demo.generate import generate

    sub = list(generate(index + 1, seed=18))[index]
    doc: dict[str, Any] = json.loads(sub.body)
    doc.setdefault("labels", {})["probe"] = uuid.uuid4().hex  # a new body every time
    return doc


def set_at(doc: Any, path: str, value: Any) -> None:
    parts = [int(i) if i else n for n, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]
    target = doc
    for part in parts[:-1]:
        target = target.setdefault(part, {}) if isinstance(part, str) else target[part]
    target[parts[-1]] = value


def rules_of(response: httpx.Response) -> set[str]:
    try:
        return {e["rule"] for e in response.json().get("errors", [])}
    except ValueError:
        return set()


def settle(client: httpx.Client, submission: str, seconds: float = 120) -> str:
    """The submission's status once the worker has decided it."""
    deadline = time.monotonic() + seconds
    while True:
        status = str(client.get(f"/api/v1/submissions/{submission}").json()["status"])
        if status not in {"received", "processing"} or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


# The reproductions ------------------------------------------------------------------------


def slow_clients(p: Probe, row: Row) -> None:
    stop = threading.Event()
    holder = threading.Thread(target=hold_slow_clients, args=(p.base, 50, 12.0, stop))
    holder.start()
    took: list[float] = []
    try:
        time.sleep(1.0)
        deadline = time.monotonic() + 8.0
        with p.client() as client:
            while time.monotonic() < deadline:
                start = time.perf_counter()
                answered = client.get("/healthz", timeout=3.0).status_code == 200
                took.append(time.perf_counter() - start if answered else float("inf"))
                time.sleep(0.05)
    finally:
        stop.set()
        holder.join()
    took.sort()
    p99 = took[min(len(took) - 1, int(0.99 * len(took)))] * 1000
    row.after = f"50 slow sockets: {len(took)} `/healthz` answers, p99 {p99:.1f} ms"
    row.ok = p99 < 100


def csv_formulas(p: Probe, row: Row) -> None:
    doc = demo_doc()
    doc["mesh_config"]["mesh_version"] = '=HYPERLINK("http://evil.example/","x")'
    for run in doc["runs"]:
        run["load_generator"] = {"name": "+cmd|' /C calc'!A0", "version": "@SUM(1+1)"}
    with p.client(p.acme) as api:
        answer = api.post("/api/v1/submissions", json=doc)
        status = settle(api, answer.json()["id"]) if answer.status_code == 202 else "-"
    with p.client() as web:
        exports = [
            web.get("/api/v1/results", params={"format": "csv", "limit": 1000}).text,
            web.get(f"/api/v1/leaderboards/{doc['profile']}", params={"format": "csv"}).text,
        ]
    import csv
    import io

    cells = [c for text in exports for line in csv.reader(io.StringIO(text)) for c in line]
    live = [c for c in cells if c.startswith(FORMULA_START) and not _is_number(c)]
    shown = sum("HYPERLINK" in c for c in cells)
    row.after = (
        f"{answer.status_code}, {status}; the two CSVs hold {shown} such cells, "
        f"{len(live)} starting with a formula character"
    )
    row.ok = status == "accepted" and shown > 0 and not live


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def odd_arch(p: Probe, row: Row) -> None:
    codes = []
    with p.client(p.acme) as api:
        for arch in ('x";filename=a.html;x="', "a\r\nX-Injected: 1"):
            doc = demo_doc()
            for node in doc["environment"]["node"]:
                node["arch"] = arch
            answer = api.post("/api/v1/submissions", json=doc)
            codes.append(f"{answer.status_code} {'/'.join(sorted(rules_of(answer)))}")
    with p.client() as web:
        name = web.get("/api/v1/results", params={"format": "csv"}).headers.get(
            "content-disposition", ""
        )
    row.after = f"{'; '.join(codes)}; CSV header `{name}`"
    row.ok = all(c.startswith("400") for c in codes) and name.count('"') == 2


NUL_URLS = [  # also tests/ingest/test_hardening.py
    "/api/v1/results?mesh=%00",
    "/api/v1/results?organization=%00",
    "/api/v1/leaderboards/a%00b",
    "/api/v1/leaderboards/http-1k?environment_class=%00",
    "/api/v1/leaderboards/http-1k?kubernetes_version=%00",
    "/leaderboards/http-1k?mesh=%00",
    "/api/v1/compare?profile=%00&configs=1,2",
    "/badge/istio/1%00/http-100.svg",
]


def nul_queries(p: Probe, row: Row) -> None:
    with p.client() as web:
        codes = [web.get(url).status_code for url in NUL_URLS]
    row.after = f"{len(codes)} URLs: " + ", ".join(f"{c}" for c in codes)
    row.ok = set(codes) == {400}


def other_500s(p: Probe, row: Row) -> None:
    answers = []
    with p.client() as web:
        answers.append(web.get("/api/v1/results", params={"limit": "9" * 30}).status_code)
        doc = demo_doc()
        doc["mesh_config"]["sidecar"] = {"count": 2, "cpu_mcores": 1e308, "mem_mb": 80.0}
        answers.append(web.post("/api/v1/score", json=doc).status_code)
        doc = demo_doc()
        doc["runs"][0]["start_time"] = "0001-01-01T00:00:00+14:00"
        answers.append(web.post("/api/v1/score", json=doc).status_code)
    with p.client(p.acme) as api:
        bulk = api.post(
            "/api/v1/submissions/bulk",
            content=b"[" * 3000,
            headers={"Content-Type": "application/json"},
        )
        answers.append(bulk.status_code)
    row.after = "limit 30 nines, sidecar 1e308, year 1, 3,000 `[`: " + ", ".join(map(str, answers))
    row.ok = answers == [200, 400, 400, 400]


STORABLE = [  # (where, what, the rule that must name it); tests/ingest/test_hardening.py too
    ("mesh_config.mesh_version", "1.24\u0000", "no-nul"),
    ("runs[0].load_generator.name", "\u0000", "no-nul"),
    ("runs[0].labels.k", "v\u0000", "no-nul"),
    ("runs[0].load_generator.name", "g" * 200, "max-length"),
    ("environment.cni", "c" * 200, "max-length"),
    ("environment.calibration.probe", "p" * 200, "max-length"),
    ("environment.kubernetes_version", "v" * 42, "max-length"),
    ("environment.node[0].count", 10**12, "max-value"),
    ("mesh_config.sidecar.count", 2**40, "max-value"),
    ("runs[0].start_time", "0001-01-01T00:00:00+14:00", "datetime-range"),
    ("runs[0].end_time", "9999-12-31T23:00:00-12:00", "datetime-range"),
]


def storable(p: Probe, row: Row) -> None:
    seen = []
    with p.client(p.acme) as api:
        for path, value, rule in STORABLE:
            doc = demo_doc()
            doc["mesh_config"].setdefault("sidecar", {"count": 2, "cpu_mcores": 700.0})
            set_at(doc, path, value)
            answer = api.post("/api/v1/submissions", json=doc)
            named = {(e["path"], e["rule"]) for e in answer.json().get("errors", [])}
            seen.append(answer.status_code == 400 and (path, rule) in named)
    row.after = f"{sum(seen)} of {len(seen)} answered 400 naming the field and the rule"
    row.ok = all(seen)


def replay(p: Probe, row: Row) -> None:
    with p.client(p.acme) as acme:
        first = acme.post("/api/v1/submissions", json=demo_doc()).json()["id"]
        settle(acme, first)
    with p.client() as web:
        raw = web.get(f"/submissions/{first}/raw").content
    with p.client(p.globex) as globex:
        answer = globex.post(
            "/api/v1/submissions", content=raw, headers={"Content-Type": "application/json"}
        )
    names = first in answer.text
    row.after = f"{answer.status_code} {'/'.join(rules_of(answer))}, naming the original: {names}"
    row.ok = answer.status_code == 409 and names


def web_upload(p: Probe, row: Row) -> None:
    body, content_type = encode_multipart_formdata(
        [("profile", "http-1k"), ("bundle", ("big.json", b" " * (40 * 1024 * 1024)))]
    )
    codes = []
    for base in (p.base, p.direct):
        with p.client(base=base) as web:
            web.get("/accounts/login/")
            token = web.cookies["csrftoken"]
            web.post(
                "/accounts/login/",
                data={"username": "ana", "password": PASSWORD, "csrfmiddlewaretoken": token},
            )
            web.get("/upload")
            answer = web.post(
                "/upload",
                content=body,
                headers={"Content-Type": content_type, "X-CSRFToken": web.cookies["csrftoken"]},
            )
            codes.append(answer.status_code)
    row.after = f"40 MB: proxy {codes[0]}, gunicorn itself {codes[1]}"
    row.ok = codes == [413, 413]


def token_guessing(p: Probe, row: Row) -> None:
    def guess(_: int) -> int:
        token = f"mm_{secrets.token_hex(4)}_{secrets.token_urlsafe(30)}"
        with p.client(token) as api:
            return api.post("/api/v1/submissions", json={}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(guess, range(1300)))
    row.after = f"1,300 guesses: {codes.count(401)} x 401, {codes.count(429)} x 429"
    row.ok = codes.count(401) <= 30 and codes.count(401) + codes.count(429) == len(codes)


def login(p: Probe, row: Row) -> None:
    codes = []
    with p.client(base=p.direct) as web:
        web.get("/accounts/login/")
        for _ in range(50):
            answer = web.post(
                "/accounts/login/",
                data={
                    "username": "ana",
                    "password": "wrong",
                    "csrfmiddlewaretoken": web.cookies["csrftoken"],
                },
            )
            codes.append(answer.status_code)
    row.after = f"50 wrong passwords: {codes.count(200)} x 200, {codes.count(429)} x 429"
    row.ok = codes.count(200) <= 10 and codes.count(429) >= 40


def token_in_url(p: Probe, row: Row) -> None:
    marker = "SECRET" + secrets.token_hex(8)
    with p.client() as web:
        code = web.post(f"/api/v1/submissions?access_token=mm_deadbeef_{marker}").status_code
    time.sleep(0.5)
    logged = marker in p.log.read_text(errors="replace")
    row.after = f"{code}; the token in the server log: {logged}"
    row.ok = code == 401 and not logged


def metrics(p: Probe, row: Row) -> None:
    with p.client() as web:
        code = web.get("/metrics").status_code
    row.after = f"{code} without a token"
    row.ok = code == 401


def badge(p: Probe, row: Row) -> None:
    with p.client() as web:
        codes = [
            web.get("/badge/istio/1.24.1/anything you like.svg").status_code,
            web.get("/badge/evil/1.24.1/http-1k.svg").status_code,
        ]
    row.after = "any text, unknown mesh: " + ", ".join(map(str, codes))
    row.ok = codes == [404, 404]


def page_size(p: Probe, row: Row) -> None:
    with p.client() as web:
        page = web.get("/api/v1/results", params={"limit": "100000000"}).json()
    row.after = f"{len(page['results'])} of {page['count']} rows in one answer"
    row.ok = len(page["results"]) == 1000 < page["count"]


def password_reset(p: Probe, row: Row) -> None:
    with p.client(base=p.direct) as web:
        web.get("/accounts/login/")
        code = web.post(
            "/accounts/password_reset/",
            data={"email": "a@b.c", "csrfmiddlewaretoken": web.cookies["csrftoken"]},
        ).status_code
    row.after = f"{code}"
    row.ok = code == 404


def api_errors(p: Probe, row: Row) -> None:
    seen = []
    with p.client(p.acme) as api:
        for fields, files in ((1000, 0), (0, 1000)):
            parts: list[Any] = [(f"f{i}", "x") for i in range(fields)]
            parts += [("baseline", (f"b{i}", b"{}")) for i in range(files or 1)]
            body, content_type = encode_multipart_formdata(parts)
            answer = api.post(
                "/api/v1/submissions", content=body, headers={"Content-Type": content_type}
            )
            seen.append((answer.status_code, answer.headers.get("content-type", "")))
    for base in (p.base, p.direct):
        with p.client(base=base) as web:
            answer = web.post(
                "/api/v1/score",
                content=b" " * (47 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )
            seen.append((answer.status_code, answer.headers.get("content-type", "")))
    row.after = "1,000 fields, 1,000 files, 47 MB via proxy, 47 MB to gunicorn: " + ", ".join(
        f"{code} {kind.split(';')[0]}" for code, kind in seen
    )
    row.ok = [c for c, _ in seen] == [400, 400, 413, 413] and all(
        kind.startswith("application/problem+json") for _, kind in seen
    )


def anonymous_concurrency(p: Probe, row: Row) -> None:
    with p.client() as web, ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: web.get("/api/v1/profiles").status_code, range(650)))
    row.after = f"650 concurrent: {codes.count(200)} x 200, {codes.count(429)} x 429"
    row.ok = codes.count(200) <= 600 and codes.count(200) + codes.count(429) == 650


PASSWORD = "probe-" + secrets.token_hex(8)

CASES: list[tuple[Row, Callable[[Probe, Row], None]]] = [
    (Row("high", "slow clients take the site down",
         "`/healthz` silent while 3 sockets dribble headers; 20 sockets: 70 s outage"),
     slow_clients),
    (Row("medium", "CSV formula injection",
         "`=HYPERLINK(...)`, `+cmd|...`, `@SUM(1+1)` written unchanged to both CSVs"),
     csv_formulas),
    (Row("medium", "node `arch` into headers and classes",
         "injected `Content-Disposition` parameter; CR/LF variant 500 (BadHeaderError)"),
     odd_arch),
    (Row("medium", "NUL byte in a query parameter", "500 `DataError` on 8 URLs"), nul_queries),
    (Row("medium", "other 500s", "bigint out of range, non-JSON float, OverflowError, "
         "RecursionError"), other_500s),
    (Row("medium", "values the database cannot hold",
         "202, then rejected `internal-error` with a traceback in the worker log"), storable),
    (Row("medium", "replayed public bytes under another organization",
         "accepted for B; one run counted twice"), replay),
    (Row("medium", "web upload ignores `SUBMISSION_MAX_BYTES`", "40 MB accepted and stored"),
     web_upload),
    (Row("low", "failed token attempts never throttled", "1,300 x 401 in 1.4 s"),
     token_guessing),
    (Row("low", "no login throttle", "50 x 200"), login),
    (Row("low", "a token in the query string is logged", "full URL with the token logged"),
     token_in_url),
    (Row("low", "`/metrics` public by default", "200 with route counts"), metrics),
    (Row("low", "a badge renders any text", "SVG with the URL's text, cached 1 h"), badge),
    (Row("low", "no page-size cap", "every row in one answer"), page_size),
    (Row("low", "password reset live without mail", "302 and an ERROR per try"),
     password_reset),
    (Row("low", "API errors as HTML or the wrong code",
         "HTML 400 for 1,000 fields/files; 400 for a 47 MB preview"), api_errors),
    (Row("low", "anonymous throttle loses counts", "650 x 200 with a limit of 600/min"),
     anonymous_concurrency),
]  # fmt: skip


# The layout -------------------------------------------------------------------------------


@contextlib.contextmanager
def gunicorn_logged(env: dict[str, str], log: Path) -> Iterator[str]:
    """Production's server: 3 sync workers, its log kept for the token check."""
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "meshmark.wsgi:application",
        "-c", str(ROOT / "meshmark" / "gunicorn_conf.py"),
        "--bind", f"127.0.0.1:{port}", "--workers", "3", "--threads", "1",
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, "gunicorn", log=log)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def cell(text: str) -> str:
    return text.replace("|", "\\|")  # GFM: a pipe inside a table cell, code spans too


def write_doc(rows: list[Row], five: int, load: float, command: str) -> None:
    start, end = "<!-- probe:start -->", "<!-- probe:end -->"
    lines = [
        start,
        f"Rerun with `{command}` (nginx in front of gunicorn with 3 sync workers, "
        "`DEBUG=false`, a Celery worker, PostgreSQL and Redis, all on loopback; throttles "
        f"at their production defaults; 1-minute load average up to {load:.1f} on "
        f"{os.cpu_count()} cores). 5xx answers in the whole run: {five}.",
        "",
        "| severity | finding | before | after | holds |",
        "|---|---|---|---|---|",
        *(
            f"| {r.severity} | {r.finding} | {cell(r.before)} | {cell(r.after)} | "
            f"{'yes' if r.ok else '**no**'} |"
            for r in rows
        ),
        end,
    ]
    text = DOC.read_text()
    if start in text:
        before, rest = text.split(start, 1)
        text = before + "\n".join(lines) + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave the doc alone")
    args = parser.parse_args()
    db_url = reset_database(DATABASE)
    env = bench_env(
        db_url,
        CELERY_BROKER_URL=BROKER,
        CACHE_URL=CACHE,  # as deploy/ sets it: the throttles' counts are shared by workers
        SECURE_COOKIES="false",  # plain HTTP on loopback
        LOG_LEVEL="INFO",
    )
    for off in ("THROTTLE_SUBMISSIONS", "THROTTLE_SUBMISSIONS_IP", "THROTTLE_ANON"):
        env.pop(off)  # production's throttles
    r = redis.Redis.from_url(BROKER)
    r.flushdb()
    redis.Redis.from_url(CACHE).flushdb()
    manage(env, "migrate", "--noinput", "-v", "0")
    # More results than one page holds, seeded in-process (no broker) before the layout starts.
    manage({**env, "CELERY_BROKER_URL": ""}, "seed_demo", "--size", "600", "--bulk", "-v", "0")
    manage(env, "create_org", "acme")
    manage(env, "create_org", "globex")
    acme = manage(env, "issue_token", "acme").strip().splitlines()[-1]
    globex = manage(env, "issue_token", "globex").strip().splitlines()[-1]
    manage(
        env, "shell", "-c",
        "from django.contrib.auth.models import User; from ingest.models import Membership, "
        "Organization; u = User.objects.create_user('ana', password="
        f"{PASSWORD!r}); Membership.objects.create(organization=Organization.objects.get("
        "slug='acme'), user=u)",
    )  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="probe-"))
    rows: list[Row] = []
    statuses: list[int] = []
    load = os.getloadavg()[0]
    with (
        gunicorn_logged(env, tmp / "gunicorn.log") as direct,
        celery_workers(env, r, tmp, n=1),
        buffering_proxy(direct.removeprefix("http://"), tmp) as base,
    ):
        probe = Probe(base, direct, acme, globex, tmp / "gunicorn.log", statuses)
        for row, case in CASES:
            try:
                case(probe, row)
            except Exception as exc:  # a probe that breaks is a finding, not a crash
                row.after, row.ok = f"probe failed: {exc!r}", False
            rows.append(row)
            print(f"{'ok ' if row.ok else 'NO '} {row.finding}: {row.after}", flush=True)
    load = max(load, os.getloadavg()[0])
    five = sum(code >= 500 for code in statuses)
    print(f"{len(statuses)} answers, {five} x 5xx; worker and server logs in {tmp}")
    if not args.no_doc:
        write_doc(rows, five, load, ".venv/bin/python -m bench.probe")
    if five or not all(row.ok for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
