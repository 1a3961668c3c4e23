"""The write path's multi-row statements store exactly what the rows hold, on both databases.

On PostgreSQL several rows travel as one JSON parameter cast per column (`convodesk.rowsource`);
what comes back must be what `save()` would have stored: text with quotes, backslashes, percent
signs and emoji, NULLs, microseconds of an instant given in another time zone, JSON payloads.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection

from convodesk import rowsource
from convodesk.conversations.models import ConversationEvent

from .. import factories as f

NAMES = ("conversation", "kind", "actor", "actor_kind", "from_status", "to_status", "at", "payload")
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def _insert(rows: list[tuple]) -> list[int]:
    fields = [ConversationEvent._meta.get_field(n) for n in NAMES]
    values = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(fields, row, strict=True)
        ]
        for row in rows
    ]
    source, params = rowsource.rows(fields, values)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(ConversationEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {source} RETURNING id", params)
        return sorted(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("count", [1, 3])
def test_rows_written_in_one_statement_read_back_as_given(org, count):
    conversation = f.client_message(
        f.connection(f.line("Rows", members=[org.op1]), "api"), "c-1"
    ).conversation
    rows = [
        (
            conversation.pk,
            'note %s 50% O\'Brien \\ "quoted" 🙂 ñ',
            org.op1.pk,
            "employee",
            None,
            20,
            dt.datetime(2026, 3, 29, 3, 0, 0, 123456, tzinfo=MADRID),
            {"text": "it's 100% \\ %(name)s ✓", "n": 2**40, "nested": {"ok": True, "none": None}},
        ),
        (conversation.pk, "", None, "system", 10, None, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), {}),
        (
            conversation.pk,
            "x" * 40,
            org.op2.pk,
            "client",
            0,
            0,
            dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
            [],
        ),
    ][:count]

    ids = _insert(rows)

    stored = ConversationEvent.objects.filter(pk__in=ids).order_by("pk")
    assert [
        tuple(getattr(e, f.attname) for f in (ConversationEvent._meta.get_field(n) for n in NAMES))
        for e in stored
    ] == rows
