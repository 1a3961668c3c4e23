# SQLite only (a no-op on PostgreSQL, whose pg_trgm indexes of 0005 answer the same search):
# an FTS5 trigram table over each searchable table's folded `search` text, with the triggers
# that keep it in step, filled from the rows already there (convodesk/search_index.py).

from django.db import migrations

from convodesk import search_index


class Migration(migrations.Migration):
    dependencies = [("crm", "0010_company_merges")]

    operations = [search_index.migration(("crm_contact", "crm_company", "crm_lead", "crm_deal"))]
