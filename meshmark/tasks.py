"""Celery tasks of the read side: take ids, call one service, hold no logic."""

from __future__ import annotations

from celery import shared_task

from meshmark import aggregates, services
from scoring import FORMULA_VERSION


@shared_task(name="meshmark.rescore_batch", acks_late=True, time_limit=600, soft_time_limit=540)
def rescore_batch(after_id: int = 0, version: str = FORMULA_VERSION) -> int | None:
    """Score one batch of results lacking a score of ``version``, then queue the next batch."""
    batch = services.scores_backfill_batch(version=version, after_id=after_id)
    if batch is None:
        return None
    last_id, _ = batch
    rescore_batch.delay(last_id, version)
    return last_id


@shared_task(name="meshmark.rescore_if_needed", time_limit=60)
def rescore_if_needed() -> bool:
    """Periodic: start a background re-score when results lack a current-version score."""
    if services.scores_missing(limit=1):
        rescore_batch.delay(0, FORMULA_VERSION)
        return True
    return False


@shared_task(name="meshmark.rebuild_leaderboards", time_limit=1800, soft_time_limit=1700)
def rebuild_leaderboards() -> int:
    """Periodic: rebuild every entry and row of the current version from the scores."""
    return aggregates.leaderboards_rebuild()
