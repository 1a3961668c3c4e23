# SQLite only (a no-op on PostgreSQL, whose pg_trgm index of 0006 answers the same search): an
# FTS5 trigram table over the clients' folded names, with the triggers that keep it in step,
# filled from the clients already there (convodesk/search_index.py).

from django.db import migrations

from convodesk import search_index


class Migration(migrations.Migration):
    dependencies = [("conversations", "0012_open_by_responsible_and_status")]

    operations = [search_index.migration(("conversations_client",))]
