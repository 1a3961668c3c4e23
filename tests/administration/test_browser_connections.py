"""In a real browser, an administrator sets up a website chat (and copies its snippet), a Telegram
bot against the local Bot API, and a mailbox against the local Dovecot and SMTP receiver whose
Test connection fails on a wrong password and passes on the right one. Screenshots at 1440 px and
at phone width, in English and Spanish."""

import re

import pytest

from convodesk.lines.models import Connection
from tests.browser import DESKTOP, log_in, screenshots

SAVED = re.compile(r"/settings/connections/\d+/$")


def login(context, live_server):
    page = context.new_page()
    log_in(page, live_server.url)
    return page


def shots(page, name: str, lang: str) -> None:
    screenshots(page, f"settings-connections-{name}" + ("" if lang == "en" else f"-{lang}"))


@pytest.mark.browser
def test_an_administrator_sets_up_a_website_chat_a_telegram_bot_and_a_mailbox(
    transactional_db, live_server, org, chromium, bot_api, imap_server, smtp_server
):
    context = chromium.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = login(context, live_server)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # Website chat: two websites through the list editor, a colour, then the snippet copied.
    page.goto(f"{live_server.url}/settings/connections/")
    page.click("text=Add connection")
    page.wait_for_url("**/settings/connections/new/")
    shots(page, "new", "en")
    page.click("a[data-kind=livechat]")
    page.wait_for_url("**/new/livechat/")
    page.fill("#id_name", "Shop chat")
    page.select_option("#id_line", str(org.line.pk))
    page.locator(".origin-row input").last.fill("https://shop.example.com")
    page.click("[data-origin-add]")
    page.locator(".origin-row input").last.fill("http://localhost:8080")
    page.fill("#id_title", "Ask Northwind")
    page.fill("#id_color", "#117733")
    # The preview follows the colour and the title as they are typed.
    assert (
        page.locator(".widget-preview-head").evaluate("el => getComputedStyle(el).backgroundColor")
        == "rgb(17, 119, 51)"
    )
    assert page.locator("[data-preview-title]").inner_text() == "Ask Northwind"
    page.click("button[value=save]")
    page.wait_for_url(SAVED)
    chat = Connection.objects.get(name="Shop chat")
    assert chat.allowed_origins == ["https://shop.example.com", "http://localhost:8080"]
    snippet = page.locator("#snippet").inner_text()
    # PUBLIC_URL (set for Telegram's webhook) is the address the snippet gives the websites.
    assert (
        snippet
        == f'<script src="https://cc.example.com/widget/{chat.public_key}.js" async></script>'
    )
    page.click("[data-copy='#snippet']")
    assert page.evaluate("navigator.clipboard.readText()") == snippet
    assert page.request.get(f"{live_server.url}/widget/{chat.public_key}.js").status == 200
    shots(page, "livechat", "en")

    # Telegram: the token checked with getMe, then saved with its webhook.
    page.goto(f"{live_server.url}/settings/connections/new/telegram/")
    page.fill("#id_name", "Northwind bot")
    page.fill("#id_bot_token", bot_api.token)
    page.click("button[value=check]")
    page.wait_for_selector("#bot-check")
    assert "@test_bot" in page.locator("#bot-check").inner_text()
    page.fill("#id_bot_token", bot_api.token)  # a password box is never filled back
    page.check("input[name=mode][value=webhook]")
    page.click("button[value=save]")
    page.wait_for_url(SAVED)
    bot = Connection.objects.get(kind="telegram")
    assert "@test_bot" in page.locator("#status").inner_text()
    assert len(bot_api.calls_of("setWebhook")) == 1
    shots(page, "telegram", "en")

    # E-mail: Test connection fails on a wrong password, in the server's words, then passes.
    page.goto(f"{live_server.url}/settings/connections/new/email/")
    page.fill("#id_name", "Support mailbox")
    page.fill("#id_address", "help@shop.example")
    page.fill("#id_imap_host", "127.0.0.1")
    page.fill("#id_imap_port", str(imap_server.port))
    page.select_option("#id_imap_security", "none")
    page.fill("#id_imap_user", "box291")
    page.fill("#id_imap_password", "wrong")
    page.fill("#id_smtp_host", "127.0.0.1")
    page.fill("#id_smtp_port", str(smtp_server.port))
    page.select_option("#id_smtp_security", "none")
    page.click("button[value=test]")
    page.wait_for_selector("#mail-test")
    error = page.locator("[data-field=imap_password] .field-error").inner_text()
    assert error.startswith("The IMAP server says:")
    assert error in page.locator("#mail-test [data-side=IMAP]").inner_text()
    assert "logged in" in page.locator("#mail-test [data-side=SMTP]").inner_text()
    shots(page, "email-test-failed", "en")
    page.fill("#id_imap_password", "pw")
    page.click("button[value=test]")
    page.wait_for_selector("#mail-test")
    assert page.locator("#mail-test .check-ok").count() == 2
    assert page.locator("[data-field=imap_password] .field-error").count() == 0
    assert "INBOX" in page.locator("select#id_imap_folder option").all_inner_texts()
    shots(page, "email-test-passed", "en")
    page.fill("#id_imap_password", "pw")
    page.click("button[value=save]")
    page.wait_for_url(SAVED)
    mailbox = Connection.objects.get(kind="email")
    assert page.locator("input[type=password]").evaluate_all("els => els.map(e => e.value)") == [
        "",
        "",
    ]

    # An API connection: the secret once, the example request.
    page.goto(f"{live_server.url}/settings/connections/new/api/")
    page.fill("#id_name", "Shop backend")
    page.fill("#id_webhook_url", "https://shop.example/convodesk")
    page.click("button[value=save]")
    page.wait_for_selector("#new-secret")
    shots(page, "api", "en")
    page.goto(f"{live_server.url}/settings/connections/")
    assert page.locator(".conn-table tbody tr").count() == 5
    shots(page, "list", "en")
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors

    # The same screens in Spanish.
    org.admin.language = "es"
    org.admin.save(update_fields=["language"])
    page.goto(f"{live_server.url}/settings/connections/")
    shots(page, "list", "es")
    page.goto(f"{live_server.url}/settings/connections/new/")
    shots(page, "new", "es")
    page.goto(f"{live_server.url}/settings/connections/{chat.pk}/")
    shots(page, "livechat", "es")
    page.goto(f"{live_server.url}/settings/connections/{bot.pk}/")
    shots(page, "telegram", "es")
    page.goto(f"{live_server.url}/settings/connections/{mailbox.pk}/")
    page.fill("#id_imap_password", "wrong")
    page.click("button[value=test]")
    page.wait_for_selector("#mail-test")
    shots(page, "email-test-failed", "es")
    context.close()
