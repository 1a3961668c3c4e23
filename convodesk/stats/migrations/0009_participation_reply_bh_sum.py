"""Per-employee participation gets the business-hours sum of the reply periods each employee
ended (`reply_bh_sum`), filled from the reply-period rows."""

from django.db import migrations, models


def fill(apps, schema_editor):
    from convodesk.stats import rollups

    connection = schema_editor.connection
    table = connection.ops.quote_name(apps.get_model("stats", "Participation")._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    rollups._participation(connection, None, None, by_line=False)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0008_label_rollup_business_sla"),
        ("conversations", "0009_business_hours_and_reply_targets"),
    ]

    operations = [
        migrations.AddField(
            model_name="participation",
            name="reply_bh_sum",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
