"""Bearer-token authentication and throttling for the API.

Throttle counts live in the default cache: Redis (``CACHE_URL``) in production, so
every gunicorn worker and every replica counts against one budget. The client
address is ``REMOTE_ADDR`` unless ``NUM_PROXIES`` says how many proxies of ours
append to ``X-Forwarded-For``; a client cannot pick its own address by sending
that header.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import checks
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from redis.exceptions import RedisError
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from ingest import tokens
from ingest.models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer mm_…``: an organization's token.

    ``request.auth`` is the ApiToken; ``request.user`` the user who issued it,
    or an anonymous user for tokens issued from the command line.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("the Authorization header has no token")
        token = tokens.token_authenticate(secret=secret)
        if token is None:
            # Guessing tokens costs a client its budget of failures: after
            # AUTH_FAILURES_PER_MINUTE wrong tokens an address is refused (429).
            count, wait = count_in_window(f"auth-failures:{client_address(request)}", period_s=60)
            if count > settings.AUTH_FAILURES_PER_MINUTE:
                raise exceptions.Throttled(wait=wait)
            raise exceptions.AuthenticationFailed("the token is not valid")
        if not token.is_active:
            raise exceptions.AuthenticationFailed("the token was revoked")
        return token.created_by or AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="meshmark"'


class HasOrganizationToken(permissions.BasePermission):
    message = "an organization's API token is required (Authorization: Bearer <token>)"

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiToken)


logger = logging.getLogger(__name__)

LOCAL_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }
)


def _windows(key: str, period_s: int) -> tuple[str, str, float, float]:
    now = time.time()
    window = int(now // period_s)
    elapsed = (now - window * period_s) / period_s
    name = f"meshmark:window:{key}"
    return f"{name}:{window}", f"{name}:{window - 1}", elapsed, (window + 1) * period_s - now


def count_in_window(key: str, *, period_s: int) -> tuple[float, float]:
    """Count one more event under ``key`` over the last ``period_s`` seconds; returns
    that count and the seconds until the current window ends.

    Each event is one atomic increment of the current fixed window's counter (Redis
    ``INCR``; a lock in the local cache), so concurrent requests never overwrite
    each other's counts, as a read-then-write of a history list does. The count
    over the last period is this window's plus the previous window's weighted by
    how much of it still lies within the period (a sliding window, estimated from
    two counters): no burst of twice the rate across a window's edge.
    """
    current, previous, elapsed, left = _windows(key, period_s)
    cache.add(current, 0, timeout=2 * period_s + 1)
    try:
        count = int(cache.incr(current))
    except ValueError:  # expired between add and incr: start again
        cache.add(current, 1, timeout=2 * period_s + 1)
        count = 1
    return count + int(cache.get(previous) or 0) * (1 - elapsed), left


def peek_window(key: str, *, period_s: int) -> float:
    """:func:`count_in_window`'s count without counting an event."""
    current, previous, elapsed, _ = _windows(key, period_s)
    return int(cache.get(current) or 0) + int(cache.get(previous) or 0) * (1 - elapsed)


def client_address(request: Request) -> str:
    """The client's address as throttles see it (``NUM_PROXIES``, see the module doc)."""
    return str(throttling.BaseThrottle().get_ident(request))


class FailOpenMixin(throttling.SimpleRateThrottle):
    """A throttle counting in atomic fixed windows (:func:`count_in_window`), whose cache
    being down lets the request through (and says so in the log): an outage of Redis
    must not take the API down with it."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            period = int(getattr(self, "duration"))  # noqa: B009 - set by SimpleRateThrottle
            count, self._wait = count_in_window(key, period_s=period)
        except (RedisError, OSError) as exc:
            logger.warning("throttle %s skipped, its cache is unreachable: %s", self.scope, exc)
            return True
        return count <= int(getattr(self, "num_requests"))  # noqa: B009

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class SubmissionRateThrottle(FailOpenMixin):
    """Per token when there is one, per client address otherwise."""

    scope = "submissions"

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return str(self.cache_format % {"scope": self.scope, "ident": ident})


class SubmissionIpRateThrottle(FailOpenMixin):
    """Per client address, with or without a token: one address holding many tokens
    still has one budget (``THROTTLE_SUBMISSIONS_IP``)."""

    scope = "submissions_ip"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return str(self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)})


SUBMISSION_THROTTLES = [SubmissionRateThrottle, SubmissionIpRateThrottle]
"""What every endpoint that stores submissions is throttled by."""


@checks.register(checks.Tags.caches)
def throttle_cache_is_shared(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """With DEBUG off, several processes serve (gunicorn workers, replicas): their
    throttle counts must meet in one cache, or each enforces its own budget."""
    backend = settings.CACHES["default"]["BACKEND"]
    if settings.DEBUG or backend not in LOCAL_CACHES:
        return []
    return [
        checks.Warning(
            f"throttles count in each process's own cache ({backend.rsplit('.', 1)[-1]}), "
            "so every gunicorn worker and every replica allows the full THROTTLE_* rates",
            hint="set CACHE_URL to the Redis shared by all web processes, "
            "e.g. redis://redis:6379/1 (deploy/.env.example)",
            id="ingest.W001",
        )
    ]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema (drf-spectacular finds it by target)."""

    target_class = BearerTokenAuthentication
    name = "organizationToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization's API token: Authorization: Bearer mm_…",
        }
