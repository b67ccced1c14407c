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


@pytest.mark.django_db
def test_bodies_and_result_documents_are_compressed_with_lz4() -> None:
    """Migration 0011: the large columns use lz4 where the server has it (this one does:
    Debian's PostgreSQL is built with it), and a body stored now reads back byte for byte."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        assert cursor.fetchone()[0], "this PostgreSQL has no lz4: the migration keeps pglz"
        cursor.execute(
            "SELECT c.relname, a.attname, a.attcompression FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE (c.relname, a.attname) IN (('ingest_submission', 'raw'),"
            " ('ingest_result', 'smp'), ('ingest_result', 'histogram'))"
        )
        methods = {(table, column): method for table, column, method in cursor.fetchall()}
    assert methods == {
        ("ingest_submission", "raw"): "l",
        ("ingest_result", "smp"): "l",
        ("ingest_result", "histogram"): "l",
    }


@pytest.mark.django_db
def test_a_large_body_is_stored_compressed_and_read_back_exactly(org: Organization) -> None:
    from ingest.models import Submission
    from meshmark.demo.generate import generate

    body = next(iter(generate(1, 11))).body * 3  # about 45 kB: well over the 2 kB threshold
    submission = Submission.objects.create(
        organization=org, raw=body, content_type="application/json", size=len(body),
        sha256="x", content_digest="x",
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(raw), pg_column_compression(raw) FROM ingest_submission"
            " WHERE id = %s",
            [submission.pk],
        )
        stored, method = cursor.fetchone()
    assert method == "lz4"
    assert stored < len(body) / 2
    assert bytes(Submission.objects.get(pk=submission.pk).raw) == body
