from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ingest import leaderboards


class Command(BaseCommand):
    help = (
        "Rebuild every leaderboard row of the current formula version (medians, bootstrap "
        "intervals, outliers); by default the entries are first derived again from the scores."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rows-only",
            action="store_true",
            help="recompute the rows from the entries as they are (skip re-deriving entries)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start = time.perf_counter()
        rows = leaderboards.leaderboards_rebuild(entries=not options["rows_only"])
        self.stdout.write(f"rebuilt {rows} leaderboard rows in {time.perf_counter() - start:.1f} s")
