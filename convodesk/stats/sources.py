"""Where statistics are read from: the rollup tiers or the conversation table itself.

Both sources answer the same four questions with rows of the same shape (the rollup columns,
grouped by the asked dimensions), so the KPI arithmetic in aggregates.py is shared and the two
paths can only differ where the data differs.
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Count, F, IntegerField, Q, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from convodesk.conversations import lifecycle
from convodesk.conversations.columns import INCOMING_METRIC_KEYS
from convodesk.conversations.models import Conversation, ConversationParticipant, ReplyPeriod

from . import tiers
from .histogram import bucket_of
from .models import (
    FIGURES,
    FIGURES_ROWS,
    METRICS,
    LabelRollup,
    Participation,
    Rollup,
    RollupBucket,
)
from .rollups import (
    COLUMNS,
    HOUR,
    PARTICIPATION_COLUMNS,
    PARTICIPATION_SPANS,
    EpochSlot,
    bucket_sql,
    floor_hour,
    slot_start,
)

CLOSED_CODES = (lifecycle.Status.CLOSED, lifecycle.Status.DUPLICATE, lifecycle.Status.AUTO_CLOSED)
SPAM = lifecycle.Status.SPAM
CLOSED, NEW = lifecycle.Status.CLOSED, lifecycle.Status.NEW
DIRECT_SLOT = 900  # quarter hours, so time zones with :30 and :45 offsets fold exactly
SLOT_MEASURES = ("n", "closed", "likes", "dislikes", "reply_n", "reply_sum")
OPEN_METRICS = INCOMING_METRIC_KEYS  # a conversation may still be waiting for these two


# Up to this many hidden conversations are passed to the participation reads as a list of ids
# (SplitSource.participation); more, as the query that finds them.
HIDDEN_LISTED = 5000
SCOPE_TABLE = "stats_scope"
OUTSIDE_TABLE = "stats_outside"


def sql_of(queryset) -> tuple[str, tuple] | None:
    """A queryset's SQL and parameters, or None when Django already knows it matches nothing.

    A filter such as a client name that no client has becomes `client_id IN ()`; Django answers
    such a queryset without a query and refuses to write SQL for it (EmptyResultSet).
    """
    try:
        return queryset.query.sql_with_params()
    except EmptyResultSet:
        return None


@contextmanager
def materialized(queryset, table_name: str = SCOPE_TABLE, figures: bool = False):
    """The filtered conversations' ids (or figures) written once into a temporary table, as a
    queryset.

    The direct path runs several aggregates over one filtered set; re-running an expensive
    filter (a client-name search, a metric range) in each cost ~1.2 s a statement at 1,000,000
    conversations. A temporary table is private to its connection. No transaction of its own:
    on SQLite that would take the database's write lock (transactions begin IMMEDIATE) and make
    writers wait for a read; writing the temporary table locks only the temporary schema.

    `figures`: the table also holds each conversation's figures (models.FIGURES), read from
    the conversation table in this one pass, and the queryset is of `ScopeRow`: a dozen
    aggregates then scan a narrow local table instead of each fetching the same hundreds of
    thousands of conversation rows by id again (an arbitrary filter at 10,000,000).
    """
    columns = ("id", *FIGURES) if figures else ("id",)
    compiled = sql_of(queryset.order_by().values_list(*columns))
    if compiled is None:  # a filter that matches nothing: the same columns, no rows
        compiled = sql_of(Conversation.objects.filter(pk__isnull=True).values_list(*columns))
    table, index = (connection.ops.quote_name(name) for name in (table_name, f"{table_name}_id"))
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        try:
            with _roomy(cursor):
                # CREATE TABLE AS rather than INSERT: PostgreSQL runs the SELECT of the former
                # with parallel workers, never that of an INSERT.
                cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {compiled[0]}", compiled[1])
            cursor.execute(f"CREATE UNIQUE INDEX {index} ON {table} (id)")
            if connection.vendor == "postgresql":  # its size, for the plans that join it
                cursor.execute(f"ANALYZE {table} (id)")
            if figures:
                yield FIGURES_ROWS[table_name].objects.all()
            else:
                yield Conversation.objects.filter(pk__in=RawSQL(f"SELECT id FROM {table}", ()))
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


@contextmanager
def _roomy(cursor):
    """On PostgreSQL, the statement inside gets settings.CONVODESK's STATS_WORK_MEM (a
    bitmap of a few hundred thousand rows stays exact instead of lossy) and
    STATS_PARALLEL_WORKERS, then the session's own settings back, also inside a caller's
    transaction (a released savepoint keeps SET LOCAL; a failed statement rolls the block
    back, and the settings with it)."""
    if connection.vendor != "postgresql":
        yield
        return
    options = settings.CONVODESK
    with transaction.atomic():
        cursor.execute(
            "SELECT set_config('work_mem', %s, true),"
            " set_config('max_parallel_workers_per_gather', %s, true)",
            [options["STATS_WORK_MEM"], str(options["STATS_PARALLEL_WORKERS"])],
        )
        yield
        cursor.execute("SET LOCAL work_mem TO DEFAULT")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")


class DirectSource:
    """Aggregates the (visible, filtered) conversations in as few scans as the breakdowns allow."""

    is_rollup = False
    slot_size = DIRECT_SLOT

    def __init__(self, queryset, few: bool = False):
        self.qs = queryset.order_by()
        # `few`: a set of a few conversations (SplitSource's X): one statement for every
        # histogram, grouped by all the metrics at once (at most a row per conversation).
        self.few = few

    @staticmethod
    def measures() -> dict:
        measures = {
            "x_n": Count("pk"),
            "x_returning": Count("pk", filter=Q(returning=True)),
            "x_likes": Count("pk", filter=Q(client_rating=1)),
            "x_dislikes": Count("pk", filter=Q(client_rating=-1)),
            "x_supervisor_rating_n": Count("supervisor_rating"),
            "x_supervisor_rating_sum": Sum("supervisor_rating"),
            "x_reply_n": Sum("reply_count"),
            "x_reply_sum": Sum("reply_time_total"),
            "x_reply_bh_sum": Sum("reply_time_total_bh"),
            "x_sla_met": Sum("sla_met"),
            "x_sla_breaches": Sum("sla_breaches"),
        }
        for m in METRICS:
            measures[f"x_{m}_n"] = Count(m)
            measures[f"x_{m}_sum"] = Sum(m)
        return measures

    def rows(self, dims: tuple[str, ...]) -> list[dict]:
        fields = {"responsible": "responsible_id", "line": "line_id"}
        values = {f"d_{d}": _dimension(fields.get(d, d)) for d in dims}
        result = []
        for row in self.qs.values(**values).annotate(**self.measures()):
            out = {d: row[f"d_{d}"] for d in dims}
            out.update({c: row[f"x_{c}"] or 0 for c in COLUMNS})
            result.append(out)
        return result

    def label_rows(self, kind: str) -> list[dict]:
        """Rows per tag (through the tag links) or per close reason, each with its status and
        type, of the same shape as rows(): a conversation counts once under each of its tags."""
        if kind == LabelRollup.KIND_TAG:
            # A ScopeRow reaches the tags through its conversation.
            tags = "tag_links" if self.qs.model is Conversation else "conversation__tag_links"
            qs, label = self.qs.filter(**{f"{tags}__isnull": False}), F(f"{tags}__tag_id")
        else:
            qs, label = self.qs.filter(close_reason_id__isnull=False), F("close_reason_id")
        values = {"d_label": label, "d_status": _dimension("status"), "d_type": F("type")}
        result = []
        for row in qs.values(**values).annotate(**self.measures()):
            if row["d_label"] is None:
                continue
            out = {"label": row["d_label"], "status": row["d_status"], "type": row["d_type"]}
            out.update({c: row[f"x_{c}"] or 0 for c in COLUMNS})
            result.append(out)
        return result

    def slots(self) -> list[dict]:
        rows = (
            self.qs.values(slot=EpochSlot("started_at", DIRECT_SLOT))
            .annotate(
                x_n=Count("pk"),
                x_closed=Count("pk", filter=Q(status__in=CLOSED_CODES)),
                x_likes=Count("pk", filter=Q(client_rating=1)),
                x_dislikes=Count("pk", filter=Q(client_rating=-1)),
                x_reply_n=Sum("reply_count"),
                x_reply_sum=Sum("reply_time_total"),
            )
            .values_list("slot", *(f"x_{k}" for k in SLOT_MEASURES))
        )
        # Integers only, read without Django's converters: a long range has tens of
        # thousands of quarter hours.
        return [
            {
                "at": slot_start(slot, DIRECT_SLOT),
                **dict(zip(SLOT_MEASURES, (v or 0 for v in figures), strict=True)),
            }
            for slot, *figures in _fetch(rows)
        ]

    def histograms(self) -> dict[tuple, int]:
        """{(metric index, bucket, status, type): count} for every stored metric value."""
        result: dict[tuple, int] = {}
        if self.few:
            grouped = self.qs.values_list("status", "type", *METRICS).annotate(c=Count("pk"))
            for status, type_, *values, count in grouped:
                for index, value in enumerate(values):
                    if value is not None:
                        key = (index, bucket_of(value), status, type_)
                        result[key] = result.get(key, 0) + count
            return result
        quote, table = connection.ops.quote_name, self.qs.model._meta.db_table
        for index, metric in enumerate(METRICS):
            # Grouped by bucket in the statement (histogram.bucket_of as SQL): a few hundred
            # rows a metric instead of one per distinct value.
            bucket = RawSQL(bucket_sql(f"{quote(table)}.{quote(metric)}"), ())
            grouped = (
                self.qs.filter(**{f"{metric}__isnull": False})
                .values("status", "type", bucket=bucket)
                .annotate(c=Count("pk"))
                .values_list("bucket", "status", "type", "c")
            )
            for bucket_index, status, type_, count in _fetch(grouped):
                key = (index, bucket_index, status, type_)
                result[key] = result.get(key, 0) + count
        return result

    def participation(self, visible) -> dict[int, dict]:
        return direct_participation(self.qs, visible)

    def open_before(self, cutoff: dt.datetime) -> dict[str, int]:
        """Incoming non-spam conversations started before `cutoff` still without each metric."""
        found = (
            self.qs.filter(started_at__lt=cutoff, type=lifecycle.INCOMING)
            .exclude(status=SPAM)
            .aggregate(**{m: Count("pk", filter=Q(**{f"{m}__isnull": True})) for m in OPEN_METRICS})
        )
        return {m: found[m] or 0 for m in OPEN_METRICS}


@dataclass(frozen=True)
class RollupFilter:
    """A filter rollups can answer exactly: conditions on rollup dimensions and a whole-hour range."""

    q: Q  # on line_id, channel, responsible_key, type, status
    # The dimensions it narrows: line, channel, responsible, type, and "simple_status" (only the
    # simple statuses: what the folded tiers keep apart) or "status" (exact statuses).
    uses: frozenset[str]
    start: dt.datetime | None = None  # inclusive, a whole UTC hour
    end: dt.datetime | None = None  # exclusive, a whole UTC hour
    # Its channel kind and type conditions alone (the same on rollups, Participation and
    # conversations): the widened filter (see widened()).
    widened_q: Q = field(default_factory=Q)
    # The filter's line, responsible and status conditions on the conversation table (the
    # list's own, from ConversationFilter); None when it has none. See RollupSource._outside.
    narrowing: Q | None = None
    # The whole filter on Participation (line, channel kind, type, closed or open), or None when
    # Participation cannot answer it (a responsible employee, statuses it does not tell apart).
    people_q: Q | None = None

    def widened(self) -> RollupFilter:
        """The filter without its line, responsible and status conditions (channel kind and
        type on the same range): what every coarse tier can answer."""
        return RollupFilter(
            self.widened_q,
            self.uses & WIDENED_DIMS,
            self.start,
            self.end,
            self.widened_q,
            people_q=self.widened_q,
        )


WIDENED_DIMS = frozenset({"channel", "type"})
# What the folded tiers' histograms can be narrowed by (tiers.fold_status).
HISTOGRAM_DIMS = frozenset({"channel", "responsible", "type", "simple_status"})


class RollupSource:
    """Reads rollup tiers, for a filter on rollup keys: everything the viewer sees at level all,
    or the part of a SplitSource whose responsible employee is one of the viewer's."""

    is_rollup = True
    slot_size = HOUR

    def __init__(self, rollup: RollupFilter, conversations, everything=None):
        self.filter = rollup
        self.conversations = conversations.order_by()  # the same filtered set, for partial hours
        # Every conversation the viewer may see (level all: all of them), for _outside().
        self.everything = everything.order_by() if everything is not None else None
        self._cache: dict = {}
        self._stack = ExitStack()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def _read(self, model, needed=(), *, end=None, buckets=False, hourly=False, rollup=None):
        """The rows of the tier parts that cover the filter's range (cut at `end` when given)."""
        return _tier_rows(rollup or self.filter, model, needed, end, buckets, hourly)

    @staticmethod
    def total(rollup: RollupFilter) -> int:
        """The number of conversations matching the filter."""
        return _tier_rows(rollup, Rollup).aggregate(n=_total("n"))["n"]

    def _sizes(self) -> tuple[int, int]:
        """(conversations in the filtered set, conversations of the widened filter), from rollups."""
        if "sizes" not in self._cache:
            self._cache["sizes"] = (self.total(self.filter), self.total(self.filter.widened()))
        return self._cache["sizes"]

    def _outside(self):
        """The conversations of the widened filter (channel kind and type, same range) that the
        line, responsible or status conditions leave out, when there are fewer of them than
        conversations in the filtered set; else None.

        Figures the coarse tiers cannot narrow by line, responsible or status (the histograms,
        the per-employee participation) are then the widened filter's, read from those tiers,
        minus these conversations' own, read from the table: "closed, last 30 days" at
        10,000,000 conversations subtracts the few thousand still open instead of reading the
        participants of 400,000 closed ones. Both sides cover the same range, so it is exact.
        """
        if self.filter.narrowing is None or self.everything is None:
            return None
        if "outside" not in self._cache:
            inside, widened = self._sizes()
            found = None
            if widened - inside < inside:
                found = started_between(
                    self.everything.filter(self.filter.widened_q),
                    self.filter.start,
                    self.filter.end,
                ).exclude(self.filter.narrowing)
                # Their figures once: a negated condition is no index range, so each of the
                # dozen statements reading them scanned the whole range again.
                found = self._stack.enter_context(materialized(found, OUTSIDE_TABLE, figures=True))
            self._cache["outside"] = found
        return self._cache["outside"]

    def rows(self, dims: tuple[str, ...]) -> list[dict]:
        fields = {"responsible": "responsible_key", "line": "line_id"}
        # Grouped by the folded status first: SQLite (which keeps no table statistics here)
        # picks an index whose order serves the first grouping column over one that serves
        # the WHERE. Grouped by line first, a department's rows were read through
        # (tier, line_id, period) by the tier alone, every tier-0 row of every month, instead
        # of through (tier, responsible_key, period) (BENCHMARKS.md, "Stop 30").
        dims = tuple(sorted(dims, key=lambda d: d != "status"))
        values = {f"d_{d}": _dimension(fields.get(d, d)) for d in dims}
        measures = {f"x_{c}": _total(c) for c in COLUMNS}
        grouped = (
            self._read(Rollup, dims)
            .values(**values)
            .annotate(**measures)
            .values_list(*values, *measures)
        )
        width = len(dims)
        result = []
        for row in _fetch(grouped):  # one row per key: the database grouped them
            if row[width]:  # n
                out = dict(zip(dims, row[:width], strict=True))
                if "responsible" in out:
                    out["responsible"] = out["responsible"] or None
                out.update(zip(COLUMNS, row[width:], strict=True))
                result.append(out)
        return result

    def label_rows(self, kind: str) -> list[dict]:
        """The same from the hourly LabelRollup rows (tier 0's key, so every rollup-answerable
        filter narrows them as it narrows tier 0)."""
        rows = LabelRollup.objects.filter(self.filter.q, kind=kind)
        if self.filter.start is not None:
            rows = rows.filter(period__gte=self.filter.start)
        if self.filter.end is not None:
            rows = rows.filter(period__lt=self.filter.end)
        values = {"d_label": F("label_id"), "d_status": _dimension("status"), "d_type": F("type")}
        measures = {f"x_{c}": _total(c) for c in COLUMNS}
        grouped = rows.values(**values).annotate(**measures).values_list(*values, *measures)
        result = []
        for label, status, type_, *figures in _fetch(grouped):
            if figures[0]:  # n
                out = {"label": label, "status": status, "type": type_}
                out.update(zip(COLUMNS, figures, strict=True))
                result.append(out)
        return result

    def slots(self) -> list[dict]:
        rows = (
            self._read(Rollup, hourly=True)
            .values("period")
            .annotate(
                x_n=Sum("n"),
                x_closed=Sum("n", filter=Q(status__in=CLOSED_CODES)),
                x_likes=Sum("likes"),
                x_dislikes=Sum("dislikes"),
                x_reply_n=Sum("reply_n"),
                x_reply_sum=Sum("reply_sum"),
            )
        )
        return [
            {"at": r["period"], **{k: r[f"x_{k}"] or 0 for k in SLOT_MEASURES}}
            for r in rows
            if r["x_n"]
        ]

    def histograms(self) -> dict[tuple, int]:
        """The metric histograms. The coarse tiers keep them by channel kind, type and simple
        status, and by responsible employee too (a department's); only tier 0 keeps them by
        line and exact status, at a cost per matching conversation about that of reading the
        conversation itself; when the filter leaves out fewer conversations than it keeps, the
        widened histograms less the left-out conversations' are cheaper (see _outside)."""
        outside = self._outside() if self.filter.uses - HISTOGRAM_DIMS else None
        grouped = (
            self._read(
                RollupBucket,
                buckets=True,
                rollup=self.filter.widened() if outside is not None else None,
            )
            .values("metric", "bucket", "status", "type")
            .annotate(c=_total("n"))
            .values_list("metric", "bucket", "status", "type", "c")
        )
        if outside is None:
            return {(m, b, s, t): c for m, b, s, t, c in _fetch(grouped) if c}
        # Statuses folded on both sides (what the coarse tiers keep) before subtracting.
        result: dict[tuple, int] = {}
        for m, b, s, t, c in _fetch(grouped):
            key = (m, b, tiers.fold_status(s), t)
            result[key] = result.get(key, 0) + c
        for (m, b, s, t), c in DirectSource(outside).histograms().items():
            key = (m, b, tiers.fold_status(s), t)
            result[key] = result.get(key, 0) - c
        return {key: c for key, c in result.items() if c}

    def open_before(self, cutoff: dt.datetime) -> dict[str, int]:
        """Whole hours before the cutoff come from rollups; the one partial hour from the table."""
        hour = floor_hour(cutoff)
        found = (
            self._read(Rollup, end=hour)
            .filter(type=lifecycle.INCOMING)
            .exclude(status=SPAM)
            .aggregate(**{m: Sum(F("n") - F(f"{m}_n")) for m in OPEN_METRICS})
        )
        partial = DirectSource(self.conversations.filter(started_at__gte=hour)).open_before(cutoff)
        return {m: (found[m] or 0) + partial[m] for m in OPEN_METRICS}

    def participation(self, visible) -> dict[int, dict]:
        """Per-employee figures: whole spans from Participation, the hours around from the table.

        Participation keeps the open channel, channel kind, type and whether the conversation
        is closed, so a filter on those reads it directly. Under a responsible employee or
        statuses it does not tell apart the figures are those of the filtered conversations,
        read from the table, or, when the filter leaves out fewer than it keeps,
        Participation's less the left-out conversations' (see _outside).
        """
        outside, people = None, self.filter.people_q
        if people is None:
            outside = self._outside()
            if outside is None:
                return direct_participation(self.conversations, visible)
            people = self.filter.widened_q
        parts = tiers.cut(self.filter.start, self.filter.end, PARTICIPATION_SPANS)
        spans = [(p.span, p.start, p.end) for p in parts if p.span is not None]
        result = participation_in_spans(people, spans, visible) if spans else {}
        if spans and outside is not None:  # the widened filter's figures, less the left-out ones
            left_out = outside.filter(_periods(spans, None, moment="started_at"))
            for employee, figures in direct_participation(left_out, visible).items():
                _add_figures(result, employee, {k: -v for k, v in figures.items()})
        for part in parts:
            if part.span is None:
                edge = started_between(self.conversations, part.start, part.end)
                for employee, figures in direct_participation(edge, visible).items():
                    _add_figures(result, employee, figures)
        return result


