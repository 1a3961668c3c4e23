"""The metric histograms by employee over whole days, 4 and 16 days (tiers 11-13, folded
statuses, no Rollup rows): a department supervisor's statistics read them instead of every
hour of tier 0. Filled from tier 0 once; the services keep them from then on."""

from django.db import migrations


def fill(apps, schema_editor):
    from convodesk.stats import rollups

    rollups.fill_tiers((11, 12, 13), using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0013_participation_by_line_and_closed"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
