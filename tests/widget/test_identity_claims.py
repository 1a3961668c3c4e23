"""Contact data typed into the web chat widget is a claim, not an identity (issue 15, item 7).

It never binds a conversation to an existing contact or lead by itself and is never added to
one; it may suggest a match, which an employee confirms from the CRM card."""

import re
import secrets

from asgiref.sync import async_to_sync
from django.test import Client

from convodesk.accounts.models import Role
from convodesk.conversations import outbox, services
from convodesk.conversations.models import Conversation, ConversationEvent
from convodesk.crm.models import Contact, ContactEmail, ContactIdentity, Lead, MatchSuggestion
from tests import factories as f
from tests.workspace.sockets import receive_until, widget


def customer(name="Alice Customer", email="alice@example.com", phone="+34 600 11 22 33"):
    contact = Contact.objects.create(name=name)
    if email:
        contact.add_email(email)
    if phone:
        contact.add_phone(phone, "ES")
    return contact


def from_widget(conn, visitor="web-visitor-1", **typed):
    return services.receive_client_message(
        conn, client_external_id=visitor, text="Where is my order?", **typed
    ).conversation


def bound(conv):
    conv.refresh_from_db()
    return conv.crm_entity_type, conv.crm_entity_id


def test_a_visitor_typing_a_customers_email_is_not_bound_to_that_customer(tdb, org):
    alice = customer()
    conn = f.connection(org.line, "livechat")

    async def scenario():
        comm = widget(conn.public_key)
        assert (await comm.connect())[0]
        await comm.send_json_to({"type": "hello", "token": secrets.token_urlsafe(32)})
        await receive_until(comm, lambda m: m["type"] == "ready")
        await comm.send_json_to(
            {
                "type": "message",
                "id": "claim00001",
                "text": "Please tell me my order history",
                "name": "Alice",
                "email": "ALICE@example.com",
            }
        )
        await receive_until(comm, lambda m: m["type"] == "message")
        await comm.disconnect()
        await outbox.stop_hub()

    async_to_sync(scenario)()
    conv = Conversation.objects.get(connection=conn)
    assert bound(conv)[0] == "lead"  # the line's rule, as if nothing matched
    assert ContactIdentity.objects.filter(contact=alice).count() == 0  # nothing added to Alice
    assert not Conversation.objects.filter(crm_entity_type="contact", crm_entity_id=alice.pk)
    suggestion = MatchSuggestion.objects.get(conversation=conv)
    assert (suggestion.entity_type, suggestion.entity_id, suggestion.matched_by) == (
        "contact",
        alice.pk,
        "email",
    )


def test_a_typed_phone_only_suggests_the_contact_and_a_new_contact_is_made_by_the_line_rule(org):
    alice = customer()
    org.line.crm_binding = "contact"
    org.line.save()
    conn = f.connection(org.line, "livechat")
    conv = from_widget(conn, phone="600 11 22 33", email="someone-else@example.com")
    kind, pk = bound(conv)
    assert kind == "contact" and pk != alice.pk
    assert list(alice.identities.all()) == []
    assert ContactEmail.objects.filter(contact=alice).count() == 1
    assert MatchSuggestion.objects.get(conversation=conv).matched_by == "phone"


def test_a_typed_email_never_joins_an_open_lead(org):
    lead = Lead.objects.create(title="Bike order", name="Alice", line=org.line)
    lead.set_contact_data("", "alice@example.com", "ES")
    lead.save()
    conn = f.connection(org.line, "livechat")
    conv = from_widget(conn, email="alice@example.com")
    assert bound(conv)[0] == "lead" and bound(conv)[1] != lead.pk
    suggestion = MatchSuggestion.objects.get(conversation=conv)
    assert (suggestion.entity_type, suggestion.entity_id) == ("lead", lead.pk)


def test_a_visitor_without_a_claim_that_matches_gets_no_suggestion(org):
    customer()
    conn = f.connection(org.line, "livechat")
    conv = from_widget(conn, email="nobody@example.com")
    assert not MatchSuggestion.objects.filter(conversation=conv).exists()
    event = ConversationEvent.objects.get(conversation=conv, kind="crm_bound")
    assert event.payload["created"] == "lead" and "matched_by" not in event.payload


def test_verified_channels_keep_matching_by_email_and_phone(org):
    alice = customer()
    conv = f.client_message(org.conn, "api-client-7", email="alice@example.com").conversation
    assert bound(conv) == ("contact", alice.pk)
    assert not MatchSuggestion.objects.exists()


def test_the_widgets_own_identity_still_binds_its_next_conversations(org):
    conn = f.connection(org.line, "livechat")
    org.line.crm_binding = "contact"
    org.line.save()
    first = from_widget(conn, email="new@example.com")
    services.take(first.pk, f.act(org.op1))
    services.close(first.pk, f.act(org.op1))
    second = from_widget(conn, email="new@example.com")
    assert second.pk != first.pk
    assert bound(second) == bound(first)
    assert not MatchSuggestion.objects.exists()


def _card(client, record, segment):
    return client.get(f"/crm/{segment}/{record.pk}/")


def test_an_employee_confirms_the_possible_match_from_the_card(org):
    alice = customer()
    conn = f.connection(org.line, "livechat")
    conv = from_widget(conn, "web-visitor-9", email="alice@example.com")
    lead_id = bound(conv)[1]
    suggestion = MatchSuggestion.objects.get(conversation=conv)

    admin = Client()
    admin.force_login(org.admin)
    page = _card(admin, Lead.objects.get(pk=lead_id), "leads").content.decode()
    assert "Possible matches" in page and "Alice Customer" in page
    assert f"/crm/matches/{suggestion.pk}/confirm/" in page

    response = admin.post(f"/crm/matches/{suggestion.pk}/confirm/")
    assert response.status_code == 302 and response["Location"] == f"/crm/contacts/{alice.pk}/"
    assert bound(conv) == ("contact", alice.pk)
    assert not MatchSuggestion.objects.filter(conversation=conv).exists()
    assert ConversationEvent.objects.filter(conversation=conv, kind="crm_rebound").exists()
    # Confirmed by an employee: the browser's identity now belongs to Alice.
    assert ContactIdentity.objects.filter(contact=alice, connection=conn).count() == 1


