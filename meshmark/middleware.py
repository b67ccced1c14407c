"""Request context and security headers: request ids, structured logs, CSP.

``RequestIdMiddleware`` gives every request an id, the client's ``X-Request-ID``
when it is sane (1-64 characters of ``[A-Za-z0-9._-]``: a proxy's or a caller's
id is kept so one request can be followed across services) and a fresh uuid4
hex otherwise. The id goes back in the ``X-Request-ID`` response header and,
through a context variable read by ``RequestIdFilter``, onto every log record
emitted while the request is handled, whichever logger emits it. The
middleware also writes one access line per request (logger
``meshmark.request``), which is why gunicorn's own access log is off.

``JsonFormatter`` writes one JSON object per line (``LOG_FORMAT=json``, the
default when ``DEBUG`` is off) so log pipelines need no parsing rules.

``ContentSecurityPolicyMiddleware`` adds ``Content-Security-Policy`` and
``Permissions-Policy`` to responses that do not set their own;
``allow_template_styles`` lets one view's page use a template's static
``<style>`` block by its hash rather than by ``'unsafe-inline'``.

``QueryPolicyMiddleware`` answers 400, naming the parameter, for a path or a
query parameter holding a NUL byte or a control character: no text the
database cannot hold reaches a query (the submissions' own texts are guarded by
``smp.policy`` at the door).

``DatabaseUnavailableMiddleware`` turns a database that cannot be reached
(PostgreSQL restarting, failing over, refusing connections) into ``503`` with
``Retry-After`` and a problem+json body, for API views and pages alike, instead
of a 500; ``server_error`` (the ``handler500``) does the same for the rare
database error raised outside a view, such as a session save.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import functools
import hashlib
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.core.signals import request_finished
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.template.loader import get_template
from django.views import defaults

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Probes and scrapes arrive every few seconds from every replica; their access
# lines are logged at DEBUG so they do not drown the requests people make.
QUIET_PATHS = frozenset({"/healthz", "/metrics"})

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "meshmark_request_id", default=None
)
access_logger = logging.getLogger("meshmark.request")
logger = logging.getLogger(__name__)

GetResponse = Callable[[HttpRequest], HttpResponseBase]
ViewFunc = Callable[..., HttpResponseBase]


def request_id_from(header: str | None) -> str:
    """The caller's id when it is safe to log and echo, a new uuid4 hex otherwise."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        request_finished.connect(_forget_request_id, dispatch_uid="meshmark-request-id")

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.META["meshmark.request_id"] = request_id
        # Not reset on the way out: Django logs 4xx/5xx answers after the last
        # middleware returns, and those lines need the id too. request_finished
        # (the server closing the response) clears it.
        request_id_var.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        access_logger.log(
            logging.DEBUG if request.path in QUIET_PATHS else logging.INFO,
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response


def _forget_request_id(**_: Any) -> None:
    request_id_var.set(None)


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request's id (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


SECRET_IN_TEXT = re.compile(r"mm_[0-9a-f]{8}_[A-Za-z0-9_-]+")
"""An API token's shape (ingest.tokens): whatever carries one into a log, it is masked."""


def redact(text: str) -> str:
    return SECRET_IN_TEXT.sub("mm_[redacted]", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras.

    A request attached by Django (``extra={"request": ...}``) is written as its
    method and path, never its query string, and anything shaped like an API
    token is masked: a token sent in a URL must not land in the logs.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or "-",
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                if isinstance(value, HttpRequest):
                    value = f"{value.method} {value.path}"
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class RedactingFormatter(logging.Formatter):
    """The plain format, with anything shaped like an API token masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def policy_header(policy: Mapping[str, Sequence[str]], extra: Mapping[str, Sequence[str]]) -> str:
    """``{"img-src": ["'self'", "data:"]}`` -> ``img-src 'self' data:``, plus extra sources."""
    merged = {directive: list(sources) for directive, sources in policy.items()}
    for directive, sources in extra.items():
        current = merged.setdefault(directive, [])
        current.extend(source for source in sources if source not in current)
    return "; ".join(" ".join([directive, *sources]) for directive, sources in merged.items())


class ContentSecurityPolicyMiddleware:
    """``Content-Security-Policy`` and ``Permissions-Policy`` from settings.

    ``settings.CONTENT_SECURITY_POLICY`` maps directives to sources; a view can
    add sources for its own responses with ``allow_template_styles``. A response
    that already carries a header keeps it; an empty setting sends none.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", {})
        if policy:
            extra = getattr(response, "csp_extra_sources", {})
            response.setdefault("Content-Security-Policy", policy_header(policy, extra))
        permissions = getattr(settings, "PERMISSIONS_POLICY", "")
        if permissions:
            response.setdefault("Permissions-Policy", permissions)
        return response


@functools.cache
def inline_style_hashes(template_name: str) -> tuple[str, ...]:
    """CSP hash sources (``'sha256-…'``) for the ``<style>`` blocks of a template.

    Only right for blocks of static CSS, which render exactly as written.
    Computed from the installed template, so an upgrade that changes the CSS
    changes the hash with it.
    """
    source = get_template(template_name).template.source  # type: ignore[attr-defined]
    blocks = re.findall(r"<style[^>]*>(.*?)</style>", source, flags=re.DOTALL)
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() + "'"
        for css in blocks
    )


def allow_template_styles(template_name: str) -> Callable[[ViewFunc], ViewFunc]:
    """Let a view's page apply the static ``<style>`` blocks of ``template_name``.

    drf-spectacular's Swagger UI page has one such block; allowing its hash
    keeps ``style-src`` free of ``'unsafe-inline'``.
    """

    def decorator(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response = view(request, *args, **kwargs)
            response.csp_extra_sources = {  # type: ignore[attr-defined]
                "style-src": inline_style_hashes(template_name)
            }
            return response

        return wrapped

    return decorator


# What a database that cannot serve raises: connection refused or reset, the server
# shutting down or starting up, a connection closed under us. Django wraps the
# driver's errors in its own classes; psycopg's are listed in case one escapes.
DATABASE_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def rendered_problem(
    status: int,
    detail: str,
    problems: Sequence[Any] = (),
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponseBase:
    """A rendered problem+json answer, usable outside DRF views."""
    # Imported here: this module is loaded while logging is configured, before apps are.
    from meshmark.problems import PROBLEM_CONTENT_TYPE, ProblemJSONRenderer, problem_response

    response = problem_response(status, detail, problems, headers=headers, **extra)
    # No DRF view negotiated a renderer for this answer: use the one it would have.
    response.accepted_renderer = ProblemJSONRenderer()
    response.accepted_media_type = PROBLEM_CONTENT_TYPE
    response.renderer_context = {}  # type: ignore[attr-defined]  # set by views, not typed
    response["Cache-Control"] = "no-store"
    return response.render()


def service_unavailable(detail: str, **extra: Any) -> HttpResponseBase:
    """A rendered ``503`` problem+json with ``Retry-After``, usable outside DRF views."""
    retry_after = str(settings.DATABASE_UNAVAILABLE_RETRY_AFTER_S)
    return rendered_problem(503, detail, headers={"Retry-After": retry_after}, **extra)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class QueryPolicyMiddleware:
    """400 for a path or query parameter with a NUL byte or another control character."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        from smp.errors import Problem

        problems = []
        if _CONTROL.search(request.path):
            problems.append(Problem("path", "no-control", "the path holds a control character"))
        for name, values in request.GET.lists():
            if _CONTROL.search(name) or any(_CONTROL.search(v) for v in values):
                problems.append(
                    Problem(
                        name if not _CONTROL.search(name) else "query",
                        "no-control",
                        "query parameters may not hold NUL bytes or control characters",
                    )
                )
        if problems:
            return rendered_problem(400, "; ".join(p.message for p in problems), problems)
        return self.get_response(request)


def database_unavailable_response(exc: BaseException) -> HttpResponseBase:
    # One line, no traceback: during an outage every request lands here.
    logger.warning("database unavailable, answering 503: %s: %s", type(exc).__name__, exc)
    return service_unavailable("the database is unavailable; retry later")


class DatabaseUnavailableMiddleware:
    """Answer ``503`` + ``Retry-After`` when a view fails because the database is down.

    Last in ``MIDDLEWARE``, so its ``process_exception`` runs first and its answer
    still passes through the others (request id, metrics, security headers). DRF
    views re-raise these errors (its exception handler returns None for them), so
    API views and pages both arrive here. Nothing half-written survives: a
    request's writes are in transactions that the failure rolls back.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if isinstance(exception, DATABASE_UNAVAILABLE_ERRORS):
            return database_unavailable_response(exception)
        return None


def server_error(request: HttpRequest) -> HttpResponseBase:
    """``handler500``: a database error raised outside a view still answers 503.

    Django calls it (with ``DEBUG`` off) while handling the exception, so
    ``sys.exc_info()`` names it; any other error gets Django's own 500 page.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        return database_unavailable_response(exc)
    return defaults.server_error(request)
