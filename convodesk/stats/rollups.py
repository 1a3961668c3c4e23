"""Statistics rollups, kept exact inside the services' transaction.

A conversation contributes to exactly one tier-0 `Rollup` row (its key: UTC hour of `started_at`,
open channel, channel kind, responsible employee, type, current status), to that key's projection
in every other tier (tiers.py), and to at most one `RollupBucket` per time metric in each tier
that keeps buckets. Each service transaction collects its moves in one `Deltas` (subtract the
old contribution, add the new one) and writes them at its end: one upsert statement per table
for all the changes of the transaction, rows in a fixed key order (so two transactions never
wait on each other in opposite orders).

The per-employee figures go to `Participation` (one row per span of 1, 4 and 16 days): the
services report each participant row's change and each reply period in the same `Deltas`.

Rows written without the services (the data generator's bulk inserts, imports) are brought in by
`rebuild(start, end)`, which recomputes whole 16-day spans: tier 0 from the conversation table, the
other tiers as GROUP BYs over tier 0, the participation from the participant and reply-period
rows. Run it while nothing else writes conversations of that range.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import operator
import os
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, connections, transaction
from django.db.models import Func, IntegerField, Max, Min, Q
from django.utils import timezone

from convodesk import rowsource
from convodesk.conversations import lifecycle

from . import tiers
from .histogram import EDGES, bucket_of
from .models import METRICS, LabelRollup, Participation, Rollup, RollupBucket

COLUMNS = (
    "n",
    "returning",
    "likes",
    "dislikes",
    "supervisor_rating_n",
    "supervisor_rating_sum",
    "reply_n",
    "reply_sum",
    "reply_bh_sum",
    "sla_met",
    "sla_breaches",
    *[f"{m}_{s}" for m in METRICS for s in ("n", "sum")],
)
KEY = ("tier", "period", "line_id", "channel", "responsible_key", "type", "status")
# The per-tag and per-close-reason rows: tier 0's key with the label in front of the open channel.
LABEL_KEY = (
    "period",
    "kind",
    "label_id",
    "line_id",
    "channel",
    "responsible_key",
    "type",
    "status",
)
PARTICIPATION_KEY = ("span", "period", "line_id", "channel", "type", "closed", "employee_id")
# Before stats.0013 Participation kept neither the open channel nor the closed state (a migration
# of that time rebuilds it with this key).
PARTICIPATION_KEY_BEFORE_LINES = ("span", "period", "channel", "type", "employee_id")
PARTICIPATION_SPANS = tiers.SPANS[1:]
PARTICIPATION_COLUMNS = (
    "assigned",
    "taken",
    "skipped",
    "answered",
    "reply_n",
    "reply_sum",
    "reply_bh_sum",
)
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


floor_hour = tiers.floor_hour


def slot_start(slot: int, size: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(slot) * size, tz=dt.UTC)


@dataclass
class Contribution:
    key: tuple
    values: dict[str, int] = field(default_factory=dict)
    buckets: dict[int, int] = field(default_factory=dict)  # metric index -> bucket
    labels: tuple[tuple[str, int], ...] = ()  # ("tag", id) per tag, ("reason", id)


def labels_of(conv) -> tuple[tuple[str, int], ...]:
    """The conversation's tags and close reason as LabelRollup keys (read from the row itself:
    `tag_ids` repeats its tag links, so no query)."""
    labels = tuple((LabelRollup.KIND_TAG, int(t)) for t in conv.tag_ids or ())
    if conv.close_reason_id:
        labels += ((LabelRollup.KIND_REASON, conv.close_reason_id),)
    return labels


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
    labels=(),
    business_and_targets=(0, 0, 0),
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
        "reply_bh_sum": business_and_targets[0] or 0,
        "sla_met": business_and_targets[1] or 0,
        "sla_breaches": business_and_targets[2] or 0,
    }
    buckets = {}
    for index, name in enumerate(METRICS):
        value = metric_values.get(name)
        values[f"{name}_n"] = int(value is not None)
        values[f"{name}_sum"] = value or 0
        if value is not None:
            buckets[index] = bucket_of(value)
    return Contribution(key, values, buckets, tuple(labels))


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
        labels_of(conv),
        (conv.reply_time_total_bh, conv.sla_met, conv.sla_breaches),
    )


def of_state(state: lifecycle.State, conv, line_id: int) -> Contribution:
    """The contribution a conversation had before a transition (`state` is the lifecycle's before).
    Its tags and close reason are the row's: a transition changes neither (the services move
    those changes on their own)."""
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
        labels_of(conv),
        (state.reply_time_total_bh, state.sla_met, state.sla_breaches),
    )


# Shards ----------------------------------------------------------------------------------

# Rows per key that concurrent writers spread over. Every transaction of a channel moves that
# channel's coarse rows (one 16-day row per channel kind, the hour's row of its queue), and an
# upsert holds its row locked until commit: with one row per key, the writers of one channel
# queue behind each other. Each database connection (a thread of a worker) writes its own shard;
# a key's figures are the sum over its rows, which every read already takes (GROUP BY / SUM).
# SQLite has one writer at a time anyway: one shard. (benchmarks/hot_rows.py measured this
# against append-only deltas folded later; see BENCHMARKS.md, issue 17.)
SHARDS = {"postgresql": 8}
_next_shard = itertools.count(os.getpid())


def shard() -> int:
    """The rollup shard this thread's database connection writes (0 on SQLite)."""
    count = SHARDS.get(connection.vendor, 1)
    if count == 1:
        return 0
    value = getattr(connection, "convodesk_shard", None)
    if value is None:
        value = connection.convodesk_shard = next(_next_shard) % count
    return value


