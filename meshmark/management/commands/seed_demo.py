from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from meshmark.demo import DEFAULT_SEED, DEFAULT_SIZE
from meshmark.demo.seed import SeedReport, seed, seed_bulk


class Command(BaseCommand):
    help = (
        "Seed the index with the demo corpus: organizations, clusters, profiles and meshes "
        "(Istio, Linkerd, Cilium, Kuma, Consul, and the no-mesh baselines), generated from "
        "published overhead figures and submitted through the real pipeline. Each submission "
        "holds a baseline and a mesh run (two results). Idempotent: the same seed gives the "
        "same submissions, which are not stored twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--size",
            type=int,
            default=DEFAULT_SIZE,
            help=f"submissions to seed (default {DEFAULT_SIZE}); results = 2 x size",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="insert submissions in batches and process them in this process, one "
            "transaction per batch (for big corpora; no Celery)",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="with --bulk")
        parser.add_argument(
            "--jobs", type=int, default=1, help="with --bulk: processes sharing the work"
        )
        parser.add_argument(
            "--no-kinds",
            action="store_true",
            help="leave out the demo runs of the capacity, churn and real-world profiles",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        size: int = options["size"]
        self.verbosity = options["verbosity"]
        if size < 1:
            raise CommandError("--size must be at least 1")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        with _quiet_task_log():
            if options["bulk"]:
                report = seed_bulk(
                    size=size,
                    seed=options["seed"],
                    batch_size=options["batch_size"],
                    jobs=max(1, options["jobs"]),
                    progress=self._progress,
                    kinds=not options["no_kinds"],
                )
            else:
                if not settings.CELERY_TASK_ALWAYS_EAGER:
                    self.stdout.write("a broker is configured: processing is queued for workers")
                report = seed(
                    size=size,
                    seed=options["seed"],
                    progress=self._progress,
                    kinds=not options["no_kinds"],
                )
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(report.statuses.items()))
        self.stdout.write(
            f"seeded {report.done} demo submissions in {report.seconds:.1f} s "
            f"({report.rate:.1f} submissions/s, {2 * report.rate:.1f} results/s): "
            f"{report.created} new, {report.duplicates} already there; {statuses}"
        )
        if report.kinds:
            kinds = ", ".join(f"{n} {status}" for status, n in sorted(report.kinds.items()))
            self.stdout.write(f"and the capacity, churn and real-world demo runs: {kinds}")

    def _progress(self, report: SeedReport) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"  {report.done}/{report.size} submissions ({report.rate:.1f}/s)")


@contextmanager
def _quiet_task_log() -> Iterator[None]:
    """Eager Celery logs one INFO line per task; hundreds of them bury the progress."""
    logger = logging.getLogger("celery.app.trace")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
