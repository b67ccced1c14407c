from __future__ import annotations

from django.db import migrations


def seed_profiles(apps, schema_editor):  # type: ignore[no-untyped-def]
    from smp.profiles import standard_profiles

    # The fields this state of the model has: profiles.yaml gains fields that later
    # migrations add (0005_admission seeds them again with all of them).
    Profile = apps.get_model("ingest", "Profile")
    fields = {f.name for f in Profile._meta.get_fields()}
    for profile in standard_profiles():
        values = {k: v for k, v in profile.as_dict().items() if k in fields}
        Profile.objects.update_or_create(id=profile.id, defaults=values)


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]

    operations = [migrations.RunPython(seed_profiles, migrations.RunPython.noop)]
