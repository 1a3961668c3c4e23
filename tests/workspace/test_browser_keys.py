"""The workspace by keyboard (issue 19 item 4): "?" lists the shortcuts, Alt+↓ opens the next
conversation, Alt+N switches to a private note, Alt+T transfers, Alt+C closes; the search box
narrows the open transcript; the emoji picker inserts at the caret."""

import pytest

from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation
from tests import factories as f
from tests.browser import DESKTOP, log_in, screenshot

pytestmark = pytest.mark.browser


def test_shortcuts_search_and_emoji(transactional_db, live_server, org, chromium):
    first = f.client_message(org.conn, "k-1", "Where is my invoice?", name="Ana").conversation
    f.client_message(org.conn, "k-1", "It was order 10452", name="Ana")
    second = f.client_message(org.conn, "k-2", "Do you ship to Lisbon?", name="Rui").conversation
    for conv in (first, second):
        services.take(conv.pk, f.act(org.op1))
    services.reply(first.pk, f.act(org.op1), "Let me look it up.")
    page = chromium.new_context(viewport=DESKTOP).new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    log_in(page, live_server.url, username=org.op1.username)
    page.goto(f"{live_server.url}/contact-center/workspace/?c={first.pk}")

    # "?" outside a text field lists the shortcuts.
    page.locator("#ws-transcript").click()
    page.keyboard.press("?")
    keys = page.locator("#ws-keys")
    keys.wait_for()
    assert "Alt + T" in " ".join(keys.inner_text().split()) and "Transfer" in keys.inner_text()
    screenshot(page, "workspace-keyboard-shortcuts.png", full_page=False)
    page.keyboard.press("Escape")
    keys.wait_for(state="hidden")

    # Search inside the transcript.
    page.keyboard.press("Alt+f")
    page.keyboard.type("invoice")
    visible = page.locator("#ws-transcript .ws-msg:visible")
    assert visible.count() == 1 and "invoice" in visible.first.inner_text()
    assert page.locator("#ws-find-count").inner_text() == "1 found"
    page.locator("#ws-find").fill("")
    page.locator("#ws-find").dispatch_event("input")
    assert page.locator("#ws-transcript .ws-msg:visible").count() == 3

    # The emoji picker inserts at the caret; Alt+N turns the reply into a note.
    page.locator("#ws-text").fill("Thanks ")
    page.locator("[data-emoji-toggle]").click()
    page.locator("#ws-emoji [data-emoji='👍']").click()
    assert page.locator("#ws-text").input_value() == "Thanks 👍"
    assert page.locator("#ws-emoji").count() == 0
    page.keyboard.press("Alt+n")
    assert page.locator(".ws-reply.is-note").count() == 1
    page.keyboard.press("Alt+n")
    assert page.locator(".ws-reply.is-note").count() == 0

    # Alt+↓ opens the other conversation; Alt+T opens the transfer dialog there.
    page.keyboard.press("Alt+ArrowDown")
    page.locator("#ws-head h1").filter(has_text="Rui").wait_for()
    assert page.locator("#workspace").get_attribute("data-conversation") == str(second.pk)
    page.keyboard.press("Alt+t")
    page.locator("#ws-transfer").wait_for()
    page.locator("#ws-transfer [data-close-dialog]").click()

    # Alt+C closes it, after the same confirmation as the button.
    page.keyboard.press("Alt+c")
    page.locator("#ws-head [data-status=closed]").wait_for()
    assert dialogs == ["Close this conversation?"]
    assert Conversation.objects.get(pk=second.pk).status == Status.CLOSED
