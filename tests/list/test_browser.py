"""The list driven in Debian's Chromium: filter, columns, sort, presets, history and rating."""

import pytest

from convodesk.conversations.models import Conversation, FilterPreset

from .. import factories as f

LIST = "/contact-center/conversations/"


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15000)
    yield context.new_page()


def _row_ids(page):
    return [
        int(x)
        for x in page.locator("#conversation-grid tbody tr[data-id]").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
    ]


@pytest.mark.browser
def test_a_supervisor_filters_picks_a_column_sorts_saves_a_preset_reads_history_and_rates(
    transactional_db, live_server, convs, page
):
    org = convs.org
    f.client_message(org.conn, "eve", "Second question", when=f.at(700))
    base = live_server.url

    page.goto(base + LIST)
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", "pass12345")
    page.click("button[type=submit]")
    page.wait_for_selector("#conversation-grid")

    # Filter by status and employee.
    page.click("#filter-panel > summary")
    page.click('[data-field="status"] summary')
    page.check('[data-field="status"] input[value="waiting"]')
    page.click('[data-field="responsible"] summary')
    page.check(f'[data-field="responsible"] input[value="{org.op2.pk}"]')
    page.click("#filter-form button[type=submit]")
    page.wait_for_url("**status=waiting**")
    assert f"responsible={org.op2.pk}" in page.url
    assert _row_ids(page) == [convs.op2.pk]

    # Back to everything the supervisor sees; add a metric column with the gear.
    page.goto(base + LIST + "?view=all")
    page.click("#column-picker > summary")
    page.check('[data-picker] input[value="reply_time_avg"]')
    page.click("#column-picker button[type=submit]:not([name])")
    page.wait_for_selector("th.col-reply_time_avg")
    supervisor = type(org.supervisor).objects.get(pk=org.supervisor.pk)
    assert "reply_time_avg" in supervisor.column_preferences["conversation_list"]

    # Sort by it (numbers sort descending first), then ascending.
    page.click('a[data-sort="reply_time_avg"]')
    page.wait_for_selector('th.col-reply_time_avg[aria-sort="descending"]')
    assert "sort=-reply_time_avg" in page.url
    assert _row_ids(page)[0] == convs.op1.pk  # the only one with an ended reply period

    # Save the view as a shared preset.
    page.click(".presets-menu > summary")
    page.fill("#preset-name", "Slow replies")
    page.check('.preset-save input[name="shared"]')
    page.click(".preset-save button[type=submit]")
    page.wait_for_selector('a.tab.active:has-text("Slow replies")')
    preset = FilterPreset.objects.get(name="Slow replies")
    assert preset.shared and preset.owner_id == org.supervisor.pk

    # Chat history from the row menu.
    page.click(f"#row-{convs.op1.pk} details.menu > summary")
    page.click(f'#row-{convs.op1.pk} a:has-text("Chat history")')
    page.wait_for_selector(".transcript")
    assert page.locator(".transcript").inner_text().count("Let me check") == 1
    assert "Taken" in page.locator(".transcript").inner_text()

    # Rate one inline.
    page.go_back()
    page.wait_for_selector("#conversation-grid")
    page.click(f"#row-{convs.op1.pk} .rate-inline > summary")
    page.click(f'label[for="r{convs.op1.pk}-4"]')
    page.fill(f"#rate-box-{convs.op1.pk} textarea", "Clear answer")
    page.click(f'#rate-box-{convs.op1.pk} button[data-action="rate"]')
    page.wait_for_selector(f'#row-{convs.op1.pk} .stars-4[aria-label="4 of 5 stars"]')
    assert "Rating saved" in page.locator("#toast").inner_text()
    conv = Conversation.objects.get(pk=convs.op1.pk)
    assert (conv.supervisor_rating, conv.supervisor_comment) == (4, "Clear answer")
