"""The screens of issue 22 in Debian's Chromium, in English and Spanish, with screenshots.

The list's weight and time to first rows, dates and numbers in each language, menus and rating
editors loaded on demand, the hidden "new" button, branded error pages, statistics tables that
scroll inside their cards and date fields in the language's form, the availability dot.
"""

import re

import pytest

from convodesk.conversations import services
from convodesk.conversations.models import Conversation

from .. import factories as f
from ..browser import log_in, screenshots
from ..export.builders import handled

LIST = "/contact-center/conversations/"
STATS = "/contact-center/statistics/"
PAGE_BUDGET = 80 * 1024  # bytes of HTML for 50 rows (issue 22)


@pytest.fixture
def busy(org):
    """60 conversations with every metric, ratings and CRM bindings: a realistic page of 50."""
    members_line = f.line("Ventas España", members=[org.op1])
    conn = f.connection(members_line, "api")
    convs = []
    for i in range(60):
        kind = i % 3
        conv = handled(
            conn,
            f"cliente-{i}",
            org.op1,
            start=i * 120,
            take=20 + i if kind else None,
            reply=60 + i if kind else None,
            close=400 + i if kind == 2 else None,
        )
        if kind == 2:
            services.client_rate(conv.pk, i % 2 == 1, now=f.at(i * 120 + 500))
        convs.append(conv)
    Conversation.objects.filter(pk=convs[-1].pk).update(supervisor_rating=4)
    return convs


def _context(chromium, language: str):
    context = chromium.new_context(
        viewport={"width": 1440, "height": 1000}, locale="en-US" if language == "en" else "es-ES"
    )
    context.set_default_timeout(15000)
    return context


def _set_language(page, base, language):
    page.context.add_cookies([{"name": "django_language", "value": language, "url": base}])


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_page_of_50_rows_is_light_and_its_rows_show_as_soon_as_the_html_is_read(
    transactional_db, live_server, org, busy, chromium, language
):
    base = live_server.url
    org.admin.language = language
    org.admin.save()
    page = _context(chromium, language).new_page()
    log_in(page, base)
    _set_language(page, base, language)
    response = page.goto(base + LIST)
    body = response.body()
    rows = page.locator("#conversation-grid tbody tr[data-id]")
    assert rows.count() == 50
    assert len(body) <= PAGE_BUDGET, f"{len(body)} bytes for 50 rows"
    # The rows are in the HTML itself: they are in the document as soon as it is parsed, within
    # twice the server's time. One of seven loads must show it, as the machine is shared (and a
    # floor of 250 ms keeps a fast server from failing on scheduling noise; rows fetched by a
    # script after the page, as the menus are, would take a second round trip on top, every time).
    samples = []
    for _ in range(7):
        page.reload()
        samples.append(
            page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.domInteractive - n.requestStart, n.responseStart - n.requestStart]; }"
            )
        )
    in_time = [(shown, server) for shown, server in samples if shown <= max(2 * server, 250)]
    assert in_time, samples
    first_rows, server = min(in_time)
    print(
        f"{language}: {len(body):,} bytes; first rows {first_rows:.0f} ms, server {server:.0f} ms"
    )

    # The four metrics are in view at 1440 px without scrolling sideways.
    for key in ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close"):
        box = page.locator(f"th.col-{key}").bounding_box()
        assert box["x"] + box["width"] <= 1440, key
    # Dates read the language's one way.
    started = rows.first.locator("td").nth(11).inner_text()  # after the Due column (issue 19)
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d" if language == "en" else r"\d\d/\d\d/\d{4} \d\d:\d\d"
    assert re.fullmatch(pattern, started), started
    # No "0 new — show" button, even after htmx swapped the list.
    page.click(".tabs .tab >> nth=0")
    page.wait_for_selector("#live-new", state="attached")
    assert page.locator("#live-new").is_hidden()
    screenshots(page, f"list-grid-{language}")

    # The row menu and the rating editor arrive when opened, not with the page.
    first = rows.first
    assert first.locator(".menu-pop a").count() == 0
    first.locator("details.menu > summary").click()
    page.wait_for_selector(f"#row-{first.get_attribute('data-id')} .menu-pop a[role=menuitem]")
    page.screenshot(path=_shot(f"list-row-menu-{language}.png"))
    page.keyboard.press("Escape")
    rate = page.locator("details.rate-inline").first
    rate.locator("summary").click()
    rate.locator("textarea").wait_for()
    page.screenshot(path=_shot(f"list-rate-{language}.png"))


