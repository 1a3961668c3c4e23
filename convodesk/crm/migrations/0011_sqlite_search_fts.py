# SQLite only (a no-op on PostgreSQL, whose pg_trgm indexes of 0005 answer the same search):
# an FTS5 trigram table over each searchable table's folded `search` text, with the triggers
# that keep it in step, filled from the rows already there (convodesk/search_index.py).

from django.db import migrations

TABLES = ("crm_contact", "crm_company", "crm_lead", "crm_deal")


def forwards(apps, schema_editor):
    from convodesk import search_index

    search_index.install(schema_editor, TABLES)


def backwards(apps, schema_editor):
    from convodesk import search_index

    search_index.uninstall(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("crm", "0010_company_merges")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
