"""gunicorn settings shared by ``meshmark serve`` and the container image.

Values can be overridden with GUNICORN_* environment variables or flags.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Chosen by measurement (bench/bench_gunicorn.py, docs/benchmarks.md): on 2 cores,
# a mixed read load (/healthz, /api/v1/profiles, /api/v1/results; 16 connections)
# got 183 req/s at p99 151 ms from 3 sync workers, against 145 req/s at p99 204 ms
# from the old 2 x 1, and at most 159 req/s from any other of 2-5 workers x 1-2
# threads. Threads only lengthened the tail (p99 440-490 ms): the read endpoints
# spend their time in Python, holding the GIL, not waiting on I/O. More workers
# cost ~160 MiB RSS each without adding throughput on 2 cores. The machine was
# shared, so throughput differences under ~10% are noise; the p99 gap is not.
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# Django writes one structured access line per request (meshmark.middleware),
# with the request id; gunicorn's own access log would only repeat it.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
# The heartbeat file must live on a tmpfs: on a container's overlay (or a
# read-only root filesystem) a slow disk write can get a busy worker killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn >= 25.1 opens a control socket under $HOME, which a container user has
# no (writable) home for; orchestration (compose, Kubernetes) does its job.
control_socket_disable = True


def on_starting(server: Any) -> None:
    # prometheus-client's multiprocess files from a previous run must not be summed
    # into this one's (see meshmark/metrics.py).
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        for stale in Path(directory).glob("*.db"):
            stale.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
