"""Issue 20 in a real browser: a sales team's week. Create a contact, bind a conversation to it
from the conversation's history, drag a deal to won on the board (the static script, under the
strict CSP), and screenshots of each screen at 1440 px and phone width."""

import pytest

from convodesk.conversations import services
from convodesk.conversations.models import ConversationEvent
from convodesk.crm.models import Contact, CrmEvent, Deal, Pipeline
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
def test_create_a_contact_and_bind_a_conversation_to_it_from_the_history(
    transactional_db, live_server, org, page
):
    conv = f.client_message(
        org.conn, "ana-1", "Quote for 40 chairs, please", name="Ana M.", phone="+34 611 22 33 44"
    ).conversation
    services.take(conv.pk, f.act(org.admin))
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/crm/contacts/")
    page.click("#crm-new")
    page.wait_for_url("**/crm/contacts/new/")
    page.fill("#crm-create [name=name]", "Ana Martínez")
    page.fill("#crm-create [name=phones]", "+34 611 22 33 44")
    page.fill("#crm-create [name=emails]", "ana@acme.example")
    screenshots(page, "crm-new-contact")
    page.click("#crm-create button[type=submit]")
    ana = Contact.objects.get(name="Ana Martínez")
    page.wait_for_url(f"**/crm/contacts/{ana.pk}/")
    assert "Ana Martínez" in page.locator("h1.crm-title").inner_text()

    # The list finds her without the accent.
    page.goto(f"{live_server.url}/crm/contacts/?q=martinez")
    assert page.locator(f"#crm-list tr[data-id='{ana.pk}']").count() == 1
    screenshots(page, "crm-contacts-list")

    # From the conversation's history: change its CRM record to Ana.
    page.goto(f"{live_server.url}/contact-center/conversations/{conv.pk}/history/")
    page.click(f"a[href='/crm/conversations/{conv.pk}/rebind/']")
    page.fill("input[name=q]", "martinez")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/rebind/?q=martinez")
    page.locator("form.inline:has(input[name=entity_type][value=contact]) button").first.click()
    page.wait_for_url(f"**/crm/contacts/{ana.pk}/")
    assert page.locator(f"tr[data-conversation='{conv.pk}']").count() == 1
    assert ConversationEvent.objects.filter(conversation=conv, kind="crm_rebound").exists()
    screenshots(page, "crm-contact-card-timeline")
    assert not page.errors, page.errors


@pytest.mark.browser
def test_drag_a_deal_to_won_on_the_board(transactional_db, live_server, org, page):
    pipeline = Pipeline.default()
    ana = Contact.objects.create(name="Ana Martínez")
    deal = Deal.objects.create(
        title="40 chairs", pipeline=pipeline, amount=4800, contact=ana, responsible=org.admin
    )
    Deal.objects.create(title="Office desks", pipeline=pipeline, stage="negotiation", amount=900)
    Deal.objects.create(title="Projector", pipeline=pipeline, amount="1250.50", currency="USD")
    Deal.objects.create(
        title="Lamps", pipeline=pipeline, stage="lost", amount=120, lost_reason="Too expensive"
    )
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/crm/deals/board/")
    card = page.locator(f"li[data-deal='{deal.pk}']")
    assert card.count() == 1
    # Each column sums its deals per currency, never adding euros to dollars.
    new_sum = page.locator("section[data-stage='new'] [data-sums]")
    assert new_sum.inner_text() == "4,800.00 EUR · 1,250.50 USD"
    screenshots(page, "crm-deal-board")
    card.drag_to(page.locator("section[data-stage='won'] [data-drop]"))
    page.wait_for_function(
        f"document.querySelector(\"section[data-stage='won'] li[data-deal='{deal.pk}']\") !== null"
    )
    for _ in range(50):
        deal.refresh_from_db()
        if deal.stage == "won":
            break
        page.wait_for_timeout(100)
    assert deal.stage == "won" and deal.closed_at is not None
    assert CrmEvent.objects.filter(entity_id=deal.pk, kind="deal_won").exists()
    assert page.locator("section[data-stage='won'] [data-count]").inner_text() == "1"
    assert page.locator("section[data-stage='new'] [data-count]").inner_text() == "1"
    assert page.locator("section[data-stage='won'] [data-sums]").inner_text() == "4,800.00 EUR"
    assert new_sum.inner_text() == "1,250.50 USD"

    # Dragging to lost asks for the reason first.
    page.locator(f"li[data-deal='{deal.pk}']").drag_to(
        page.locator("section[data-stage='lost'] [data-drop]")
    )
    page.wait_for_selector("#crm-lost-dialog[open]")
    page.fill("#crm-lost-reason", "Budget cut")
    page.click("#crm-lost-form button[value=ok]")
    for _ in range(50):
        deal.refresh_from_db()
        if deal.stage == "lost":
            break
        page.wait_for_timeout(100)
    assert (deal.stage, deal.lost_reason) == ("lost", "Budget cut")
    assert page.locator("section[data-stage='lost'] [data-sums]").inner_text() == "4,920.00 EUR"
    assert page.locator("section[data-stage='won'] [data-sums]").inner_text() == ""
    page.goto(f"{live_server.url}/crm/deals/{deal.pk}/")
    assert "Budget cut" in page.locator("#crm-timeline").inner_text()
    screenshots(page, "crm-deal-card")
    page.goto(f"{live_server.url}/crm/deals/statistics/")
    screenshots(page, "crm-pipeline-statistics")
    page.goto(f"{live_server.url}/settings/pipelines/{pipeline.pk}/")
    screenshots(page, "crm-settings-pipeline")
    assert not page.errors, page.errors


