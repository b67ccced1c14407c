"""Moving scores and aggregates from meshmark to ingest kept every stored row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from ingest.models import LeaderboardEntry, LeaderboardRow, Organization, Score
from tests.pipeline import seed_corpus

BEFORE_THE_MOVE = [("ingest", "0003_local_proxy_mesh_types"), ("meshmark", "0003_pending_refresh")]


def _snapshot(score: type, entry: type, row: type) -> list[list[tuple[object, ...]]]:
    return [
        sorted(score.objects.values_list("pk", "result_id", "score", "formula_version")),
        sorted(entry.objects.values_list("pk", "score_id", "value", "listed")),
        sorted(row.objects.values_list("pk", "median", "ci_low", "ci_high", "results")),
    ]


# serialized_rollback: the standard profiles (a data migration) are restored first, whatever
# transactional test flushed the database before this one.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_scores_entries_and_rows_survive_the_move_both_ways(
    org: Organization, other_org: Organization
) -> None:
    seed_corpus(org, other_org, runs=2)
    after = _snapshot(Score, LeaderboardEntry, LeaderboardRow)
    assert all(after), "the corpus wrote scores, entries and rows"

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE_THE_MOVE)
    old = MigrationExecutor(connection).loader.project_state(BEFORE_THE_MOVE).apps
    # Before the move the same tables belong to meshmark's models, rows untouched.
    assert (
        _snapshot(
            old.get_model("meshmark", "Score"),
            old.get_model("meshmark", "LeaderboardEntry"),
            old.get_model("meshmark", "LeaderboardRow"),
        )
        == after
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(leaves)
    assert _snapshot(Score, LeaderboardEntry, LeaderboardRow) == after
