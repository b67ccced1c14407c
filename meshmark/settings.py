"""MeshMark settings, read from the environment.

Defaults run the embedded mode: a SQLite file under ``var/``, no broker (Celery
tasks run eagerly in the web process). Production sets ``DATABASE_URL``,
``CELERY_BROKER_URL``, ``SECRET_KEY`` (or ``SECRET_KEY_FILE``) and
``DEBUG=false``. Every variable is listed in ``deploy/.env.example``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def envstr(name: str, default: str) -> str:
    return os.environ.get(name) or default


def envsecret(name: str, default: str | None = None) -> str | None:
    """``NAME`` from the environment, or the contents of the file named by ``NAME_FILE``."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from None
    return os.environ.get(name) or default


DEBUG = envbool("DEBUG", True)
VAR_DIR = Path(envstr("MESHMARK_VAR_DIR", str(BASE_DIR / "var")))

_secret = envsecret("SECRET_KEY")
if _secret is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off")
    _secret = "insecure-development-key-only-for-debug-mode"  # noqa: S105
SECRET_KEY = _secret

# Kubernetes: the pod's own address (downward API, POD_IP), so probes and scrapes
# that reach the pod by IP pass the Host check.
ALLOWED_HOSTS = [
    h.strip()
    for h in [
        *envstr("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(","),
        envstr("POD_IP", ""),
    ]
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ingest",
    "meshmark",
]

# Request ids first, so every log line and response carries one; metrics next, so
# they time the whole stack; the CSP right after SecurityMiddleware and before
# WhiteNoise, so static files get it too; the database-outage guard last, so its
# process_exception runs first and an outage answers 503 (with Retry-After)
# through every other middleware, never 500.
MIDDLEWARE = [
    "meshmark.middleware.RequestIdMiddleware",
    "meshmark.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "meshmark.middleware.ContentSecurityPolicyMiddleware",
    "meshmark.middleware.QueryPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "meshmark.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "meshmark.urls"
WSGI_APPLICATION = "meshmark.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Persistent connections are checked before a request reuses them
# (conn_health_checks), so one that a database restart closed is replaced rather
# than failing the first request after the restart. DATABASE_URL holds a password:
# it may also come from a mounted file (DATABASE_URL_FILE), like SECRET_KEY.
_database_url = envsecret("DATABASE_URL")
DATABASES = {
    "default": (
        dj_database_url.parse(
            _database_url,
            conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
        if _database_url
        else {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "meshmark.sqlite3")}
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "meshmark" / "static"]

# Celery: with no broker configured, tasks run eagerly in the calling process,
# which is what the one-command embedded mode wants.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True


# Throttles (ingest/auth.py, meshmark/throttling.py): submissions per token and,
# token or not, per client address; anonymous reads per address. Views without their
# own throttles get the anonymous one (the schema, profiles, ...). The client address
# is REMOTE_ADDR, or with NUM_PROXIES=n (n proxies of ours append to X-Forwarded-For,
# e.g. 1 behind the Kubernetes ingress) the n-th address from the right of that
# header; 0 ignores it. A rate of "off" disables that throttle (benchmarks measure
# the server, not it).
def _rate(name: str, default: str) -> str | None:
    value = envstr(name, default)
    return None if value.lower() == "off" else value


REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "meshmark.openapi.ProblemAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # Every API error as application/problem+json.
    "EXCEPTION_HANDLER": "meshmark.problems.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "submissions": _rate("THROTTLE_SUBMISSIONS", "600/minute"),
        "submissions_ip": _rate("THROTTLE_SUBMISSIONS_IP", "1200/minute"),
        "anon": _rate("THROTTLE_ANON", "600/minute"),
    },
    "DEFAULT_THROTTLE_CLASSES": ["meshmark.throttling.AnonReadThrottle"],
    "NUM_PROXIES": envint("NUM_PROXIES", 0),
    "DEFAULT_PAGINATION_CLASS": "meshmark.pagination.CappedPagination",
    "PAGE_SIZE": 50,
    # `?format=` belongs to our exports (smp-json, smp-yaml), not to DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "MeshMark API",
    "DESCRIPTION": "The public index of Service Mesh Performance (SMP) results.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's files are served from this server, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Logs: one JSON object per line in production, readable lines in development;
# either way every record carries the request id.
LOG_FORMAT = envstr("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "meshmark.middleware.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "meshmark.middleware.JsonFormatter"},
    },
    "filters": {"request_id": {"()": "meshmark.middleware.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

# Serve static files straight from the app directories in development so the
# embedded mode needs no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Submissions
SUBMISSION_MAX_BYTES = envint("SUBMISSION_MAX_BYTES", 5 * 1024 * 1024)
# POST /api/v1/submissions/bulk: at most this many bundles and bytes per call.
SUBMISSION_BULK_MAX_ITEMS = envint("SUBMISSION_BULK_MAX_ITEMS", 1000)
SUBMISSION_BULK_MAX_BYTES = envint("SUBMISSION_BULK_MAX_BYTES", 32 * 1024 * 1024)
# Django refuses bigger bodies before our view sees them; leave room for the
# multipart envelope around a file of the maximum size. Each view applies its
# own, smaller limit first.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(SUBMISSION_MAX_BYTES, SUBMISSION_BULK_MAX_BYTES) + 64 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = SUBMISSION_MAX_BYTES + 64 * 1024
# What one SMP document may hold, checked before the API answers (400 naming the
# field and the rule, docs/api.md). Runs and buckets can only lower the SMP
# schema's own caps (100 runs, 10,000 buckets); raw.content and a client's body
# keep the schema's longer caps.
SUBMISSION_MAX_DEPTH = envint("SUBMISSION_MAX_DEPTH", 32)
SUBMISSION_MAX_RUNS = envint("SUBMISSION_MAX_RUNS", 100)
SUBMISSION_MAX_STRING_LENGTH = envint("SUBMISSION_MAX_STRING_LENGTH", 4096)
SUBMISSION_MAX_HISTOGRAM_BUCKETS = envint("SUBMISSION_MAX_HISTOGRAM_BUCKETS", 10_000)
# A submission left in received/processing this long is swept back into the queue.
SUBMISSION_STALE_AFTER_S = envint("SUBMISSION_STALE_AFTER_S", 300)

CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-submissions": {
        "task": "ingest.sweep_submissions",
        "schedule": float(envint("SUBMISSION_SWEEP_EVERY_S", 60)),
    },
    # After a formula version change (a deploy), results lacking a current score
    # are re-scored in the background, batch by batch.
    "rescore-if-needed": {"task": "meshmark.rescore_if_needed", "schedule": 600.0},
    # Incremental updates keep rows current; the rebuild is the safety net.
    "rebuild-leaderboards": {
        "task": "meshmark.rebuild_leaderboards",
        "schedule": float(envint("LEADERBOARD_REBUILD_EVERY_S", 3600)),
    },
}

# Leaderboards are cached until their rows change (the key says when); this only
# bounds how long an unused entry stays in the cache.
LEADERBOARD_CACHE_S = envint("LEADERBOARD_CACHE_S", 600)
# Release-step verdicts (mesh pages, trend API, regression feeds) and the sorted scores of
# a group (where a result stands) are cached under keys that change with their rows, so
# this too only bounds how long an unused entry stays; long, as computing them reads runs.
TREND_CACHE_S = envint("TREND_CACHE_S", 7 * 24 * 3600)

# Cache: local memory by default; Redis in production (shared by all workers so
# throttling counts every request once).
_cache_url = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGIN_URL = "/accounts/login/"
# Wrong passwords per address (and per user name) in 15 minutes before sign-in is refused.
LOGIN_FAILURES_PER_WINDOW = envint("LOGIN_FAILURES_PER_WINDOW", 10)
# Wrong API tokens per address per minute before the API answers 429.
AUTH_FAILURES_PER_MINUTE = envint("AUTH_FAILURES_PER_MINUTE", 30)
# Mail: password reset is offered only with a mail server (it would only log errors).
EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "meshmark@localhost")
LOGIN_REDIRECT_URL = "/upload"
LOGOUT_REDIRECT_URL = "/"

