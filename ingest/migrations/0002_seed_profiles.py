from __future__ import annotations

from django.db import migrations


def seed_profiles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from smp.profiles import standard_profiles

    Profile = apps.get_model("ingest", "Profile")
    for profile in standard_profiles():
        Profile.objects.update_or_create(id=profile.id, defaults=profile.as_dict())


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]

    operations = [migrations.RunPython(seed_profiles, migrations.RunPython.noop)]
