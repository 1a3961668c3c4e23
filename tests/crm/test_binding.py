import pytest
from django.http import QueryDict

from convodesk.conversations import services
from convodesk.conversations.filters import ConversationFilter
from convodesk.conversations.models import (
    Client,
    ClientIdentity,
    Conversation,
    ConversationCrmLink,
    ConversationEvent,
    Message,
)
from convodesk.crm import actions, binding
from convodesk.crm.models import Activity, Company, Contact, Deal, Lead

from .. import factories as f


def contact(name, phone="", email="", identity=None, company=None):
    obj = Contact.objects.create(name=name, company=company)
    if phone:
        obj.add_phone(phone, "ES")
    if email:
        obj.add_email(email)
    if identity:
        obj.add_identity(identity[0].pk, identity[1])
    return obj


def bound(conv) -> tuple[str, int]:
    conv.refresh_from_db()
    return conv.crm_entity_type, conv.crm_entity_id


def test_channel_identity_beats_phone_which_beats_email(org):
    by_identity = contact("By identity", identity=(org.conn, "c1"))
    by_phone = contact("By phone", phone="+34 600 11 22 33")
    by_email = contact("By e-mail", email="ana@example.com")

    first = f.client_message(
        org.conn, "c1", phone="600112233", email="ana@example.com"
    ).conversation
    second = f.client_message(
        org.conn, "c2", phone="600112233", email="ANA@example.com "
    ).conversation
    third = f.client_message(org.conn, "c3", email="ana@example.com").conversation

    assert bound(first) == ("contact", by_identity.pk)
    assert bound(second) == ("contact", by_phone.pk)
    assert bound(third) == ("contact", by_email.pk)
    event = ConversationEvent.objects.get(conversation=second, kind="crm_bound")
    assert event.payload["matched_by"] == "phone"
    assert Lead.objects.count() == 0


@pytest.mark.parametrize("stored", ["+34 600 11 22 33", "0034600112233", "600-112-233"])
@pytest.mark.parametrize("typed", ["+34 600 11 22 33", "0034600112233", "600-112-233"])
def test_phone_formats_with_the_line_country_match_the_same_contact(org, stored, typed):
    target = contact("Ana", phone=stored)
    conv = f.client_message(org.conn, "c1", phone=typed).conversation
    assert bound(conv) == ("contact", target.pk)


def test_a_phone_typed_without_a_known_country_still_matches_by_national_number(org):
    target = Contact.objects.create(name="Ana")
    target.add_phone("600 11 22 33", "")  # no country: stored as bare digits
    conv = f.client_message(org.conn, "c1", phone="+34 600 11 22 33").conversation
    assert bound(conv) == ("contact", target.pk)


def test_two_different_numbers_never_match(org):
    contact("Ana", phone="+34 600 11 22 33")
    contact("Luis", phone="+44 600 11 22 33")
    conv = f.client_message(org.conn, "c1", phone="600 11 22 34").conversation
    assert bound(conv)[0] == "lead"
    other = f.client_message(org.conn, "c2", phone="+33 600 11 22 33").conversation
    assert bound(other)[0] == "lead"
    assert bound(other)[1] != bound(conv)[1]


def test_line_setting_create_lead_creates_a_lead_with_the_client_data(org):
    conv = f.client_message(
        org.conn, "c1", name="Ana García", phone="600112233", email="Ana@x.es"
    ).conversation
    lead = Lead.objects.get()
    assert bound(conv) == ("lead", lead.pk)
    assert (lead.name, lead.phone_normalized, lead.email_normalized) == (
        "Ana García",
        "+34600112233",
        "ana@x.es",
    )
    assert (
        lead.status == Lead.Status.NEW and lead.source == "open_channel" and lead.line == org.line
    )
    assert conv.crm_title == lead.title and "Ana García" in lead.title
    assert Contact.objects.count() == 0


def test_line_setting_create_contact_creates_a_contact_with_identity_phone_and_email(org):
    org.line.crm_binding = "contact"
    org.line.save()
    conv = f.client_message(
        org.conn, "c1", name="Ana", phone="600112233", email="ana@x.es"
    ).conversation
    new = Contact.objects.get()
    assert bound(conv) == ("contact", new.pk)
    assert list(new.phones.values_list("normalized", flat=True)) == ["+34600112233"]
    assert list(new.emails.values_list("normalized", flat=True)) == ["ana@x.es"]
    assert new.identities.get().external_id == "c1"
    assert Lead.objects.count() == 0