# Folding old periods' shards ---------------------------------------------------------

# The keys each table's rows add up under (attribute names, without the shard).
FOLDED = (
    (Rollup, KEY),
    (RollupBucket, (*KEY, "metric", "bucket")),
    (Participation, PARTICIPATION_KEY),
    (LabelRollup, LABEL_KEY),
)
FOLD_ROWS = 1000  # shard rows per table and transaction
FOLD_SETTLE = dt.timedelta(hours=1)  # a period is folded this long after it ended


def _closed_periods(model, now: dt.datetime) -> Q:
    """The rows of `model` whose period ended at least FOLD_SETTLE before `now`."""
    moment = now - FOLD_SETTLE
    if model is LabelRollup:  # hourly, as tier 0
        return Q(period__lt=tiers.floor_span(moment, 1))
    if model is Participation:
        spans = {span: [Q(span=span)] for span in PARTICIPATION_SPANS}
    else:
        spans = defaultdict(list)
        for tier in tiers.TIERS:
            spans[tier.span].append(Q(tier=tier.code))
    return functools.reduce(
        operator.or_,
        (
            functools.reduce(operator.or_, which) & Q(period__lt=tiers.floor_span(moment, span))
            for span, which in spans.items()
        ),
    )


def fold_shards(now: dt.datetime | None = None, limit: int = FOLD_ROWS) -> int:
    """Fold the shards of closed periods into shard 0 (a timers step): per table, in one short
    transaction, at most `limit` rows of shards 1-7 whose period ended (FOLD_SETTLE ago) are
    locked as they are read (rows a writer holds are skipped: the next sweep takes them),
    deleted, and their sums per key added to the key's shard-0 row by the same upsert the
    services write with (keys in the same order, so the two never wait on each other in
    opposite orders). Returns the number of shard rows removed.

    Exact and idempotent: what is deleted is what was read under the lock, and it is added
    to shard 0 in the same transaction. A later write to an old period (a conversation that
    started then changes now) adds to its writer's shard again, a row the next fold takes;
    until then the key's figures are the sum over its rows, as every read takes them. On
    SQLite every row is shard 0 already (one writer: SHARDS)."""
    if SHARDS.get(connection.vendor, 1) == 1:
        return 0  # nothing to fold, and no write transaction every sweep (SQLite's one lock)
    now = now or timezone.now()
    removed = 0
    for model, key in FOLDED:
        measures = [
            f.attname
            for f in model._meta.concrete_fields
            if not f.primary_key and f.attname not in (*key, "shard")
        ]
        with transaction.atomic():
            rows = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(_closed_periods(model, now), shard__gt=0)
                .order_by()
                .values_list("pk", *key, *measures)[:limit]
            )
            if not rows:
                continue
            sums: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for row in rows:
                values = sums[(*row[1 : 1 + len(key)], 0)]
                for name, value in zip(measures, row[1 + len(key) :], strict=True):
                    values[name] += value
            model.objects.filter(pk__in=[row[0] for row in rows]).delete()
            deltas = [(k, {c: v for c, v in d.items() if v}) for k, d in sums.items()]
            deltas = sorted([(k, d) for k, d in deltas if d], key=_sort_key)
            if deltas:
                with connection.cursor() as cursor:
                    cursor.execute(*upsert_sql(model, (*key, "shard"), deltas))
            removed += len(rows)
    return removed


