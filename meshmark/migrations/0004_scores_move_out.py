# The other half of ingest/migrations/0004_scores_move_in: the models leave meshmark's
# state; their tables stay, now owned by ingest.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('meshmark', '0003_pending_refresh'),
        ('ingest', '0004_scores_move_in'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='PendingRefresh'),
                migrations.DeleteModel(name='LeaderboardRow'),
                migrations.DeleteModel(name='LeaderboardEntry'),
                migrations.DeleteModel(name='Score'),
            ],
        ),
    ]
