"""Writing many rows at once on PostgreSQL: ``COPY``, and primary keys drawn beforehand.

Used for submissions (bulk uploads, the demo seeder) and for results (batch
processing). Both sides need ids before the rows are written: submissions to
answer each bulk item, results so mesh runs can point at their baseline
within one COPY.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Field, Model


def assign_ids(model: type[Model], objects: list[Any]) -> None:
    """Draw primary keys for these unsaved objects from their table's sequence, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, len(objects)],
        )
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk


def copy_rows(model: type[Model], objects: list[Any]) -> None:
    """``COPY`` these unsaved objects into their table (every concrete column, defaults and
    ``auto_now_add`` applied as ``save()`` would)."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # psycopg's own cursor (Django's wrapper has no copy()), its errors turned into
    # Django's as the wrapper would (a unique violation becomes IntegrityError).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        with raw.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(
                    [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
                )


def insert_unless(obj: Any, *, condition: str, params: list[Any]) -> bool:
    """``INSERT`` this unsaved object in one statement, unless the SQL ``condition`` holds or
    a unique constraint finds it already stored (``ON CONFLICT DO NOTHING``). True when it
    was inserted. Outside a transaction the statement commits by itself: one round trip
    where a look-up, then BEGIN, INSERT and COMMIT took four."""
    model = type(obj)
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT {marks}"
            f" WHERE NOT ({condition}) ON CONFLICT DO NOTHING RETURNING 1",
            [*values, *params],
        )
        inserted = cursor.fetchone() is not None
    if inserted:
        obj._state.adding = False
        obj._state.db = connection.alias
    return inserted


def update_rows(model: type[Model], objects: list[Any], field_names: list[str]) -> None:
    """Write these fields of saved objects in one ``UPDATE … FROM (VALUES …)``.

    What ``QuerySet.bulk_update`` does, without its ``CASE WHEN`` per row and field: for a
    batch of 50 submissions Django spent more time compiling that statement than the
    database spent running it (issue 19's profile of processing)."""
    if not objects:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields: list[Field[Any, Any]] = [meta.pk]
    for name in field_names:
        field = meta.get_field(name)
        assert isinstance(field, Field), f"{name} is not a column of {meta.db_table}"
        fields.append(field)
    casts = [f"%s::{f.db_type(connection)}" for f in fields]
    row = f"({', '.join(casts)})"
    names = ", ".join(quote(str(f.column)) for f in fields)
    sets = ", ".join(f"{quote(str(f.column))} = v.{quote(str(f.column))}" for f in fields[1:])
    pk = quote(str(meta.pk.column))
    params = [
        f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objects for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(  # names from the model's own metadata; every value is a parameter
            f"UPDATE {quote(meta.db_table)} AS t SET {sets} FROM (VALUES "  # noqa: S608
            f"{', '.join([row] * len(objects))}) AS v ({names}) WHERE t.{pk} = v.{pk}",
            params,
        )
