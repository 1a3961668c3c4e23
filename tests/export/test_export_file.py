"""The .xlsx the export writes, read back with openpyxl."""

import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk.conversations import export
from convodesk.conversations.columns import COLUMNS, DEFAULT_COLUMNS
from convodesk.conversations.models import Conversation

from .. import factories as f
from .builders import handled

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
KEYS = ["id", "client", "status", "started_at", "duration", "responsible", "message_count"]


def read(target) -> openpyxl.Workbook:
    if isinstance(target, io.BytesIO):
        target.seek(0)
    return openpyxl.load_workbook(target)


def rows_of(sheet):
    return [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.fixture
def handled_set(org):
    """Three closed conversations of known durations, one open one, one closed by op2."""
    a = handled(org.conn, "anna", org.op1, start=0, take=10, reply=100, close=110)
    b = handled(org.conn, "bert", org.op1, start=600, take=20, reply=300, close=320)
    c = handled(org.conn, "carl", org.op1, start=1200, take=30)  # open
    d = handled(org.conn, "dora", org.op2, start=1800, take=5, reply=200, close=210)
    return a, b, c, d


def test_the_export_has_exactly_the_filtered_rows_and_columns_in_the_list_sort(
    org, handled_set, tmp_path
):
    a, b, c, d = handled_set
    org.admin.time_zone = "Europe/Madrid"
    queryset, errors = export.export_queryset(org.admin, {"status": "closed", "sort": "-duration"})
    assert errors == {}
    target = tmp_path / "out.xlsx"
    count = export.write_xlsx(queryset, KEYS, MADRID, target)
    assert count == 3
    sheet = read(target).active
    header = [cell.value for cell in sheet[1]]
    assert header == [
        "ID",
        "Client",
        "Status",
        "Started (Europe/Madrid)",
        "Conversation duration",
        "Responsible employee",
        "Messages",
    ]
    rows = rows_of(sheet)
    assert [r[0] for r in rows] == [b.pk, d.pk, a.pk]  # durations 300, 200, 100: descending
    assert [r[1] for r in rows] == ["Bert", "Dora", "Anna"]
    assert [r[5] for r in rows] == ["Op1", "Op2", "Op1"]
    assert {r[2] for r in rows} == {"Conversation closed"}
    assert c.pk not in [r[0] for r in rows]


def test_dates_are_excel_dates_in_the_exporters_time_zone_and_durations_are_h_mm_ss(
    org, handled_set, tmp_path
):
    a = handled_set[0]
    target = tmp_path / "out.xlsx"
    export.write_xlsx(Conversation.objects.filter(pk=a.pk), KEYS, MADRID, target)
    sheet = read(target).active
    started, duration = sheet.cell(row=2, column=4), sheet.cell(row=2, column=5)
    assert isinstance(started.value, dt.datetime)
    assert started.value.replace(microsecond=0) == dt.datetime(
        2026, 11, 2, 10, 0
    )  # 09:00 UTC in Madrid
    assert started.is_date
    assert isinstance(duration.value, dt.timedelta)
    assert round(duration.value.total_seconds()) == 100
    assert duration.number_format == "[h]:mm:ss"
    assert isinstance(sheet.cell(row=2, column=7).value, int)


def test_the_header_is_bold_and_frozen_with_an_autofilter_and_sensible_widths(
    org, handled_set, tmp_path
):
    target = tmp_path / "out.xlsx"
    export.write_xlsx(Conversation.objects.order_by("id"), DEFAULT_COLUMNS, dt.UTC, target)
    sheet = read(target).active
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    last = openpyxl.utils.get_column_letter(len(DEFAULT_COLUMNS))
    assert sheet.auto_filter.ref == f"A1:{last}5"
    widths = [
        sheet.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width
        for i in range(len(DEFAULT_COLUMNS))
    ]
    assert all(6 <= w <= 62 for w in widths)
    started = DEFAULT_COLUMNS.index("started_at")
    assert widths[started] >= len("Started (UTC)")


def test_every_registry_column_exports_without_extra_queries_per_row(org, handled_set, tmp_path):
    keys = list(COLUMNS)
    qs = Conversation.objects.order_by("id")
    with CaptureQueriesContext(connection) as one:
        export.write_xlsx(qs.filter(pk=handled_set[0].pk), keys, dt.UTC, tmp_path / "one.xlsx")
    with CaptureQueriesContext(connection) as four:
        assert export.write_xlsx(qs, keys, dt.UTC, tmp_path / "four.xlsx") == 4
    assert len(four.captured_queries) == len(one.captured_queries)
    sheet = read(tmp_path / "four.xlsx").active
    assert [c.value for c in sheet[1]][: len(keys)][0] == "ID"
    assert sheet.max_column == len(keys)


def test_past_the_sheet_limit_rows_continue_on_a_new_sheet_with_the_same_header(
    org, handled_set, monkeypatch
):
    monkeypatch.setattr(export, "ROWS_PER_SHEET", 3)
    buffer = io.BytesIO()
    assert (
        export.write_xlsx(Conversation.objects.order_by("id"), ["id", "client"], dt.UTC, buffer)
        == 4
    )
    book = read(buffer)
    assert len(book.worksheets) == 2
    first, second = book.worksheets
    assert [c.value for c in first[1]] == [c.value for c in second[1]] == ["ID", "Client"]
    assert [r[0] for r in rows_of(first)] + [r[0] for r in rows_of(second)] == sorted(
        c.pk for c in handled_set
    )
    assert second.freeze_panes == "A2" and second.auto_filter.ref == "A1:B2"


def test_text_that_looks_like_a_formula_stays_text(org, tmp_path):
    conv = f.client_message(org.conn, "evil", '=HYPERLINK("http://x")', name="=1+2").conversation
    target = tmp_path / "out.xlsx"
    export.write_xlsx(
        Conversation.objects.filter(pk=conv.pk), ["client", "excerpt"], dt.UTC, target
    )
    sheet = read(target).active
    assert sheet["A2"].value == "=1+2" and sheet["A2"].data_type == "s"
    assert sheet["B2"].data_type == "s"


def test_an_empty_export_still_has_its_header(org, tmp_path):
    target = tmp_path / "out.xlsx"
    assert export.write_xlsx(Conversation.objects.none(), ["id", "started_at"], dt.UTC, target) == 0
    sheet = read(target).active
    assert [c.value for c in sheet[1]] == ["ID", "Started (UTC)"]
    assert sheet.max_row == 1


def test_stale_or_unknown_column_keys_are_dropped(org, handled_set, tmp_path):
    target = tmp_path / "out.xlsx"
    export.write_xlsx(
        Conversation.objects.order_by("id"), ["nope", "id", "id", "client"], dt.UTC, target
    )
    assert [c.value for c in read(target).active[1]] == ["ID", "Client"]


def test_the_users_visible_columns_come_from_their_preference(org):
    org.op1.column_preferences = {"conversation_list": ["client", "gone_column", "id"]}
    assert export.user_columns(org.op1) == ["client", "id"]
    org.op1.column_preferences = {"conversation_list": ["gone_column"]}
    assert export.user_columns(org.op1) == list(DEFAULT_COLUMNS)
    org.op1.column_preferences = {}
    assert export.user_columns(org.op1) == list(DEFAULT_COLUMNS)


def test_the_file_is_named_after_the_exporters_local_date():
    late = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)
    assert export.export_filename(tz=MADRID, now=late) == "conversations-2026-11-25.xlsx"
    assert export.export_filename(tz=dt.UTC, now=late) == "conversations-2026-11-24.xlsx"
