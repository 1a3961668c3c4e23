import pytest

from convodesk.conversations import services
from convodesk.conversations.models import ConversationEvent
from convodesk.crm.models import Activity, Company, Contact, Deal, Lead

from .. import factories as f


@pytest.fixture
def two_conversations_of_one_contact(org):
    """One contact; op1 answers the first conversation, op3 the second."""
    ana = Contact.objects.create(name="Ana García")
    ana.add_phone("+34 600 11 22 33", "ES")
    mine = f.client_message(org.conn, "c1", phone="600112233", when=f.at(0)).conversation
    services.take(mine.pk, f.act(org.op1), now=f.at(5))
    theirs = f.client_message(org.conn, "c2", phone="0034600112233", when=f.at(10)).conversation
    services.take(theirs.pk, f.act(org.op3), now=f.at(15))
    return ana, mine, theirs


def conversation_rows(response) -> set[int]:
    return {conv.pk for conv, _cells in response.context["table"]}


def test_a_card_hides_conversations_the_viewer_may_not_see(
    client, org, two_conversations_of_one_contact
):
    ana, mine, theirs = two_conversations_of_one_contact
    client.force_login(org.op1)
    response = client.get(f"/crm/contacts/{ana.pk}/")
    assert response.status_code == 200
    assert conversation_rows(response) == {mine.pk}
    html = response.content.decode()
    assert f"/contact-center/conversations/{mine.pk}/history/" in html
    assert f"/contact-center/conversations/{theirs.pk}/history/" not in html
    client.force_login(org.admin)
    assert conversation_rows(client.get(f"/crm/contacts/{ana.pk}/")) == {mine.pk, theirs.pk}
    # The activity of a conversation the operator may not see is not found (issue 15).
    client.force_login(org.op1)
    response = client.get(f"/crm/activities/{theirs.crm_activity_id}/")
    assert response.status_code == 404


