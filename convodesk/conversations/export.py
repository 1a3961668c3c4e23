"""Excel export of the conversation list: every row matching a filter, in its sort.

One path for the list's Export button, the background job and the REST API:
`export_queryset` (permission + visibility + the one filter set), `write_xlsx` (XlsxWriter in
constant-memory mode, rows read in chunks), and `start_export` for exports too big to stream
inside a request. Values come from the column registry: each column's `fields`, read as value
tuples, and its `excel_converter` (the same values as `Column.excel_value` on an instance).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import Any

import xlsxwriter
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import DatabaseError, connection
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from convodesk.accounts.access import level
from convodesk.accounts.models import Level
from convodesk.fielderrors import FieldErrors

from .columns import (
    COLUMNS,
    DEFAULT_COLUMNS,
    KIND_DATETIME,
    KIND_DURATION,
    KIND_INT,
    clean_columns,
)
from .filters import FILTER_PARAMS, ConversationFilter, scope_tz
from .jobs import ExportJob, JobStatus
from .models import Conversation
from .services import NotAllowed

log = logging.getLogger("convodesk.export")

ROWS_PER_SHEET = 1_048_575  # Excel's 1,048,576 rows less the header
CHUNK_SIZE = 2000
PREFERENCE_KEY = "conversation_list"
DATE_FORMAT = "yyyy-mm-dd hh:mm"
DURATION_FORMAT = "[h]:mm:ss"
MIN_WIDTH, MAX_WIDTH = 6, 60
PROGRESS_SECONDS = 1.0  # a background export's progress is written at most this often
KEEP_EXPORTS = dt.timedelta(days=7)  # background export files are deleted after this
# Widths of cells whose text length says nothing about what Excel shows.
KIND_WIDTHS = {KIND_DATETIME: 17, KIND_DURATION: 11}


class InvalidFilter(FieldErrors, ValueError):
    """The filter parameters do not parse; `errors` maps each bad parameter to a message."""


# Who may export what ----------------------------------------------------------------


def can_export(user) -> bool:
    return bool(user and user.is_authenticated and level(user, "export") >= Level.ALL)


def user_columns(user) -> list[str]:
    """The columns the user sees in the list, in their order (defaults when none or all stale)."""
    prefs = getattr(user, "column_preferences", None) or {}
    stored = prefs.get(PREFERENCE_KEY) if isinstance(prefs, dict) else None
    if isinstance(stored, dict):  # tolerate {"columns": [...]}
        stored = stored.get("columns")
    keys = clean_columns(stored if isinstance(stored, list | tuple) else [])
    return keys or list(DEFAULT_COLUMNS)


def filter_params(params) -> dict[str, str]:
    """Only the filter grammar's parameters, as plain strings (for storing on a job)."""
    result = {}
    for key in sorted(FILTER_PARAMS):
        if key in params:
            value = params.get(key)
            if isinstance(value, list | tuple):
                value = ",".join(str(v) for v in value)
            if value not in (None, ""):
                result[key] = str(value)
    return result


def export_queryset(user, params):
    """(queryset, errors): the rows `user` may export for these filter parameters, in their sort.

    Raises NotAllowed without the export permission. With errors the queryset is empty.
    """
    if not can_export(user):
        raise NotAllowed(_("You are not allowed to export conversations."))
    flt = ConversationFilter(params, tz=scope_tz(user))
    if not flt.is_valid():
        return Conversation.objects.none(), dict(flt.errors)
    queryset = flt.filter(Conversation.objects.visible_to(user, "export")).order_by(*flt.ordering())
    return queryset, {}


def count_for_export(queryset) -> int:
    """The row count, stopping one past the background threshold (enough to choose inline or not)."""
    limit = settings.CONVODESK["EXPORT_BACKGROUND_ROWS"]
    return queryset.order_by().values("pk")[: limit + 1].count()


def runs_in_background(count: int) -> bool:
    return count > settings.CONVODESK["EXPORT_BACKGROUND_ROWS"]


def export_filename(user=None, tz=None, now: dt.datetime | None = None) -> str:
    tz = tz or (scope_tz(user) if user is not None else timezone.get_current_timezone())
    day = timezone.localtime(now or timezone.now(), tz).date()
    return f"conversations-{day.isoformat()}.xlsx"


def time_zone_name(tz) -> str:
    return getattr(tz, "key", None) or str(tz)


# Writing ------------------------------------------------------------------------------


