"""Issue 20 in a real browser: from the conversation list to the bound lead's card, and the
lead converted into a contact with its company and deal (screenshots at 1440 px and phone
width, no script error or CSP refusal)."""

import pytest

from convodesk.conversations import services
from convodesk.crm.models import Contact, CrmEvent, Deal, Lead
from tests.browser import log_in, screenshots

from .. import factories as f


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors = []  # script errors and CSP refusals (the live server has no sockets: not counted)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.errors = errors
    yield page
    context.close()


@pytest.mark.browser
def test_from_the_list_open_the_crm_card_convert_the_lead_and_find_the_conversation_on_the_contact(
    transactional_db, live_server, org, page
):
    conv = f.client_message(
        org.conn,
        "ana-1",
        "I'd like a quote for 40 chairs",
        name="Ana García",
        phone="+34 600 11 22 33",
        email="ana@acme.example",
    ).conversation
    services.take(conv.pk, f.act(org.op1))
    services.reply(conv.pk, f.act(org.op1), "Of course, let me prepare it.")
    lead = Lead.objects.get()

    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/contact-center/conversations/")
    # The row's menu (loaded when opened) leads to the bound CRM card.
    page.locator(f"#row-{conv.pk} details.menu > summary").click()
    page.locator(f"#row-{conv.pk} .menu-pop a[href='/crm/leads/{lead.pk}/']").click()
    page.wait_for_url(f"**/crm/leads/{lead.pk}/")
    assert page.locator("h1.crm-title").inner_text() == lead.title
    assert page.locator(f"tr[data-conversation='{conv.pk}']").count() == 1
    screenshots(page, "crm-lead-card")

    page.fill("#crm-convert [name=company_title]", "Acme Furniture")
    page.check("#crm-convert [name=create_deal]")
    page.fill("#crm-convert [name=deal_amount]", "4800")
    page.click("#crm-convert button[type=submit]")
    contact = Contact.objects.get()
    page.wait_for_url(f"**/crm/contacts/{contact.pk}/")
    assert page.locator("h1.crm-title").inner_text() == "Ana García"
    row = page.locator(f"tr[data-conversation='{conv.pk}']")
    assert row.count() == 1
    assert row.locator(f"a[href='/contact-center/conversations/{conv.pk}/history/']").count() >= 1
    assert "Acme Furniture" in page.content()
    # The lead is converted, its data on the contact, the deal made, all on the records.
    lead.refresh_from_db()
    assert lead.status == "converted" and lead.contact_id == contact.pk
    assert [p.normalized for p in contact.phones.all()] == ["+34600112233"]
    assert Deal.objects.get(contact=contact).amount == 4800
    assert CrmEvent.objects.filter(entity_type="lead", entity_id=lead.pk, kind="converted").exists()
    assert CrmEvent.objects.filter(
        entity_type="contact", entity_id=contact.pk, kind="created"
    ).exists()
    assert f"from lead “{lead.title}”" in page.locator("#crm-timeline").inner_text()
    screenshots(page, "crm-contact-card")
    assert not page.errors, page.errors