# Deltas of one transaction -----------------------------------------------------------


class Deltas:
    """The rollup and participation changes of one service transaction, written at its end.

    `move` and `participation` only add up in memory; `write` sends one multi-row upsert per
    table (Rollup, RollupBucket, Participation), rows in a fixed key order so two transactions
    never wait on each other in opposite orders. Moves that cancel out write nothing.
    """

    def __init__(self):
        self.rows: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.buckets: dict[tuple, int] = defaultdict(int)
        self.people: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.labels: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def move(self, old: Contribution | None, new: Contribution | None) -> None:
        """Move a conversation's contribution from its old key to its new one, in every tier."""
        if old is not None and new is not None and old.key == new.key and old.labels == new.labels:
            self._change(new, old)
            return
        for contribution, sign in ((old, -1), (new, 1)):
            if contribution is None:
                continue
            for tier in tiers.TIERS:
                key = tiers.project(tier, contribution.key)
                if tier.rows:
                    row = self.rows[key]
                    for name, value in contribution.values.items():
                        row[name] += sign * value
                if tier.buckets:
                    for metric, bucket in contribution.buckets.items():
                        self.buckets[(*key, metric, bucket)] += sign
            hour, *rest = contribution.key
            for kind, label_id in contribution.labels:
                row = self.labels[(hour, kind, label_id, *rest)]
                for name, value in contribution.values.items():
                    row[name] += sign * value

    def _change(self, new: Contribution, old: Contribution) -> None:
        """`move` of a conversation whose keys stay (a client's next message, a reply): only
        the measures and buckets that changed, added once per tier instead of the whole
        contribution taken out and put back (which adds the same sums and cancels out)."""
        before = old.values
        changed = {k: v - before.get(k, 0) for k, v in new.values.items() if v != before.get(k, 0)}
        changed.update({k: -v for k, v in before.items() if v and k not in new.values})
        moved = [
            (metric, bucket, new.buckets.get(metric))
            for metric, bucket in old.buckets.items()
            if new.buckets.get(metric) != bucket
        ] + [
            (metric, None, bucket)
            for metric, bucket in new.buckets.items()
            if metric not in old.buckets
        ]
        if not changed and not moved:
            return
        for tier in tiers.TIERS:
            key = tiers.project(tier, new.key)
            if changed and tier.rows:
                row = self.rows[key]
                for name, value in changed.items():
                    row[name] += value
            if tier.buckets:
                for metric, was, now in moved:
                    if was is not None:
                        self.buckets[(*key, metric, was)] -= 1
                    if now is not None:
                        self.buckets[(*key, metric, now)] += 1
        if changed:
            hour, *rest = new.key
            for kind, label_id in new.labels:
                row = self.labels[(hour, kind, label_id, *rest)]
                for name, value in changed.items():
                    row[name] += value

    def participation(self, where: tuple, deltas: dict[int, dict[str, int]]) -> None:
        """Add employees' changed figures ({employee: {"taken": 1, ...}}) to the spans of a
        conversation counted under `where` (`participation_where`)."""
        started_at, *rest = where
        for span in PARTICIPATION_SPANS:
            period = tiers.floor_span(started_at, span)
            for employee, delta in deltas.items():
                row = self.people[(span, period, *rest, employee)]
                for name, value in delta.items():
                    row[name] += value

    def statements(self) -> list[tuple[str, list]]:
        """The upserts that write these deltas (one per table that changes), then forget them."""
        statements = []
        for model, key_fields, deltas in (
            (Rollup, KEY, self.rows),
            (
                RollupBucket,
                (*KEY, "metric", "bucket"),
                {k: {"n": v} for k, v in self.buckets.items()},
            ),
            (Participation, PARTICIPATION_KEY, self.people),
            (LabelRollup, LABEL_KEY, self.labels),
        ):
            part = shard()
            rows = [((*k, part), {c: v for c, v in d.items() if v}) for k, d in deltas.items()]
            rows = [(k, d) for k, d in rows if d]
            if rows:
                statements.append(
                    upsert_sql(model, (*key_fields, "shard"), sorted(rows, key=_sort_key))
                )
        self.__init__()
        return statements

    def write(self) -> None:
        with connection.cursor() as cursor:
            for sql, params in self.statements():
                cursor.execute(sql, params)


