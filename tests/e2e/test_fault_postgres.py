"""Faults with real processes: PostgreSQL restarted under a stream of uploads.

The module starts a PostgreSQL cluster of its own (initdb into a temporary
directory, run as the ``postgres`` user on a free port; the machine's server is
never touched), migrates it, and serves MeshMark from it with gunicorn and the
production settings, in the embedded mode (no broker): each upload is processed
inside its request, so the web tier makes every write, rows and results alike.
The tests then stop and start that PostgreSQL under load and read the final
counts straight from the cluster with psycopg (no pytest-django database).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.processes import stop_group
from tests.factories import make_bundle

ROOT = Path(__file__).resolve().parents[2]
SMP_RUNNER = Path(sys.executable).with_name("smp-runner")
SUBMISSIONS = "/api/v1/submissions"
PROBLEM_JSON = "application/problem+json"
RETRY_AFTER = "5"  # DATABASE_UNAVAILABLE_RETRY_AFTER_S's default
OUTAGE_S = 3.0  # how long uploads keep meeting a stopped PostgreSQL
RESEND_PAUSE_S = 0.05  # far below Retry-After, to see many answers during the outage
UPLOAD_DEADLINE_S = 30.0  # one bundle's retries give up after this

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    if not found:
        pytest.fail("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are not installed")
    return found[-1].parent


class Postgres:
    """A private PostgreSQL cluster that can be stopped and started again on its port."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.bin = _postgres_bin()
        self.running = False

    def url(self, dbname: str = "meshmark") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, tool: str, *args: str) -> None:
        # PostgreSQL refuses to run as root: as root, run its tools as `postgres`.
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        proc = subprocess.run(
            [*as_postgres, str(self.bin / tool), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            log = self.directory / "postgres.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {proc.stdout}{proc.stderr}{tail}")

    def init(self) -> None:
        self._run("initdb", "--pgdata", str(self.directory / "data"), "--auth", "trust",
                  "--username", "postgres", "--encoding", "UTF8", "--locale", "C",
                  "--no-sync")  # fmt: skip

    def start(self) -> None:
        # fsync=off for speed only. synchronous_commit stays on: with it off, an
        # immediate stop loses commits still in shared memory, which would be a
        # fault of this setup, not of the application.
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "--pgdata", str(self.directory / "data"), "--log",
                  str(self.directory / "postgres.log"), "--options", options, "--wait",
                  "--timeout", "30", "start")  # fmt: skip
        self.running = True

    def stop(self, mode: str) -> None:
        """``fast`` is a clean restart (sessions are ended); ``immediate`` is a crash."""
        self._run("pg_ctl", "--pgdata", str(self.directory / "data"), "--mode", mode,
                  "--wait", "--timeout", "30", "stop")  # fmt: skip
        self.running = False

    def query(self, sql: Any, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


@dataclass
class Site:
    url: str
    token: str
    log: Path
    postgres: Postgres

    def access_statuses(
        self, since: int, method: str | None = None, path: str | None = None
    ) -> list[int]:
        """Statuses in the server's access lines (meshmark.request) after byte ``since``."""
        with self.log.open("rb") as f:
            f.seek(since)
            lines = f.read().decode(errors="replace").splitlines()
        statuses = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # gunicorn's own lines are plain text
            if not isinstance(entry, dict) or entry.get("logger") != "meshmark.request":
                continue
            if method in (None, entry.get("method")) and path in (None, entry.get("path")):
                statuses.append(int(entry["status"]))
        return statuses


def _server_env(database_url: str, port: int) -> dict[str, str]:
    # No broker (eager processing), no shared cache, the defaults of what is tested.
    dropped = {"CELERY_BROKER_URL", "CACHE_URL", "PROMETHEUS_MULTIPROC_DIR", "DATABASE_URL_FILE",
               "SECRET_KEY_FILE", "METRICS_TOKEN_FILE",
               "DATABASE_UNAVAILABLE_RETRY_AFTER_S"}  # fmt: skip
    env = {
        k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("GUNICORN_")
    }
    return {
        **env,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "pgfault-only-" + "x" * 50,
        "SECURE_SSL_REDIRECT": "false",
        "THROTTLE_SUBMISSIONS": "1000000/minute",
        "THROTTLE_SUBMISSIONS_IP": "1000000/minute",
        "THROTTLE_ANON": "1000000/minute",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
    }


def _manage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    # Not under pytest's tmp dir: that is private to root, and `postgres` must reach it.
    directory = Path(tempfile.mkdtemp(prefix="meshmark-pgfault-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    postgres = Postgres(directory, _free_port())
    server: subprocess.Popen[bytes] | None = None
    try:
        postgres.init()
        postgres.start()
        with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE meshmark")
        port = _free_port()
        env = _server_env(postgres.url(), port)
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(env, "create_org", "acme")
        token = _manage(env, "issue_token", "acme").strip().splitlines()[-1]
        log = tmp_path_factory.mktemp("pgfault") / "server.log"
        with log.open("ab") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "python:meshmark.gunicorn_conf",
                 "meshmark.wsgi:application"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert server is not None and server.poll() is None, log.read_text()[-3000:]
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        _wait_until(healthy, 30, "gunicorn to answer /healthz")
        yield Site(url, token, log, postgres)
    finally:
        if server is not None:
            stop_group(server)
        if postgres.running:
            postgres.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def running(site: Site) -> Iterator[Site]:
    """The site, with its PostgreSQL started again after the test whatever happened."""
    try:
        yield site
    finally:
        if not site.postgres.running:
            site.postgres.start()


@dataclass(frozen=True)
class Answer:
    bundle: int
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    content_type: str
    submission_id: str | None


class Uploader(threading.Thread):
    """Uploads distinct bundles one after another, each until it is stored, as a client would."""

    def __init__(self, site: Site, first: int) -> None:
        super().__init__(daemon=True)
        self.site, self.next_bundle = site, first
        self.bodies: dict[int, bytes] = {}
        self.answers: list[Answer] = []
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.site.token}"}
        try:
            with httpx.Client(base_url=self.site.url, headers=headers, timeout=15) as http:
                while not self.done.is_set():  # only between bundles: none is left half-sent
                    self._upload(http, self.next_bundle)
                    self.next_bundle += 1
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def _upload(self, http: httpx.Client, n: int) -> None:
        body = json.dumps(make_bundle(labels={"n": str(n)})).encode()
        self.bodies[n] = body
        deadline = time.monotonic() + UPLOAD_DEADLINE_S
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                response = http.post(
                    SUBMISSIONS, content=body, headers={"Content-Type": "application/json"}
                )
                status, headers = response.status_code, response.headers
                payload = response.json() if status in (200, 202) else {}
            except httpx.TransportError:
                status, headers, payload = 0, httpx.Headers(), {}
            self.answers.append(
                Answer(
                    bundle=n,
                    started=started,
                    ended=time.monotonic(),
                    status=status,
                    retry_after=headers.get("Retry-After"),
                    content_type=headers.get("Content-Type", ""),
                    submission_id=payload.get("id"),
                )
            )
            if status in (200, 202):
                return
            time.sleep(RESEND_PAUSE_S)


def _rows_by_id(site: Site) -> dict[str, tuple[str, str, str | None, str | None, int]]:
    """Every submission: id -> (status, sha256 column, sha256 of raw, idempotency key, results)."""
    rows = site.postgres.query(
        "SELECT s.id::text, s.status, s.sha256, encode(sha256(s.raw), 'hex'), s.idempotency_key,"
        " (SELECT count(*) FROM ingest_result r WHERE r.submission_id = s.id)"
        " FROM ingest_submission s"
    )
    return {row[0]: (row[1], row[2], row[3], row[4], int(row[5])) for row in rows}


def _results_of_unaccepted(site: Site) -> int:
    ((count,),) = site.postgres.query(
        "SELECT count(*) FROM ingest_result r JOIN ingest_submission s ON s.id = r.submission_id"
        " WHERE s.status <> 'accepted'"
    )
    return int(count)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, (response.request.url, response.text)
    assert response.headers["Retry-After"] == RETRY_AFTER
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert response.json()["status"] == 503


def test_uploads_meet_503_with_retry_after_while_postgres_restarts_and_nothing_is_half_written(
    running: Site,
) -> None:
    site = running
    rows_before = _rows_by_id(site)
    log_offset = site.log.stat().st_size
    uploaders = [Uploader(site, first=k * 1_000_000) for k in range(2)]
    began = time.monotonic()

    def stored_since(moment: float, among: list[Uploader] = uploaders) -> list[Answer]:
        return [
            a
            for u in among
            for a in list(u.answers)  # a copy: the thread keeps appending
            if a.status in (200, 202) and a.started >= moment
        ]

    for uploader in uploaders:
        uploader.start()
    try:
        _wait_until(lambda: len(stored_since(began)) >= 6, 30, "uploads before the outage")
        down_at = time.monotonic()
        site.postgres.stop("immediate")  # a crash: sessions cut mid-transaction
        headers = {"Authorization": f"Bearer {site.token}"}
        some_id = stored_since(began)[0].submission_id
        for path in ["/healthz", "/", "/leaderboards/http-1k", "/api/v1/profiles",
                     f"{SUBMISSIONS}/{some_id}"]:  # fmt: skip
            _assert_unavailable(httpx.get(site.url + path, headers=headers, timeout=15))
        assert httpx.get(site.url + "/healthz").json()["checks"]["database"].startswith("error")
        time.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
        site.postgres.start()
        back_at = time.monotonic()
        _wait_until(
            lambda: all(len(stored_since(back_at, [u])) >= 3 for u in uploaders),
            30, "each uploader to store bundles again after the restart",
        )  # fmt: skip
    finally:
        for uploader in uploaders:
            uploader.done.set()
        for uploader in uploaders:
            uploader.join(timeout=UPLOAD_DEADLINE_S + 15)
    elapsed = time.monotonic() - began
    for uploader in uploaders:
        assert not uploader.is_alive(), "an uploader did not stop"
        assert uploader.error is None, repr(uploader.error)

    answers = sorted((a for u in uploaders for a in u.answers), key=lambda a: a.started)
    bodies = {n: body for u in uploaders for n, body in u.bodies.items()}
    statuses = Counter(a.status for a in answers)
    # Never a 500, never a dropped connection: stored (202), already stored (200) or 503.
    assert set(statuses) <= {200, 202, 503}, statuses
    unavailable = [a for a in answers if a.status == 503]
    assert len(unavailable) >= 10, statuses  # the stream did meet the outage
    assert {(a.retry_after, a.content_type) for a in unavailable} == {(RETRY_AFTER, PROBLEM_JSON)}
    assert all(a.ended >= down_at for a in unavailable)
    # Recovered by itself: every request sent once PostgreSQL was back was served.
    assert [a for a in answers if a.started >= back_at and a.status == 503] == []
    assert 500 not in site.access_statuses(log_offset)

    # One submission per bundle, whichever answer stored it.
    by_bundle: dict[int, list[Answer]] = {}
    for a in answers:
        by_bundle.setdefault(a.bundle, []).append(a)
    assert set(by_bundle) == set(bodies)
    stored_as = {}
    for n, tries in by_bundle.items():
        assert tries[-1].status in (200, 202), (n, tries)
        assert tries[-1].submission_id is not None
        stored_as[n] = tries[-1].submission_id
        if tries[-1].status == 200:
            # "Already stored": only after a 503 that came once the row was committed.
            assert any(t.status == 503 for t in tries[:-1]), (n, tries)
    assert len(set(stored_as.values())) == len(bodies)

    rows = _rows_by_id(site)
    new_rows = {k: v for k, v in rows.items() if k not in rows_before}
    assert set(new_rows) == set(stored_as.values())  # every stored id, and nothing else
    for n, submission_id in stored_as.items():
        status, sha256, raw_sha256, _, results = new_rows[submission_id]
        # The raw body is there, byte for byte.
        assert sha256 == raw_sha256 == hashlib.sha256(bodies[n]).hexdigest()
        if status == "accepted":
            assert results == 2, (submission_id, results)  # one baseline + one mesh run
        else:
            # Its request stored it, then lost the database before its processing
            # committed: nothing of that processing remains, and it is not rejected.
            assert status in ("received", "processing"), status
            assert results == 0, (submission_id, status, results)
    assert _results_of_unaccepted(site) == 0
    cut = sorted(k for k, v in new_rows.items() if v[0] != "accepted")

    # Processing what the outage interrupted (the sweep's job when a broker is
    # configured) accepts every one: the stored bytes were whole.
    if cut:
        _manage(_server_env(site.postgres.url(), 0), "reprocess", *cut)
    final = {k: v for k, v in _rows_by_id(site).items() if k not in rows_before}
    assert Counter(v[0] for v in final.values()) == {"accepted": len(bodies)}
    assert sum(v[4] for v in final.values()) == 2 * len(bodies)
    print(
        f"\npostgres restart under uploads: {len(bodies)} bundles, answers {dict(statuses)}, "
        f"{len(new_rows)} rows ({len(cut)} cut mid-processing, then reprocessed), "
        f"{sum(v[4] for v in final.values())} results; outage {back_at - down_at:.1f} s, "
        f"stream {elapsed:.1f} s"
    )


def test_smp_runner_submit_retries_through_a_postgres_restart(
    running: Site, tmp_path: Path
) -> None:
    site = running
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(make_bundle(labels={"submitted-by": "smp-runner"})))
    key = "smp-runner-sha256-" + hashlib.sha256(bundle.read_bytes()).hexdigest()
    rows_before = _rows_by_id(site)
    log_offset = site.log.stat().st_size

    site.postgres.stop("fast")
    began = time.monotonic()
    cli = subprocess.Popen(
        [str(SMP_RUNNER), "submit", str(bundle), "--server", site.url],
        env={**os.environ, "SMP_TOKEN": site.token},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Its first try meets the outage: wait for that 503 in the server's access log.
        _wait_until(
            lambda: 503 in site.access_statuses(log_offset, "POST", SUBMISSIONS),
            20, "smp-runner's first upload",
        )  # fmt: skip
        site.postgres.start()
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    took = time.monotonic() - began
    assert cli.returncode == 0, (out, err)
    assert " submitted as " in out, out
    submission_id = out.split(" submitted as ")[1].split()[0]

    # One 503 while PostgreSQL was down, then stored at the retry Retry-After asked for
    # (PostgreSQL was back well before it, so that retry must not fail).
    tries = site.access_statuses(log_offset, "POST", SUBMISSIONS)
    assert tries == [503, 202], tries
    assert took >= float(RETRY_AFTER) - 0.5, took  # it obeyed Retry-After
    rows = _rows_by_id(site)
    new_rows = {k: v for k, v in rows.items() if k not in rows_before}
    assert list(new_rows) == [submission_id]
    status, sha256, raw_sha256, idempotency_key, results = new_rows[submission_id]
    assert (status, idempotency_key, results) == ("accepted", key, 2)
    assert sha256 == raw_sha256
    assert _results_of_unaccepted(site) == 0
    assert 500 not in site.access_statuses(log_offset)
    print(f"\nsmp-runner submit through a postgres restart: answers {tries}, {took:.1f} s")


def test_connections_that_a_restart_closed_are_replaced_without_failing_a_request(
    running: Site,
) -> None:
    site = running
    url = site.url + "/api/v1/profiles"
    # Every gunicorn worker keeps (DATABASE_CONN_MAX_AGE) a connection that the
    # restart closes while nobody is asking; the first request a worker serves
    # afterwards must find that out and reconnect (CONN_HEALTH_CHECKS).
    assert [httpx.get(url).status_code for _ in range(10)] == [200] * 10
    site.postgres.stop("fast")
    site.postgres.start()
    assert [httpx.get(url).status_code for _ in range(20)] == [200] * 20
