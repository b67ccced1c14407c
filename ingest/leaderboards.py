"""Leaderboard aggregates: entries per scored run, rows per mesh configuration and group.

Entries mirror the current-version scores with the keys leaderboards group
and filter by; they are written in the transaction that accepts a result,
together with a *pending refresh* mark naming each row key they touch.

Rows are recomputed from their entries after that transaction commits, by
:func:`rows_refresh_pending`: one process at a time (an advisory lock), each
pending key once however many results arrived for it meanwhile. Refreshing
after commit, serialized, is what makes concurrent workers safe: a refresh
always reads every entry committed before its mark was seen, so no row can be
overwritten by an older view of its entries. A periodic rebuild redoes
everything from the scores.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Q

from ingest import normalize
from ingest.models import (
    Environment,
    LeaderboardEntry,
    LeaderboardRow,
    Organization,
    PendingRefresh,
    Profile,
    Result,
    RowKeyed,
    Score,
    Submission,
)
from scoring import FORMULA_VERSION
from scoring.rows import ENTRY_COLUMNS, EntryColumns, row_values

logger = logging.getLogger(__name__)

SYNC_BATCH = 5000
REFRESH_BATCH = 500
"""Pending marks taken per round by :func:`rows_refresh_pending`."""
REFRESH_LOCK = 0x4D4D_5246  # "MMRF": the advisory lock id of row refreshes
KEY_FIELDS = RowKeyed.KEY_FIELDS


class RowKey(NamedTuple):
    """A row's key, in the order of ``KEY_FIELDS``."""

    formula_version: str
    profile_id: str
    environment_class: str
    mesh_config_id: int
    complete: bool

    @classmethod
    def of(cls, keyed: RowKeyed) -> RowKey:
        return cls(*(getattr(keyed, name) for name in KEY_FIELDS))

    def lookup(self) -> dict[str, Any]:
        """The key as filter keywords (``LeaderboardRow.objects.filter(**key.lookup())``)."""
        return dict(zip(KEY_FIELDS, self, strict=True))


def entries_sync(*, score_ids: Iterable[int]) -> set[RowKey]:
    """Create or update the entries of these scores; returns the rows they touch.

    Reads the columns as plain values (one query across the score, its result, profile,
    environment, organization and submission) rather than as six model instances a score.
    """
    rows = Score.objects.filter(pk__in=list(score_ids), score__isnull=False).values_list(
        *_COPIED, *_DERIVED_FROM
    )
    width = len(_COPIED)
    entries = []
    for row in rows:
        copied = dict(zip(_COPIED.values(), row[:width], strict=True))
        classes, certification, is_listed, ranked, org_listed, status = row[width:]
        assert copied["value"] is not None
        entries.append(
            LeaderboardEntry(
                **copied,
                complete=all(v is not None for v in classes.values()),
                certified=certification in normalize.CERTIFIED,
                # On a board: listed by moderation, admitted (docs/meshmark.md), accepted.
                listed=is_listed and ranked and org_listed and status == "accepted",
            )
        )
    old_keys = {
        RowKey(*key)
        for key in LeaderboardEntry.objects.filter(
            score_id__in=[e.score_id for e in entries]
        ).values_list(*KEY_FIELDS)
    }
    LeaderboardEntry.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["score"],
        update_fields=[
            f.name
            for f in LeaderboardEntry._meta.concrete_fields
            if f.name not in ("id", "score", "is_outlier")
        ],
    )
    return old_keys | {RowKey.of(e) for e in entries}


# What entries_sync copies from a score and its result: column -> the entry's field.
_COPIED = {
    "pk": "score_id",
    "result_id": "result_id",
    "formula_version": "formula_version",
    "result__profile_id": "profile_id",
    "result__profile__version": "profile_version",
    "result__profile__protocol": "protocol",
    "result__environment__environment_class": "environment_class",
    "result__mesh_config_id": "mesh_config_id",
    "result__organization_id": "organization_id",
    "result__environment_id": "environment_id",
    "result__submission_id": "submission_id",
    "result__environment__kubernetes_version": "kubernetes_version",
    "score": "value",
    "added_p99_ms": "added_p99_ms",
    "cpu_mcores_per_1k_rps": "cpu_mcores_per_1k_rps",
    "mem_mb_per_proxy": "mem_mb_per_proxy",
    "normalized": "normalized",
    "result__created_at": "created_at",
}
# ... and what it derives the entry's complete, certified and listed from, in this order.
_DERIVED_FROM = (
    "classes",
    "result__certification",
    "result__is_listed",
    "result__ranked",
    "result__organization__is_listed",
    "result__submission__status",
)


