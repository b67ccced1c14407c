"""Pages whose body is the same for every visitor while their data is unchanged.

A page names the state of what it shows (rows' count and latest change, the newest
result, ...) in a key; its body is rendered once per key and served from the cache
until the state moves, so nothing ever needs invalidating. The frame around the
body (navigation, the signed-in user) is rendered on every request; only the body,
which holds no form that needs a CSRF token, is shared.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils.safestring import SafeString, mark_safe
from rest_framework.renderers import JSONRenderer

from ingest.models import AuditEvent, Result, Score


def page_key(name: str, *parts: Any) -> str:
    raw = "|".join(str(p) for p in parts)
    return f"meshmark:page:{name}:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"


def cached_body(key: str, timeout: int, build: Callable[[], str]) -> SafeString:
    """The body cached under ``key``, else ``build()`` (rendered HTML), stored for next time."""
    body = cache.get(key)
    if body is None:
        body = build()
        cache.set(key, body, timeout)
    return mark_safe(body)  # noqa: S308 - HTML our own templates rendered (escaped there)


def cached_parts(key: str, timeout: int, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """:func:`cached_body` for a page whose frame needs more than its body (a title)."""
    parts = cache.get(key)
    if parts is None:
        parts = build()
        cache.set(key, parts, timeout)
    return dict(parts)


def cached_json(key: str, timeout: int, build: Callable[[], Any]) -> HttpResponse:
    """An API answer whose JSON is the same for everyone while its state holds: rendered once
    per ``key`` (serializing a page of 100 results cost more than reading it), then served."""
    body = cache.get(key)
    if body is None:
        body = JSONRenderer().render(build())
        cache.set(key, body, timeout)
    return HttpResponse(body, content_type="application/json")


def listing_state() -> tuple[Any, ...]:
    """The newest result, score and audit event, in one indexed query: a new result, a
    re-score and a moderation decision each change one of them."""
    with connection.cursor() as cursor:
        cursor.execute(_state_sql())
        return tuple(cursor.fetchone())


@functools.cache
def _state_sql() -> str:
    tables = [connection.ops.quote_name(m._meta.db_table) for m in (Result, Score, AuditEvent)]
    # Table names come from the models; nothing from the request is in the statement.
    return "SELECT " + ", ".join(f"(SELECT MAX(id) FROM {t})" for t in tables)  # noqa: S608
