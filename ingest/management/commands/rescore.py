from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ingest import scores, tasks
from scoring import FORMULA_VERSION


class Command(BaseCommand):
    help = (
        f"Score every mesh result that has no {FORMULA_VERSION} score yet. Resumable: "
        "results already scored are skipped. Scores of other versions are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--background", action="store_true", help="queue Celery batches instead of waiting"
        )
        parser.add_argument("--batch-size", type=int, default=scores.RESCORE_BATCH)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["background"]:
            tasks.rescore_batch.delay(0, FORMULA_VERSION)
            self.stdout.write(f"queued re-scoring with {FORMULA_VERSION}")
            return
        count = scores.scores_backfill(batch_size=options["batch_size"])
        self.stdout.write(f"scored {count} results with {FORMULA_VERSION}")
