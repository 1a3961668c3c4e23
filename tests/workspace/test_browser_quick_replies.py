"""Quick replies by shortcut in the composer (issue 16 item 4, issue 19 item 4): "/" and the start
of a shortcut list the matching replies; Enter inserts the one chosen with its placeholders
filled, and only the next Enter sends."""

import pytest

from convodesk.conversations import services
from convodesk.conversations.models import Message
from convodesk.workspace import quick_replies
from tests import factories as f
from tests.browser import DESKTOP, log_in, screenshot

pytestmark = pytest.mark.browser


def test_an_operator_types_a_shortcut_and_sends_the_filled_reply(
    transactional_db, live_server, org, chromium
):
    conv = f.client_message(org.conn, "client-qr", "When are you open?", name="Ana").conversation
    services.take(conv.pk, f.act(org.op1))
    quick_replies.create(
        org.admin,
        title="Opening hours",
        shortcut="hours",
        text="Hi {client_name}, we are open 9 to 18. — {employee_name}",
        line=org.line,
    )
    quick_replies.create(org.admin, title="Goodbye", shortcut="bye", text="Bye!", line=org.line)
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, live_server.url, username=org.op1.username)
    page.goto(f"{live_server.url}/contact-center/workspace/?c={conv.pk}")
    box = page.locator("#ws-text")
    box.click()
    box.type("/ho")
    options = page.locator("#ws-suggest [role=option]")
    options.first.wait_for()
    assert options.count() == 1 and options.first.inner_text().startswith("/hours")
    screenshot(page, "workspace-quick-reply-shortcut.png", full_page=False)
    box.press("Enter")
    filled = f"Hi Ana, we are open 9 to 18. — {org.op1.name}"
    assert box.input_value() == filled
    assert page.locator("#ws-suggest").count() == 0
    assert not Message.objects.filter(conversation=conv, text=filled).exists()  # not sent yet
    box.press("Enter")
    # Wait on the page, not the database: the live server writes the reply while this thread
    # would read the same shared in-memory SQLite database ("table is locked"). The transcript
    # shows the reply once the server has answered, and the composer is emptied then.
    page.locator("#ws-transcript .ws-msg-employee").filter(has_text=filled).wait_for()
    for _ in range(100):  # (wait_for_function evaluates a string: the CSP forbids it)
        if box.input_value() == "":
            break
        page.wait_for_timeout(100)
    assert box.input_value() == ""
    assert Message.objects.filter(conversation=conv, author_kind="employee", text=filled).exists()
    # Escape closes the list and leaves what was typed.
    box.type("/b")
    options.first.wait_for()
    box.press("Escape")
    assert page.locator("#ws-suggest").count() == 0 and box.input_value() == "/b"
    context.close()
