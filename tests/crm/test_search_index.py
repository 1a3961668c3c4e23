"""Issue 20, item 2 on SQLite: the CRM search reads an FTS5 trigram index (convodesk/search_index.py)
kept in step by triggers with every write of the folded search text; PostgreSQL keeps its
pg_trgm LIKE. On both databases: fragments are found whatever their accents and case, and the
search finds exactly what a LIKE over the folded text finds after every create, edit, delete,
merge and undo."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk import search_index
from convodesk.crm import lists, merge, services
from convodesk.crm.forms import ContactForm
from convodesk.crm.models import MODELS, Company, Contact, Deal, Lead, fold

SQLITE = connection.vendor == "sqlite"


def found(kind: str, text: str) -> set[int]:
    """What the lists' search answers (the index on SQLite)."""
    return set(MODELS[kind].objects.filter(lists.search_q(text, kind)).values_list("pk", flat=True))


def like(kind: str, text: str) -> set[int]:
    """What a plain LIKE over the folded text answers: the reference."""
    return set(
        MODELS[kind].objects.filter(search__contains=fold(text)).values_list("pk", flat=True)
    )


def assert_in_step(*fragments: str) -> None:
    """The search agrees with LIKE for each fragment, and (SQLite) FTS5's own check of the
    index against the table passes."""
    for kind in ("contact", "company", "lead", "deal"):
        for text in fragments:
            assert found(kind, text) == like(kind, text), (kind, text)
    if SQLITE:
        with connection.cursor() as cursor:
            for table in search_index.TABLES:
                fts = search_index.fts_table(table)
                cursor.execute(
                    f'INSERT INTO "{fts}"("{fts}", rank) VALUES (\'integrity-check\', 1)'
                )


def test_sqlite_searches_through_the_trigram_index_and_postgresql_does_not(org):
    Contact.objects.create(name="Ana Martínez")
    with CaptureQueriesContext(connection) as queries:
        found("contact", "martinez")
    used = any("_search_fts" in q["sql"] for q in queries.captured_queries)
    assert used is SQLITE
    assert search_index.available("crm_contact") is SQLITE
    # Shorter than a trigram: the plain LIKE, on both.
    with CaptureQueriesContext(connection) as queries:
        assert found("contact", "ez") == like("contact", "ez") != set()
    assert not any("_search_fts" in q["sql"] for q in queries.captured_queries)


def test_fragments_are_found_whatever_their_accents_and_case(org):
    ana = Contact.objects.create(name="Ana Martínez Núñez", responsible=org.op1)
    ana.add_phone("+34 600 11 22 33", "ES")
    ana.add_email("Ana.M@Example.com")
    other = Contact.objects.create(name="José Pérez")
    acme = Company.objects.create(title="Compañía Ñandú", email="hola@nandu.example")
    lead = Lead.objects.create(title="Pedido de Señora Gómez", name="Lucía")
    deal = Deal.objects.create(title="Sillas para Cádiz")
    for text, kind, want in [
        ("martinez", "contact", {ana.pk}),
        ("MARTÍNEZ", "contact", {ana.pk}),
        ("tinez nun", "contact", {ana.pk}),
        ("NÚÑ", "contact", {ana.pk}),
        ("600 11 22", "contact", {ana.pk}),
        ("600112233", "contact", {ana.pk}),
        ("ana.m@example", "contact", {ana.pk}),
        ("jose pe", "contact", {other.pk}),
        ("perez", "contact", {other.pk}),
        ("compania nandu", "company", {acme.pk}),
        ("@nandu", "company", {acme.pk}),
        ("senora gomez", "lead", {lead.pk}),
        ("LUCIA", "lead", {lead.pk}),
        ("cadiz", "deal", {deal.pk}),
        ('quo"te', "contact", set()),  # FTS5's quote is escaped, not a syntax error
    ]:
        assert found(kind, text) == want, (kind, text)


def test_the_index_stays_in_step_on_create_edit_delete_merge_and_undo(org):
    fragments = ("martinez", "garcia", "600 11 22", "ana@acme", "nunez", "acme s.l", "sillas")
    ana = Contact.objects.create(name="Ana Martínez", responsible=org.admin)
    ana.add_phone("+34 600 11 22 33", "ES")
    ana.add_email("ana@acme.example")
    twin = Contact.objects.create(name="ana martinez", responsible=org.admin)
    twin.add_email("twin@acme.example")
    Company.objects.create(title="Acme, S.L.", responsible=org.admin)
    Deal.objects.create(title="Sillas", responsible=org.admin)
    assert_in_step(*fragments)
    assert found("contact", "martinez") == {ana.pk, twin.pk}

    # Edit through the card's form and service: the old name is gone from the index.
    form = ContactForm(
        {"name": "Ana García", "phones": "+34 600 11 22 33", "emails": "ana@acme.example"},
        instance=ana,
        user=org.admin,
    )
    services.save_form(org.admin, form)
    assert found("contact", "martinez") == {twin.pk}
    assert found("contact", "garcia") == {ana.pk}
    assert_in_step(*fragments)

    # Merge the twin into Ana (its e-mail moves to her), then undo.
    record = merge.merge(org.admin, ana.pk, twin.pk, {"name": "removed"})
    assert found("contact", "martinez") == {ana.pk}  # the kept contact took the twin's name
    assert found("contact", "twin@acme") == {ana.pk}
    assert found("contact", "garcia") == set()
    assert_in_step(*fragments, "twin@acme")
    merge.undo(org.admin, record.pk)
    assert found("contact", "martinez") == {twin.pk}
    assert found("contact", "twin@acme") == {twin.pk}
    assert found("contact", "garcia") == {ana.pk}
    assert_in_step(*fragments, "twin@acme")

    # Delete through the service; a bulk update and a bulk delete bypass save() and still count.
    services.delete_record(org.admin, Contact, twin.pk)
    assert found("contact", "martinez") == set()
    Deal.objects.filter(title="Sillas").update(search="mesas")
    assert found("deal", "sillas") == set() and len(found("deal", "mesas")) == 1
    Company.objects.all().delete()
    assert found("company", "acme") == set()
    assert_in_step(*fragments, "mesas")


@pytest.mark.skipif(not SQLITE, reason="the FTS5 index is SQLite's")
def test_a_table_that_lost_its_triggers_is_repaired_after_migrate(org):
    # Django's SQLite schema editor rebuilds a table for most later changes, dropping its
    # triggers; the post_migrate hook puts them back and re-reads the table into the index.
    ana = Contact.objects.create(name="Ana Martínez")
    with connection.cursor() as cursor:
        for name in ("crm_contact_search_ai", "crm_contact_search_au"):
            cursor.execute(f'DROP TRIGGER "{name}"')
    Contact.objects.filter(pk=ana.pk).update(search="olga olsen")
    late = Contact.objects.create(name="Erik Olsen")
    assert found("contact", "olsen") == set()  # out of step
    assert search_index.ensure(connection) == ["crm_contact"]
    assert found("contact", "olsen") == {ana.pk, late.pk}
    assert found("contact", "martinez") == set()
    assert search_index.ensure(connection) == []
    assert_in_step("olsen", "martinez")