def test_a_possible_match_the_viewer_may_not_see_is_neither_shown_nor_confirmable(org):
    customer()
    conn = f.connection(org.line, "livechat")
    conv = from_widget(conn, "web-visitor-5", email="alice@example.com")
    services.take(conv.pk, f.act(org.op1))
    suggestion = MatchSuggestion.objects.get(conversation=conv)
    op1 = Client()
    op1.force_login(org.op1)
    page = _card(op1, Lead.objects.get(pk=bound(conv)[1]), "leads")
    assert page.status_code == 200
    assert "Alice Customer" not in page.content.decode()
    assert op1.post(f"/crm/matches/{suggestion.pk}/confirm/").status_code == 404
    assert bound(conv)[0] == "lead"
    # Someone who may not even see the conversation gets the same answer as for a missing one.
    op3 = Client()
    op3.force_login(org.op3)
    assert op3.post(f"/crm/matches/{suggestion.pk}/confirm/").status_code == 404
    assert op3.post("/crm/matches/987654/confirm/").status_code == 404


def test_confirming_needs_the_right_to_act_on_the_conversation(org):
    customer()
    conn = f.connection(org.line, "livechat")
    conv = from_widget(conn, "web-visitor-6", email="alice@example.com")
    services.take(conv.pk, f.act(org.op1))
    suggestion = MatchSuggestion.objects.get(conversation=conv)
    onlooker = Role.objects.create(
        name="Onlooker", view_conversations=30, act=10, view_crm=30, edit_crm=30
    )
    viewer = f.employee("viewer", roles=[onlooker])
    browser = Client()
    browser.force_login(viewer)
    response = browser.post(f"/crm/matches/{suggestion.pk}/confirm/")
    assert response.status_code == 403
    assert bound(conv)[0] == "lead"


def from_api(conn, external_id, **data):
    return services.receive_client_message(
        conn, client_external_id=external_id, text="Hello, it is really me", **data
    ).conversation


def test_a_visitor_who_types_an_email_first_does_not_catch_its_owners_later_conversation(org):
    """The claim turned around: the visitor comes before the customer. The contact the line's
    rule makes for the visitor keeps the typed e-mail as unverified, so the customer's verified
    conversation later neither binds to it nor adds its identity to it."""
    org.line.crm_binding = "contact"
    org.line.save()
    visitor_conv = from_widget(f.connection(org.line, "livechat"), email="victim@example.org")
    kind, visitor_contact = bound(visitor_conv)
    assert kind == "contact"
    assert ContactEmail.objects.get(contact_id=visitor_contact).verified is False

    real = from_api(org.conn, "victim-crm-78", email="victim@example.org")
    kind, pk = bound(real)
    assert (kind, pk) != ("contact", visitor_contact)
    assert not ContactIdentity.objects.filter(contact_id=visitor_contact, connection=org.conn)


def test_a_visitors_typed_email_on_a_lead_is_never_matched_and_stays_unverified_on_conversion(
    org,
):
    visitor_conv = from_widget(f.connection(org.line, "livechat"), email="victim@example.org")
    kind, lead_id = bound(visitor_conv)
    assert kind == "lead" and Lead.objects.get(pk=lead_id).contact_data_verified is False

    real = from_api(org.conn, "victim-crm-79", email="victim@example.org")
    assert bound(real) != ("lead", lead_id)

    from convodesk.crm import actions

    contact, _company, _deal = actions.convert_lead(lead_id, org.admin)
    assert ContactEmail.objects.get(contact=contact).verified is False
    client = Client()
    client.force_login(org.admin)
    card = client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    # with its source channel, then marked as typed by the visitor
    assert re.search(
        r"victim@example\.org \(from Live chat[^)]*\) \(typed in the web chat, unverified\)",
        card,
    ), card


def test_saving_the_card_never_vouches_for_a_typed_email_or_phone(org):
    """Second adversarial pass: any edit of the card (here a comment, through the API) used to
    turn the typed rows into verified ones, so the real owner's next conversation matched."""
    from tests.api.conftest import Api, token_for

    contact = Contact.objects.create(name="Dana")
    contact.add_email("dana@example.org", verified=False)
    contact.add_phone("+34 600 99 88 77", "ES", verified=False)
    status, body = Api(token_for(org.admin)).patch(
        f"/crm/contacts/{contact.pk}", {"comment": "called back"}
    )
    assert status == 200, body
    assert not ContactEmail.objects.get(contact=contact).verified
    assert not contact.phones.get().verified
    real = from_api(org.conn, "dana-verified", email="dana@example.org")
    assert bound(real) != ("contact", contact.pk)


def test_saving_the_card_keeps_a_typed_phone_stored_for_another_country_unverified(org):
    """Third adversarial pass: the card re-read a typed national number with the CRM's default
    country, so a number a GB line stored unverified came back as a new, verified row."""
    from tests.api.conftest import Api, token_for

    contact = Contact.objects.create(name="Dana")
    contact.add_phone("07700 900123", "GB", verified=False)
    status, body = Api(token_for(org.admin)).patch(
        f"/crm/contacts/{contact.pk}", {"comment": "called back"}
    )
    assert status == 200, body
    row = contact.phones.get()
    assert (row.value, row.normalized, row.verified) == ("07700 900123", "+447700900123", False)
