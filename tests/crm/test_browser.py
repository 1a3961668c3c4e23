import pytest

from convodesk.conversations import services
from convodesk.crm.models import Contact, Lead
from tests.browser import SCREENSHOTS

from .. import factories as f


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()


def _screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


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

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pass12345")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/contact-center/conversations/")
    # The row's menu (loaded when opened) leads to the bound CRM card.
    page.locator(f"#row-{conv.pk} details.menu > summary").click()
    page.locator(f"#row-{conv.pk} .menu-pop a[href='/crm/leads/{lead.pk}/']").click()
    page.wait_for_url(f"**/crm/leads/{lead.pk}/")
    assert page.locator("h1.crm-title").inner_text() == lead.title
    assert page.locator(f"tr[data-conversation='{conv.pk}']").count() == 1
    _screenshot(page, "crm-lead-card.png")

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
    _screenshot(page, "crm-contact-card.png")
