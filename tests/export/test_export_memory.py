"""The export streams: peak memory does not grow with the row count."""

import datetime as dt
import gc
import tracemalloc

from convodesk.conversations import export
from convodesk.conversations.models import Conversation

from .builders import many_closed

MB = 1024 * 1024
# Joined columns (line, client, responsible), dates, durations, numbers and labels: every kind of
# value the export writes, without paying tracemalloc's slowdown on all nineteen default columns.
KEYS = ["id", "status", "line", "client", "responsible", "started_at", "duration", "message_count"]


def peak_growth(queryset, path) -> tuple[int, int]:
    """(rows written, peak traced memory above the starting point) for one export."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        rows = export.write_xlsx(queryset, KEYS, dt.UTC, path)
        return rows, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def test_peak_memory_for_25000_rows_stays_within_a_few_mb_of_that_for_5000(org, tmp_path):
    many_closed(5_000, org.line, org.conn)
    queryset = Conversation.objects.order_by("-started_at", "-id")
    export.write_xlsx(queryset[:50], KEYS, dt.UTC, tmp_path / "warm.xlsx")  # one-time costs
    rows_small, small = peak_growth(queryset, tmp_path / "small.xlsx")
    many_closed(20_000, org.line, org.conn, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    rows_large, large = peak_growth(queryset, tmp_path / "large.xlsx")
    assert (rows_small, rows_large) == (5_000, 25_000)
    assert large < 100 * MB
    print(f"peak growth: {small / MB:.1f} MB for 5,000 rows, {large / MB:.1f} MB for 25,000")
    # Five times the rows: a leak of even 200 bytes a row would add 4 MB.
    assert large - small < 4 * MB, f"peak grew from {small / MB:.1f} MB to {large / MB:.1f} MB"
