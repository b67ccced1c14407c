"""The throttle of anonymous reads, the project's default (``THROTTLE_ANON``)."""

from __future__ import annotations

from rest_framework import throttling

from ingest.auth import FailOpenMixin


class AnonReadThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    """Anonymous requests, per client address; a cache outage lets them through."""

    scope = "anon"