class _Sheets:
    """Worksheets of at most ROWS_PER_SHEET data rows, each with the same header."""

    def __init__(self, workbook, columns, tzname, title=None):
        self.workbook = workbook
        self.title = title  # the sheet name; the conversation export's when None
        self.columns = columns
        self.header = [
            f"{c.label} ({tzname})" if c.kind == KIND_DATETIME else str(c.label) for c in columns
        ]
        self.header_fmt = workbook.add_format(
            {
                "bold": True,
                "bg_color": "#EEF0F3",
                "bottom": 1,
                "text_wrap": False,
                "valign": "vcenter",
            }
        )
        self.date_fmt = workbook.add_format({"num_format": DATE_FORMAT})
        self.duration_fmt = workbook.add_format({"num_format": DURATION_FORMAT})
        self.cell_fmt = [
            self.date_fmt
            if c.kind == KIND_DATETIME
            else self.duration_fmt
            if c.kind == KIND_DURATION
            else None
            for c in columns
        ]
        self.sheet = None
        self.rows = 0
        self.count = 0
        self.widths: list[int] = []

    def open(self):
        self.count += 1
        name = str(self.title or _("Conversations"))[:25]
        self.sheet = self.workbook.add_worksheet(
            name if self.count == 1 else f"{name} {self.count}"
        )
        self.rows = 0
        self.widths = [len(h) for h in self.header]
        for col, (column, text) in enumerate(zip(self.columns, self.header, strict=True)):
            self.sheet.write_string(0, col, text, self.header_fmt)
            if column.kind in KIND_WIDTHS:
                self.widths[col] = max(self.widths[col], KIND_WIDTHS[column.kind])
        self.sheet.freeze_panes(1, 0)

    def close(self):
        if self.sheet is None:
            return
        last_col = len(self.columns) - 1
        self.sheet.autofilter(0, 0, self.rows, last_col)
        for col, width in enumerate(self.widths):
            self.sheet.set_column(col, col, min(MAX_WIDTH, max(MIN_WIDTH, width + 2)))
        self.sheet = None

    def write(self, values):
        """One row of Excel values (model-instance exports: the CRM lists)."""
        self._next_row()
        row = self.rows
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            self._write_cell(row, col, value)

    def _next_row(self) -> bool:
        """Move to the next row; True when that opened a new sheet."""
        opened = self.sheet is None or self.rows >= ROWS_PER_SHEET
        if opened:
            self.close()
            self.open()
        self.rows += 1
        return opened

    def _write_cell(self, row, col, value):
        sheet, widths, fmt = self.sheet, self.widths, self.cell_fmt[col]
        if isinstance(value, dt.datetime):
            sheet.write_datetime(row, col, value, fmt or self.date_fmt)
        elif isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif isinstance(value, int | float):
            sheet.write_number(row, col, value, fmt)
            if fmt is None:
                n = len(str(value))
                if n > widths[col]:
                    widths[col] = n
        else:
            text = str(value)
            sheet.write_string(row, col, text)
            n = len(text)
            if n > widths[col]:
                widths[col] = n

    def cell_writers(self) -> list[Callable[[int, Any], None]]:
        """A function (row, value) per column for the current sheet, chosen once by the column's
        kind: the same cells `write` makes, without deciding each cell's type again.

        XlsxWriter's undecorated `_write_*` methods skip the A1-notation check of the public
        ones (one `int()` and a wrapper call per cell); the public ones stand in if they go.
        """
        sheet, widths, write_cell = self.sheet, self.widths, self._write_cell
        write_string = getattr(sheet, "_write_string", sheet.write_string)
        write_number = getattr(sheet, "_write_number", sheet.write_number)
        write_datetime = getattr(sheet, "_write_datetime", sheet.write_datetime)
        writers = []
        for col, column in enumerate(self.columns):
            if column.kind == KIND_DATETIME:

                def writer(row, value, col=col, fmt=self.date_fmt):
                    if value is not None:
                        write_datetime(row, col, value, fmt)

            elif column.kind == KIND_DURATION:

                def writer(row, value, col=col, fmt=self.duration_fmt):
                    if value is not None:
                        write_number(row, col, value, fmt)

            elif column.kind == KIND_INT:

                def writer(row, value, col=col):
                    if value.__class__ is int:
                        write_number(row, col, value, None)
                        n = len(str(value))
                        if n > widths[col]:
                            widths[col] = n
                    elif value is not None and value != "":
                        write_cell(row, col, value)

            else:

                def writer(row, value, col=col):
                    if value.__class__ is str:
                        if value:
                            write_string(row, col, value)
                            n = len(value)
                            if n > widths[col]:
                                widths[col] = n
                    elif value is not None:
                        write_cell(row, col, value)

            writers.append(writer)
        return writers


