"""Celery bootstrap: configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meshmark.settings")

app = Celery("meshmark")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
