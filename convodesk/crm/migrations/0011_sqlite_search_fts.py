# SQLite only (a no-op on PostgreSQL, whose pg_trgm indexes of 0005 answer the same search):
# an FTS5 trigram table over each searchable table's folded `search` text, with the triggers
# that keep it in step, filled from the rows already there (crm/search_index.py).

from django.db import migrations


def forwards(apps, schema_editor):
    from convodesk.crm import search_index

    search_index.install(schema_editor)


def backwards(apps, schema_editor):
    from convodesk.crm import search_index

    search_index.uninstall(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("crm", "0010_company_merges")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
