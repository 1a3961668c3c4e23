"""One export measurement in its own process (so its peak RSS is its own).

`python -m benchmarks.export_run --mode ours|floor --rows N --out FILE.json`
- ours: `conversations.export.write_xlsx` over the newest N conversations, default columns.
- floor: the same rows and values read into a Python list first (not timed), then XlsxWriter in
  constant-memory mode writing them: the floor for that library.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

import django  # noqa: E402

django.setup()

from benchmarks.common import dump, peak_rss_mb  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("ours", "floor"), required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import xlsxwriter
    from django.utils import timezone

    from convodesk.conversations.columns import COLUMNS, DEFAULT_COLUMNS, related_for
    from convodesk.conversations.models import Conversation

    base_rss = peak_rss_mb()
    tz = timezone.get_default_timezone()
    qs = Conversation.objects.order_by("-started_at", "-id")
    result = {"mode": args.mode, "rows_wanted": args.rows, "rss_before_mb": base_rss}
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "out.xlsx")
        if args.mode == "ours":
            try:
                from convodesk.conversations.export import write_xlsx
            except ImportError as exc:
                result["skipped"] = f"conversations.export.write_xlsx is not there ({exc})"
                dump(__import__("pathlib").Path(args.out), result)
                return 0
            # The newest N: every id >= the N-th newest id (ids grow with started_at in generated
            # data). One OFFSET query, so nothing big is held before the measurement starts.
            nth = list(qs.values_list("id", flat=True)[args.rows - 1 : args.rows])
            rows_qs = qs.filter(id__gte=nth[0]) if nth else qs
            result["rss_before_mb"] = peak_rss_mb()
            t0 = time.perf_counter()
            written = write_xlsx(rows_qs, list(DEFAULT_COLUMNS), tz, target)
            result["seconds"] = round(time.perf_counter() - t0, 2)
            result["rows"] = written
        else:
            columns = [COLUMNS[k] for k in DEFAULT_COLUMNS]
            data = [
                [c.excel_value(conv) for c in columns]
                for conv in qs.select_related(*related_for(DEFAULT_COLUMNS))[: args.rows].iterator(
                    chunk_size=5000
                )
            ]
            result["rss_before_mb"] = peak_rss_mb()
            t0 = time.perf_counter()
            workbook = xlsxwriter.Workbook(
                target, {"constant_memory": True, "remove_timezone": True}
            )
            sheet = workbook.add_worksheet()
            date_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
            duration_format = workbook.add_format({"num_format": "[h]:mm:ss"})
            sheet.write_row(0, 0, [str(c.label) for c in columns])
            kinds = [c.kind for c in columns]
            for r, row in enumerate(data, start=1):
                for col, value in enumerate(row):
                    if value is None:
                        continue
                    kind = kinds[col]
                    if kind == "datetime":
                        sheet.write_datetime(r, col, value, date_format)
                    elif kind == "duration":
                        sheet.write_number(r, col, value, duration_format)
                    else:
                        sheet.write(r, col, value)
            workbook.close()
            result["seconds"] = round(time.perf_counter() - t0, 2)
            result["rows"] = len(data)
        result["bytes"] = os.path.getsize(target)
    result["peak_rss_mb"] = peak_rss_mb()
    result["rss_growth_mb"] = round(result["peak_rss_mb"] - result["rss_before_mb"], 1)
    dump(__import__("pathlib").Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
