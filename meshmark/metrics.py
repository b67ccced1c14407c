"""Prometheus metrics: requests, submissions by status, queue depth, task durations.

``GET /metrics`` (``metrics_view``) answers in the Prometheus text format:

- ``meshmark_http_requests_total{method,route,status}`` and
  ``meshmark_http_request_duration_seconds{method,route}``, counted by
  ``MetricsMiddleware``. ``route`` is the URL pattern (``api/v1/results/<int:result_id>``),
  never the raw path, so the number of series stays bounded.
- ``meshmark_submissions{status}``: rows per submission status, one
  ``COUNT(*) ... GROUP BY status`` at scrape time.
- ``meshmark_celery_queue_length{queue}``: messages waiting in the Redis broker
  (``LLEN`` of the default queue and its priority sub-queues), with
  ``meshmark_celery_broker_up``; absent when no Redis broker is configured.
- ``meshmark_task_duration_seconds{task,state}``: how long each Celery task ran,
  observed by signal handlers (``connect_celery_signals``) in whichever process
  runs the task: the worker, or the web process in eager mode.

Several processes (gunicorn workers, Celery's prefork children) each hold
their own counters. Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable
directory private to the pod or container and prometheus-client keeps the
values in files there, which every scrape sums; without it a scrape sees only
the process that answers it. The gunicorn config and the worker wipe the
directory when they start. The database and broker figures are read at scrape
time, so every web replica reports the same value: aggregate them with
``max``, not ``sum``.

Celery workers serve no HTTP, so with ``WORKER_HTTP_PORT`` set the worker's
main process starts a small server on that port with ``/metrics`` (the task
metrics of all its pool processes) and ``/healthz`` (database and broker
checks) for Prometheus and the Kubernetes probes.

``METRICS_ENABLED=false`` turns ``/metrics`` off (404); ``METRICS_TOKEN`` (or
``METRICS_TOKEN_FILE``) makes it require ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from meshmark.middleware import GetResponse

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REDIS_TIMEOUT_S = 1.0
# kombu's Redis transport keeps priorities 3, 6 and 9 in sibling lists named
# queue + "\x06\x16" + priority; priority 0 is the queue's own list.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_REQUESTS = Counter(
    "meshmark_http_requests",
    "HTTP requests answered, by method, URL pattern and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "meshmark_http_request_duration_seconds",
    "Time from the request reaching Django to the response leaving it.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TASK_DURATION = Histogram(
    "meshmark_task_duration_seconds",
    "Celery task run time, by task name and final state (SUCCESS, FAILURE, RETRY).",
    ["task", "state"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)


# --- HTTP requests ---------------------------------------------------------


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered, or a fixed label when none did."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return str(match.route)
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "<static>"
    return "<unresolved>"  # 404s, redirects and answers from middleware


class MetricsMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        method = request.method if request.method in KNOWN_METHODS else "OTHER"
        route = route_of(request)
        HTTP_REQUESTS.labels(method, route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(method, route).observe(elapsed)
        return response


# --- Figures read at scrape time -------------------------------------------


class SubmissionsCollector:
    """Submissions per status, counted in the database when scraped."""

    def collect(self) -> Iterator[Metric]:
        from django.db import DatabaseError
        from django.db.models import Count

        from ingest.models import Submission

        gauge = GaugeMetricFamily(
            "meshmark_submissions", "Submissions stored, by processing status.", labels=["status"]
        )
        counts = dict.fromkeys(Submission.Status.values, 0)
        try:
            # order_by() drops the model's default ordering, which would otherwise
            # join the GROUP BY and split the counts.
            rows = Submission.objects.order_by().values_list("status").annotate(n=Count("pk"))
            counts.update({status: n for status, n in rows})
        except DatabaseError:
            logger.warning("metrics: cannot count submissions", exc_info=True)
            return
        for status, n in sorted(counts.items()):
            gauge.add_metric([status], n)
        yield gauge


def celery_queue_names() -> list[str]:
    return [getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", None) or "celery"]


def redis_queue_lengths(broker_url: str, queues: Iterable[str]) -> dict[str, int]:
    """LLEN of each queue and its kombu priority lists, summed per queue."""
    import redis

    client = redis.Redis.from_url(
        broker_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        names = list(queues)
        pipe = client.pipeline(transaction=False)
        for queue in names:
            pipe.llen(queue)
            for priority in KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{queue}{KOMBU_PRIORITY_SEPARATOR}{priority}")
        sizes = pipe.execute()
    finally:
        client.close()
    per_queue = 1 + len(KOMBU_PRIORITY_STEPS)
    return {
        queue: sum(int(n) for n in sizes[i * per_queue : (i + 1) * per_queue])
        for i, queue in enumerate(names)
    }


class QueueDepthCollector:
    """Messages waiting in the Celery queues of a Redis broker."""

    def collect(self) -> Iterator[Metric]:
        broker_url = settings.CELERY_BROKER_URL
        if not broker_url.startswith(("redis://", "rediss://", "unix://")):
            return  # eager mode, or a broker this collector does not read
        import redis

        up = GaugeMetricFamily(
            "meshmark_celery_broker_up", "1 when the Redis broker answered the scrape."
        )
        try:
            lengths = redis_queue_lengths(broker_url, celery_queue_names())
        except redis.RedisError:
            logger.warning("metrics: cannot read the Celery queue length", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        gauge = GaugeMetricFamily(
            "meshmark_celery_queue_length",
            "Messages waiting in the Celery queue (Redis LLEN), not yet taken by a worker.",
            labels=["queue"],
        )
        for queue, n in lengths.items():
            gauge.add_metric([queue], n)
        yield gauge


# --- Exposition ------------------------------------------------------------


def process_metrics() -> bytes:
    """Counters and histograms: this process's, or all processes' in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def scrape_time_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SubmissionsCollector())
    registry.register(QueueDepthCollector())
    return generate_latest(registry)


