"""The open-channel tiers (1, 4 and 16 days by line and channel kind) keep the metric histograms
too: their bucket rows are projected from tier 0 (tiers.py)."""

from django.db import migrations


def fill_line_buckets(apps, schema_editor):
    from convodesk.stats import rollups

    rollups.rebuild_buckets(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("stats", "0012_rollups_by_line")]

    operations = [migrations.RunPython(fill_line_buckets, migrations.RunPython.noop)]