def apply(old: Contribution | None, new: Contribution | None) -> None:
    """Move one conversation's contribution and write it at once (outside a service's batch)."""
    deltas = Deltas()
    deltas.move(old, new)
    deltas.write()


def participation_where(conversation, line_id: int | None = None, closed: bool | None = None):
    """The part of a Participation key a conversation decides: (start, open channel, channel
    kind, type, closed), as it is now or with the line and closed state it had."""
    return (
        conversation.started_at,
        conversation.line_id if line_id is None else line_id,
        conversation.channel,
        conversation.type,
        conversation.status >= lifecycle.OPEN_BELOW if closed is None else closed,
    )


def participant_figures(participant) -> dict[str, int]:
    """A participant row's part in the per-employee figures (see Participation)."""
    return {
        "assigned": int(bool(participant.ever_offered)),
        "taken": int(bool(participant.took)),
        "skipped": int((participant.skip_count or 0) > 0),
        "answered": int(bool(participant.wrote)),
    }


def _sort_key(item) -> str:
    """The order in which every writer sends rows (the services' batches, the timers' fold), so
    two transactions never wait on each other in opposite orders. Any fixed total order does;
    this one is each key part's text (a choice's value, not its member's name: `str` of a
    Conversation.Type is "incoming", as read back from the table)."""
    return "\x00".join(map(str, item[0]))


@functools.lru_cache(maxsize=256)
def _upsert_parts(model, key_fields: tuple[str, ...], measures: tuple[str, ...]):
    """The fields and the fixed text around the rows of `upsert_sql` (one per set of columns)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = (*key_fields, *measures)
    sets = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in measures)
    return (
        [model._meta.get_field(c) for c in columns],
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)})",
        f"ON CONFLICT ({', '.join(quote(c) for c in key_fields)}) DO UPDATE SET {sets}",
    )


def upsert_sql(model, key_fields: tuple[str, ...], deltas: list[tuple[tuple, dict[str, int]]]):
    """Add each (key, delta) to its row, inserting rows that do not exist yet, in one statement.

    Every row of the statement names the same measure columns (the union of the deltas');
    a measure a delta does not touch adds 0, which is also the column's value on insert.
    Returns (sql, params).
    """
    adapt = connection.ops.adapt_datetimefield_value
    measures = tuple(sorted({name for _key, delta in deltas for name in delta}))
    fields, head, tail = _upsert_parts(model, tuple(key_fields), measures)
    adapted: dict[dt.datetime, object] = {}  # the rows of a batch share a few periods
    values = []
    for key, delta in deltas:
        row = []
        for v in key:
            if isinstance(v, dt.datetime):
                if v not in adapted:
                    adapted[v] = adapt(v)
                v = adapted[v]
            row.append(v)
        row.extend([delta.get(name, 0) for name in measures])
        values.append(row)
    source, params = rowsource.rows(fields, values)
    return f"{head} {source} {tail}", params


# Rebuild ---------------------------------------------------------------------------------


def rebuild(
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    chunk: dt.timedelta = dt.timedelta(hours=tiers.WIDEST),
) -> int:
    """Recompute every tier and the participation of [start, end), widened to whole widest spans
    (16 UTC days, aligned to the epoch) so that every span of every tier is recomputed whole.

    Returns the number of conversations rolled up. Idempotent: it replaces the range's rows.
    Run it while nothing else writes conversations of that range.
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
    start = tiers.floor_span(start, tiers.WIDEST)
    end = tiers.ceil_span(end, tiers.WIDEST)
    total = 0
    cursor_at = start
    while cursor_at < end:
        stop = min(end, cursor_at + chunk)
        with transaction.atomic():
            _delete(cursor_at, stop)
            total += _rebuild_range(cursor_at, stop)
            _project(connection, cursor_at, stop)
            _participation(connection, cursor_at, stop)
        cursor_at = stop
    return total


def rebuild_derived(
    using: str = "default", columns: tuple[str, ...] = COLUMNS, by_line: bool = True
) -> None:
    """Recompute the tiers above tier 0 and the participation everywhere (a migration's step;
    `columns` and `by_line` say what the tables have at that migration)."""
    conn = connections[using]
    table = conn.ops.quote_name
    with conn.cursor() as cursor:
        for model in (Rollup, RollupBucket):
            cursor.execute(f"DELETE FROM {table(model._meta.db_table)} WHERE {table('tier')} <> 0")
        cursor.execute(f"DELETE FROM {table(Participation._meta.db_table)}")
    _project(conn, None, None, columns)
    # Before the business-hours columns exist (an earlier migration's step), without them.
    _participation(conn, None, None, business="reply_bh_sum" in columns, by_line=by_line)


def fill_tiers(codes: tuple[int, ...], using: str = "default") -> None:
    """Project these tiers afresh from the narrower ones (a migration's step for new tiers),
    one widest span at a time: one GROUP BY over every tier-0 row of a large installation
    sorted tens of millions of rows on disk."""
    conn = connections[using]
    table = conn.ops.quote_name
    listed = ", ".join(str(int(code)) for code in codes)
    with conn.cursor() as cursor:
        for model in (Rollup, RollupBucket):
            cursor.execute(
                f"DELETE FROM {table(model._meta.db_table)} WHERE {table('tier')} IN ({listed})"
            )
    bounds = (
        RollupBucket.objects.using(using)
        .filter(tier=tiers.FULL.code)
        .aggregate(first=Min("period"), last=Max("period"))
    )
    if bounds["first"] is None:
        return
    with transaction.atomic(using=using):
        if conn.vendor == "postgresql":
            # Each span's rows through the unique key's (tier, period) range: on a table of
            # tens of millions of rows the planner chose a whole-table scan for every span.
            with conn.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        start = tiers.floor_span(bounds["first"], tiers.WIDEST)
        while start <= bounds["last"]:
            stop = start + dt.timedelta(hours=tiers.WIDEST)
            _project(conn, start, stop, only=frozenset(codes))
            start = stop
    if conn.vendor == "postgresql":
        # The planner's picture of the new rows: without it, it read a department's histograms
        # of a month through the open-channel index, every employee's rows of those tiers.
        with conn.cursor() as cursor:
            cursor.execute(f"ANALYZE {table(RollupBucket._meta.db_table)}")


def _delete(start, end) -> None:
    for model in (Rollup, RollupBucket, Participation, LabelRollup):
        rows = model.objects.all()
        if start is not None:
            rows = rows.filter(period__gte=start)
        if end is not None:
            rows = rows.filter(period__lt=end)
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


def _hour_sql(conn, column: str) -> str:
    if conn.vendor == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {column})"


