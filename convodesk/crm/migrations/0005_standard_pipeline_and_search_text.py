# The standard pipeline (New, Preparation, Negotiation, Won, Lost: the stages deals had as fixed
# choices) takes every existing deal; every record's folded search text is filled in; on
# PostgreSQL trigram indexes answer the lists' "contains" search over it (pg_trgm, as
# conversations 0006 creates it; without it the search still works by reading the table).

import logging
import unicodedata

from django.db import migrations, transaction

log = logging.getLogger("convodesk.migrations")

STAGES = [
    ("new", "New", "open"),
    ("preparation", "Preparation", "open"),
    ("negotiation", "Negotiation", "open"),
    ("won", "Won", "won"),
    ("lost", "Lost", "lost"),
]
TABLES = ("crm_contact", "crm_company", "crm_lead", "crm_deal")


def fold(text):
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def forwards(apps, schema_editor):
    Pipeline = apps.get_model("crm", "Pipeline")
    PipelineStage = apps.get_model("crm", "PipelineStage")
    Deal = apps.get_model("crm", "Deal")
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(name="Sales", is_default=True)
        for position, (code, name, outcome) in enumerate(STAGES):
            PipelineStage.objects.create(
                pipeline=pipeline, code=code, name=name, position=position, outcome=outcome
            )
    Deal.objects.filter(pipeline__isnull=True).update(pipeline=pipeline)
    for model_name, fields in (
        ("Company", ("title", "phone", "email", "website")),
        ("Lead", ("title", "name", "company_title", "phone", "phone_normalized", "email_normalized")),
        ("Deal", ("title",)),
    ):
        model = apps.get_model("crm", model_name)
        for row in model.objects.only("pk", *fields).iterator(chunk_size=2000):
            text = fold(" ".join(getattr(row, f) or "" for f in fields))
            model.objects.filter(pk=row.pk).update(search=text)
    Contact = apps.get_model("crm", "Contact")
    ContactPhone = apps.get_model("crm", "ContactPhone")
    ContactEmail = apps.get_model("crm", "ContactEmail")
    for contact in Contact.objects.only("pk", "name").iterator(chunk_size=2000):
        parts = [contact.name]
        for value, normalized in ContactPhone.objects.filter(contact_id=contact.pk).values_list(
            "value", "normalized"
        ):
            parts += [value, normalized]
        parts += ContactEmail.objects.filter(contact_id=contact.pk).values_list(
            "normalized", flat=True
        )
        Contact.objects.filter(pk=contact.pk).update(search=fold(" ".join(p for p in parts if p)))
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 — no permission: keep the plain search
        log.warning("pg_trgm is not available (%s); CRM search reads the tables", exc)
        return
    for table in TABLES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{table}_search_trgm" ON "{table}" '
            'USING gin ("search" gin_trgm_ops)'
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{table}_search_trgm"')


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_pipelines_timeline_search")]

    operations = [migrations.RunPython(forwards, backwards)]