def test_each_card_kind_renders_its_fields_and_conversations(client, org):
    acme = Company.objects.create(title="Acme")
    ana = Contact.objects.create(name="Ana", company=acme)
    ana.add_phone("600112233", "ES")
    deal = Deal.objects.create(title="Big order", contact=ana, company=acme, amount=1200)
    org.line.crm_bind_open_deal = True
    org.line.save()
    conv = f.client_message(org.conn, "c1", phone="600112233").conversation
    lead_conv = f.client_message(org.conn, "c2", name="Luis").conversation
    lead = Lead.objects.get()
    client.force_login(org.admin)
    for url, text, conv_id in [
        (f"/crm/contacts/{ana.pk}/", "Ana", conv.pk),
        (f"/crm/companies/{acme.pk}/", "Acme", conv.pk),
        (f"/crm/deals/{deal.pk}/", "Big order", conv.pk),
        (f"/crm/leads/{lead.pk}/", "Luis", lead_conv.pk),
        (f"/crm/activities/{conv.crm_activity_id}/", "Open channel conversation", conv.pk),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
        assert conversation_rows(response) == {conv_id}, url
    assert client.get("/crm/contacts/999999/").status_code == 404
    assert client.get("/crm/widgets/1/").status_code == 404
    for segment in ("contacts", "companies", "leads", "deals", "activities"):
        assert client.get(f"/crm/{segment}/", {"q": "a"}).status_code == 200


def test_lists_search_by_name_phone_and_id(client, org):
    ana = Contact.objects.create(name="Ana García", responsible=org.op1)
    ana.add_phone("+34 600 11 22 33", "ES")
    Contact.objects.create(name="Luis", responsible=org.op1)
    client.force_login(org.op1)
    for q in ("garcía", "600112233", f"#{ana.pk}"):
        rows = client.get("/crm/contacts/", {"q": q}).context["rows"]
        assert [r.pk for r in rows] == [ana.pk], q


def test_editing_a_contact_stores_normalised_phones_and_rejects_bad_input(client, org):
    ana = Contact.objects.create(name="Ana", responsible=org.op1)
    client.force_login(org.op1)
    response = client.post(
        f"/crm/contacts/{ana.pk}/",
        {
            "name": "Ana G.",
            "responsible": org.op1.pk,
            "phones": "+34 600 11 22 33\n0034 611 22 33 44",
            "emails": "Ana@Example.com",
            "comment": "VIP",
        },
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.name == "Ana G." and ana.comment == "VIP"
    assert sorted(ana.phones.values_list("normalized", flat=True)) == [
        "+34600112233",
        "+34611223344",
    ]
    assert list(ana.emails.values_list("normalized", flat=True)) == ["ana@example.com"]
    response = client.post(
        f"/crm/contacts/{ana.pk}/", {"name": "", "phones": "call me", "emails": "nope"}
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"name", "phones", "emails"}
    bad_deal = Deal.objects.create(title="D", responsible=org.op1)
    response = client.post(
        f"/crm/deals/{bad_deal.pk}/",
        {"title": "D", "stage": "nonsense", "amount": "-5", "currency": "EUR"},
    )
    assert response.status_code == 400 and {"stage", "amount"} <= set(
        response.context["form"].errors
    )


def test_converting_a_lead_from_its_card_shows_the_conversation_on_the_new_contact(client, org):
    conv = f.client_message(org.conn, "c1", name="Ana", email="ana@x.es").conversation
    services.take(conv.pk, f.act(org.op1))
    lead = Lead.objects.get()
    client.force_login(org.op1)
    response = client.post(
        f"/crm/leads/{lead.pk}/convert/",
        {
            "contact_name": "Ana López",
            "company_title": "Acme",
            "create_deal": "on",
            "deal_title": "Order",
            "deal_amount": "99.50",
        },
    )
    contact = Contact.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/crm/contacts/{contact.pk}/"
    page = client.get(response["Location"])
    assert conversation_rows(page) == {conv.pk}
    assert contact.name == "Ana López" and contact.company.title == "Acme"
    assert Deal.objects.get().amount == 99.5
    assert ConversationEvent.objects.filter(
        conversation=conv, kind="crm_lead_converted", actor=org.op1
    ).exists()
    # A second conversion is refused with a message, not an error page.
    again = client.post(f"/crm/leads/{lead.pk}/convert/", {"contact_name": "X"}, follow=True)
    assert again.status_code == 200 and Contact.objects.count() == 1
    assert "Only a new or in-work lead can be converted." in again.content.decode()
    bad = client.post(f"/crm/leads/{lead.pk}/convert/", {"deal_amount": "lots"})
    assert bad.status_code == 302


def test_rebinding_from_the_page_linked_to_the_history(client, org):
    conv = f.client_message(org.conn, "c1").conversation
    services.take(conv.pk, f.act(org.op1))
    ana = Contact.objects.create(name="Ana Target", responsible=org.op1)
    client.force_login(org.op1)
    page = client.get(f"/crm/conversations/{conv.pk}/rebind/", {"q": "target"})
    assert page.status_code == 200 and "Ana Target" in page.content.decode()
    response = client.post(
        f"/crm/conversations/{conv.pk}/rebind/", {"entity_type": "contact", "entity_id": ana.pk}
    )
    assert response.status_code == 302 and response["Location"] == f"/crm/contacts/{ana.pk}/"
    conv.refresh_from_db()
    assert (conv.crm_entity_type, conv.crm_entity_id, conv.crm_title) == (
        "contact",
        ana.pk,
        "Ana Target",
    )
    assert Activity.objects.get(conversation=conv).owner_id == ana.pk
    assert (
        client.post(
            f"/crm/conversations/{conv.pk}/rebind/", {"entity_type": "deal", "entity_id": 424242}
        ).status_code
        == 400
    )
    assert (
        client.post(f"/crm/conversations/{conv.pk}/rebind/", {"entity_type": "x"}).status_code
        == 400
    )
    client.force_login(org.op2)  # does not see it
    assert client.get(f"/crm/conversations/{conv.pk}/rebind/").status_code == 404
    assert (
        client.post(
            f"/crm/conversations/{conv.pk}/rebind/", {"entity_type": "contact", "entity_id": ana.pk}
        ).status_code
        == 404
    )


def test_crm_pages_need_a_login(client, org):
    response = client.get("/crm/contacts/")
    assert response.status_code == 302 and "/login/" in response["Location"]
