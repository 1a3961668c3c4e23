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
from django.db.models import Count, F, Func, IntegerField, Max, Min

from convodesk.conversations import lifecycle

from .histogram import bucket_of
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
    bucket_deltas = [(k, v) for k, v in buckets.items() if v]
    for key, delta in sorted(row_deltas, key=_sort_key):
        _upsert(HourlyRollup, KEY, key, delta)
    for key, delta in sorted(bucket_deltas, key=_sort_key):
        _upsert(RollupBucket, (*KEY, "metric", "bucket"), key, {"n": delta})


def _sort_key(item):
    key = item[0]
    return tuple(str(part) if not isinstance(part, int) else f"{part:020d}" for part in key)


def _upsert(model, key_fields: tuple[str, ...], key: tuple, delta: dict[str, int]) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    quote = connection.ops.quote_name
    columns = [*key_fields, *delta]
    params = [
        connection.ops.adapt_datetimefield_value(v) if isinstance(v, dt.datetime) else v
        for v in (*key, *delta.values())
    ]
    sets = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in delta)
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(c) for c in key_fields)}) DO UPDATE SET {sets}"
    )
    # Columns absent from the statement start at their database default of 0 on insert.
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


def _rebuild_range(start, end) -> int:
    from convodesk.conversations.models import Conversation

    source = Conversation.objects.filter(started_at__gte=start, started_at__lt=end).order_by()
    dims = {
        "slot": EpochSlot("started_at", HOUR),
        "line_": F("line_id"),
        "channel_": F("channel"),
        "responsible_id_": F("responsible_id"),
        "type_": F("type"),
        "status_": F("status"),
    }
    from .sources import DirectSource

    total = 0
    objects = []
    for row in source.values(**dims).annotate(**DirectSource.measures()):
        total += row["x_n"]
        objects.append(
            HourlyRollup(
                hour=slot_start(row["slot"], HOUR),
                line_id=row["line_"],
                channel=row["channel_"],
                responsible_key=row["responsible_id_"] or 0,
                type=row["type_"],
                status=row["status_"],
                **{c: row[f"x_{c}"] or 0 for c in COLUMNS},
            )
        )
    HourlyRollup.objects.bulk_create(objects, batch_size=2000)
    buckets: dict[tuple, int] = defaultdict(int)
    for index, metric in enumerate(METRICS):
        grouped = (
            source.filter(**{f"{metric}__isnull": False})
            .values(**dims, value=F(metric))
            .annotate(c=Count("pk"))
        )
        for row in grouped:
            key = (
                row["slot"],
                row["line_"],
                row["channel_"],
                row["responsible_id_"] or 0,
                row["type_"],
                row["status_"],
                index,
                bucket_of(row["value"]),
            )
            buckets[key] += row["c"]
    RollupBucket.objects.bulk_create(
        (
            RollupBucket(
                hour=slot_start(k[0], HOUR),
                line_id=k[1],
                channel=k[2],
                responsible_key=k[3],
                type=k[4],
                status=k[5],
                metric=k[6],
                bucket=k[7],
                n=n,
            )
            for k, n in buckets.items()
        ),
        batch_size=5000,
    )
    return total
