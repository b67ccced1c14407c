"""Processes of the ingest bench: RSS sampling, the Celery workers, their Redis queue."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from bench.common import ROOT


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
