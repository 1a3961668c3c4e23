# SQLite only (a no-op on PostgreSQL, whose pg_trgm index of 0006 answers the same search): an
# FTS5 trigram table over the clients' folded names, with the triggers that keep it in step,
# filled from the clients already there (convodesk/search_index.py).

from django.db import migrations

TABLES = ("conversations_client",)


def forwards(apps, schema_editor):
    from convodesk import search_index

    search_index.install(schema_editor, TABLES)


def backwards(apps, schema_editor):
    from convodesk import search_index

    search_index.uninstall(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("conversations", "0012_open_by_responsible_and_status")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