@dataclass(frozen=True)
class Sight:
    """How a viewer below level all sees the statistics' range: through the participant rows of
    `employees` (a department supervisor's department; an employee at level "own"), built once
    by aggregates.sight from the one visibility rule."""

    employees: list[int]
    granting: object  # their rows that grant, in the range
    withheld: object  # their rows that grant nothing, in the range (visibility.withheld_rows)
    visible: object  # V: the visible conversations under the filter
    candidates: object  # those of V seen through a row that is not the responsible's
    # The conversations under the filter whoever sees them, when it says more than the range
    # (None: the range alone, which the participant rows carry themselves).
    matching: object | None


class SplitSource:
    """The statistics of a viewer who sees through employees' participant rows (a department
    supervisor; an employee at level "own"), from the rollups wherever they are exact.

    The viewer's visible conversations V (any of the employees has a participant row that
    `sees`, visibility._grants) split into two disjoint parts:

    - R, those whose responsible employee is one of them. The responsible's own participant row
      always sees (invariants: the responsible is the one responsible participant), so every
      conversation with such a responsible is in V: R is "responsible in ids" under the same
      filter, which the rollups keep by responsible employee (their `responsible_key`). Summing
      them over the employees counts each conversation once, under its one responsible.
    - X = V \\ R, the visible ones with nobody or someone else responsible (a waiting
      conversation offered to one of them, one transferred out of the department, one they
      joined or wrote in): few, read from the table. They are found among the candidates, the
      conversations of V through a granting row that is not the responsible one's: a
      conversation of X is seen by one of the employees who is not its responsible, and the rest
      of V is never read to find them.

    Every figure is a sum over conversations, so R's from the rollups plus X's from the table
    equal the direct aggregation over V. The per-employee participation: see `participation`.
    """

    is_rollup = True
    slot_size = HOUR

    def __init__(self, rollup: RollupFilter, sight: Sight):
        self.ids = sorted(sight.employees)
        self.rollup = rollup
        self.sight = sight
        self.visible = sight.visible.order_by()  # V under the filter
        self._stack = ExitStack()
        self.parts: list = []

    def __enter__(self):
        ids = self.ids
        inside = RollupFilter(
            self.rollup.q & Q(responsible_key__in=ids),
            self.rollup.uses | {"responsible"},
            self.rollup.start,
            self.rollup.end,
            self.rollup.widened_q,
        )
        if connection.vendor == "sqlite":
            # V's ids once (their own participant ranges, see aggregates.sight): SQLite re-ran
            # the subquery in every statement. PostgreSQL plans it as a semi-join; a temporary
            # table cost it more.
            self.visible = self._stack.enter_context(materialized(self.visible))
        # X's figures once: its half-dozen statements would each find V again.
        outside = self._stack.enter_context(
            materialized(
                self.sight.candidates.order_by().exclude(responsible_id__in=ids),
                OUTSIDE_TABLE,
                figures=True,
            )
        )
        responsible = self.visible.filter(responsible_id__in=ids)
        self.parts = [RollupSource(inside, responsible), DirectSource(outside, few=True)]
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def rows(self, dims: tuple[str, ...]) -> list[dict]:
        return [row for part in self.parts for row in part.rows(dims)]

    def label_rows(self, kind: str) -> list[dict]:
        return [row for part in self.parts for row in part.label_rows(kind)]

    def slots(self) -> list[dict]:
        """Hourly slots: the table's quarter hours of X folded into their hour (the rollups'
        resolution; rollup_condition keeps viewers whose hours are not UTC hours off this path)."""
        rolled, direct = self.parts
        found = rolled.slots()
        for slot in direct.slots():
            found.append({**slot, "at": floor_hour(slot["at"])})
        return found

    def histograms(self) -> dict[tuple, int]:
        result: dict[tuple, int] = {}
        for part in self.parts:
            for key, count in part.histograms().items():
                result[key] = result.get(key, 0) + count
        return result

    def open_before(self, cutoff: dt.datetime) -> dict[str, int]:
        found = [part.open_before(cutoff) for part in self.parts]
        return {m: sum(f[m] for f in found) for m in OPEN_METRICS}

    def participation(self, visible) -> dict[int, dict]:
        """The employees' figures over V.

        Participation keeps each employee's figures over every conversation they took part in,
        by the conversation's start. Of those, the ones hidden from this viewer are the
        conversations in which every row of the employees grants nothing (an offer that ended
        while someone outside took it): whole spans are Participation's figures less those
        conversations' own, read from the table (few, found from the withheld rows' index by
        employee and start, minus the granting rows). The hours around the spans, and a filter
        Participation cannot answer (a responsible employee, statuses it does not tell apart),
        are read from V's own participant and reply-period rows. So is the whole table of a
        viewer who sees through one employee's rows (level "own"): each of their rows either
        grants or is withheld, so every withheld one is hidden, and those outnumber V's rows
        when most of their offers went to colleagues."""
        people = self.rollup.people_q
        parts = tiers.cut(self.rollup.start, self.rollup.end, PARTICIPATION_SPANS)
        spans = [(p.span, p.start, p.end) for p in parts if p.span is not None]
        if people is None or not spans or len(self.ids) == 1:
            return self._direct(visible)
        result = participation_in_spans(people, spans, visible)
        in_spans = _periods(spans, None, moment="started_at")
        hidden = self.sight.withheld.filter(in_spans).exclude(
            conversation_id__in=self.sight.granting.filter(in_spans).values("conversation_id")
        )
        if self.sight.matching is not None:
            hidden = hidden.filter(conversation_id__in=self.sight.matching.values("pk"))
        # Found once (two statements read their rows; usually there are none to read).
        ids = list(hidden.values_list("conversation_id", flat=True)[: HIDDEN_LISTED + 1])
        if len(ids) > HIDDEN_LISTED:
            ids = hidden.values("conversation_id")
        if ids:
            for employee, figures in participation_of(ids, visible).items():
                _add_figures(result, employee, {k: -v for k, v in figures.items()})
        for part in parts:
            if part.span is None:
                for employee, figures in self._direct(visible, part.start, part.end).items():
                    _add_figures(result, employee, figures)
        return result

    def _direct(self, visible, start=None, end=None) -> dict[int, dict]:
        """From the participant and reply-period rows of V (started in [start, end) when given).
        On PostgreSQL V's ids come from the granting rows themselves for a filter that is the
        range alone; SQLite reads V's temporary table (see __enter__)."""
        if self.sight.matching is None and connection.vendor == "postgresql":
            ids = started_between(self.sight.granting, start, end).values("conversation_id")
            return participation_of(ids, visible)
        return direct_participation(started_between(self.visible, start, end), visible)