def entries_sync_all(*, version: str) -> int:
    """:func:`entries_sync` for every scored result of ``version`` in one SQL statement
    (PostgreSQL): the rebuild's path, ~20x faster than building model instances.

    Same values as entries_sync, computed in SQL: ``complete`` is "no class is
    null" over the score's ``classes`` object, ``listed`` the result's (moderation
    and admission), organization's and submission's verdicts. Outlier flags are
    left as they are; the row refresh that follows recomputes them. Returns rows
    written.
    """
    entry, score, result = LeaderboardEntry._meta, Score._meta, Result._meta
    updated = ", ".join(
        f"{f.column} = EXCLUDED.{f.column}"
        for f in entry.concrete_fields
        if f.name not in ("id", "score", "is_outlier")
    )
    sql = f"""
        INSERT INTO {entry.db_table} (
            score_id, result_id, formula_version, profile_id, profile_version, protocol,
            environment_class, mesh_config_id, complete, organization_id, environment_id,
            submission_id, kubernetes_version, certified, value, added_p99_ms,
            cpu_mcores_per_1k_rps, mem_mb_per_proxy, normalized, listed, is_outlier, created_at)
        SELECT s.id, r.id, s.formula_version, r.profile_id, p.version, p.protocol,
            e.environment_class, r.mesh_config_id,
            NOT EXISTS (SELECT 1 FROM jsonb_each(s.classes) c WHERE c.value = 'null'::jsonb),
            r.organization_id, r.environment_id, r.submission_id, e.kubernetes_version,
            r.certification = ANY(%s), s.score, s.added_p99_ms, s.cpu_mcores_per_1k_rps,
            s.mem_mb_per_proxy, s.normalized,
            r.is_listed AND r.ranked AND o.is_listed AND sub.status = 'accepted', false,
            r.created_at
        FROM {score.db_table} s
        JOIN {result.db_table} r ON r.id = s.result_id
        JOIN {Profile._meta.db_table} p ON p.id = r.profile_id
        JOIN {Environment._meta.db_table} e ON e.id = r.environment_id
        JOIN {Organization._meta.db_table} o ON o.id = r.organization_id
        JOIN {Submission._meta.db_table} sub ON sub.id = r.submission_id
        WHERE s.formula_version = %s AND s.score IS NOT NULL
        ON CONFLICT (score_id) DO UPDATE SET {updated}
    """  # noqa: S608 - table and column names come from the models; the value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(normalize.CERTIFIED), version])
        return int(cursor.rowcount)


def rows_refresh(*, keys: Iterable[RowKey]) -> int:
    """Recompute the rows of these keys from their entries; returns how many rows exist after.

    Reads only the columns aggregation needs, and writes back only the outlier
    flags that changed. Per chunk of keys: one query for their entries, one upsert of
    their rows, one delete of the rows left without entries, at most two updates of
    outlier flags (a query and an ``update_or_create`` per key were most of a worker's
    time after each batch: docs/benchmarks.md, "Write path").
    """
    kept = 0
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), REFRESH_CHUNK):
        kept += _rows_refresh_chunk(ordered[start : start + REFRESH_CHUNK])
    return kept


REFRESH_CHUNK = 200
"""Keys whose entries are read in one query (a row's entries are read whole either way)."""

_ROW_VALUE_FIELDS = [
    f.name
    for f in LeaderboardRow._meta.concrete_fields
    if f.name not in ("id", *(name.removesuffix("_id") for name in KEY_FIELDS))
]


def _rows_refresh_chunk(keys: list[RowKey]) -> int:
    found: dict[RowKey, list[tuple[Any, ...]]] = {key: [] for key in keys}
    width = len(KEY_FIELDS)
    for row in (
        LeaderboardEntry.objects.filter(_matching(keys), listed=True)
        .order_by("pk")
        .values_list(*KEY_FIELDS, *ENTRY_COLUMNS)
    ):
        found[RowKey(*row[:width])].append(row[width:])
    flips: dict[bool, list[int]] = {True: [], False: []}
    rows: list[LeaderboardRow] = []
    empty: list[RowKey] = []
    for key in keys:
        entries = EntryColumns.from_rows(found[key])
        values, flagged = row_values(entries)
        changed = flagged != entries.is_outlier
        for i, c, f in zip(entries.ids, changed, flagged, strict=True):
            if c:
                flips[bool(f)].append(i)
        if values is None:
            empty.append(key)
        else:
            rows.append(LeaderboardRow(**key.lookup(), **values))
    for flag, ids in flips.items():
        if ids:
            LeaderboardEntry.objects.filter(pk__in=ids).update(is_outlier=flag)
    if empty:
        LeaderboardRow.objects.filter(_matching(empty)).delete()
    if rows:
        LeaderboardRow.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=[name.removesuffix("_id") for name in KEY_FIELDS],
            update_fields=_ROW_VALUE_FIELDS,
        )
    return len(rows)


