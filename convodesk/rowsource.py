"""The rows of a multi-row INSERT or upsert, written for the database at hand.

`rows(fields, values)` returns `(sql, params)` for `INSERT INTO t (columns) {sql}`: the rows
(one list of database values per row, as `get_db_prep_save` gives them) in the fields' order.

On PostgreSQL a batch of several rows is one JSON parameter read by `json_array_elements` and
cast per column. psycopg merges parameters into the statement on the client, and its parser
walks every `%s` in Python: a new conversation's batch (15 participants, 45 participation rows,
a dozen rollup rows) had 739 of them and took ~1.9 ms to bind, against ~0.1 ms for one JSON
string (`benchmarks/ingest_cpu.py`). SQLite binds `?` in C, so it keeps `VALUES (…), (…)`; so
does a single row everywhere.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import uuid

from django.db import connection
from django.db.models import JSONField
from psycopg.types.json import Json, Jsonb


def _plain(value):
    """What `json.dumps` cannot write itself, as text the column's cast reads back exactly."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()  # microseconds kept (DjangoJSONEncoder cuts them)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, Json | Jsonb):  # a JSONField's prepared value
        return value.obj
    raise TypeError(f"{type(value).__name__} in a batched row")


def rows(fields, values: list[list]) -> tuple[str, list]:
    """`VALUES …` or, on PostgreSQL with several rows, `SELECT … FROM json_array_elements(%s)`."""
    if connection.vendor != "postgresql" or len(values) < 2:
        row = f"({', '.join(['%s'] * len(fields))})"
        return f"VALUES {', '.join([row] * len(values))}", [v for r in values for v in r]
    return (
        _json_select(tuple(fields)),
        [json.dumps(values, default=_plain, ensure_ascii=False, allow_nan=False)],
    )


@functools.lru_cache(maxsize=256)
def _json_select(fields: tuple) -> str:
    """The `SELECT` reading one JSON array per row, cast per column (one text per set of
    fields: the casts are looked up once, not for every batch)."""
    columns = ", ".join(
        f"(r->{i})::jsonb"
        if isinstance(f, JSONField)
        else f"(r->>{i})::{f.cast_db_type(connection)}"
        for i, f in enumerate(fields)
    )
    return f"SELECT {columns} FROM json_array_elements(%s::json) AS r"
