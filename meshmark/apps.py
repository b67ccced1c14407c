from __future__ import annotations

from django.apps import AppConfig


class MeshmarkConfig(AppConfig):
    name = "meshmark"
    verbose_name = "MeshMark"

    def ready(self) -> None:
        # Importing the Celery app here binds @shared_task to it in every process.
        from meshmark import celery, metrics  # noqa: F401

        metrics.connect_celery_signals()
