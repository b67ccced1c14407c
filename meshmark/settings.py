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

ALLOWED_HOSTS = [
    h.strip() for h in envstr("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
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

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

_database_url = os.environ.get("DATABASE_URL")
if _database_url:
    DATABASES = {
        "default": dj_database_url.parse(
            _database_url, conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60)
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "meshmark.sqlite3"),
        }
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

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
}

# Serve static files straight from the app directories in development so the
# embedded mode needs no collectstatic step.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# Submissions
SUBMISSION_MAX_BYTES = envint("SUBMISSION_MAX_BYTES", 5 * 1024 * 1024)
# Django refuses bigger bodies before our view sees them; leave room for the
# multipart envelope around a file of the maximum size.
DATA_UPLOAD_MAX_MEMORY_SIZE = SUBMISSION_MAX_BYTES + 64 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
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

REST_FRAMEWORK["EXCEPTION_HANDLER"] = "ingest.problems.exception_handler"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "submissions": envstr("THROTTLE_SUBMISSIONS", "600/minute"),
    "anon": envstr("THROTTLE_ANON", "600/minute"),
}
REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = "rest_framework.pagination.LimitOffsetPagination"
REST_FRAMEWORK["PAGE_SIZE"] = 50

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/upload"
LOGOUT_REDIRECT_URL = "/"
# `?format=` belongs to our exports (smp-json, smp-yaml), not to DRF's renderer switch.
REST_FRAMEWORK["URL_FORMAT_OVERRIDE"] = None
