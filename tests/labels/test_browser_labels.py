"""One walk through tags and close reasons in a real browser, in English and in Spanish: an
operator tags the open conversation in the workspace, finds it in the list filtered by the tag,
and closes it with the reason its open channel requires (issue 19 item 3)."""

import pytest

from convodesk.conversations import services
from convodesk.conversations.models import Conversation, Tag
from convodesk.conversations.views.prefs import PREF_KEY
from convodesk.lines.models import CloseReason
from tests import factories as f
from tests.browser import DESKTOP, log_in, screenshot

pytestmark = pytest.mark.browser


def _wait(page, check, tries=100):
    for _ in range(tries):  # (wait_for_function evaluates a string: the CSP forbids it)
        if check():
            return True
        page.wait_for_timeout(100)
    return check()


@pytest.mark.parametrize("language", ["en", "es"])
def test_an_operator_tags_filters_and_closes_with_a_required_reason(
    transactional_db, live_server, org, chromium, language
):
    urgent = Tag.objects.create(name="Urgent", colour="red")
    Tag.objects.create(name="Billing", colour="blue")
    org.line.close_reason_required = True
    org.line.save()
    solved = CloseReason.objects.create(line=org.line, name="Solved", position=1)
    CloseReason.objects.create(line=org.line, name="No answer", position=2)
    conv = f.client_message(org.conn, "client-tag", "My invoice is wrong", name="Ana").conversation
    other = f.client_message(org.conn, "client-other", "Hello", name="Bruno").conversation
    for c in (conv, other):
        services.take(c.pk, f.act(org.op1))
    op = org.op1
    op.language = language
    op.column_preferences = {PREF_KEY: ["id", "client", "status", "tags", "close_reason"]}
    op.save()
    suffix = "" if language == "en" else "-es"

    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    log_in(page, live_server.url, username=op.username)
    page.goto(f"{live_server.url}/contact-center/workspace/?c={conv.pk}")
    page.locator("#ws-tag-editor summary").click()
    page.locator("#ws-tag-editor input[name=tag][value='%s']" % urgent.pk).check()
    screenshot(page, f"tags-workspace-choose{suffix}.png", full_page=False)
    page.locator("#ws-tag-editor button[type=submit]").click()
    assert _wait(page, lambda: Conversation.objects.get(pk=conv.pk).tag_ids == [urgent.pk])
    page.locator("#ws-tags > .tag-red").wait_for()
    assert page.locator("#ws-tags > .tag-red").inner_text() == "Urgent"

    page.goto(f"{live_server.url}/contact-center/conversations/?tag={urgent.pk}")
    page.locator(f"#row-{conv.pk}").wait_for()
    assert page.locator(f"#row-{other.pk}").count() == 0
    assert "Urgent" in page.locator(f"#row-{conv.pk}").inner_text()
    screenshot(page, f"tags-list-filtered{suffix}.png", full_page=False)

    page.goto(f"{live_server.url}/contact-center/workspace/?c={conv.pk}")
    page.locator("#ws-close summary").click()
    page.locator("#ws-close button[type=submit]").click()  # no reason: the form refuses
    page.wait_for_timeout(300)
    assert Conversation.objects.get(pk=conv.pk).is_open
    page.locator("#ws-close-reason").select_option(str(solved.pk))
    screenshot(page, f"tags-workspace-close-reason{suffix}.png", full_page=False)
    page.locator("#ws-close button[type=submit]").click()
    assert _wait(page, lambda: Conversation.objects.get(pk=conv.pk).close_reason_id == solved.pk)
    assert not Conversation.objects.get(pk=conv.pk).is_open
    page.locator("#ws-head [data-status=closed]").wait_for(timeout=10000)
    assert "Close reason: Solved" in page.locator("#ws-transcript").inner_text() or language != "en"
    screenshot(page, f"tags-workspace-closed{suffix}.png", full_page=False)
    context.close()