def _span_sql(conn, column: str, span: int) -> str:
    """`tiers.floor_span(column, span)` as SQL."""
    if span == 1:
        return _hour_sql(conn, column)
    size = span * tiers.HOUR
    if conn.vendor == "postgresql":
        return f"to_timestamp(floor(extract(epoch from {column}) / {size}) * {size})"
    return (
        f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', "
        f"(CAST(strftime('%%s', {column}) AS INTEGER) / {size}) * {size}, 'unixepoch')"
    )


def _range_sql(conn, column: str, start, end) -> tuple[str, list]:
    where, params = ["1 = 1"], []
    if start is not None:
        where.append(f"{column} >= %s")
        params.append(conn.ops.adapt_datetimefield_value(start))
    if end is not None:
        where.append(f"{column} < %s")
        params.append(conn.ops.adapt_datetimefield_value(end))
    return " AND ".join(where), params


def _rebuild_range(start, end) -> int:
    """Tier 0 from the conversations: one INSERT … SELECT for the rows and one per metric for the buckets."""
    from convodesk.conversations.models import Conversation

    q = connection.ops.quote_name
    source = q(Conversation._meta.db_table)
    key_sql = (
        f"0, {_hour_sql(connection, q('started_at'))}, {q('line_id')}, {q('channel')}, "
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
        f"COALESCE(SUM({q('reply_time_total_bh')}), 0)",
        f"COALESCE(SUM({q('sla_met')}), 0)",
        f"COALESCE(SUM({q('sla_breaches')}), 0)",
    ]
    for m in METRICS:
        measures += [f"COUNT({q(m)})", f"COALESCE(SUM({q(m)}), 0)"]
    where, params = _range_sql(connection, q("started_at"), start, end)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(Rollup._meta.db_table)} ({key_columns}, {', '.join(q(c) for c in COLUMNS)}) "
            f"SELECT {key_sql}, {', '.join(measures)} FROM {source} WHERE {where} "
            "GROUP BY 2, 3, 4, 5, 6, 7",
            params,
        )
        for index, m in enumerate(METRICS):
            cursor.execute(
                f"INSERT INTO {q(RollupBucket._meta.db_table)} ({key_columns}, {q('metric')}, {q('bucket')}, {q('n')}) "
                f"SELECT {key_sql}, {index}, {bucket_sql(q(m))}, COUNT(*) FROM {source} "
                f"WHERE {where} AND {q(m)} IS NOT NULL GROUP BY 2, 3, 4, 5, 6, 7, 9",
                params,
            )
        _rebuild_labels(cursor, measures, where, params)
        cursor.execute(f"SELECT COUNT(*) FROM {source} WHERE {where}", params)
        return cursor.fetchone()[0]


