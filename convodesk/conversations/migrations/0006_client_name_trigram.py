# The list's "client name contains" filter on PostgreSQL: a trigram index answers
# UPPER(name) LIKE UPPER('%text%') (what Django's icontains writes) without reading every client.
# pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13+): a database owner may
# create it. Where it cannot be created the search still works, by reading the table.

import logging

from django.db import migrations, transaction

log = logging.getLogger("convodesk.migrations")


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 — no permission: keep the plain search
        log.warning("pg_trgm is not available (%s); client-name search reads the table", exc)
        return
    schema_editor.execute(
        'CREATE INDEX IF NOT EXISTS "client_name_trgm" ON "conversations_client" '
        'USING gin (UPPER("name") gin_trgm_ops)'
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('DROP INDEX IF EXISTS "client_name_trgm"')


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_participant_joined")]

    operations = [migrations.RunPython(create_trigram_index, drop_trigram_index)]
