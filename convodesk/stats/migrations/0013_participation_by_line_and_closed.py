"""Participation keeps each conversation's open channel and whether it is closed (issue 23 item 5),
and the folded tiers keep the simple statuses apart (waiting, answered, closed). Both are filled
again from the conversation, participant and reply-period rows, and from tier 0."""

from django.db import migrations, models


def fill(apps, schema_editor):
    from convodesk.stats import rollups

    rollups.rebuild_derived(using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0012_rollups_by_line"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="participation",
            name="participation_shard_key",
        ),
        migrations.AddField(
            model_name="participation",
            name="closed",
            field=models.BooleanField(db_default=False),
        ),
        migrations.AddField(
            model_name="participation",
            name="line_id",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="participation",
            constraint=models.UniqueConstraint(
                fields=(
                    "span",
                    "period",
                    "line_id",
                    "channel",
                    "type",
                    "closed",
                    "employee_id",
                    "shard",
                ),
                name="participation_key",
            ),
        ),
    ]