def started_between(rows, start, end):
    """Conversations, or participant rows (they carry their conversation's start), started in
    [start, end); an end left None is open."""
    if start is not None:
        rows = rows.filter(started_at__gte=start)
    if end is not None:
        rows = rows.filter(started_at__lt=end)
    return rows


def _tier_rows(rollup: RollupFilter, model, needed=(), end=None, buckets=False, hourly=False):
    """The rows of the tier parts that cover the filter's range (cut at `end` when given)."""
    stop = rollup.end
    if end is not None:
        stop = end if stop is None else min(stop, end)
    parts = tiers.plan(set(needed) | rollup.uses, rollup.start, stop, buckets, hourly)
    return model.objects.filter(rollup.q, _periods(parts, "tier", lambda t: t.code))


def _periods(parts, field_name: str | None, value=None, moment: str = "period") -> Q:
    """Rows of any of the parts (level, start, end): `field_name` = value(level) (left out when
    `field_name` is None) and `moment` in [start, end)."""
    either = Q(pk__in=[])
    for level, start, end in parts:
        q = Q(**{field_name: value(level)}) if field_name else Q()
        if start is not None:
            q &= Q(**{f"{moment}__gte": start})
        if end is not None:
            q &= Q(**{f"{moment}__lt": end})
        if not q:  # an unbounded part matches everything (and Q() | x would be just x)
            return Q()
        either |= q
    return either