def test_line_setting_do_nothing_leaves_an_unmatched_conversation_unbound(org):
    org.line.crm_binding = "nothing"
    org.line.save()
    conv = f.client_message(org.conn, "c1", phone="600112233").conversation
    assert bound(conv) == ("", None)
    assert conv.crm_activity_id is None
    assert (
        not Lead.objects.exists() and not Contact.objects.exists() and not Activity.objects.exists()
    )
    # ...but a client who matches an existing contact is still bound.
    known = contact("Known", phone="600112244")
    other = f.client_message(org.conn, "c2", phone="600 11 22 44").conversation
    assert bound(other) == ("contact", known.pk)


def test_the_contacts_open_deal_and_company_are_bound_when_the_line_says_so(org):
    org.line.crm_bind_open_deal = True
    org.line.save()
    acme = Company.objects.create(title="Acme")
    ana = contact("Ana", phone="600112233", company=acme)
    Deal.objects.create(title="Old", contact=ana, stage="won")
    deal = Deal.objects.create(title="Order", contact=ana, stage="negotiation")
    conv = f.client_message(org.conn, "c1", phone="600112233").conversation
    links = {(link.entity_type, link.entity_id, link.is_primary) for link in conv.crm_links.all()}
    assert links == {
        ("contact", ana.pk, True),
        ("deal", deal.pk, False),
        ("company", acme.pk, False),
    }
    assert Activity.objects.get(conversation=conv).owner_type == "contact"


def test_a_second_conversation_of_the_same_client_binds_to_the_same_record(org):
    first = f.client_message(org.conn, "c1", when=f.at(0)).conversation
    services.close(first.pk, f.act(org.admin), now=f.at(60))
    second = f.client_message(org.conn, "c1", text="Again", when=f.at(3600)).conversation
    assert second.pk != first.pk
    assert bound(second) == bound(first) and bound(first)[0] == "lead"
    assert Lead.objects.count() == 1
    assert Activity.objects.filter(owner_type="lead").count() == 2


def test_the_activity_follows_the_conversation_and_completes_when_it_closes(org):
    conv = f.client_message(org.conn, "c1", when=f.at(0)).conversation
    activity = Activity.objects.get(pk=conv.crm_activity_id)
    assert (activity.direction, activity.start_at, activity.completed, activity.responsible) == (
        "incoming",
        f.at(0),
        False,
        None,
    )
    assert activity.conversation_id == conv.pk and f"#{conv.pk}" in activity.subject
    services.take(conv.pk, f.act(org.op1), now=f.at(10))
    activity.refresh_from_db()
    assert activity.responsible == org.op1 and not activity.completed
    assert Lead.objects.get().responsible == org.op1
    services.close(conv.pk, f.act(org.op1), now=f.at(100))
    activity.refresh_from_db()
    assert activity.completed and activity.end_at == f.at(100)


def test_an_outgoing_conversation_gets_an_outgoing_activity_with_its_employee(org):
    first = f.client_message(org.conn, "c1", when=f.at(0)).conversation
    services.close(first.pk, f.act(org.admin), now=f.at(10))
    org.conn.config = {"webhook_url": "http://127.0.0.1:9/hook"}
    org.conn.save()
    out = services.start_outgoing(f.act(org.op1), first.identity, "Hello again", now=f.at(100))
    activity = Activity.objects.get(conversation=out)
    assert (activity.direction, activity.responsible) == ("outgoing", org.op1)
    assert bound(out) == bound(first)


def test_a_failure_inside_binding_rolls_the_whole_incoming_message_back(org, monkeypatch):
    def broken(conversation, **kwargs):
        raise RuntimeError("CRM is broken")

    monkeypatch.setattr(binding, "decide_new_conversation", broken)
    with pytest.raises(RuntimeError, match="CRM is broken"):
        f.client_message(org.conn, "c1", phone="600112233", external_message_id="m-1")
    for model in (
        Client,
        ClientIdentity,
        Conversation,
        Message,
        ConversationEvent,
        ConversationCrmLink,
        Lead,
        Activity,
    ):
        assert not model.objects.exists(), model
    monkeypatch.undo()
    received = f.client_message(org.conn, "c1", phone="600112233", external_message_id="m-1")
    assert received.created and bound(received.conversation)[0] == "lead"


