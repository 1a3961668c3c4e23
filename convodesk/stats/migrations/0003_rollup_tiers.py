"""Rollup tiers: the hourly rollups become tier 0 of `Rollup`; the wider tiers and the per-employee
participation are filled from them and from the participant rows."""

import django.db.models.deletion
from django.db import migrations, models


def fill_tiers(apps, schema_editor):
    from convodesk.stats import rollups

    # The rollup's columns as they were at this migration (later ones add business-hours and
    # reply-time-target columns, which do not exist yet here).
    added_later = {"reply_bh_sum", "sla_met", "sla_breaches"}
    columns = tuple(c for c in rollups.COLUMNS if c not in added_later and "_bh_" not in c)
    rollups.rebuild_derived(using=schema_editor.connection.alias, columns=columns, by_line=False)


class Migration(migrations.Migration):
    dependencies = [
        ("lines", "0001_initial"),
        ("stats", "0002_rollup_line_unindexed"),
        ("conversations", "0006_client_name_trigram"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="hourlyrollup", name="rollup_key"),
        migrations.RemoveConstraint(model_name="rollupbucket", name="rollup_bucket_key"),
        migrations.RenameModel("HourlyRollup", "Rollup"),
        migrations.RenameField("rollup", "hour", "period"),
        migrations.RenameField("rollupbucket", "hour", "period"),
        migrations.AddField(
            model_name="rollup",
            name="tier",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="rollupbucket",
            name="tier",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="rollup",
            name="line",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="lines.line",
            ),
        ),
        migrations.AddConstraint(
            model_name="rollup",
            constraint=models.UniqueConstraint(
                fields=("tier", "period", "line", "channel", "responsible_key", "type", "status"),
                name="rollup_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="rollupbucket",
            constraint=models.UniqueConstraint(
                fields=(
                    "tier",
                    "period",
                    "line",
                    "channel",
                    "responsible_key",
                    "type",
                    "status",
                    "metric",
                    "bucket",
                ),
                name="rollup_bucket_key",
            ),
        ),
        migrations.CreateModel(
            name="Participation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("span", models.PositiveSmallIntegerField()),
                ("period", models.DateTimeField()),
                ("channel", models.CharField(max_length=20)),
                ("type", models.CharField(max_length=10)),
                ("employee_id", models.BigIntegerField()),
                ("assigned", models.BigIntegerField(db_default=0)),
                ("taken", models.BigIntegerField(db_default=0)),
                ("skipped", models.BigIntegerField(db_default=0)),
                ("answered", models.BigIntegerField(db_default=0)),
                ("reply_n", models.BigIntegerField(db_default=0)),
                ("reply_sum", models.BigIntegerField(db_default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("span", "period", "channel", "type", "employee_id"),
                        name="participation_key",
                    )
                ],
            },
        ),
        migrations.RunPython(fill_tiers, migrations.RunPython.noop),
    ]
