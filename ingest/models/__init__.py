"""What the index stores.

:mod:`ingest.models.submissions`: organizations, tokens, submissions (bytes kept
verbatim) and the results, environments and mesh configurations derived from them.
:mod:`ingest.models.scores`: the MeshMark scores of those results and the
leaderboard aggregates built from them.
"""

from __future__ import annotations

from ingest.models.scores import LeaderboardEntry, LeaderboardRow, PendingRefresh, RowKeyed, Score
from ingest.models.submissions import (
    ApiToken,
    AuditEvent,
    Environment,
    Membership,
    MeshConfig,
    Organization,
    Profile,
    Result,
    Submission,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Environment",
    "LeaderboardEntry",
    "LeaderboardRow",
    "Membership",
    "MeshConfig",
    "Organization",
    "PendingRefresh",
    "Profile",
    "Result",
    "RowKeyed",
    "Score",
    "Submission",
]