def _dimension(column: str):
    """A grouping column of rows(). The status comes as far as the KPIs tell statuses apart:
    every status before CLOSED is "in work" (reported as NEW), which groups the rows of the
    open conversations of a period into one instead of seven."""
    if column != "status":
        return F(column)
    return Case(
        When(status__lt=CLOSED, then=Value(int(NEW))),
        default=F("status"),
        output_field=IntegerField(),
    )


class _Total(Sum):
    """SUM(column) as a plain integer, 0 over no rows: PostgreSQL sums bigints as numeric, and
    decoding thousands of Decimals costs more than the query. One node rather than
    Cast(Coalesce(Sum)): a page sums ~27 columns in each of half a dozen statements, and
    building and compiling those expressions cost more than running them. No `filter`: the
    template has no place for it."""

    template = "COALESCE(CAST(SUM(%(expressions)s) AS bigint), 0)"
    output_field = BigIntegerField()


def _total(column: str) -> _Total:
    return _Total(column)


def _fetch(queryset) -> list[tuple]:
    """A values_list() queryset's rows as the database returns them, without Django's per-value
    converters: thousands of rows of integer sums cost more in converters than in SQL."""
    compiled = sql_of(queryset)
    if compiled is None:
        return []
    with connection.cursor() as cursor:
        cursor.execute(*compiled)
        return cursor.fetchall()