def _shot(name):
    from ..browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / name)


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "es"])
def test_an_empty_result_is_explained_in_view_and_not_cut_off(
    transactional_db, live_server, org, busy, chromium, language
):
    base = live_server.url
    page = _context(chromium, language).new_page()
    log_in(page, base)
    _set_language(page, base, language)
    page.goto(base + LIST + "?client=nobody-by-this-name")
    note = page.locator(".empty-state strong")
    box = note.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1440
    text = note.inner_text()
    assert text == ("No conversations match this filter." if language == "en" else text) and text
    screenshots(page, f"list-empty-{language}")


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "es"])
def test_statistics_read_dates_and_numbers_in_the_language_and_tables_stay_in_their_cards(
    transactional_db, live_server, org, busy, chromium, language
):
    base = live_server.url
    page = _context(chromium, language).new_page()
    log_in(page, base)
    _set_language(page, base, language)
    page.goto(base + STATS)
    started = page.locator("input[name=started_from]")
    assert started.get_attribute("placeholder") == (
        "YYYY-MM-DD" if language == "en" else "dd/mm/aaaa"
    )
    typed = "2026-11-01" if language == "en" else "01/11/2026"
    started.fill(typed)
    page.locator("input[name=started_from]").press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.locator("input[name=started_from]").input_value() == typed
    assert not page.locator(".form-error").count()
    labels = page.locator("svg.chart text.tick").evaluate_all("els => els.map(e => e.textContent)")
    day_label = r"\d{4}-\d\d-\d\d" if language == "en" else r"\d\d/\d\d/\d{4}"
    assert any(re.fullmatch(day_label, t) for t in labels), labels
    screenshots(page, f"stats-{language}")

    # On a phone the wide tables scroll inside their cards; the cards keep the page's width.
    page.set_viewport_size({"width": 390, "height": 844})
    overflow = page.evaluate(
        "() => Array.from(document.querySelectorAll('.panel.block')).filter("
        "b => b.scrollWidth > b.clientWidth + 1).length"
    )
    assert overflow == 0
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_missing_page_is_branded_and_leads_back(
    transactional_db, live_server, org, chromium, language
):
    base = live_server.url
    page = _context(chromium, language).new_page()
    log_in(page, base)
    _set_language(page, base, language)
    response = page.goto(base + "/contact-center/no-such-page/")
    assert response.status == 404
    assert page.locator(".error-code").inner_text() == "404"
    assert page.locator(".topbar").is_visible()  # the product's navigation stays
    assert page.locator("link[rel=icon]").get_attribute("href").endswith("favicon.svg")
    screenshots(page, f"error-404-{language}")
    page.click(".error-nav a.btn-primary")
    page.wait_for_url(f"**{LIST}**")


@pytest.mark.browser
def test_the_header_dot_follows_the_workspace_availability_switch(
    transactional_db, live_server, org, chromium
):
    base = live_server.url
    page = _context(chromium, "en").new_page()
    log_in(page, base, "op1")
    page.goto(base + "/contact-center/workspace/")
    page.click(".ws-switch button[value=away]")
    page.wait_for_selector("[data-avail-dot].avail-away")
    page.click(".ws-switch button[value=online]")
    page.wait_for_selector("[data-avail-dot].avail-online")
