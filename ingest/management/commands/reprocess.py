from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingest import submissions
from ingest.models import Submission


class Command(BaseCommand):
    help = "Run the processing pipeline again over stored submissions (raw bytes are kept)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="*", help="submission ids (default: all matching)")
        parser.add_argument("--status", choices=[s.value for s in Submission.Status])
        parser.add_argument("--organization", help="organization slug")
        parser.add_argument("--format", dest="detected_format", help="detected format, e.g. smp")
        parser.add_argument("--since", help="received on or after this day (YYYY-MM-DD)")

    def handle(self, *args: Any, **options: Any) -> None:
        qs = Submission.objects.order_by("received_at")
        if options["ids"]:
            qs = qs.filter(pk__in=options["ids"])
        if options["status"]:
            qs = qs.filter(status=options["status"])
        if options["organization"]:
            qs = qs.filter(organization__slug=options["organization"])
        if options["detected_format"]:
            qs = qs.filter(detected_format=options["detected_format"])
        if options["since"]:
            try:
                since = dt.date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError("--since must be a date like 2026-01-31") from None
            qs = qs.filter(received_at__date__gte=since)
        ids = list(qs.values_list("pk", flat=True))
        chosen = Submission.objects.filter(pk__in=ids).order_by("received_at")
        count = submissions.submission_reprocess(submissions=chosen.iterator())
        accepted = chosen.filter(status=Submission.Status.ACCEPTED).count()
        self.stdout.write(f"reprocessed {count} submissions; {accepted} accepted")
