"""Counts and pages of the conversation list that stay fast at millions of rows.

Counts are bounded: exact up to a threshold, otherwise the planner's estimate, labelled so.
Pages are keyset pages: a cursor holds the last row's sort value and id.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.utils import OperationalError


@dataclass(frozen=True)
class Count:
    value: int
    exact: bool


def bounded_count(queryset, threshold: int | None = None, known_large: bool = False) -> Count:
    """`queryset` may also be a MergedWalk (visibility.countable gives one for a department).

    `known_large` (ConversationFilter.known_large: a probe already found the set large): on
    PostgreSQL the planner's estimate at once, as the CRM lists do for a common search. A
    common client name's count went through the join until the statement timeout cancelled it
    (64 ms of the page's 118 at 10,000,000 conversations, for an estimate in the end). SQLite
    has no estimate to give, and counts it off the names' index (11 ms at 1,000,000).
    """
    threshold = threshold or settings.CONVODESK["COUNT_THRESHOLD"]
    if known_large and connection.vendor == "postgresql" and not isinstance(queryset, MergedWalk):
        return Count(estimate(queryset), False)
    if isinstance(queryset, MergedWalk):
        # Counted off the granting rows; the estimate beyond the threshold is the planner's
        # for those rows (a conversation shared by two employees has two).
        limited, queryset = _WalkCount(queryset, threshold + 1), queryset.rows
    else:
        limited = queryset.order_by().values("pk")[: threshold + 1]
    if connection.vendor == "postgresql":
        try:
            value = _count_within_timeout(limited)
        except OperationalError:
            return Count(max(estimate(queryset), threshold + 1), False)
    else:
        value = limited.count()
    if value <= threshold:
        return Count(value, True)
    return Count(max(estimate(queryset), value), False)


class _TimeoutDropped(Exception):
    """Raised to leave the count's savepoint by rolling it back (see `_count_within_timeout`)."""


def _count_within_timeout(limited) -> int:
    """The count under the short statement timeout (PostgreSQL). A `SET LOCAL` lasts until the
    end of the transaction, and releasing a savepoint keeps it: inside a caller's transaction
    (ATOMIC_REQUESTS, an export job, a test) every later statement would inherit the 60 ms
    limit. Rolling the savepoint back drops it; the count has nothing else to keep."""
    value = None
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET LOCAL statement_timeout = %s", [settings.CONVODESK["COUNT_TIMEOUT_MS"]]
                )
            value = limited.count()
            raise _TimeoutDropped
    except _TimeoutDropped:
        return value


def estimate(queryset) -> int:
    """The planner's row estimate on PostgreSQL; elsewhere the threshold is all we know cheaply."""
    if connection.vendor != "postgresql":
        return settings.CONVODESK["COUNT_THRESHOLD"] + 1
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def exact_count(queryset) -> int:
    if isinstance(queryset, MergedWalk):
        return queryset.count()
    return queryset.order_by().count()


@dataclass(frozen=True)
class _WalkCount:
    walk: MergedWalk
    limit: int

    def count(self) -> int:
        return self.walk.count(self.limit)


# Keyset cursors ---------------------------------------------------------------------


def _encode_value(value):
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):  # the CRM lists sort deals by amount
        return {"d": str(value)}
    return value


def _decode_value(value):
    if isinstance(value, dict) and "t" in value:
        return dt.datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "d" in value:
        return Decimal(str(value["d"]))
    return value