def test_converting_a_lead_moves_its_conversations_to_the_new_contact_and_records_events(org):
    first = f.client_message(
        org.conn, "c1", name="Ana", phone="600112233", when=f.at(0)
    ).conversation
    services.close(first.pk, f.act(org.admin), now=f.at(10))
    second = f.client_message(org.conn, "c1", when=f.at(100)).conversation
    lead = Lead.objects.get()
    new_contact, company, deal = actions.convert_lead(
        lead.pk, org.admin, company_title="Acme", create_deal=True, deal_title="First order"
    )
    lead.refresh_from_db()
    assert (
        lead.status == "converted"
        and lead.contact == new_contact
        and new_contact.company == company
    )
    for conv in (first, second):
        assert bound(conv) == ("contact", new_contact.pk)
        assert {link.entity_type for link in conv.crm_links.all()} == {"contact", "company", "deal"}
        event = ConversationEvent.objects.filter(conversation=conv).last()
        assert event.kind == "crm_lead_converted" and event.actor == org.admin
        assert event.payload["lead"]["id"] == lead.pk and event.payload["deal"]["id"] == deal.pk
        assert Activity.objects.get(conversation=conv).owner_type == "contact"
    # The client now reaches the contact directly.
    services.close(second.pk, f.act(org.admin), now=f.at(200))
    third = f.client_message(org.conn, "c1", when=f.at(300)).conversation
    assert bound(third) == ("contact", new_contact.pk)
    with pytest.raises(actions.CrmError):
        actions.convert_lead(lead.pk, org.admin)


def test_rebinding_needs_the_right_to_see_the_conversation_and_is_recorded(org):
    conv = f.client_message(org.conn, "c1").conversation
    lead_id = bound(conv)[1]
    target = contact("Ana")
    outsider = f.employee("outsider")
    with pytest.raises(services.NotFound):
        actions.rebind(conv.pk, outsider, "contact", target.pk)
    with pytest.raises(actions.CrmError):
        actions.rebind(conv.pk, org.admin, "contact", 999999)
    with pytest.raises(actions.CrmError):
        actions.rebind(conv.pk, org.admin, "activity", conv.crm_activity_id)
    actions.rebind(conv.pk, org.admin, "contact", target.pk)
    assert bound(conv) == ("contact", target.pk)
    event = ConversationEvent.objects.filter(conversation=conv).last()
    assert event.kind == "crm_rebound" and event.actor == org.admin
    assert event.payload["from"]["id"] == lead_id and event.payload["to"] == {
        "type": "contact",
        "id": target.pk,
        "title": "Ana",
    }
    assert Activity.objects.get(conversation=conv).owner_id == target.pk


def test_has_crm_and_crm_type_filters_read_the_binding(org):
    org.line.crm_bind_open_deal = True
    org.line.save()
    ana = contact("Ana", phone="600112233")
    Deal.objects.create(title="Order", contact=ana)
    to_contact = f.client_message(org.conn, "c1", phone="600112233").conversation
    to_lead = f.client_message(org.conn, "c2").conversation
    org.line.crm_binding = "nothing"
    org.line.save()
    unbound = f.client_message(org.conn, "c3").conversation

    def ids(query):
        flt = ConversationFilter(QueryDict(query))
        assert flt.is_valid(), flt.errors
        return set(flt.filter(Conversation.objects.all()).values_list("id", flat=True))

    assert ids("has_crm=true") == {to_contact.pk, to_lead.pk}
    assert ids("has_crm=false") == {unbound.pk}
    assert ids("crm_type=lead") == {to_lead.pk}
    assert ids("crm_type=deal") == {to_contact.pk}
    assert ids("crm_type=contact,lead") == {to_contact.pk, to_lead.pk}
    assert ids("crm_type=company") == set()


def test_demo_seed_makes_contacts_that_demo_clients_bind_to(org):
    import random

    from convodesk.devtools import crm_demo

    people = [(f"Person {i}", f"+34 611 000 {i:03d}", f"person{i}@example.net") for i in range(12)]
    counts = crm_demo.seed(random.Random(3), people, responsible=[org.op1], lines=[org.line])
    assert (
        counts["contacts"] == 12
        and Contact.objects.count() == 12
        and counts["deals"] == Deal.objects.count()
    )
    org.line.refresh_from_db()
    assert org.line.crm_bind_open_deal
    conv = f.client_message(org.conn, "p5", name="Person 5", phone="611000005").conversation
    assert bound(conv) == ("contact", Contact.objects.get(name="Person 5").pk)