def _matching(keys: Iterable[RowKey]) -> Q:
    """Exactly these keys, as a filter: one term per (version, profile, class, complete)
    with its mesh configurations listed (an OR of every key compiles far slower)."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for key in keys:
        groups.setdefault(
            (key.formula_version, key.profile_id, key.environment_class, key.complete), []
        ).append(key.mesh_config_id)
    match = Q(pk__in=[])
    for (version, profile, klass, complete), configs in groups.items():
        match |= Q(
            formula_version=version,
            profile_id=profile,
            environment_class=klass,
            complete=complete,
            mesh_config_id__in=configs,
        )
    return match


def rows_mark(*, keys: Iterable[RowKey]) -> None:
    """Record that these rows need a refresh (in the caller's transaction)."""
    PendingRefresh.objects.bulk_create([PendingRefresh(**key.lookup()) for key in set(keys)])


_LOCAL_LOCK = threading.Lock()


@contextmanager
def _refresh_lock(*, wait: bool) -> Iterator[bool]:
    """The right to refresh rows: a PostgreSQL advisory lock, or a process lock on SQLite
    (the embedded mode serves from one process)."""
    if connection.vendor != "postgresql":
        got = _LOCAL_LOCK.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                _LOCAL_LOCK.release()
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [REFRESH_LOCK])
            got = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [REFRESH_LOCK])
            got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [REFRESH_LOCK])


def rows_refresh_pending() -> int:
    """Refresh every row with a pending mark; returns how many keys were refreshed.

    Called after each commit that marks rows. When another process holds the
    lock it returns at once: that process re-checks for marks after letting
    go of the lock, so a mark committed meanwhile is never left behind. Each
    key's marks are deleted before its entries are read, in the refresh's
    transaction: a mark committed after that delete stays for the next round,
    and one committed before it has its entries visible to the read.
    """
    refreshed = 0
    while True:
        with _refresh_lock(wait=False) as got:
            if not got:
                return refreshed
            while keys := [
                RowKey(*key)
                for key in PendingRefresh.objects.values_list(*KEY_FIELDS).distinct()[
                    :REFRESH_BATCH
                ]
            ]:
                with transaction.atomic():
                    PendingRefresh.objects.filter(_matching(keys)).delete()
                    rows_refresh(keys=keys)
                refreshed += len(keys)
        if not PendingRefresh.objects.exists():
            return refreshed


def rows_refresh_after_commit() -> int:
    """:func:`rows_refresh_pending` for a caller whose own work is already committed.

    The marks stay until a refresh succeeds (the next submission's, or the
    periodic rebuild), so a failure here is logged, not raised: it must not
    fail an upload or a task whose work is done.
    """
    try:
        return rows_refresh_pending()
    except Exception:
        logger.exception("refreshing leaderboard rows failed; the marks stay for the next try")
        return 0


def leaderboards_update(*, score_ids: Iterable[int]) -> None:
    """After scores were written (a submission was accepted): sync the entries and mark
    their rows for the refresh that follows the commit."""
    rows_mark(keys=entries_sync(score_ids=score_ids))


def leaderboards_update_for_results(*, result_ids: Iterable[int]) -> None:
    """After moderation changed whether these results are listed."""
    ids = Score.objects.filter(
        result_id__in=list(result_ids), formula_version=FORMULA_VERSION
    ).values_list("pk", flat=True)
    with transaction.atomic():
        leaderboards_update(score_ids=ids)
    rows_refresh_pending()


def leaderboards_rebuild(*, version: str = FORMULA_VERSION, entries: bool = True) -> int:
    """Rebuild every row of ``version``; returns the row count.

    With ``entries`` (the default) the entries are first derived again from
    the scores; without, rows are recomputed from the entries as they are.
    """
    keys: set[RowKey] = set()
    if entries and connection.vendor == "postgresql":
        with transaction.atomic():
            entries_sync_all(version=version)
    elif entries:
        ids = list(
            Score.objects.filter(formula_version=version, score__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for start in range(0, len(ids), SYNC_BATCH):
            with transaction.atomic():
                keys |= entries_sync(score_ids=ids[start : start + SYNC_BATCH])
        # Entries whose score can no longer be ranked (a score row is never deleted
        # without its entry: the foreign key cascades).
        stale = LeaderboardEntry.objects.filter(formula_version=version, score__score__isnull=True)
        for entry in stale:
            keys.add(RowKey.of(entry))
        stale.delete()
    keys |= {
        RowKey(*key)
        for key in LeaderboardEntry.objects.filter(formula_version=version)
        .values_list(*KEY_FIELDS)
        .distinct()
    }
    keys |= {
        RowKey(*key)
        for key in LeaderboardRow.objects.filter(formula_version=version).values_list(*KEY_FIELDS)
    }
    with _refresh_lock(wait=True), transaction.atomic():
        rows = rows_refresh(keys=keys)
    # Marks committed while the rebuild held the lock were skipped by their own refresh
    # (it found the lock taken); nobody else would look at them until the next upload.
    rows_refresh_pending()
    return rows
