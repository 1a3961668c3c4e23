"""In Chromium: select rows on the list, bulk-close two, then export and read the file back."""

import openpyxl
import pytest
from django.utils import translation

from convodesk.conversations import bulk, export
from convodesk.conversations.columns import COLUMNS, DEFAULT_COLUMNS
from convodesk.conversations.jobs import ExportJob
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation
from tests.browser import SCREENSHOTS

from ..export.builders import handled

LIST = "/contact-center/conversations/"


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the bulk confirmation
    yield page


def shot(page, name: str, full_page=False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def log_in(page, base):
    page.goto(f"{base}/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pass12345")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{LIST}*")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)  # keep the migrated default roles
def test_bulk_close_two_rows_then_export_and_read_the_downloaded_file(
    live_server, org, browser_page, tmp_path, settings
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    page, base = browser_page, live_server.url
    anna = handled(org.conn, "anna", org.op1, start=0, take=10, reply=40)
    bert = handled(org.conn, "bert", org.op1, start=300, take=20, reply=90)
    carl = handled(org.conn, "carl", org.op2, start=600, take=15)
    done = handled(org.conn, "dora", org.op2, start=900, take=5, reply=30, close=60)

    log_in(page, base)
    page.goto(f"{base}{LIST}")
    assert page.locator(f"#row-{done.pk} input[name=ids]").is_disabled()  # closed: not selectable
    page.check(f"#row-{anna.pk} input[name=ids]")
    page.check(f"#row-{bert.pk} input[name=ids]")
    page.locator("[data-la-transfer] > summary").click()
    page.wait_for_selector("#la-transfer-to option[value^='line:']", state="attached")
    shot(page, "export-bulk-transfer.png")
    page.locator("[data-la-transfer] > summary").click()
    shot(page, "export-bulk-selection.png")
    page.locator("[data-la-close] > summary").click()  # Close opens its reason choice
    page.locator("[data-la-bulk] button[value=close]").click()

    # In place, as a single action: the two rows change on the page and a toast says so.
    page.wait_for_selector("#toast.show:has-text('2 conversations closed.')")
    page.wait_for_selector(f"#row-{anna.pk}.row-closed")
    page.wait_for_selector(f"#row-{bert.pk}.row-closed")
    assert page.url.startswith(f"{base}{LIST}") and "/bulk/" not in page.url
    assert page.locator(f"#row-{anna.pk} input[name=ids]").is_disabled()
    assert page.locator("[data-bulk-bar]").is_hidden()
    shot(page, "export-bulk-result.png")
    assert [Conversation.objects.get(pk=c.pk).status for c in (anna, bert, carl)] == [
        Status.CLOSED,
        Status.CLOSED,
        Status.TAKEN,
    ]
    with page.expect_download() as info:
        page.click("[data-la-export]")
    download = info.value
    assert download.suggested_filename == export.export_filename(tz=export.scope_tz(org.admin))
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    sheet = openpyxl.load_workbook(path).active
    with translation.override(
        "en"
    ):  # the admin's (and the browser's) language, whatever this thread had
        expected = [str(COLUMNS[k].label) for k in DEFAULT_COLUMNS[:3]]
    assert [c.value for c in sheet[1]][:3] == expected
    assert sheet.max_column == len(DEFAULT_COLUMNS)
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [done.pk, carl.pk, bert.pk, anna.pk]  # newest first, as the list
    status = {r[0]: r[DEFAULT_COLUMNS.index("status")] for r in rows}
    assert status[anna.pk] == status[bert.pk] == "Conversation closed"

    # A selection where one row fails and one is left out: both are reported, with reasons.
    page.goto(f"{base}{LIST}?status=waiting,answered")
    page.check("[data-check-page]")  # the bulk bar shows once something is selected
    page.check("[data-all-matching]")
    page.locator("[data-la-bulk] button[value=spam]").click()
    # Every matching row: the toast reports it, and the list reloads with the same filter.
    page.wait_for_selector("#toast.show:has-text('1 conversation marked as spam.')")
    page.wait_for_selector(f"#row-{carl.pk}", state="detached")  # closed: out of this filter now
    assert "status=waiting" in page.url
    job = bulk.start_bulk(
        org.admin,
        "close",
        bulk.Selection(
            [carl.pk, 987_654],
            skipped=[{"id": done.pk, "reason": "Already closed."}],
            skipped_count=1,
        ),
    )
    page.goto(f"{base}{LIST}bulk/{job.pk}/")
    assert "987654" in page.inner_text("[data-la-failures]")
    shot(page, "export-bulk-failures.png")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)  # keep the migrated default roles
def test_a_large_export_runs_in_the_background_and_its_page_turns_into_a_download(
    live_server, org, browser_page, tmp_path, settings
):
    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.CONVODESK = {**settings.CONVODESK, "EXPORT_BACKGROUND_ROWS": 1}
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    page, base = browser_page, live_server.url
    for i, name in enumerate(("anna", "bert", "carl")):
        handled(org.conn, name, org.op1, start=i * 300, take=10, reply=40, close=70)

    log_in(page, base)
    page.goto(f"{base}{LIST}?status=closed")
    page.click("[data-la-export]")
    page.wait_for_url(f"{base}{LIST}export/*")
    shot(page, "export-background-offer.png")
    page.click("text=Start the export")
    page.wait_for_url(f"{base}{LIST}exports/*/")
    assert page.locator("#export-progress[data-status=pending]").is_visible()
    shot(page, "export-background-progress.png")

    export.run_export_job(ExportJob.objects.get().pk)  # what the worker does
    page.wait_for_selector("#export-progress[data-status=done] [data-la-download]", timeout=10_000)
    shot(page, "export-background-done.png")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "export-background-done-phone.png", full_page=True)
    page.set_viewport_size({"width": 1366, "height": 768})

    # Back on the list, the toolbar says the file is ready until it is downloaded.
    page.goto(f"{base}{LIST}?status=closed")
    page.wait_for_selector(".la-notice-done")
    shot(page, "export-toolbar-notice.png")
    with page.expect_download() as info:
        page.click(".la-notice-done")
    path = tmp_path / "background.xlsx"
    info.value.save_as(path)
    assert openpyxl.load_workbook(path).active.max_row == 4
    page.goto(f"{base}{LIST}?status=closed")
    page.wait_for_selector("#la-export-notice", state="attached")
    assert page.locator(".la-notice-done").count() == 0
