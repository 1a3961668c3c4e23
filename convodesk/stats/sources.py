"""Where statistics are read from: the hourly rollups or the conversation table itself.

Both sources answer the same four questions with rows of the same shape (the rollup columns,
grouped by the asked dimensions), so the KPI arithmetic in aggregates.py is shared and the two
paths can only differ where the data differs.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.db.models.expressions import RawSQL

from convodesk.conversations import lifecycle

from .histogram import bucket_of
from .models import METRICS, HourlyRollup, RollupBucket
from .rollups import COLUMNS, HOUR, EpochSlot, floor_hour, slot_start

CLOSED_CODES = (lifecycle.Status.CLOSED, lifecycle.Status.DUPLICATE, lifecycle.Status.AUTO_CLOSED)
SPAM = lifecycle.Status.SPAM
DIRECT_SLOT = 900  # quarter hours, so time zones with :30 and :45 offsets fold exactly
SLOT_MEASURES = ("n", "closed", "likes", "dislikes", "reply_n", "reply_sum")
OPEN_METRICS = ("agent_response_time", "first_answer_wait")


SCOPE_TABLE = "stats_scope"


@contextmanager
def materialized(queryset):
    """The filtered conversations' ids written once into a temporary table, as a queryset.

    The direct path runs several aggregates over one filtered set; re-running an expensive
    filter (a client-name search, a metric range) in each cost ~1.2 s a statement at 1,000,000
    conversations. A temporary table is private to its connection. No transaction of its own:
    on SQLite that would take the database's write lock (transactions begin IMMEDIATE) and make
    writers wait for a read; writing the temporary table locks only the temporary schema.
    """
    from convodesk.conversations.models import Conversation

    sql, params = queryset.order_by().values_list("pk").query.sql_with_params()
    table = connection.ops.quote_name(SCOPE_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMPORARY TABLE {table} (id bigint PRIMARY KEY)")
        try:
            cursor.execute(f"INSERT INTO {table} (id) {sql}", params)
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {table}")
            yield Conversation.objects.filter(pk__in=RawSQL(f"SELECT id FROM {table}", ()))
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


class DirectSource:
    """Aggregates the (visible, filtered) conversations in as few scans as the breakdowns allow."""

    is_rollup = False
    slot_size = DIRECT_SLOT

    def __init__(self, queryset):
        self.qs = queryset.order_by()

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
        }
        for m in METRICS:
            measures[f"x_{m}_n"] = Count(m)
            measures[f"x_{m}_sum"] = Sum(m)
        return measures

    def rows(self, dims: tuple[str, ...]) -> list[dict]:
        fields = {"responsible": "responsible_id", "line": "line_id"}
        values = {f"d_{d}": F(fields.get(d, d)) for d in dims}
        result = []
        for row in self.qs.values(**values).annotate(**self.measures()):
            out = {d: row[f"d_{d}"] for d in dims}
            out.update({c: row[f"x_{c}"] or 0 for c in COLUMNS})
            result.append(out)
        return result

    def slots(self) -> list[dict]:
        rows = self.qs.values(slot=EpochSlot("started_at", DIRECT_SLOT)).annotate(
            x_n=Count("pk"),
            x_closed=Count("pk", filter=Q(status__in=CLOSED_CODES)),
            x_likes=Count("pk", filter=Q(client_rating=1)),
            x_dislikes=Count("pk", filter=Q(client_rating=-1)),
            x_reply_n=Sum("reply_count"),
            x_reply_sum=Sum("reply_time_total"),
        )
        return [
            {
                "at": slot_start(r["slot"], DIRECT_SLOT),
                **{k: r[f"x_{k}"] or 0 for k in SLOT_MEASURES},
            }
            for r in rows
        ]

    def histograms(self) -> dict[tuple, int]:
        """{(metric index, bucket, status, type): count} for every stored metric value."""
        result: dict[tuple, int] = {}
        for index, metric in enumerate(METRICS):
            grouped = (
                self.qs.filter(**{f"{metric}__isnull": False})
                .values("status", "type", value=F(metric))
                .annotate(c=Count("pk"))
            )
            for row in grouped:
                key = (index, bucket_of(row["value"]), row["status"], row["type"])
                result[key] = result.get(key, 0) + row["c"]
        return result

    def open_before(self, cutoff: dt.datetime) -> dict[str, int]:
        """Incoming non-spam conversations started before `cutoff` still without each metric."""
        found = (
            self.qs.filter(started_at__lt=cutoff, type=lifecycle.INCOMING)
            .exclude(status=SPAM)
            .aggregate(**{m: Count("pk", filter=Q(**{f"{m}__isnull": True})) for m in OPEN_METRICS})
        )
        return {m: found[m] or 0 for m in OPEN_METRICS}


class RollupSource:
    """Reads hourly rollups; only used when the viewer sees everything and the filter is on rollup keys."""

    is_rollup = True
    slot_size = HOUR

    def __init__(self, rollup_q: Q, conversations):
        self.q = rollup_q
        self.conversations = conversations.order_by()  # the same filtered set, for the partial hour

    def rows(self, dims: tuple[str, ...]) -> list[dict]:
        fields = {"responsible": "responsible_key", "line": "line_id"}
        values = {f"d_{d}": F(fields.get(d, d)) for d in dims}
        measures = {f"x_{c}": Sum(c) for c in COLUMNS}
        result = []
        for row in HourlyRollup.objects.filter(self.q).values(**values).annotate(**measures):
            out = {d: row[f"d_{d}"] for d in dims}
            if "responsible" in out:
                out["responsible"] = out["responsible"] or None
            out.update({c: row[f"x_{c}"] or 0 for c in COLUMNS})
            if out["n"]:
                result.append(out)
        return result

    def slots(self) -> list[dict]:
        rows = (
            HourlyRollup.objects.filter(self.q)
            .values("hour")
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
            {"at": r["hour"], **{k: r[f"x_{k}"] or 0 for k in SLOT_MEASURES}}
            for r in rows
            if r["x_n"]
        ]

    def histograms(self) -> dict[tuple, int]:
        grouped = (
            RollupBucket.objects.filter(self.q)
            .values("metric", "bucket", "status", "type")
            .annotate(c=Sum("n"))
        )
        return {
            (r["metric"], r["bucket"], r["status"], r["type"]): r["c"] for r in grouped if r["c"]
        }

    def open_before(self, cutoff: dt.datetime) -> dict[str, int]:
        """Whole hours before the cutoff come from rollups; the one partial hour from the table."""
        hour = floor_hour(cutoff)
        whole = (
            HourlyRollup.objects.filter(self.q, hour__lt=hour, type=lifecycle.INCOMING)
            .exclude(status=SPAM)
            .aggregate(**{m: Sum(F("n") - F(f"{m}_n")) for m in OPEN_METRICS})
        )
        partial = DirectSource(self.conversations.filter(started_at__gte=hour)).open_before(cutoff)
        return {m: (whole[m] or 0) + partial[m] for m in OPEN_METRICS}