@pytest.mark.browser
def test_merge_two_duplicates_from_the_duplicates_list(transactional_db, live_server, org, page):
    ana = Contact.objects.create(name="Ana Martínez", responsible=org.admin)
    ana.add_phone("+34 600 11 22 33", "ES")
    twin = Contact.objects.create(name="ana martinez", comment="Met at the fair")
    twin.add_phone("600112233", "ES")
    twin.add_email("ana.m@gmail.example")
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/crm/contacts/")
    page.click("a[href='/crm/contacts/duplicates/']")
    page.wait_for_url("**/crm/contacts/duplicates/")
    screenshots(page, "crm-duplicates")
    page.locator("#crm-duplicates a.btn", has_text="Merge").first.click()
    page.wait_for_url("**/crm/contacts/merge/**")
    kept_id = int(page.locator("#crm-merge-form input[name=kept]").input_value())
    removed_id = int(page.locator("#crm-merge-form input[name=removed]").input_value())
    page.check("#crm-merge-form input[name=comment][value=removed]")
    screenshots(page, "crm-merge")
    page.click("#crm-merge-form button[type=submit]")
    page.wait_for_url(f"**/crm/contacts/{kept_id}/")
    assert not Contact.objects.filter(pk=removed_id).exists()
    kept = Contact.objects.get(pk=kept_id)
    assert kept.comment == "Met at the fair" and kept.emails.count() == 1
    assert page.locator("[data-undo-merge]").count() == 1
    screenshots(page, "crm-contact-merged")
    page.click("[data-undo-merge]")
    page.wait_for_url(f"**/crm/contacts/{removed_id}/")
    assert Contact.objects.filter(pk=removed_id).exists()
    assert not page.errors, page.errors


@pytest.mark.browser
def test_import_contacts_with_a_mapping_and_a_preview(
    transactional_db, live_server, org, page, tmp_path, settings
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    existing = Contact.objects.create(name="Olga")
    existing.add_email("olga@x.example")
    source = tmp_path / "people.csv"
    source.write_text(
        "Nombre;Teléfono;Email\n"
        "Ana Martínez;+34 600 11 22 33;ana@acme.example\n"
        "Luis;622334455;not-an-email\n"
        "Olga N.;;olga@x.example\n"
    )
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/crm/contacts/")
    page.click("a[href='/crm/imports/?kind=contact']")
    page.set_input_files("#import-file", str(source))
    screenshots(page, "crm-import-upload")
    page.click("#crm-import-upload button[type=submit]")
    page.wait_for_selector("#crm-import-preview")
    assert page.locator("#crm-import-preview tr[data-row]").count() == 3
    screenshots(page, "crm-import-preview")
    page.click("#crm-import-mapping button[value=start]")
    page.wait_for_selector("#crm-import-report")
    assert "Done" in page.locator("#crm-import-progress h2").inner_text()
    screenshots(page, "crm-import-done")
    assert Contact.objects.filter(name="Ana Martínez").exists()
    assert not Contact.objects.filter(name="Olga N.").exists()  # a duplicate: skipped
    assert not page.errors, page.errors


@pytest.mark.browser
def test_merge_two_duplicate_companies_and_undo(transactional_db, live_server, org, page):
    from convodesk.crm.models import Company

    acme = Company.objects.create(title="Acme, S.L.", responsible=org.admin)
    twin = Company.objects.create(title="ACME, s.l.", website="acme.example")
    worker = Contact.objects.create(name="Luis", company=twin)
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/crm/companies/")
    page.click("a[href='/crm/companies/duplicates/']")
    page.wait_for_url("**/crm/companies/duplicates/")
    screenshots(page, "crm-company-duplicates")
    page.locator("#crm-duplicates a.btn", has_text="Merge").first.click()
    page.wait_for_url("**/crm/companies/merge/**")
    kept_id = int(page.locator("#crm-merge-form input[name=kept]").input_value())
    removed_id = int(page.locator("#crm-merge-form input[name=removed]").input_value())
    assert {kept_id, removed_id} == {acme.pk, twin.pk}
    screenshots(page, "crm-company-merge")
    page.click("#crm-merge-form button[type=submit]")
    page.wait_for_url(f"**/crm/companies/{kept_id}/")
    assert not Company.objects.filter(pk=removed_id).exists()
    assert Contact.objects.get(pk=worker.pk).company_id == kept_id
    page.click("[data-undo-merge]")
    page.wait_for_url(f"**/crm/companies/{removed_id}/")
    assert Company.objects.filter(pk=removed_id).exists()
    assert Contact.objects.get(pk=worker.pk).company_id == twin.pk
    assert not page.errors, page.errors