def token_accepted(authorization: str | None) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        return bool(getattr(settings, "METRICS_PUBLIC", True))
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _unauthorized() -> HttpResponse:
    response = HttpResponse(
        "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
        status=401,
        content_type="text/plain; charset=utf-8",
    )
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not getattr(settings, "METRICS_ENABLED", True):
        raise Http404("metrics are disabled (METRICS_ENABLED=false)")
    if not token_accepted(request.headers.get("Authorization")):
        return _unauthorized()
    response = HttpResponse(
        process_metrics() + scrape_time_metrics(), content_type=CONTENT_TYPE_LATEST
    )
    response["Cache-Control"] = "no-store"
    return response


# --- Celery: task durations and the worker's own endpoints -----------------

_task_started: dict[str, float] = {}


def _on_task_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _task_started[task_id] = time.perf_counter()


def _on_task_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _task_started.pop(task_id, None) if task_id else None
    if started is None:
        return
    name = getattr(task, "name", None) or "unknown"
    TASK_DURATION.labels(name, state or "UNKNOWN").observe(time.perf_counter() - started)


def wipe_multiprocess_dir() -> None:
    """Remove the value files a previous run left (prometheus-client asks for this)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


class WorkerEndpoints(BaseHTTPRequestHandler):
    """``/metrics`` and ``/healthz`` for a Celery worker, which has no web server."""

    server_version = "meshmark-worker"

    def do_GET(self) -> None:
        if self.path == "/metrics":
            if not token_accepted(self.headers.get("Authorization")):
                self._send(401, b"metrics need Authorization: Bearer <METRICS_TOKEN>\n")
                return
            self._send(200, process_metrics(), CONTENT_TYPE_LATEST)
        elif self.path == "/healthz":
            status, body = worker_health()
            self._send(status, json.dumps(body).encode(), "application/json")
        else:
            self._send(404, b"not found\n")

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("worker endpoint: " + format, *args)


def worker_health() -> tuple[int, dict[str, Any]]:
    from django.db import connections

    from meshmark.health import check_broker, check_database

    try:
        checks = {"database": check_database(), "broker": check_broker()}
    finally:
        connections.close_all()  # this thread's connection, not a request's
    healthy = all(not value.startswith("error") for value in checks.values())
    return (200 if healthy else 503), {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
    }


def start_worker_http_server(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104
    """Serve ``WorkerEndpoints`` from a daemon thread; port 0 picks a free port."""
    server = ThreadingHTTPServer((host, port), WorkerEndpoints)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="worker-endpoints", daemon=True).start()
    logger.info("worker /metrics and /healthz on port %s", server.server_address[1])
    return server


def _on_worker_init(**_: Any) -> None:
    # The pool processes fork after this, so they inherit a clean directory.
    wipe_multiprocess_dir()
    port = getattr(settings, "WORKER_HTTP_PORT", 0)
    if port:
        start_worker_http_server(port)


def connect_celery_signals() -> None:
    """Time every task and, in a worker, serve its endpoints. Safe to call twice."""
    from celery import signals

    signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="meshmark-prerun")
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="meshmark-postrun")
    signals.worker_init.connect(_on_worker_init, weak=False, dispatch_uid="meshmark-worker-init")
