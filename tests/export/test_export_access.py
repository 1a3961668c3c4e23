"""Who may export, which rows they get, and the Export button's download and job pages."""

import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
from django.utils import timezone

from convodesk.accounts.models import Role
from convodesk.conversations import export
from convodesk.conversations.jobs import ExportJob
from convodesk.conversations.services import NotAllowed

from .. import factories as f
from .builders import handled

EXPORT_URL = "/contact-center/conversations/export/"


def workbook(response) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def ids_in(book) -> list[int]:
    return [
        row[0] for sheet in book.worksheets for row in sheet.iter_rows(min_row=2, values_only=True)
    ]


@pytest.fixture
def two_operators(org):
    mine = handled(org.conn, "anna", org.op1, start=0, take=10, reply=60, close=90)
    theirs = handled(org.conn, "bert", org.op2, start=100, take=10, reply=60, close=90)
    return mine, theirs


@pytest.fixture
def no_export_user(org):
    role = Role.objects.create(
        name="Viewer without export", view_conversations=30, view_history=30, export=0
    )
    return f.employee("viewer", roles=[role])


def test_an_operator_exports_only_the_conversations_they_may_see(org, two_operators):
    mine, theirs = two_operators
    queryset, errors = export.export_queryset(org.op1, {})
    assert not errors
    assert list(queryset.values_list("pk", flat=True)) == [mine.pk]
    admin_qs, _ = export.export_queryset(org.admin, {})
    assert list(admin_qs.values_list("pk", flat=True)) == [theirs.pk, mine.pk]  # newest first


def test_exporting_needs_the_export_permission(org, two_operators, no_export_user, client):
    with pytest.raises(NotAllowed):
        export.export_queryset(no_export_user, {})
    with pytest.raises(NotAllowed):
        export.start_export(no_export_user, {}, ["id"])
    assert not ExportJob.objects.exists()
    client.force_login(no_export_user)
    response = client.get(EXPORT_URL)
    assert response.status_code == 403
    assert b"PK" not in response.content[:4]


def test_anonymous_visitors_are_sent_to_log_in(db, client):
    response = client.get(EXPORT_URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_export_button_downloads_the_filtered_rows_as_xlsx_named_by_the_users_date(
    org, two_operators, client
):
    mine, theirs = two_operators
    org.admin.time_zone = "Pacific/Kiritimati"  # UTC+14: its date is often "tomorrow"
    org.admin.column_preferences = {"conversation_list": ["id", "client", "started_at", "duration"]}
    org.admin.save()
    client.force_login(org.admin)
    response = client.get(EXPORT_URL, {"client": "bert"})
    assert response.status_code == 200
    today = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("Pacific/Kiritimati")).date()
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="conversations-{today.isoformat()}.xlsx"'
    )
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = workbook(response)
    sheet = book.active
    assert [c.value for c in sheet[1]] == [
        "ID",
        "Client",
        "Started (Pacific/Kiritimati)",
        "Conversation duration",
    ]
    assert ids_in(book) == [theirs.pk]
    started = sheet.cell(row=2, column=3).value
    assert started.replace(microsecond=0) == dt.datetime(
        2026, 11, 2, 23, 1, 40
    )  # 09:01:40 UTC + 14 h


def test_an_operators_download_holds_only_their_rows(org, two_operators, client):
    client.force_login(org.op1)
    response = client.get(EXPORT_URL)
    assert response.status_code == 200
    assert ids_in(workbook(response)) == [two_operators[0].pk]


def test_an_invalid_filter_is_a_readable_400_not_an_unfiltered_file(org, two_operators, client):
    client.force_login(org.admin)
    response = client.get(EXPORT_URL, {"started_from": "yesterday-ish"})
    assert response.status_code == 400
    assert "not a valid date" in response.content.decode()
    with pytest.raises(export.InvalidFilter) as info:
        export.start_export(org.admin, {"sort": "nonsense"}, ["id"])
    assert "sort" in info.value.errors


def test_count_for_export_stops_one_past_the_background_threshold(org, two_operators, settings):
    settings.CONVODESK = {**settings.CONVODESK, "EXPORT_BACKGROUND_ROWS": 1}
    queryset, _ = export.export_queryset(org.admin, {})
    assert export.count_for_export(queryset) == 2
    assert export.runs_in_background(export.count_for_export(queryset))


def test_the_export_reads_the_list_url_as_the_grid_does(org, two_operators, client):
    """Form-style repeated keys and minutes for metric ranges, as the filter panel submits them."""
    mine, theirs = two_operators
    open_one = handled(org.conn, "carl", org.op1, start=200, take=10)
    client.force_login(org.admin)
    response = client.get(EXPORT_URL, {"status": ["waiting", "closed"], "sort": "started_at"})
    assert ids_in(workbook(response)) == [mine.pk, theirs.pk, open_one.pk]
    # Durations 60 s, 60 s and 0 s (no reply yet): within "at most 1 min", not "at least 2 min".
    response = client.get(EXPORT_URL, {"duration_max": "1", "duration_unit": "min"})
    assert ids_in(workbook(response)) == [open_one.pk, theirs.pk, mine.pk]
    response = client.get(EXPORT_URL, {"duration_min": "2", "duration_unit": "min"})
    assert ids_in(workbook(response)) == []
