"""Issue 20, item 1: contacts, companies, leads, deals and activities are created, changed and
deleted from the UI and the API through crm/services.py, each change recorded on the record's
timeline; a delete asks first and keeps the conversations, their CRM link removed and recorded."""

import pytest

from convodesk.accounts.models import Role
from convodesk.api.models import ApiToken
from convodesk.conversations import services as conv_services
from convodesk.conversations.models import Conversation, ConversationCrmLink, ConversationEvent
from convodesk.crm import services
from convodesk.crm.forms import ContactForm
from convodesk.crm.models import Activity, Company, Contact, CrmEvent, Deal, Lead

from .. import factories as f


def events(record) -> list[str]:
    return list(
        CrmEvent.objects.filter(entity_type=record.entity_type, entity_id=record.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_an_employee_creates_a_contact_from_the_list_and_it_is_on_its_timeline(client, org):
    client.force_login(org.op1)
    page = client.get("/crm/contacts/")
    assert 'href="/crm/contacts/new/"' in page.content.decode()
    form = client.get("/crm/contacts/new/")
    assert form.status_code == 200 and form.context["form"].initial["responsible"] == org.op1.pk
    response = client.post(
        "/crm/contacts/new/",
        {
            "name": "Ana Martínez",
            "phones": "+34 600 11 22 33",
            "emails": "ana@example.com",
            "responsible": org.op1.pk,
        },
    )
    ana = Contact.objects.get(name="Ana Martínez")
    assert response.status_code == 302 and response["Location"] == f"/crm/contacts/{ana.pk}/"
    assert [p.value for p in ana.phones.all()] == ["+34 600 11 22 33"]
    assert events(ana) == ["created"]
    card = client.get(f"/crm/contacts/{ana.pk}/").content.decode()
    assert "crm-event-event" in card and "Created" in card


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(client, org):
    client.force_login(org.op1)
    response = client.post("/crm/contacts/new/", {"name": "", "phones": "not a phone"})
    assert response.status_code == 400
    assert {"name", "phones"} <= set(response.context["form"].errors)
    response = client.post(
        "/crm/deals/new/", {"title": "D", "stage": "lost", "amount": "5", "currency": "E1"}
    )
    assert response.status_code == 400
    assert {"currency", "lost_reason"} <= set(response.context["form"].errors)
    assert not Contact.objects.exists() and not Deal.objects.exists()


def test_a_record_cannot_be_given_away_out_of_the_savers_scope(org):
    """op1 (edit own) would lose a contact handed to op3: refused, nothing saved."""
    form = ContactForm({"name": "Given away", "responsible": org.op3.pk}, user=org.op1)
    with pytest.raises(services.FieldErrors) as refused:
        services.save_form(org.op1, form)
    assert "responsible" in refused.value.errors
    assert not Contact.objects.filter(name="Given away").exists()


def test_changes_are_recorded_with_before_and_after(client, org):
    acme = Company.objects.create(title="Acme", responsible=org.op1)
    client.force_login(org.op1)
    response = client.post(
        f"/crm/companies/{acme.pk}/",
        {"title": "Acme Ltd", "phone": "", "email": "", "website": "", "responsible": org.op1.pk},
    )
    assert response.status_code == 302
    event = CrmEvent.objects.get(entity_type="company", entity_id=acme.pk, kind="updated")
    assert event.payload["changes"]["title"] == ["Acme", "Acme Ltd"]
    assert event.actor == org.op1


def test_delete_asks_first_then_keeps_the_conversations_without_the_link(client, org):
    conv = f.client_message(org.conn, "c1", name="Luis", phone="600112233").conversation
    conv_services.take(conv.pk, f.act(org.op1))
    lead = Lead.objects.get()
    client.force_login(org.op1)
    ask = client.get(f"/crm/leads/{lead.pk}/delete/")
    assert ask.status_code == 200 and "1" in ask.content.decode()
    assert Lead.objects.filter(pk=lead.pk).exists()  # asking deletes nothing
    response = client.post(f"/crm/leads/{lead.pk}/delete/")
    assert response.status_code == 302
    assert not Lead.objects.filter(pk=lead.pk).exists()
    conv.refresh_from_db()
    assert conv.crm_entity_type == "" and conv.crm_activity_id is None
    assert not ConversationCrmLink.objects.filter(conversation=conv).exists()
    assert not Activity.objects.filter(conversation=conv).exists()
    event = ConversationEvent.objects.filter(conversation=conv, kind="crm_unlinked").get()
    assert event.payload["deleted"] == {"type": "lead", "id": lead.pk, "title": lead.title}
    assert event.actor == org.op1
    assert events(lead) == ["deleted"]
    history = client.get(f"/contact-center/conversations/{conv.pk}/history/").content.decode()
    assert "CRM record deleted, link removed" in history


def test_deleting_one_record_of_several_leaves_the_next_one_primary(org):
    conv = f.client_message(org.conn, "c1", name="Luis").conversation
    contact = Contact.objects.create(name="Luis", responsible=org.admin)
    deal = Deal.objects.create(title="Order", contact=contact, responsible=org.admin)
    from convodesk.crm import actions

    actions.rebind(conv.pk, org.admin, "deal", deal.pk)
    assert Conversation.objects.get(pk=conv.pk).crm_entity_type == "deal"
    services.delete_record(org.admin, Deal, deal.pk)
    conv.refresh_from_db()
    assert (conv.crm_entity_type, conv.crm_entity_id) == ("contact", contact.pk)
    assert Activity.objects.get(conversation=conv).owner_id == contact.pk


def test_a_delete_needs_act_on_every_conversation_of_the_record(org):
    """op1 may edit the lead they answer for, but one of its conversations is op3's."""
    conv = f.client_message(org.conn, "c1", name="Luis").conversation
    conv_services.take(conv.pk, f.act(org.op3))
    lead = Lead.objects.get()
    Lead.objects.filter(pk=lead.pk).update(responsible=org.op1)
    with pytest.raises(services.NotAllowed):
        services.delete_record(org.op1, Lead, lead.pk)
    assert Lead.objects.filter(pk=lead.pk).exists()
    assert ConversationCrmLink.objects.filter(conversation=conv, entity_id=lead.pk).exists()


def test_a_hidden_record_cannot_be_deleted_or_asked_about(client, org):
    sven = Contact.objects.create(name="Sven", responsible=org.op3)
    client.force_login(org.op1)
    assert client.get(f"/crm/contacts/{sven.pk}/delete/").status_code == 404
    assert client.post(f"/crm/contacts/{sven.pk}/delete/").status_code == 404
    assert Contact.objects.filter(pk=sven.pk).exists()


def test_activities_are_added_to_a_card_and_shown_on_its_timeline(client, org):
    ana = Contact.objects.create(name="Ana", responsible=org.op1)
    client.force_login(org.op1)
    page = client.get(f"/crm/activities/new/?owner=contact:{ana.pk}&type=call")
    assert page.status_code == 200 and page.context["form"].initial["type"] == "call"
    response = client.post(
        "/crm/activities/new/",
        {
            "owner": f"contact:{ana.pk}",
            "type": "call",
            "subject": "Called about the offer",
            "direction": "outgoing",
            "start_at": "2026-12-01T10:00",
            "responsible": org.op1.pk,
            "description": "She wants 10 units",
        },
    )
    assert response.status_code == 302 and response["Location"] == f"/crm/contacts/{ana.pk}/"
    call = Activity.objects.get(subject="Called about the offer")
    assert (call.owner_type, call.owner_id, call.type) == ("contact", ana.pk, "call")
    assert events(ana) == ["activity_added"]
    card = client.get(f"/crm/contacts/{ana.pk}/").content.decode()
    assert "Called about the offer" in card and "She wants 10 units" in card
    # An activity for a record the employee may not edit does not exist for them.
    sven = Contact.objects.create(name="Sven", responsible=org.op3)
    assert client.get(f"/crm/activities/new/?owner=contact:{sven.pk}").status_code == 404
    assert client.post(f"/crm/activities/{call.pk}/delete/").status_code == 302
    assert not Activity.objects.filter(pk=call.pk).exists()
    assert events(ana) == ["activity_added", "activity_deleted"]


def test_the_activity_of_a_conversation_cannot_be_deleted_by_itself(org):
    conv = f.client_message(org.conn, "c1", name="Luis").conversation
    activity = Activity.objects.get(conversation=conv)
    with pytest.raises(services.FieldErrors):
        services.delete_record(org.admin, Activity, activity.pk)
    assert Activity.objects.filter(pk=activity.pk).exists()


def test_a_role_with_crm_edit_none_creates_nothing(client, org):
    viewer = f.employee("viewer", departments=[])
    viewer.roles.set([Role.objects.create(name="Viewer", view_crm=30, edit_crm=0)])
    client.force_login(viewer)
    assert client.get("/crm/contacts/new/").status_code == 403
    assert 'href="/crm/contacts/new/"' not in client.get("/crm/contacts/").content.decode()


# The API ------------------------------------------------------------------------------------


@pytest.fixture
def api(client, org):
    _token, plain = ApiToken.issue(org.op1, "test")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plain}"}

    class Api:
        def post(self, path, body=None):
            return client.post(
                f"/api/v1/crm{path}", body or {}, content_type="application/json", **auth
            )

        def delete(self, path):
            return client.delete(f"/api/v1/crm{path}", **auth)

        def get(self, path, **params):
            return client.get(f"/api/v1/crm{path}", params, **auth)

    return Api()


def test_the_api_creates_changes_and_deletes_records_through_the_services(api, org):
    created = api.post("/contacts", {"name": "Ana Martínez", "phones": ["600 11 22 33"]})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Ana Martínez" and body["responsible_id"] == org.op1.pk
    ana = Contact.objects.get(pk=body["id"])
    assert events(ana) == ["created"]
    deal = api.post("/deals", {"title": "Order", "contact_id": ana.pk, "amount": "120.50"})
    assert deal.status_code == 201 and deal.json()["stage"] == "new", deal.content
    deal_id = deal.json()["id"]
    refused = api.post(f"/deals/{deal_id}/move", {"stage": "lost"})
    assert refused.status_code == 422 and "reason" in refused.content.decode()
    lost = api.post(f"/deals/{deal_id}/move", {"stage": "lost", "reason": "Too expensive"})
    assert lost.status_code == 200
    assert (lost.json()["outcome"], lost.json()["lost_reason"]) == ("lost", "Too expensive")
    activity = api.post(
        "/activities",
        {
            "owner_type": "contact",
            "owner_id": ana.pk,
            "type": "meeting",
            "subject": "Visit",
            "start_at": "2026-12-01 10:00",
        },
    )
    assert activity.status_code == 201, activity.content
    assert api.post("/contacts", {"name": "", "nope": 1}).status_code == 422
    assert api.delete(f"/deals/{deal_id}").status_code == 200
    assert not Deal.objects.filter(pk=deal_id).exists()
    filtered = api.get("/contacts", q="martinez")
    assert [i["id"] for i in filtered.json()["items"]] == [ana.pk]
    assert api.get("/contacts", responsible="x").status_code == 422


def test_the_api_refuses_hidden_records_like_missing_ones(api, org):
    sven = Contact.objects.create(name="Sven", responsible=org.op3)
    deal = Deal.objects.create(title="Theirs", responsible=org.op3)
    assert api.delete(f"/contacts/{sven.pk}").status_code == 404
    assert api.post(f"/deals/{deal.pk}/move", {"stage": "won"}).status_code == 404
    assert Contact.objects.filter(pk=sven.pk).exists()


def test_binding_a_conversation_brings_the_clients_data_and_identity_to_the_contact(client, org):
    """Item 3: the client's phone, e-mail and channel identity appear on the contact, with
    their source; data the channel vouches for is verified."""
    conv = f.client_message(
        org.conn, "ext-77", "Hi", name="Luis", phone="+34 622 33 44 55", email="luis@x.example"
    ).conversation
    conv_services.take(conv.pk, f.act(org.admin))
    luis = Contact.objects.create(name="Luis Pérez", responsible=org.admin)
    client.force_login(org.admin)
    response = client.post(
        f"/crm/conversations/{conv.pk}/rebind/", {"entity_type": "contact", "entity_id": luis.pk}
    )
    assert response.status_code == 302
    assert [(p.value, p.verified) for p in luis.phones.all()] == [("+34 622 33 44 55", True)]
    assert [(e.value, e.verified) for e in luis.emails.all()] == [("luis@x.example", True)]
    card = client.get(f"/crm/contacts/{luis.pk}/").content.decode()
    assert "ext-77" in card and org.conn.name in card
    assert "+34 622 33 44 55" in card and "luis@x.example" in card
    # Found by the new data in the list (the search text is kept in step).
    assert [r.pk for r in client.get("/crm/contacts/", {"q": "622 33 44"}).context["rows"]] == [
        luis.pk
    ]
