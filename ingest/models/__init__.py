"""What the index stores.

:mod:`ingest.models.submissions`: organizations, tokens, submissions (bytes kept
verbatim) and the results, environments and mesh configurations derived from them.
:mod:`ingest.models.scores`: the MeshMark scores of those results and the
leaderboard aggregates built from them. :mod:`ingest.models.conformance`: Gateway
API conformance reports of meshes.
"""

from __future__ import annotations

# Re-exported (``X as X``): the app's models are ``ingest.models.X`` wherever they live.
from ingest.models.conformance import ConformanceReport as ConformanceReport
from ingest.models.scores import LeaderboardEntry as LeaderboardEntry
from ingest.models.scores import LeaderboardRow as LeaderboardRow
from ingest.models.scores import PendingRefresh as PendingRefresh
from ingest.models.scores import RowKeyed as RowKeyed
from ingest.models.scores import Score as Score
from ingest.models.submissions import ApiToken as ApiToken
from ingest.models.submissions import AuditEvent as AuditEvent
from ingest.models.submissions import Environment as Environment
from ingest.models.submissions import Membership as Membership
from ingest.models.submissions import MeshConfig as MeshConfig
from ingest.models.submissions import Organization as Organization
from ingest.models.submissions import Profile as Profile
from ingest.models.submissions import Result as Result
from ingest.models.submissions import Submission as Submission