def _value_plan(columns, tz):
    """(fields, cells, per_chunk) for reading value tuples: the values_list fields (each once);
    per column its field positions and its converter, built once; and the columns whose values
    come from another table, read per chunk of ids."""
    fields: list[str] = []
    cells, per_chunk = [], []
    for column in columns:
        positions = []
        for name in column.fields:
            if name not in fields:
                fields.append(name)
            positions.append(fields.index(name))
        convert = column.excel_converter(tz)
        if column.excel_per_chunk is not None:
            found: dict = {}
            per_chunk.append((column.excel_per_chunk, positions[0], found))
            convert = found.get  # filled for every chunk
        cells.append((positions[0] if len(positions) == 1 else tuple(positions), convert))
    return fields, cells, per_chunk


def _chunks(queryset, fields):
    """The value tuples in the queryset's order, in lists of CHUNK_SIZE. Closing this generator
    (as write_xlsx does on any exit) closes the cursor: on SQLite an open read statement would
    hold its snapshot, and turn the next write on this connection into a long one."""
    rows = queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE)
    try:
        while chunk := list(islice(rows, CHUNK_SIZE)):
            yield chunk
    finally:
        rows.close()


def write_xlsx(
    queryset, column_keys, tz, target, progress: Callable[[int], None] | None = None
) -> int:
    """Write every row of `queryset` (in its order) as .xlsx to `target`; return the row count.

    `target` is a path or a binary file object. Memory stays flat: XlsxWriter's constant-memory
    mode flushes each row, and rows are read in chunks as value tuples (`values_list` over the
    exported columns' fields, joined once), not model instances. Each column's converter and
    cell writer is chosen once per export. `progress(rows_written)` is called after every chunk.
    """
    keys = clean_columns(column_keys) or list(DEFAULT_COLUMNS)
    columns = [COLUMNS[k] for k in keys]
    if isinstance(target, str | Path):
        target = str(target)
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,  # a client named "=HYPERLINK(…)" stays text
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    workbook.set_properties({"title": _("Conversations"), "creator": "Convodesk"})
    sheets = _Sheets(workbook, columns, time_zone_name(tz))
    written = 0
    try:
        fields, plan, per_chunk = _value_plan(columns, tz)
        cells: list = []
        with (
            timezone.override(tz),
            closing(_chunks(queryset.prefetch_related(None), fields)) as chunks,
        ):
            for chunk in chunks:
                for read, position, found in per_chunk:
                    found.clear()
                    found.update(read([raw[position] for raw in chunk]))
                for raw in chunk:
                    if sheets._next_row():
                        cells = [
                            (writer, at, convert)
                            for writer, (at, convert) in zip(
                                sheets.cell_writers(), plan, strict=True
                            )
                        ]
                    row = sheets.rows
                    for writer, at, convert in cells:
                        if at.__class__ is int:
                            writer(row, convert(raw[at]))
                        else:
                            writer(row, convert(*[raw[i] for i in at]))
                written += len(chunk)
                if progress is not None:
                    progress(written)
        if sheets.sheet is None:
            sheets.open()  # an empty export still has its header
        sheets.close()
    finally:
        workbook.close()
    if progress is not None:
        progress(written)
    return written


# Downloads ----------------------------------------------------------------------------

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOAD_CHUNK = 256 * 1024


async def _read_async(fileobj, chunk_size: int = DOWNLOAD_CHUNK):
    """The file in chunks, each read in a worker thread: under ASGI the server sends one chunk
    while the next is read, and never holds more than a chunk or two."""
    try:
        while True:
            data = await sync_to_async(fileobj.read, thread_sensitive=False)(chunk_size)
            if not data:
                break
            yield data
    finally:
        fileobj.close()


def download(request, fileobj, filename: str) -> HttpResponseBase:
    """An .xlsx file as an attachment, streamed in constant memory under WSGI and ASGI alike.

    Django serves a synchronous file iterator under ASGI by reading it whole into a list first
    ("must consume synchronous iterators"): the server then held the entire file. Under ASGI the
    body is an asynchronous iterator instead; under WSGI the plain FileResponse streams already.
    """
    if not isinstance(request, ASGIRequest):
        response = FileResponse(
            fileobj, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE
        )
    else:
        response = StreamingHttpResponse(_read_async(fileobj), content_type=XLSX_CONTENT_TYPE)
        response["Content-Length"] = str(os.fstat(fileobj.fileno()).st_size - fileobj.tell())
        response["Content-Disposition"] = content_disposition_header(True, filename)
        response._resource_closers.append(fileobj.close)  # a client that hangs up early
    response["Cache-Control"] = "no-store"
    return response