def _rebuild_labels(cursor, measures, where, params) -> None:
    """The per-tag rows (through the tag links) and the per-close-reason rows of the range."""
    from convodesk.conversations.models import Conversation, ConversationTag

    q = connection.ops.quote_name
    source = q(Conversation._meta.db_table)
    links = q(ConversationTag._meta.db_table)
    table = q(LabelRollup._meta.db_table)
    columns = ", ".join(q(c) for c in (*LABEL_KEY, *COLUMNS))
    rest = (
        f"{q('line_id')}, {q('channel')}, COALESCE({q('responsible_id')}, 0), {q('type')}, "
        f"{q('status')}"
    )
    hour = _hour_sql(connection, q("started_at"))
    for kind, label, joined, condition in (
        (
            LabelRollup.KIND_TAG,
            q("label_ref"),
            # A derived table so the conversation's columns keep their plain names.
            f"(SELECT c.*, t.{q('tag_id')} AS {q('label_ref')} FROM {source} c "
            f"JOIN {links} t ON t.{q('conversation_id')} = c.{q('id')}) x",
            "",
        ),
        (
            LabelRollup.KIND_REASON,
            q("close_reason_id"),
            source,
            f" AND {q('close_reason_id')} IS NOT NULL",
        ),
    ):
        cursor.execute(
            f"INSERT INTO {table} ({columns}) "
            f"SELECT {hour}, '{kind}', {label}, {rest}, {', '.join(measures)} FROM {joined} "
            f"WHERE {where}{condition} GROUP BY 1, 3, 4, 5, 6, 7, 8",
            params,
        )


def _project(conn, start, end, columns: tuple[str, ...] = COLUMNS, only=None) -> None:
    """The tiers above 0 as GROUP BYs over rows of [start, end) (whole widest spans): each from
    the same projection one span narrower when there is one (a 16-day span from four 4-day
    spans), else from tier 0. `only`: these tier codes alone (a new tier's first fill)."""
    q = conn.ops.quote_name
    for model, extra, measures in (
        (Rollup, (), columns),
        (RollupBucket, ("metric", "bucket"), ("n",)),
    ):
        table = q(model._meta.db_table)
        where, params = _range_sql(conn, q("period"), start, end)
        for tier in sorted(tiers.TIERS, key=lambda t: t.span):
            if tier is tiers.FULL or not (tier.buckets if model is RollupBucket else tier.rows):
                continue
            if only is not None and tier.code not in only:
                continue
            source = tiers.source_of(tier)
            key = [
                str(tier.code),
                _span_sql(conn, q("period"), tier.span),
                q("line_id") if "line" in tier.dims else str(tiers.SENTINEL["line_id"]),
                q("channel") if "channel" in tier.dims else "''",
                q("responsible_key")
                if "responsible" in tier.dims
                else str(tiers.SENTINEL["responsible_key"]),
                q("type"),
                q("status") if tier.exact_status else _fold_sql(q("status")),
                *(q(c) for c in extra),
            ]
            grouped = [k for k in key if not k.lstrip("-").isdigit() and k != "''"]
            columns = ", ".join(q(c) for c in (*KEY, *extra, *measures))
            sums = ", ".join(f"SUM({q(c)})" for c in measures)
            with conn.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {', '.join(key)}, {sums} FROM {table} "
                    f"WHERE {q('tier')} = {source.code} AND {where} GROUP BY {', '.join(grouped)}",
                    params,
                )


