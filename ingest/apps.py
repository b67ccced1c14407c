from __future__ import annotations

from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingest"

    def ready(self) -> None:
        # Registers the system check that throttles share one cache in production.
        from ingest import auth  # noqa: F401
