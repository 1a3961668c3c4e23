"""The list with an overdue row and the Overdue tab, in Debian's Chromium, English and Spanish."""

import re

import pytest
from django.utils import timezone

from convodesk.conversations import services

from .. import factories as f
from ..browser import log_in, screenshots

LIST = "/contact-center/conversations/"


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "es"])
def test_overdue_rows_are_highlighted_and_the_overdue_tab_lists_them(
    transactional_db, live_server, org, chromium, language
):
    line = org.line
    line.sla_first_seconds = 15 * 60
    line.sla_first_business = False
    line.save()
    now = timezone.now()
    late = [
        f.client_message(
            org.conn,
            f"late{i}",
            "Where is my order?",
            when=now - timezone.timedelta(minutes=40 + i),
        )
        for i in range(2)
    ]
    f.client_message(org.conn, "soon", "Hello?", when=now - timezone.timedelta(minutes=3))
    answered = f.client_message(org.conn, "done", "Hi", when=now - timezone.timedelta(minutes=30))
    services.reply(
        answered.conversation.pk, f.act(org.op1), "Hello!", now=now - timezone.timedelta(minutes=29)
    )
    services.run_due_timers(now=timezone.now())
    org.admin.language = language
    org.admin.save()

    context = chromium.new_context(
        viewport={"width": 1440, "height": 1000}, locale="en-US" if language == "en" else "es-ES"
    )
    context.set_default_timeout(15000)
    page = context.new_page()
    log_in(page, live_server.url)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.goto(live_server.url + LIST + "?view=all")
    overdue_rows = page.locator("#conversation-grid tbody tr.row-overdue")
    assert overdue_rows.count() == 2
    assert {int(overdue_rows.nth(i).get_attribute("data-id")) for i in range(2)} == {
        r.conversation.pk for r in late
    }
    due_text = page.locator("#conversation-grid tbody tr.row-overdue .due-over").first.inner_text()
    assert re.match(r"(overdue by|vencida hace) \d+ min", due_text), due_text
    # The four metrics stay in view at 1440 px with the Due column before them.
    for key in ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close"):
        box = page.locator(f"th.col-{key}").bounding_box()
        assert box["x"] + box["width"] <= 1440, key
    screenshots(page, f"sla-list-{language}")

    tab_label = "Overdue" if language == "en" else "Vencidas"
    page.click(f".tabs .tab:has-text('{tab_label}')")
    page.wait_for_url(re.compile(r"overdue=true"))
    rows = page.locator("#conversation-grid tbody tr[data-id]")
    count = page.locator(".tabs .tab:has-text('%s') .tab-count" % tab_label).inner_text()
    assert int(count) == rows.count() == 2
    screenshots(page, f"sla-overdue-tab-{language}")
    context.close()
