"""The read side stores nothing of its own.

Scores and leaderboard aggregates are written with the results that produce
them and live in :mod:`ingest.models.scores` (their tables keep their
``meshmark_`` names; see ``meshmark/migrations/0004``).
"""