def _add_figures(result: dict, employee: int, figures: dict) -> None:
    acc = result.setdefault(employee, dict.fromkeys(PARTICIPATION_COLUMNS, 0))
    for c in PARTICIPATION_COLUMNS:
        acc[c] += int(figures.get(c) or 0)


def participation_in_spans(people: Q, spans: list, visible) -> dict[int, dict]:
    """{employee: figures} summed from the Participation rows of these whole spans."""
    rows = Participation.objects.filter(people, _periods(spans, "span", lambda span: span))
    if visible is not None:
        rows = rows.filter(employee_id__in=visible)
    sums = {f"x_{c}": _total(c) for c in PARTICIPATION_COLUMNS}
    grouped = rows.values("employee_id").annotate(**sums).values_list("employee_id", *sums)
    result: dict[int, dict] = {}
    for employee, *figures in _fetch(grouped):
        _add_figures(result, employee, dict(zip(PARTICIPATION_COLUMNS, figures, strict=True)))
    return result


def direct_participation(conversations, visible) -> dict[int, dict]:
    """{employee: figures} from the participant and reply-period rows of these conversations."""
    return participation_of(conversations.order_by().values("pk"), visible)


def participation_of(conversation_ids, visible) -> dict[int, dict]:
    """`direct_participation` of the conversations of a one-column queryset of their ids.

    The employees are picked after grouping on SQLite: a condition on them made it read every
    row of theirs through the employee index (2.8 s at 1,000,000 conversations) instead of the
    conversations' rows through the conversation's. PostgreSQL keeps the condition inside its
    probes of the conversations and fetches only their rows."""
    participants = ConversationParticipant.objects.filter(conversation__in=conversation_ids)
    periods = ReplyPeriod.objects.filter(conversation__in=conversation_ids, employee__isnull=False)
    if visible is not None and connection.vendor == "postgresql":
        participants = participants.filter(employee_id__in=visible)
        periods = periods.filter(employee_id__in=visible)
    result: dict[int, dict] = {}
    flags = participants.values("employee_id").annotate(
        assigned=Count("pk", filter=Q(ever_offered=True)),
        taken=Count("pk", filter=Q(took=True)),
        skipped=Count("pk", filter=Q(skip_count__gt=0)),
        answered=Count("pk", filter=Q(wrote=True)),
    )
    for row in flags:
        _add_figures(result, row.pop("employee_id"), row)
    for row in periods.values("employee_id").annotate(
        reply_n=Count("pk"),
        reply_sum=Sum("seconds"),
        reply_bh_sum=Coalesce(Sum("business_seconds"), 0),
    ):
        _add_figures(result, row.pop("employee_id"), row)
    if visible is not None and connection.vendor != "postgresql":
        result = {e: f for e, f in result.items() if e in visible}
    return result
