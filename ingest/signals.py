"""Signals ingest sends so the read side (meshmark/) can react without ingest importing it."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that accepts submissions (one or a batch), after
# their results are stored; receivers that write (scores, leaderboard entries)
# commit or roll back with it. Arguments: submission_ids (list of UUIDs).
submissions_accepted = Signal()

# Sent after that transaction has committed (whatever the verdicts), for work
# that must only see committed data, such as refreshing leaderboard rows.
# Arguments: submission_ids (list of UUIDs).
submissions_processed = Signal()

# Sent after moderation listed or unlisted results (or a whole organization's).
# Arguments: result_ids (list[int]).
results_listing_changed = Signal()
