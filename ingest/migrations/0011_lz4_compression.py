"""Stored bodies and result documents compressed with lz4 instead of pglz (issue 19).

PostgreSQL compresses a value over about 2 kB before storing it, with pglz unless a
column says otherwise. A 15 kB bundle took about 0.3 ms of the server's CPU to compress
with pglz and 0.13 ms with lz4, to the same size (bench: COPY of 2,000 demo bodies,
3,200 rows/s with pglz, 7,500-7,900 with lz4; docs/benchmarks.md). Only values written
from now on are compressed the new way; stored ones are read as they are. Servers built
without lz4 (or other databases) keep their default.
"""

from django.db import migrations

COLUMNS = [
    ("ingest_submission", "raw"),
    ("ingest_result", "smp"),
    ("ingest_result", "histogram"),
]


def _lz4_available(schema_editor) -> bool:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _set(method: str):  # type: ignore[no-untyped-def]
    def apply(apps, schema_editor):  # type: ignore[no-untyped-def]
        if not _lz4_available(schema_editor):
            return
        for table, column in COLUMNS:
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(table)} "
                f"ALTER COLUMN {schema_editor.quote_name(column)} SET COMPRESSION {method}"
            )

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0010_capacity_churn_real_world"),
    ]

    operations = [migrations.RunPython(_set("lz4"), _set("default"))]
