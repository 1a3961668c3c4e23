# Accent- and case-insensitive client search (issue 22): the name without accents or case is kept
# beside it (Client.save and the generator write it), filled here for the clients already there,
# and indexed: a b-tree (SQLite scans the index, not the table) and, on PostgreSQL, a trigram
# index that answers LIKE '%text%'.

import logging
import unicodedata

from django.db import migrations, models, transaction

log = logging.getLogger("convodesk.migrations")
BATCH = 5000


def _fold(value):
    # A frozen copy of normalize.fold_name: a migration must not change when the code does.
    decomposed = unicodedata.normalize("NFKD", value or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())[:255]


def fill_name_search(apps, schema_editor):
    Client = apps.get_model("conversations", "Client")
    last = 0
    while True:
        batch = list(Client.objects.filter(pk__gt=last).order_by("pk").only("pk", "name")[:BATCH])
        if not batch:
            return
        for client in batch:
            client.name_search = _fold(client.name)
        Client.objects.bulk_update(batch, ["name_search"], batch_size=1000)
        last = batch[-1].pk


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 — no permission: the search reads the table
        log.warning("pg_trgm is not available (%s); client-name search reads the table", exc)
        return
    schema_editor.execute(
        'CREATE INDEX IF NOT EXISTS "client_name_search_trgm" ON "conversations_client" '
        'USING gin ("name_search" gin_trgm_ops)'
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('DROP INDEX IF EXISTS "client_name_search_trgm"')


class Migration(migrations.Migration):
    dependencies = [("conversations", "0006_client_name_trigram")]

    operations = [
        migrations.AddField(
            model_name="client",
            name="name_search",
            field=models.CharField(blank=True, db_default="", default="", max_length=255),
        ),
        migrations.RunPython(fill_name_search, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="client",
            index=models.Index(fields=["name_search"], name="client_name_search_idx"),
        ),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