# --- Production hardening and observability ---
# What `manage.py check --deploy` asks for applies whenever DEBUG is off; each
# switch can still be turned by its variable (e.g. SECURE_SSL_REDIRECT=false for
# a trial over plain HTTP on localhost). docs/operations.md explains each variable.

# HTTPS only: a year of HSTS by default. The preload flag only makes the domain
# eligible for browsers' preload lists; submitting it is a separate, manual step.
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
# Kubelet probes and Prometheus speak plain HTTP to the pod, inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
# Behind a TLS-terminating proxy, "X-Forwarded-Proto: https" (the header it sets,
# and the value meaning HTTPS) tells Django the request was secure. Only set this
# when the proxy always overwrites that header: clients could forge it otherwise.
_proxy_ssl_header = envstr("SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header:
    _header, _sep, _value = _proxy_ssl_header.partition(":")
    if not _sep or not _header.strip() or not _value.strip():
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto: https', "
            f"got {_proxy_ssl_header!r}"
        )
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _header.strip().upper().replace("-", "_"),
        _value.strip(),
    )
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Same-origin everything: our pages, scripts, styles and the Swagger UI files are
# all served from here (drf-spectacular-sidecar), never from a CDN.
CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "style-src": ["'self'"],
    "script-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
}
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
DATABASE_UNAVAILABLE_RETRY_AFTER_S = envint("DATABASE_UNAVAILABLE_RETRY_AFTER_S", 5)

# /metrics: on by default; METRICS_TOKEN (or METRICS_TOKEN_FILE) requires it as a
# Bearer token. A Celery worker serves its own /metrics and /healthz on
# WORKER_HTTP_PORT when that is set (0: off).
METRICS_ENABLED = envbool("METRICS_ENABLED", True)
# With DEBUG off, /metrics needs METRICS_TOKEN unless METRICS_PUBLIC=true says, on
# purpose, that anyone may read the per-route counts and queue length.
METRICS_PUBLIC = envbool("METRICS_PUBLIC", DEBUG)
METRICS_TOKEN = envsecret("METRICS_TOKEN") or ""
WORKER_HTTP_PORT = envint("WORKER_HTTP_PORT", 0)

# Celery workers log through the handler above (JSON too) instead of their own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
