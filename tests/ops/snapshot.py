"""What an administrator reads of an installation, through its API, as JSON on stdout: every
page of the conversation list, the statistics and the Excel export's cells. Run inside the
installation (`manage.py shell -c "from tests.ops.snapshot import main; main('<token>')"`), so
the same code reads it on SQLite before a move and on PostgreSQL after."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys

STATS_QUERY = "interval=day"


def _plain(value):
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return str(value)
    return value


def main(token: str) -> None:
    import openpyxl
    from django.test import Client

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    rows, cursor = [], ""
    while True:
        response = client.get(f"/api/v1/conversations?limit=200{cursor}", **headers)
        assert response.status_code == 200, response.content[:300]
        page = response.json()
        # "overdue" compares the reply-time target with the clock at the reading: a demo wait
        # due in a few minutes turns overdue between two readings (due_at itself is kept).
        rows += [{k: v for k, v in item.items() if k != "overdue"} for item in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    stats = client.get(f"/api/v1/stats?{STATS_QUERY}", **headers)
    assert stats.status_code == 200, stats.content[:300]
    export = client.get("/api/v1/conversations/export.xlsx", **headers)
    assert export.status_code == 200, export.content[:300]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(export.streaming_content)))
    cells = [[_plain(c) for c in row] for row in book.active.iter_rows(values_only=True)]
    json.dump(
        {"count": page["count"], "list": rows, "stats": stats.json(), "export": cells},
        sys.stdout,
        default=str,
        sort_keys=True,
    )