def _fold_sql(column: str) -> str:
    """`tiers.fold_status(column)` as SQL."""
    status = lifecycle.Status
    kept = f"{int(status.SPAM)}, {int(status.DUPLICATE)}"
    return (
        f"CASE WHEN {column} IN ({kept}) THEN {column} "
        f"WHEN {column} >= {int(status.CLOSED)} THEN {int(status.CLOSED)} "
        f"WHEN {column} >= {int(status.AGENT_REPLIED)} THEN {int(status.AGENT_REPLIED)} "
        f"ELSE {int(status.NEW)} END"
    )


def _participation(conn, start, end, business: bool = True, by_line: bool = True) -> None:
    """Participation of the conversations started in [start, end) (whole widest spans): one-day
    spans from the participant and reply-period rows, the wider spans from the one-day rows.
    `by_line`: the table has the open channel and closed state in its key (stats.0013)."""
    from convodesk.conversations.models import (
        Conversation,
        ConversationParticipant,
        ReplyPeriod,
    )

    q = conn.ops.quote_name
    conv = q(Conversation._meta.db_table)
    table = q(Participation._meta.db_table)
    narrowest, *wider = PARTICIPATION_SPANS
    day = _span_sql(conn, f"c.{q('started_at')}", narrowest)
    where, params = _range_sql(conn, f"c.{q('started_at')}", start, end)

    business_seconds = f"COALESCE(r.{q('business_seconds')}, 0)" if business else "0"
    key = PARTICIPATION_KEY if by_line else PARTICIPATION_KEY_BEFORE_LINES
    # The conversation's part of the key, as selected and as grouped by.
    parts = {
        "line_id": f"c.{q('line_id')}",
        "channel": f"c.{q('channel')}",
        "type": f"c.{q('type')}",
        "closed": f"c.{q('status')} >= {int(lifecycle.OPEN_BELOW)}",
    }
    chosen = [name for name in key if name in parts]
    selected = ", ".join(f"{parts[name]} AS k_{name}" for name in chosen)
    grouped = ", ".join(f"k_{name}" for name in chosen)

    def flag(column):
        return f"CASE WHEN p.{q(column)} THEN 1 ELSE 0 END"

    participants = (
        f"SELECT {day} AS d, {selected}, p.{q('employee_id')} AS e, "
        f"{flag('ever_offered')} AS a, {flag('took')} AS t, "
        f"CASE WHEN p.{q('skip_count')} > 0 THEN 1 ELSE 0 END AS s, {flag('wrote')} AS w, "
        "0 AS rn, 0 AS rs, 0 AS rb "
        f"FROM {q(ConversationParticipant._meta.db_table)} p JOIN {conv} c ON c.{q('id')} = p.{q('conversation_id')} "
        f"WHERE {where}"
    )
    periods = (
        f"SELECT {day}, {selected}, r.{q('employee_id')}, 0, 0, 0, 0, 1, "
        f"r.{q('seconds')}, {business_seconds} "
        f"FROM {q(ReplyPeriod._meta.db_table)} r JOIN {conv} c ON c.{q('id')} = r.{q('conversation_id')} "
        f"WHERE r.{q('employee_id')} IS NOT NULL AND {where}"
    )
    measures = PARTICIPATION_COLUMNS if business else PARTICIPATION_COLUMNS[:-1]
    columns = ", ".join(q(c) for c in (*key, *measures))
    sums = ", ".join(f"SUM({q(c)})" for c in measures)
    # The key's columns in the key's order: span, period, then each named part, the employee.
    inner = ", ".join("d" if c == "period" else f"k_{c}" for c in key[1:-1])
    with conn.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) "
            f"SELECT {narrowest}, {inner}, e, SUM(a), SUM(t), SUM(s), SUM(w), SUM(rn), SUM(rs)"
            f"{', SUM(rb)' if business else ''} "
            f"FROM ({participants} UNION ALL {periods}) x GROUP BY d, {grouped}, e",
            params + params,
        )
        where, params = _range_sql(conn, q("period"), start, end)
        for span in wider:
            period = _span_sql(conn, q("period"), span)
            kept = ", ".join(q(c) for c in key[2:])
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT {span}, {period}, {kept}, {sums} "
                f"FROM {table} WHERE {q('span')} = {narrowest} AND {where} "
                f"GROUP BY {period}, {kept}",
                params,
            )
