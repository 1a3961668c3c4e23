# Indexes chosen from the benchmark mix (BENCHMARKS.md, "Index changes").

from django.conf import settings
from django.db import migrations, models

# PostgreSQL serves ORDER BY x DESC NULLS LAST (the list's "-metric" sort: empty values last) only
# from an index in that order; the (x, id) indexes give NULLS FIRST when read backwards, so the
# planner sorted the whole table (277 ms at 100,000 rows, 0.2 ms with the index). SQLite orders
# NULLs first ascending, so its (x, id) indexes already serve that sort; CREATE INDEX there cannot
# spell NULLS LAST, hence PostgreSQL only.
DESC_NULLS_LAST = ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close")


def _desc_name(column: str) -> str:
    return f"conv_{column}_desc"[:63]


def create_desc_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in DESC_NULLS_LAST:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{_desc_name(column)}" ON "conversations_conversation" '
            f'("{column}" DESC NULLS LAST, "id" DESC)'
        )


def drop_desc_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in DESC_NULLS_LAST:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{_desc_name(column)}"')


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0003_export_downloaded'),
        ('lines', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('status__lt', 50)), fields=['responsible'], name='conv_resp_open'),
        ),
        migrations.RunPython(create_desc_indexes, drop_desc_indexes),
    ]
