"""In a real browser, an administrator creates an open channel with working hours, a holiday and
two members in the order they chose (found by searching as they type), edits it, and deactivates
it after reading what happens to its conversations. Screenshots at 1440 px and at phone width, in
English and Spanish."""

import pytest

from convodesk.audit.models import AuditEntry
from convodesk.lines import services
from convodesk.lines.models import Line
from tests import factories as f
from tests.browser import DESKTOP, log_in, screenshots


def login(context, live_server):
    page = context.new_page()
    log_in(page, live_server.url)
    return page


def shots(page, name: str, lang: str) -> None:
    screenshots(page, f"settings-lines-{name}" + ("" if lang == "en" else f"-{lang}"))


def add_member(page, query: str, name: str) -> None:
    page.fill("#member-search", query)
    pick = page.locator("#member-results .member-pick", has_text=name)
    pick.wait_for()
    pick.click()


def add_range(page, day: int, start: str, end: str) -> None:
    row = page.locator(f".hours-row[data-day='{day}']")
    row.locator(".hours-add").click()
    row.locator(".hours-range").last.locator("input").nth(0).fill(start)
    row.locator(".hours-range").last.locator("input").nth(1).fill(end)


@pytest.mark.browser
def test_an_administrator_creates_edits_and_deactivates_an_open_channel(
    transactional_db, live_server, org, chromium
):
    f.employee("lucia", display_name="Lucía Fernández", email="lucia@example.com")
    f.employee("marco", display_name="Marco Rossi", email="marco@example.com")
    context = chromium.new_context(viewport=DESKTOP)
    page = login(context, live_server)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live_server.url}/settings/")
    page.wait_for_url("**/settings/lines/")
    page.click("#line-add")
    page.wait_for_url("**/settings/lines/new/")
    page.fill("#id_name", "Support Spain")
    page.select_option("#id_distribution", "strict")
    page.fill("#id_queue_timeout_seconds", "45")
    # Members: Marco first, then Lucía; added in the other order, then moved.
    add_member(page, "luc", "Lucía Fernández")
    add_member(page, "rossi", "Marco Rossi")
    page.locator(".member", has_text="Marco Rossi").locator(".member-up").click()
    assert page.locator("#line-members .member-name").all_inner_texts() == [
        "Marco Rossi",
        "Lucía Fernández",
    ]
    # Working hours in Madrid: Monday to Friday 09:00–14:00 and 15:00–18:00 on Monday.
    page.select_option("#id_time_zone", "Europe/Madrid")
    for day in range(5):
        add_range(page, day, "09:00", "14:00")
    add_range(page, 0, "15:00", "18:00")
    page.click("#holiday-add")
    page.locator("#line-holidays input[type=date]").last.fill("2026-12-25")
    page.fill("#id_greeting_text", "Hello! An agent will be with you shortly.")
    page.fill("#id_out_of_hours_text", "We are closed now; we answer from 09:00.")
    # A mistake first: an overlapping range is refused beside the grid, nothing is saved.
    add_range(page, 2, "13:00", "16:00")
    page.click("#line-save")
    page.wait_for_selector("#line-hours-error")
    assert "overlap" in page.inner_text("#line-hours-error")
    assert not Line.objects.filter(name="Support Spain").exists()
    shots(page, "form-error", "en")
    page.locator(".hours-row[data-day='2'] .hours-range").last.locator(".hours-remove").click()
    page.click("#line-save")
    page.wait_for_url("**/settings/lines/*/")
    line = Line.objects.get(name="Support Spain")
    marco, lucia = line.members.get(username="marco"), line.members.get(username="lucia")
    assert services.member_ids(line) == [marco.pk, lucia.pk]
    assert line.working_hours["0"] == [["09:00", "14:00"], ["15:00", "18:00"]]
    assert line.working_hours["4"] == [["09:00", "14:00"]] and "5" not in line.working_hours
    assert line.holidays == ["2026-12-25"] and line.time_zone == "Europe/Madrid"
    assert line.distribution == "strict" and line.queue_timeout_seconds == 45
    shots(page, "edit", "en")

    # Edit: rename, swap the members back, open on Saturday morning too.
    page.fill("#id_name", "Support ES")
    page.locator(".member", has_text="Lucía Fernández").locator(".member-up").click()
    add_range(page, 5, "10:00", "13:00")
    page.check("#id_ask_rating")
    page.click("#line-save")
    page.wait_for_selector(".flash-success")
    line.refresh_from_db()
    assert line.name == "Support ES" and line.ask_rating
    assert services.member_ids(line) == [lucia.pk, marco.pk]
    assert line.working_hours["5"] == [["10:00", "13:00"]]

    page.goto(f"{live_server.url}/settings/lines/")
    assert page.locator(f"tr[data-line='{line.pk}'] td.num").first.inner_text() == "2"
    shots(page, "list", "en")

    # Deactivate: the note says what happens to the waiting conversations, then it is done.
    waiting = f.client_message(f.connection(line, "api", name="Shop API"), "c1", "Hi").conversation
    page.goto(f"{live_server.url}/settings/lines/{line.pk}/")
    page.click("#line-deactivate")
    page.wait_for_url("**/deactivate/")
    note = page.inner_text("#line-deactivate-note")
    assert "No new conversations start on its connections" in note
    assert "Conversations already in it carry on" in note
    assert "Now 1 is waiting, 1 open in all." in note and "Shop API" in note
    shots(page, "deactivate", "en")
    page.click("#line-deactivate-confirm")
    page.wait_for_url("**/settings/lines/")
    line.refresh_from_db()
    assert not line.active
    waiting.refresh_from_db()
    assert waiting.line_id == line.pk and waiting.is_open  # it carries on
    assert "Inactive" in page.locator(f"tr[data-line='{line.pk}']").inner_text()
    actions = list(
        AuditEntry.objects.filter(object_type="line", object_id=str(line.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["create", "update", "deactivate"]

    # The same screens in Spanish.
    org.admin.language = "es"
    org.admin.save(update_fields=["language"])
    page.goto(f"{live_server.url}/settings/lines/")
    shots(page, "list", "es")
    page.goto(f"{live_server.url}/settings/lines/{line.pk}/")
    shots(page, "edit", "es")
    page.goto(f"{live_server.url}/settings/lines/{org.line.pk}/deactivate/")
    shots(page, "deactivate", "es")
    # The live test server speaks no WebSocket: the header's live socket is no concern here.
    errors = [e for e in errors if "WebSocket" not in e]
    assert not errors, errors  # e.g. a Content-Security-Policy refusal
    context.close()
