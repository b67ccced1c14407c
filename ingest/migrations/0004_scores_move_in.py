# Scores and leaderboard aggregates move from the meshmark app to ingest, the write side
# that computes them. Only Django's idea of which app owns them changes: the tables keep
# their names (db_table) and their rows, so this migration touches no table, and
# meshmark/migrations/0004 removes the models from meshmark's state the same way.
#
# The models are declared again from meshmark's own migrations, so the two cannot
# differ: same fields, indexes and constraints, with references to meshmark's Score
# pointing at ingest's.

import importlib

from django.db import migrations
from django.utils.module_loading import import_string


def _created(module):
    return importlib.import_module(f"meshmark.migrations.{module}").Migration.operations


def _in_ingest(field):
    name, path, args, kwargs = field.deconstruct()
    if isinstance(kwargs.get("to"), str) and kwargs["to"].lower().startswith("meshmark."):
        kwargs["to"] = "ingest." + kwargs["to"].split(".", 1)[1]
    return import_string(path)(*args, **kwargs)


def _moved(operation):
    table = f"meshmark_{operation.name.lower()}"
    return migrations.CreateModel(
        name=operation.name,
        fields=[(name, _in_ingest(field)) for name, field in operation.fields],
        options={**operation.options, "db_table": table},
    )


MOVED = [
    _moved(operation)
    for module in ("0001_scores", "0002_leaderboards", "0003_pending_refresh")
    for operation in _created(module)
]


class Migration(migrations.Migration):
    dependencies = [("ingest", "0003_local_proxy_mesh_types"), ("meshmark", "0003_pending_refresh")]
    operations = [migrations.SeparateDatabaseAndState(state_operations=MOVED)]
