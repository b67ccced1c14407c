"""Leaderboard rows refreshed a chunk of keys at a time (ingest.leaderboards.rows_refresh):
every row, outlier flag and deletion must be what aggregating each key's entries alone
gives (the oracle below reads one key at a time, as the refresh used to)."""

from __future__ import annotations

from typing import Any

import pytest

from ingest import leaderboards
from ingest.leaderboards import KEY_FIELDS, RowKey
from ingest.models import LeaderboardEntry, LeaderboardRow, Organization, PendingRefresh
from scoring.rows import ENTRY_COLUMNS, EntryColumns, row_values
from tests.pipeline import LINKERD, accept, seed_corpus

pytestmark = pytest.mark.django_db

VALUES = [name for name in leaderboards._ROW_VALUE_FIELDS if name != "updated_at"]


def oracle(key: RowKey) -> tuple[dict[str, Any] | None, dict[int, bool]]:
    rows = list(
        LeaderboardEntry.objects.filter(**key.lookup(), listed=True)
        .order_by("pk")
        .values_list(*ENTRY_COLUMNS)
    )
    entries = EntryColumns.from_rows(rows)
    values, flagged = row_values(entries)
    return values, dict(zip(entries.ids, (bool(f) for f in flagged), strict=True))


def stored(key: RowKey) -> dict[str, Any] | None:
    row = LeaderboardRow.objects.filter(**key.lookup()).values(*VALUES).first()
    return dict(row) if row else None


def all_keys() -> set[RowKey]:
    entries = LeaderboardEntry.objects.values_list(*KEY_FIELDS).distinct()
    rows = LeaderboardRow.objects.values_list(*KEY_FIELDS)
    return {RowKey(*k) for k in entries} | {RowKey(*k) for k in rows}


def test_a_refresh_of_many_keys_writes_what_each_key_alone_gives(
    org: Organization, other_org: Organization, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_corpus(org, other_org, runs=8)
    far = accept(org, config=LINKERD, p50=9.0, p99=40.0, n=99)  # far from the others
    far_key = RowKey.of(LeaderboardEntry.objects.get(result__submission=far))
    keys = sorted(all_keys())
    assert len(keys) >= 3
    others = [key for key in keys if key != far_key]
    # Spoil what is stored: wrong figures, a missing row, wrong outlier flags, and a key
    # whose entries are all unlisted now (its row must go).
    LeaderboardRow.objects.update(median=-1.0, results=0)
    LeaderboardRow.objects.filter(**far_key.lookup()).delete()
    LeaderboardEntry.objects.update(is_outlier=True)
    LeaderboardEntry.objects.filter(**others[0].lookup()).update(listed=False)
    monkeypatch.setattr(leaderboards, "REFRESH_CHUNK", 2)  # several chunks

    kept = leaderboards.rows_refresh(keys=keys)

    flagged_somewhere = False
    for key in keys:
        values, flags = oracle(key)
        if values is None:
            assert stored(key) is None
            continue
        assert stored(key) == {name: values[name] for name in VALUES}
        actual = dict(
            LeaderboardEntry.objects.filter(**key.lookup(), listed=True).values_list(
                "pk", "is_outlier"
            )
        )
        assert actual == flags
        flagged_somewhere |= any(flags.values())
    assert flagged_somewhere, "the far run was flagged, and flags were written both ways"
    assert kept == LeaderboardRow.objects.count() == len(keys) - 1


def test_pending_marks_of_the_refreshed_keys_are_consumed_and_no_others(
    org: Organization, other_org: Organization
) -> None:
    seed_corpus(org, other_org, runs=2)
    keys = sorted(all_keys())
    PendingRefresh.objects.all().delete()
    leaderboards.rows_mark(keys=keys)
    assert PendingRefresh.objects.count() == len(keys)
    assert leaderboards.rows_refresh_pending() == len(keys)
    assert not PendingRefresh.objects.exists()
    assert {RowKey.of(r) for r in LeaderboardRow.objects.all()} == set(keys)