def _data(contact_):
    """(value, verified, source connection id) of a contact's phones and e-mails, in order."""
    return (
        [(p.value, p.verified, p.source_id) for p in contact_.phones.order_by("id")],
        [(e.value, e.verified, e.source_id) for e in contact_.emails.order_by("id")],
    )


def test_automatic_binding_adds_the_clients_verified_data_to_the_contact_with_its_source(
    org, client
):
    # A verified channel (the API connector) matches Ana by her channel identity; the phone
    # and e-mail the channel gives are added to her card as a manual bind adds them: verified,
    # with the connection they came from, and her search finds her by them.
    ana = contact("Ana Ruiz", identity=(org.conn, "c1"))
    conv = f.client_message(
        org.conn, "c1", phone="600 11 22 33", email="Ana@Example.com"
    ).conversation
    assert bound(conv) == ("contact", ana.pk)
    assert _data(ana) == (
        [("600 11 22 33", True, org.conn.pk)],
        [("Ana@Example.com", True, org.conn.pk)],
    )
    ana.refresh_from_db()
    assert "+34600112233" in ana.search and "ana@example.com" in ana.search
    event = ConversationEvent.objects.get(conversation=conv, kind="crm_bound")
    assert event.payload["learned"] == {
        "identity": False,
        "phone": "600 11 22 33",
        "email": "Ana@Example.com",
        "verified": True,
    }
    # Her next conversation adds nothing twice.
    services.close(conv.pk, f.act(org.admin))
    f.client_message(org.conn, "c1", phone="+34600112233", email="ana@example.com")
    assert len(_data(ana)[0]) == 1 and len(_data(ana)[1]) == 1
    # The card shows where each came from.
    client.force_login(org.admin)
    html = client.get(f"/crm/contacts/{ana.pk}/").content.decode()
    assert f"600 11 22 33 (from API · {org.conn.name})" in html


def test_a_contact_matched_by_phone_learns_the_channel_identity_and_the_email(org):
    ana = contact("Ana", phone="+34 600 11 22 33")
    conv = f.client_message(org.conn, "tg-9", phone="600112233", email="ana@x.es").conversation
    assert bound(conv) == ("contact", ana.pk)
    identity = ana.identities.get()
    assert (identity.connection_id, identity.external_id) == (org.conn.pk, "tg-9")
    assert _data(ana) == (
        [("+34 600 11 22 33", True, None)],  # kept as it was, not added again
        [("ana@x.es", True, org.conn.pk)],
    )


def test_data_the_client_typed_is_only_proposed_on_the_contact_and_never_matched_on(org):
    # The web chat: Ana is known by her widget identity; what she types is added unverified
    # (shown as proposed, as a manual bind does) and never binds anyone else's conversation.
    chat = f.connection(org.line, "livechat", name="Site chat")
    ana = contact("Ana", identity=(chat, "visitor-1"))
    conv = f.client_message(chat, "visitor-1", phone="600 99 88 77", email="a@b.es").conversation
    assert bound(conv) == ("contact", ana.pk)
    assert _data(ana) == ([("600 99 88 77", False, chat.pk)], [("a@b.es", False, chat.pk)])
    other = f.client_message(org.conn, "c5", phone="600998877").conversation
    assert bound(other)[0] == "lead"  # not bound to Ana by an unverified number


def test_a_new_contact_keeps_the_clients_data_with_its_source_and_is_found_by_it(org, client):
    org.line.crm_binding = "contact"
    org.line.save()
    f.client_message(org.conn, "c1", name="Ana", phone="600112233", email="ana@x.es")
    new = Contact.objects.get()
    assert _data(new) == ([("600112233", True, org.conn.pk)], [("ana@x.es", True, org.conn.pk)])
    client.force_login(org.admin)
    for q in ("600112233", "ana@x.es"):
        page = client.get("/crm/contacts/", {"q": q})
        assert [r.pk for r in page.context["rows"]] == [new.pk], q