# Background exports -------------------------------------------------------------------


def start_export(user, params, column_keys) -> ExportJob:
    """Record an export job for `user` and enqueue the task that writes it.

    Raises NotAllowed without the export permission and InvalidFilter for bad parameters.
    """
    _queryset, errors = export_queryset(user, params)
    if errors:
        raise InvalidFilter(errors)
    tz = scope_tz(user)
    job = ExportJob.objects.create(
        owner=user,
        params=filter_params(params),
        columns=clean_columns(column_keys) or user_columns(user),
        time_zone=time_zone_name(tz),
        filename=export_filename(tz=tz),
    )
    from .tasks import run_export

    run_export.enqueue(str(job.pk))
    job.refresh_from_db()
    return job


def purge_old_exports(now: dt.datetime | None = None) -> int:
    """Delete export files older than KEEP_EXPORTS; their jobs stay listed as no longer available."""
    cutoff = (now or timezone.now()) - KEEP_EXPORTS
    purged = 0
    for job in ExportJob.objects.filter(created_at__lt=cutoff).exclude(file_path=""):
        job.path.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(file_path="")
        purged += 1
    return purged


class JobProgress:
    """A job's progress, written at most every PROGRESS_SECONDS, each write its own short
    transaction that never waits on the export.

    On SQLite the export's read is one open statement for its whole length. An UPDATE on that
    same connection fails at once with "database is locked" when another connection committed
    since the read began (its snapshot is stale), and otherwise holds the write lock until the
    read ends: SQLite commits an implicit transaction when its last statement finishes, so the
    timers, the worker and every user waited the export out. The progress goes through a
    thread of its own (its own connection) instead. A write that fails is skipped: the next
    one, or the job's final state, carries the count.
    """

    def __init__(self, model, pk):
        self.rows = model.objects.filter(pk=pk)
        self.last = 0.0
        self.pending = None
        self.pool = None
        if connection.vendor == "sqlite" and not connection.in_atomic_block:
            self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-progress")

    def __enter__(self):
        return self

    def __call__(self, rows: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        if self.pool is None:
            self._write(rows)
        elif self.pending is None or self.pending.done():  # never a queue of stale counts
            self.pending = self.pool.submit(self._write, rows)

    def _write(self, rows: int) -> None:
        try:
            self.rows.update(progress=rows)
        except DatabaseError:
            log.warning("job progress not written (%s rows)", rows, exc_info=True)

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.submit(connection.close)  # the thread's own connection
            self.pool.shutdown(wait=True)
        return False


def run_export_job(job_id) -> None:
    """The body of the background task: write the file under EXPORT_ROOT, tracking progress."""
    purge_old_exports()
    job = ExportJob.objects.select_related("owner").filter(pk=job_id).first()
    if job is None or job.status != JobStatus.PENDING:
        return
    job.status, job.started_at = JobStatus.RUNNING, timezone.now()
    job.save(update_fields=["status", "started_at"])
    relative = f"{job.created_at:%Y/%m}/{job.pk}.xlsx"
    path = Path(settings.EXPORT_ROOT) / relative
    partial = path.with_suffix(f".{uuid.uuid4().hex}.part")
    try:
        queryset, errors = export_queryset(job.owner, job.params)
        if errors:
            raise InvalidFilter(errors)
        job.total = queryset.order_by().count()
        job.save(update_fields=["total"])
        path.parent.mkdir(parents=True, exist_ok=True)
        with (
            translation.override(job.owner.language or settings.LANGUAGE_CODE),
            JobProgress(ExportJob, job.pk) as progress,
        ):
            rows = write_xlsx(
                queryset, job.columns, scope_tz(job.owner), partial, progress=progress
            )
        partial.replace(path)
    except Exception as exc:  # noqa: BLE001 - any failure is the job's outcome, shown to its owner
        if isinstance(exc, NotAllowed | InvalidFilter):
            log.warning("export %s refused: %s", job.pk, exc)
        else:
            log.exception("export %s failed", job.pk)
        partial.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, NotAllowed) else str(exc) or exc.__class__.__name__
        ExportJob.objects.filter(pk=job.pk).update(
            status=JobStatus.FAILED, error=str(message)[:2000], finished_at=timezone.now()
        )
        return
    ExportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.DONE,
        progress=rows,
        total=rows,
        file_path=relative,
        finished_at=timezone.now(),
    )
