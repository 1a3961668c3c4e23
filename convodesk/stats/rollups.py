"""Hourly rollups, kept exact inside the services' transaction.

A conversation contributes to exactly one `HourlyRollup` row (its key: UTC hour of `started_at`,
open channel, channel kind, responsible employee, type, current status) and to at most one
`RollupBucket` per time metric. `conversations.hooks` calls `conversation_created` and
`conversation_changed`; each subtracts the old contribution and adds the new one with upserts in
a fixed key order (so two transactions never wait on each other in opposite orders).

Rows written without the services (the data generator's bulk inserts, imports) are brought in by
`rebuild(start, end)`, which recomputes a range of hours from the conversation table; run it while
nothing else writes conversations of that range.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Func, IntegerField, Max, Min

from convodesk.conversations import lifecycle

from .histogram import EDGES, bucket_of
from .models import METRICS, HourlyRollup, RollupBucket

COLUMNS = (
    "n",
    "returning",
    "likes",
    "dislikes",
    "supervisor_rating_n",
    "supervisor_rating_sum",
    "reply_n",
    "reply_sum",
    *[f"{m}_{s}" for m in METRICS for s in ("n", "sum")],
)
KEY = ("hour", "line_id", "channel", "responsible_key", "type", "status")
HOUR = 3600


class EpochSlot(Func):
    """floor(epoch seconds of a UTC datetime / size): an integer slot, computed natively on both engines."""

    output_field = IntegerField()

    def __init__(self, expression, size: int, **extra):
        self.size = int(size)
        super().__init__(expression, **extra)

    def as_sql(self, compiler, conn, **extra):
        inner, params = compiler.compile(self.source_expressions[0])
        if conn.vendor == "postgresql":
            return f"FLOOR(EXTRACT(EPOCH FROM {inner}) / {self.size})::bigint", params
        return f"(CAST(strftime('%%s', {inner}) AS INTEGER) / {self.size})", params


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def slot_start(slot: int, size: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(slot) * size, tz=dt.UTC)


@dataclass
class Contribution:
    key: tuple
    values: dict[str, int] = field(default_factory=dict)
    buckets: dict[int, int] = field(default_factory=dict)  # metric index -> bucket


def _contribution(
    started_at,
    line_id,
    channel,
    responsible_id,
    type_,
    status,
    returning,
    client_rating,
    supervisor_rating,
    reply_count,
    reply_total,
    metric_values,
) -> Contribution:
    key = (floor_hour(started_at), line_id, channel, responsible_id or 0, type_, int(status))
    values = {
        "n": 1,
        "returning": int(bool(returning)),
        "likes": int(client_rating == 1),
        "dislikes": int(client_rating == -1),
        "supervisor_rating_n": int(supervisor_rating is not None),
        "supervisor_rating_sum": supervisor_rating or 0,
        "reply_n": reply_count or 0,
        "reply_sum": reply_total or 0,
    }
    buckets = {}
    for index, name in enumerate(METRICS):
        value = metric_values.get(name)
        values[f"{name}_n"] = int(value is not None)
        values[f"{name}_sum"] = value or 0
        if value is not None:
            buckets[index] = bucket_of(value)
    return Contribution(key, values, buckets)


def of_conversation(conv) -> Contribution:
    return _contribution(
        conv.started_at,
        conv.line_id,
        conv.channel,
        conv.responsible_id,
        conv.type,
        conv.status,
        conv.returning,
        conv.client_rating,
        conv.supervisor_rating,
        conv.reply_count,
        conv.reply_time_total,
        {m: getattr(conv, m) for m in METRICS},
    )


def of_state(state: lifecycle.State, conv, line_id: int) -> Contribution:
    """The contribution a conversation had before a transition (`state` is the lifecycle's before)."""
    return _contribution(
        state.started_at,
        line_id,
        conv.channel,
        state.responsible,
        state.type,
        state.status,
        conv.returning,
        state.client_rating,
        state.supervisor_rating,
        state.reply_count,
        state.reply_time_total,
        lifecycle.metrics(state),
    )


# Hooks ----------------------------------------------------------------------------------


def conversation_created(conversation) -> None:
    apply(None, of_conversation(conversation))


def conversation_changed(conversation, before: lifecycle.State, event) -> None:
    line_id = (event.payload or {}).get("from_line") or conversation.line_id
    apply(of_state(before, conversation, line_id), of_conversation(conversation))


def apply(old: Contribution | None, new: Contribution | None) -> None:
    rows: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    buckets: dict[tuple, int] = defaultdict(int)
    for contribution, sign in ((old, -1), (new, 1)):
        if contribution is None:
            continue
        for name, value in contribution.values.items():
            rows[contribution.key][name] += sign * value
        for metric, bucket in contribution.buckets.items():
            buckets[(*contribution.key, metric, bucket)] += sign
    row_deltas = [(k, {c: v for c, v in d.items() if v}) for k, d in rows.items()]
    row_deltas = [(k, d) for k, d in row_deltas if d]
    bucket_deltas = [(k, {"n": v}) for k, v in buckets.items() if v]
    # One statement per table, rows in a fixed key order (so two transactions never wait on
    # each other in opposite orders); nothing at all when the contribution did not change.
    if row_deltas:
        _upsert(HourlyRollup, KEY, sorted(row_deltas, key=_sort_key))
    if bucket_deltas:
        _upsert(RollupBucket, (*KEY, "metric", "bucket"), sorted(bucket_deltas, key=_sort_key))


def _sort_key(item):
    key = item[0]
    return tuple(str(part) if not isinstance(part, int) else f"{part:020d}" for part in key)


def _upsert(model, key_fields: tuple[str, ...], deltas: list[tuple[tuple, dict[str, int]]]) -> None:
    """Add each (key, delta) to its row, inserting rows that do not exist yet, in one statement.

    Every row of the statement names the same measure columns (the union of the deltas');
    a measure a delta does not touch adds 0, which is also the column's value on insert.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    quote = connection.ops.quote_name
    measures = sorted({name for _key, delta in deltas for name in delta})
    columns = [*key_fields, *measures]
    params = []
    for key, delta in deltas:
        params += [
            connection.ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime) else v
            for v in key
        ]
        params += [delta.get(name, 0) for name in measures]
    row = f"({', '.join(['%s'] * len(columns))})"
    sets = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in measures)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES {', '.join([row] * len(deltas))} "
        f"ON CONFLICT ({', '.join(quote(c) for c in key_fields)}) DO UPDATE SET {sets}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Rebuild ---------------------------------------------------------------------------------


def rebuild(
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    chunk: dt.timedelta = dt.timedelta(days=7),
) -> int:
    """Recompute the rollups of [start, end) (whole hours, widened outwards) from the conversations.

    Returns the number of conversations rolled up. Idempotent: it replaces the range's rows.
    """
    from convodesk.conversations.models import Conversation

    if start is None or end is None:
        bounds = Conversation.objects.order_by().aggregate(
            first=Min("started_at"),
            last=Max("started_at"),
        )
        if bounds["first"] is None:
            with transaction.atomic():
                _delete(start, end)
            return 0
        start = start or bounds["first"]
        end = end or bounds["last"] + dt.timedelta(hours=1)
    start = floor_hour(start)
    end = floor_hour(end) + (dt.timedelta(hours=1) if end != floor_hour(end) else dt.timedelta())
    total = 0
    cursor_at = start
    while cursor_at < end:
        stop = min(end, cursor_at + chunk)
        with transaction.atomic():
            _delete(cursor_at, stop)
            total += _rebuild_range(cursor_at, stop)
        cursor_at = stop
    return total


def _delete(start, end) -> None:
    for model in (HourlyRollup, RollupBucket):
        rows = model.objects.all()
        if start is not None:
            rows = rows.filter(hour__gte=floor_hour(start))
        if end is not None:
            rows = rows.filter(hour__lt=end)
        rows.delete()


def bucket_sql(column: str, low: int = 0, high: int = len(EDGES)) -> str:
    """`bucket_of(column)` as SQL: a balanced CASE over the edges (about 8 comparisons a row)."""
    if low == high:
        return str(low)
    mid = (low + high) // 2
    return (
        f"CASE WHEN {column} <= {EDGES[mid]} THEN {bucket_sql(column, low, mid)} "
        f"ELSE {bucket_sql(column, mid + 1, high)} END"
    )


def _hour_sql(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {column})"


def _rebuild_range(start, end) -> int:
    """One INSERT … SELECT for the rows and one per metric for the buckets: the database does the work."""
    from convodesk.conversations.models import Conversation

    q = connection.ops.quote_name
    source = q(Conversation._meta.db_table)
    key_sql = (
        f"{_hour_sql(q('started_at'))}, {q('line_id')}, {q('channel')}, "
        f"COALESCE({q('responsible_id')}, 0), {q('type')}, {q('status')}"
    )
    key_columns = ", ".join(q(c) for c in KEY)
    measures = [
        "COUNT(*)",
        f"SUM(CASE WHEN {q('returning')} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {q('client_rating')} = 1 THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN {q('client_rating')} = -1 THEN 1 ELSE 0 END)",
        f"COUNT({q('supervisor_rating')})",
        f"COALESCE(SUM({q('supervisor_rating')}), 0)",
        f"COALESCE(SUM({q('reply_count')}), 0)",
        f"COALESCE(SUM({q('reply_time_total')}), 0)",
    ]
    for m in METRICS:
        measures += [f"COUNT({q(m)})", f"COALESCE(SUM({q(m)}), 0)"]
    where = f"{q('started_at')} >= %s AND {q('started_at')} < %s"
    params = [connection.ops.adapt_datetimefield_value(v) for v in (start, end)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(HourlyRollup._meta.db_table)} ({key_columns}, {', '.join(q(c) for c in COLUMNS)}) "
            f"SELECT {key_sql}, {', '.join(measures)} FROM {source} WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6",
            params,
        )
        for index, m in enumerate(METRICS):
            cursor.execute(
                f"INSERT INTO {q(RollupBucket._meta.db_table)} ({key_columns}, {q('metric')}, {q('bucket')}, {q('n')}) "
                f"SELECT {key_sql}, {index}, {bucket_sql(q(m))}, COUNT(*) FROM {source} "
                f"WHERE {where} AND {q(m)} IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 8",
                params,
            )
        cursor.execute(f"SELECT COUNT(*) FROM {source} WHERE {where}", params)
        return cursor.fetchone()[0]
