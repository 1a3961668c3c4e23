"""Issue 20, item 4: possible duplicates by normalised phone, e-mail and name; a merge picks
values field by field, keeps every identity, conversation link, activity and deal, records it,
and can be undone within 30 days."""

import datetime as dt

import pytest
from django.utils import timezone

from convodesk.conversations import services as conv_services
from convodesk.conversations.models import Conversation, ConversationCrmLink, ConversationEvent
from convodesk.crm import merge
from convodesk.crm.models import (
    Activity,
    Company,
    Contact,
    ContactIdentity,
    CrmEvent,
    CrmMerge,
    Deal,
    Lead,
)
from convodesk.fielderrors import FieldErrors

from .. import factories as f


@pytest.fixture
def twins(org):
    """Ana Martínez (with a conversation, a deal and a call) and "ana martinez" typed again
    by someone else with the same phone and another e-mail."""
    acme = Company.objects.create(title="Acme")
    ana = Contact.objects.create(name="Ana Martínez", responsible=org.admin)
    ana.add_phone("+34 600 11 22 33", "ES")
    ana.add_email("ana@acme.example")
    again = Contact.objects.create(
        name="ana martinez", company=acme, comment="Met at the fair", responsible=org.admin
    )
    again.add_phone("600112233", "ES")
    again.add_email("ana.m@gmail.example")
    conv = f.client_message(org.conn, "tg-ana", "Hello", name="Ana").conversation
    ConversationCrmLink.objects.filter(conversation=conv).delete()
    ConversationCrmLink.objects.create(
        conversation=conv, entity_type="contact", entity_id=again.pk, is_primary=True
    )
    Activity.objects.filter(conversation=conv).update(owner_type="contact", owner_id=again.pk)
    ContactIdentity.objects.create(
        contact=again, connection=org.conn, external_id="tg-ana-identity"
    )
    deal = Deal.objects.create(title="Chairs", contact=again, responsible=org.admin)
    call = Activity.objects.create(
        type="call",
        subject="Call",
        start_at=timezone.now(),
        owner_type="contact",
        owner_id=again.pk,
        responsible=org.admin,
    )
    return ana, again, acme, conv, deal, call


def test_duplicates_are_found_by_phone_e_mail_and_name_on_the_card_and_the_list(client, org, twins):
    ana, again, *_ = twins
    found = dict(merge.duplicates_of(org.admin, ana))
    assert set(found[again]) == {"the same name", "the same phone"}
    client.force_login(org.admin)
    card = client.get(f"/crm/contacts/{ana.pk}/").content.decode()
    assert f"/crm/contacts/merge/?kept={ana.pk}&amp;removed={again.pk}" in card
    page = client.get("/crm/contacts/duplicates/")
    by = {g["by"] for g in page.context["groups"]}
    assert by == {"Phone", "Name"}
    # An operator who sees neither gets no group.
    client.force_login(org.op3)
    assert client.get("/crm/contacts/duplicates/").context["groups"] == []


