"""Reactions to ingest's signals. Each only calls a service."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from ingest.models import Submission
from ingest.signals import submission_accepted
from meshmark import services


@receiver(submission_accepted, dispatch_uid="meshmark.score_accepted_submission")
def score_accepted_submission(sender: Any, submission: Submission, **kwargs: Any) -> None:
    services.submission_score(submission=submission)
