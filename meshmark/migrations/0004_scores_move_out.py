# The other half of ingest/migrations/0004_scores_move_in: the models leave meshmark's
# state; their tables stay, now owned by ingest.

from django.db import migrations

GONE = ["PendingRefresh", "LeaderboardRow", "LeaderboardEntry", "Score"]


class Migration(migrations.Migration):
    dependencies = [("meshmark", "0003_pending_refresh"), ("ingest", "0004_scores_move_in")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name=name) for name in GONE]
        )
    ]
