"""Excel export of a CRM list: the conversation export's workbook writer (constant-memory
XlsxWriter, sheets of at most 1,048,575 rows, typed cells) fed by the CRM column registry.

Rows are read in chunks; each chunk gets what its columns read beyond the row (phones,
e-mails, the companies the viewer may see) in a few queries, so memory stays flat whatever the
list's size.
"""

from __future__ import annotations

from django.db.models import prefetch_related_objects
from django.utils import timezone

from convodesk.conversations.export import CHUNK_SIZE, _Sheets, time_zone_name
from convodesk.conversations.filters import scope_tz

from . import lists


def _chunks(queryset):
    batch = []
    for row in queryset.iterator(chunk_size=CHUNK_SIZE):
        batch.append(row)
        if len(batch) >= CHUNK_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def write_crm_xlsx(user, kind: str, queryset, keys, target) -> int:
    """Write every row of `queryset` (in its order) with the columns `keys`; return the count."""
    import xlsxwriter

    columns = [lists.COLUMNS[kind][k] for k in keys]
    related = lists.related_for(kind, keys)
    queryset = queryset.select_related(*related) if related else queryset
    prefetch = lists.prefetches_for(kind, keys)
    tz = scope_tz(user)
    workbook = xlsxwriter.Workbook(
        target,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
            "in_memory": False,
        },
    )
    title = str(lists.LIST_TITLES[kind])
    workbook.set_properties({"title": title, "creator": "Convodesk"})
    sheets = _Sheets(workbook, columns, time_zone_name(tz), title=title)
    written = 0
    try:
        with timezone.override(tz):
            for batch in _chunks(queryset):
                if prefetch:
                    prefetch_related_objects(batch, *prefetch)
                lists.decorate(user, kind, batch)
                for row in batch:
                    sheets.write([c.excel_value(row, tz) for c in columns])
                    written += 1
        if sheets.sheet is None:
            sheets.open()
        sheets.close()
    finally:
        workbook.close()
    return written
