"""Celery tasks: take ids, call one service, hold no logic."""

from __future__ import annotations

from celery import shared_task

from ingest import services


@shared_task(
    name="ingest.process_submission",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=300,
    soft_time_limit=240,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def process_submission(submission_id: str) -> None:
    services.submission_process(submission_id=submission_id)


@shared_task(
    name="ingest.process_submissions",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=600,
    soft_time_limit=540,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def process_submissions(submission_ids: list[str]) -> None:
    """A batch from the bulk endpoint: one verdict each, one write per table."""
    services.submissions_process(submission_ids=submission_ids)


@shared_task(name="ingest.sweep_submissions", time_limit=120)
def sweep_submissions() -> int:
    return services.submission_sweep()
