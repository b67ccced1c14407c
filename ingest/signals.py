"""Signals ingest sends so the read side (meshmark/) can react without ingest importing it."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that accepts a submission, after its results are
# stored; receivers that write (scores, aggregates) commit or roll back with it.
# Arguments: submission (ingest.models.Submission).
submission_accepted = Signal()

# Sent after moderation listed or unlisted results (or a whole organization's).
# Arguments: result_ids (list[int]).
results_listing_changed = Signal()
