"""What the benches share: a scratch database, a real gunicorn, and wrk read by our own reader."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_database(name: str) -> str:
    """Drop and create a scratch database; returns its URL."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def bench_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "SECURE_SSL_REDIRECT": "false",
        # Off: a bench measures the server. (DRF keeps each client's request times
        # in the cache, so a huge rate would measure pickling that list instead.)
        "THROTTLE_SUBMISSIONS": "off",
        "THROTTLE_SUBMISSIONS_IP": "off",
        "THROTTLE_ANON": "off",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def wait_healthy(base: str, what: str, *, seconds: float = 30, log: Path | None = None) -> None:
    """Poll ``base``/healthz until it answers 200; RuntimeError naming ``what`` (and the
    log to read) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    detail = f": {log.read_text(errors='replace')[-2000:]}" if log and log.exists() else ""
    raise RuntimeError(f"{what} did not answer /healthz within {seconds:g} s{detail}")


@contextlib.contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 2, threads: int = 1) -> Iterator[str]:
    """A gunicorn serving meshmark on a free port; yields its base URL."""
    port = free_port()
    argv = [
        sys.executable, "-m", "gunicorn", "meshmark.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--access-logfile", "/dev/null",
    ]  # fmt: skip
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, "gunicorn")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def wrk_raw(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: int = 10,
) -> bytes:
    """Run Debian's wrk with --latency; returns its output (a script's done() may add lines)."""
    argv = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    argv += ["--timeout", f"{timeout_s}s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["--script", str(script)]
    return subprocess.run([*argv, url], capture_output=True, check=True).stdout


def wrk_figures(out: bytes) -> dict[str, float]:
    """wrk's output read with MeshMark's own wrk reader."""
    from smp.readers import wrk as wrk_reader

    (result,) = wrk_reader.read(out)
    lat = result.latencies_ms
    return {
        "rps": result.actual_qps or 0.0,
        "p50_ms": lat.p50 or float("nan"),
        "p99_ms": lat.p99 or float("nan"),
        "errors": float(result.error_count or 0),
        "requests": float(result.request_count or 0),
        "seconds": result.duration_s or float("nan"),
    }


def wrk(
    url: str,
    *,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """Run Debian's wrk with --latency and read its output with MeshMark's own wrk reader."""
    out = wrk_raw(
        url,
        seconds=seconds,
        connections=connections,
        threads=threads,
        script=script,
        headers=headers,
    )
    return wrk_figures(out)


PROXY_TEMPLATE = ROOT / "deploy" / "k8s" / "nginx.conf.template"


@contextlib.contextmanager
def buffering_proxy(upstream: str, workdir: Path) -> Iterator[str]:
    """Debian's nginx with the deployment's own proxy configuration
    (deploy/k8s/nginx.conf.template) in front of ``upstream``; yields its base URL."""
    port = free_port()
    site = PROXY_TEMPLATE.read_text()
    site = site.replace("${MESHMARK_LISTEN}", f"127.0.0.1:{port}")
    site = site.replace("${MESHMARK_UPSTREAM}", upstream)
    (workdir / "site.conf").write_text(site)
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"""daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/client_body;
  proxy_temp_path {workdir}/proxy_temp;
  fastcgi_temp_path {workdir}/fastcgi_temp;
  uwsgi_temp_path {workdir}/uwsgi_temp;
  scgi_temp_path {workdir}/scgi_temp;
  include {workdir}/site.conf;
}}
"""
    )
    proxy = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, "nginx", seconds=10, log=workdir / "error.log")
        yield base
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)


def slow_clients(base: str, count: int, seconds: float, stop: threading.Event) -> None:
    """``count`` connections that send a request head one header line a second and never
    finish it (a slowloris), for ``seconds`` or until ``stop`` is set."""
    host, port = base.removeprefix("http://").split(":")
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sockets.append(sock)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not stop.wait(1.0):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")
    finally:
        for sock in sockets:
            sock.close()
