from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from meshmark import aggregates


class Command(BaseCommand):
    help = "Rebuild every leaderboard entry and row of the current formula version from the scores."

    def handle(self, *args: Any, **options: Any) -> None:
        start = time.perf_counter()
        rows = aggregates.leaderboards_rebuild()
        self.stdout.write(f"rebuilt {rows} leaderboard rows in {time.perf_counter() - start:.1f} s")