def make_cursor(sort_value, pk: int) -> str:
    raw = json.dumps([_encode_value(sort_value), pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class BadCursor(ValueError):
    pass


def read_cursor(cursor: str):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(pk, int):
            raise ValueError
        return _decode_value(value), pk
    except (ValueError, TypeError, ArithmeticError, UnicodeDecodeError) as exc:
        raise BadCursor("invalid cursor") from exc


def row_values(queryset, field: str) -> bool:
    """Whether a cursor on `field` is said as a row-value comparison `(field, id) < (x, y)`.

    On PostgreSQL, for a column of the queryset's own table that is never empty: the planner
    reads the row value as one range of the (field, id) index, where the OR form (field < x OR
    field = x AND id < y) can make it filter the first key's rows (issue 23's black-box check at
    1 M: 2–5 ms as a row value against 12–122 ms in the OR form). SQLite keeps the OR form.
    Django's tuple lookups (django.db.models.fields.tuple_lookups, 5.2) write it.
    """
    if connection.vendor != "postgresql" or "__" in field:
        return False
    try:
        return not queryset.model._meta.get_field(field).null
    except FieldDoesNotExist:
        return False


def typed(queryset, field: str, value):
    """A cursor's value as the field's type, now (a bad one is a BadCursor here, not an error
    when the statement is compiled)."""
    try:
        return queryset.model._meta.get_field(field).to_python(value)
    except (ValidationError, TypeError, ValueError) as exc:
        raise BadCursor("value") from exc


def after_cursor(
    queryset, field: str, descending: bool, sort_value, pk: int, never_empty: bool = False
):
    """Rows after (sort_value, pk) in the order field (nulls last) then id, both in one direction.

    `never_empty` (a NOT NULL sort column): the condition also says `field >= value` (`<=`
    descending), a range both databases start the (field, id) index walk at, so a deep next
    page reads only its own rows instead of filtering every row before the cursor."""
    if field == "id":
        return queryset.filter(pk__lt=pk) if descending else queryset.filter(pk__gt=pk)
    if sort_value is not None and row_values(queryset, field):
        beyond = TupleLessThan if descending else TupleGreaterThan
        value = typed(queryset, field, sort_value)
        return queryset.filter(beyond(Tuple(F(field), F("pk")), (value, pk)))
    id_after = Q(pk__lt=pk) if descending else Q(pk__gt=pk)
    if sort_value is None:
        return queryset.filter(Q(**{f"{field}__isnull": True}) & id_after)
    beyond = Q(**{f"{field}__lt" if descending else f"{field}__gt": sort_value})
    tie = Q(**{field: sort_value}) & id_after
    if never_empty:
        bound = Q(**{f"{field}__lte" if descending else f"{field}__gte": sort_value})
        return queryset.filter(bound & (beyond | tie))
    return queryset.filter(beyond | tie | Q(**{f"{field}__isnull": True}))


def sort_value_of(obj, field: str):
    value = obj
    for part in field.split("__"):
        value = getattr(value, "pk" if part == "id" and value is not obj else part, None)
        if value is None:
            return None
    return value


def keyset_ordering(sort_field: str, descending: bool, never_empty: bool) -> list:
    """The order keyset paging walks: the sort field, then id, in the same direction; empty values
    last either way. NULLS LAST is only said for a column that can be empty: on a NOT NULL column
    it would keep PostgreSQL from walking the (column, id) index. Sorting by id is id alone."""
    pk = F("id")
    if sort_field == "id":
        return [pk.desc() if descending else pk.asc()]
    field = F(sort_field)
    nulls = {} if never_empty else {"nulls_last": True}
    if descending:
        return [field.desc(**nulls), pk.desc()]
    return [field.asc(**nulls), pk.asc()]


# The merged walk of several employees' participant rows ---------------------------------


def _as_datetime(value):
    """A started_at read by a raw statement: SQLite hands back its text, PostgreSQL a datetime."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    if value.tzinfo is None and settings.USE_TZ:
        value = value.replace(tzinfo=dt.UTC)  # SQLite stores UTC without an offset
    return value


class MergedWalk:
    """The conversations a viewer sees through several employees' participant rows, in list order.

    A department supervisor sees what any of the ~16 employees of their subtree sees. Probing every
    conversation of the table for one of those rows (`visible_to`'s EXISTS shape) walks the whole
    started_at index past everything the department never touched; reading the rows themselves
    (`id IN (...)`) reads all of them before ordering. The rows carry the conversation's
    `started_at`, and the partial index `participant_own` (employee, started_at desc,
    conversation desc) holds each employee's rows in list order, so each employee's newest-first
    range of that index is walked and the ranges are merged: a compound SELECT of one arm per
    employee, merged in order and de-duplicated on (started_at, conversation) — a conversation
    seen through two employees has the same pair in both rows, so it comes once. SQLite merges
    the arms lazily (a compound SELECT with ORDER BY is a merge of co-routines), PostgreSQL
    through a Merge Append of the arms' index scans; each arm is also LIMITed to what the page
    needs, so neither reads further than offset + page rows per employee.

    `arms` are each employee's granting rows as (sql, params) selecting (started_at,
    conversation_id), compiled by `visibility.merged_walk` from the one rule; `rows` are all of
    them as one queryset (`visibility.granting_rows`), which the count reads.
    """

    def __init__(self, arms, rows, descending: bool = True):
        self.arms = list(arms)
        self.rows = rows
        self.descending = descending

    def _arm_sql(self, sql, params, descending, after, limit):
        op = "<" if descending else ">"
        if after is not None:
            value = connection.ops.adapt_datetimefield_value(after[0])
            if connection.vendor == "postgresql":
                # A row-value comparison: one index range, where the OR form made PostgreSQL
                # filter the rows of the first key (issue 23: 2–5 ms against 12–122 ms).
                sql += f' AND ("{self.table}"."started_at", "{self.table}"."conversation_id")'
                sql += f" {op} (%s, %s)"
                params = [*params, value, after[1]]
            else:
                sql += (
                    f' AND ("{self.table}"."started_at" {op} %s OR ("{self.table}"."started_at"'
                    f' = %s AND "{self.table}"."conversation_id" {op} %s))'
                )
                params = [*params, value, value, after[1]]
        if connection.vendor == "postgresql" and limit is not None:
            direction = "DESC" if descending else "ASC"
            sql = f"({sql} ORDER BY 1 {direction}, 2 {direction} LIMIT {int(limit)})"
        return sql, list(params)

    @property
    def table(self) -> str:
        from django.apps import apps

        return apps.get_model("conversations", "ConversationParticipant")._meta.db_table

    def _merged(self, descending, after, per_arm):
        direction = "DESC" if descending else "ASC"
        parts, params = [], []
        for sql, arm_params in self.arms:
            arm, arm_params = self._arm_sql(sql, arm_params, descending, after, per_arm)
            parts.append(arm)
            params += arm_params
        if connection.vendor == "postgresql":
            # Duplicates are neighbours in the merged order (the same pair); dropping a row equal
            # to the one before keeps the plan a stream over the Merge Append at any depth, where
            # DISTINCT let the planner hash and sort every row the arms read (a department of
            # 27,000 rows, medians on a loaded machine: offset 5,000 87 → 13 ms, 20,000 64 → 45).
            order = f"started_at {direction}, conversation_id {direction}"
            over = f"walk.started_at {direction}, walk.conversation_id {direction}"
            sql = (
                "SELECT started_at, conversation_id FROM (SELECT walk.started_at,"
                " walk.conversation_id,"
                f" lag(walk.conversation_id) OVER (ORDER BY {over}) AS previous FROM ("
                + " UNION ALL ".join(parts)
                + ") AS walk) AS merged WHERE previous IS DISTINCT FROM conversation_id"
                + f" ORDER BY {order}"
            )
        else:
            sql = " UNION ".join(parts) + f" ORDER BY 1 {direction}, 2 {direction}"
        return sql, params

    def keys(self, *, limit: int, offset: int = 0, after=None, reverse: bool = False) -> list:
        """(started_at, conversation id) of rows offset .. offset + limit of the walk, after the
        (started_at, id) `after` when given; in the reverse order when `reverse`."""
        descending = self.descending != reverse
        sql, params = self._merged(descending, after, offset + limit)
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [(_as_datetime(s), pk) for s, pk in cursor.fetchall()]

    def count(self, limit: int | None = None) -> int:
        """How many conversations the walk holds: the distinct conversations of the granting
        rows. With `limit`, the rows are first counted up to it (off the index alone); when
        there are that many, `limit` is the answer and bounded_count shows an estimate."""
        if limit is not None:
            rows = self.rows.order_by().values("pk")[:limit].count()
            if rows >= limit:
                return rows
        return self.rows.order_by().aggregate(n=models.Count("conversation_id", distinct=True))["n"]