def test_a_merge_keeps_everything_and_records_it_then_undo_brings_all_back(client, org, twins):
    ana, again, acme, conv, deal, call = twins
    client.force_login(org.admin)
    ask = client.get(f"/crm/contacts/merge/?kept={ana.pk}&removed={again.pk}")
    assert ask.status_code == 200 and Contact.objects.filter(pk=again.pk).exists()
    response = client.post(
        "/crm/contacts/merge/",
        {
            "kept": ana.pk,
            "removed": again.pk,
            "name": "kept",
            "company": "removed",
            "comment": "removed",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/crm/contacts/{ana.pk}/"
    ana.refresh_from_db()
    assert not Contact.objects.filter(pk=again.pk).exists()
    assert (ana.name, ana.company, ana.comment) == ("Ana Martínez", acme, "Met at the fair")
    assert sorted(ana.emails.values_list("value", flat=True)) == [
        "ana.m@gmail.example",
        "ana@acme.example",
    ]
    assert ana.phones.count() == 1  # the same number is kept once
    assert ana.identities.filter(external_id="tg-ana-identity").exists()
    deal.refresh_from_db()
    call.refresh_from_db()
    assert deal.contact == ana and call.owner_id == ana.pk
    conv = Conversation.objects.get(pk=conv.pk)
    assert (conv.crm_entity_type, conv.crm_entity_id) == ("contact", ana.pk)
    assert ConversationEvent.objects.filter(conversation=conv, kind="crm_merged").exists()
    assert CrmEvent.objects.filter(entity_type="contact", entity_id=ana.pk, kind="merged").exists()
    card = client.get(f"/crm/contacts/{ana.pk}/").content.decode()
    record = CrmMerge.objects.get()
    assert f'action="/crm/merges/{record.pk}/undo/"' in card
    assert "ana martinez" in card  # the merged line names what went in

    undone = client.post(f"/crm/merges/{record.pk}/undo/")
    assert undone.status_code == 302 and undone["Location"] == f"/crm/contacts/{again.pk}/"
    back = Contact.objects.get(pk=again.pk)
    ana.refresh_from_db()
    assert (back.name, back.company, back.comment) == ("ana martinez", acme, "Met at the fair")
    assert (ana.company, ana.comment) == (None, "")
    assert list(back.emails.values_list("value", flat=True)) == ["ana.m@gmail.example"]
    assert back.phones.count() == 1 and ana.phones.count() == 1
    assert back.identities.filter(external_id="tg-ana-identity").exists()
    deal.refresh_from_db()
    call.refresh_from_db()
    assert deal.contact == back and call.owner_id == back.pk
    conv = Conversation.objects.get(pk=conv.pk)
    assert (conv.crm_entity_type, conv.crm_entity_id) == ("contact", back.pk)
    assert client.post(f"/crm/merges/{record.pk}/undo/").status_code == 302  # refused: done
    assert Contact.objects.filter(name="ana martinez").count() == 1


def test_an_undo_is_refused_after_30_days(org, twins):
    ana, again, *_ = twins
    record = merge.merge(org.admin, ana.pk, again.pk, {})
    with pytest.raises(FieldErrors):
        merge.undo(org.admin, record.pk, now=record.at + dt.timedelta(days=31))
    assert not Contact.objects.filter(pk=again.pk).exists()
    merge.undo(org.admin, record.pk, now=record.at + dt.timedelta(days=29))
    assert Contact.objects.filter(pk=again.pk).exists()


def test_a_merge_needs_edit_on_both_and_act_on_the_conversations(client, org, twins):
    ana, again, _acme, conv, *_ = twins
    Contact.objects.filter(pk__in=[ana.pk, again.pk]).update(responsible=org.op1)
    conv_services.take(conv.pk, f.act(org.op3))  # the removed contact's conversation is op3's
    with pytest.raises(merge.NotAllowed):
        merge.merge(org.op1, ana.pk, again.pk, {})
    assert Contact.objects.filter(pk=again.pk).exists()
    client.force_login(org.op2)  # sees neither
    assert client.get(f"/crm/contacts/merge/?kept={ana.pk}&removed={again.pk}").status_code == 404


def test_companies_merge_and_undo_through_the_same_mechanism(client, org):
    # "Acme, S.L." and "ACME, s.l." are the same company: found by name (case and accents
    # ignored) and e-mail, on the card and in the companies' Duplicates list; merged field by
    # field, their contacts, deals, leads, activities and conversation links move; the undo
    # from the kept company's timeline brings the other back with everything it had.
    acme = Company.objects.create(
        title="Acme, S.L.", email="info@acme.example", responsible=org.admin
    )
    again = Company.objects.create(
        title="ACME, s.l.", email="INFO@acme.example", website="acme.example", responsible=org.admin
    )
    worker = Contact.objects.create(name="Luis", company=again, responsible=org.admin)
    deal = Deal.objects.create(title="Desks", company=again, responsible=org.admin)
    lead = Lead.objects.create(title="More desks", company=again, responsible=org.admin)
    call = Activity.objects.create(
        type="call",
        subject="Call",
        start_at=timezone.now(),
        owner_type="company",
        owner_id=again.pk,
        responsible=org.admin,
    )
    conv = f.client_message(org.conn, "tg-acme", "Hello").conversation
    ConversationCrmLink.objects.filter(conversation=conv).delete()
    ConversationCrmLink.objects.create(
        conversation=conv, entity_type="company", entity_id=again.pk, is_primary=True
    )
    client.force_login(org.admin)
    card = client.get(f"/crm/companies/{acme.pk}/")
    assert [(o.pk, why) for o, why in card.context["duplicates"]] == [
        (again.pk, ["the same name", "the same e-mail"])
    ]
    groups = client.get("/crm/companies/duplicates/").context["groups"]
    assert {(g["by"], tuple(g["ids"])) for g in groups} >= {("Name", (acme.pk, again.pk))}
    form = client.get(f"/crm/companies/merge/?kept={acme.pk}&removed={again.pk}")
    assert form.status_code == 200 and "Merge companies" in form.content.decode()
    done = client.post(
        "/crm/companies/merge/",
        {"kept": acme.pk, "removed": again.pk, "website": "removed", "title": "kept"},
    )
    assert done.status_code == 302 and done["Location"] == f"/crm/companies/{acme.pk}/"
    assert not Company.objects.filter(pk=again.pk).exists()
    acme.refresh_from_db()
    assert (acme.title, acme.website) == ("Acme, S.L.", "acme.example")
    assert Contact.objects.get(pk=worker.pk).company_id == acme.pk
    assert Deal.objects.get(pk=deal.pk).company_id == acme.pk
    assert Lead.objects.get(pk=lead.pk).company_id == acme.pk
    assert Activity.objects.get(pk=call.pk).owner_id == acme.pk
    link = ConversationCrmLink.objects.get(conversation=conv)
    assert (link.entity_type, link.entity_id, link.title) == ("company", acme.pk, "Acme, S.L.")
    assert ConversationEvent.objects.filter(conversation=conv, kind="crm_merged").exists()
    record = CrmMerge.objects.get()
    assert (record.entity_type, record.kept_company_id, record.kept_id) == (
        "company",
        acme.pk,
        None,
    )
    timeline = client.get(f"/crm/companies/{acme.pk}/").context["timeline"]
    assert any(e.undo == record.pk for e in timeline)
    back = client.post(f"/crm/merges/{record.pk}/undo/")
    assert back["Location"] == f"/crm/companies/{again.pk}/"
    again.refresh_from_db()
    acme.refresh_from_db()
    assert (again.title, again.website, acme.website) == ("ACME, s.l.", "acme.example", "")
    assert Contact.objects.get(pk=worker.pk).company_id == again.pk
    assert Deal.objects.get(pk=deal.pk).company_id == again.pk
    assert Lead.objects.get(pk=lead.pk).company_id == again.pk
    assert Activity.objects.get(pk=call.pk).owner_id == again.pk
    assert ConversationCrmLink.objects.get(conversation=conv).entity_id == again.pk


def test_a_company_merge_needs_edit_on_both(client, org):
    mine = Company.objects.create(title="Mine", responsible=org.op1)
    theirs = Company.objects.create(title="Mine", responsible=org.op3)
    client.force_login(org.op1)
    assert (
        client.get(f"/crm/companies/merge/?kept={mine.pk}&removed={theirs.pk}").status_code == 404
    )
    response = client.post("/crm/companies/merge/", {"kept": mine.pk, "removed": theirs.pk})
    assert response.status_code == 404 and Company.objects.count() == 2
