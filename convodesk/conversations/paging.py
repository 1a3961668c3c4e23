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
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.utils import OperationalError


@dataclass(frozen=True)
class Count:
    value: int
    exact: bool


def bounded_count(queryset, threshold: int | None = None) -> Count:
    threshold = threshold or settings.CONVODESK["COUNT_THRESHOLD"]
    limited = queryset.order_by().values("pk")[: threshold + 1]
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SET LOCAL statement_timeout = %s", [settings.CONVODESK["COUNT_TIMEOUT_MS"]]
                    )
                value = limited.count()
        except OperationalError:
            return Count(max(estimate(queryset), threshold + 1), False)
    else:
        value = limited.count()
    if value <= threshold:
        return Count(value, True)
    return Count(max(estimate(queryset), value), False)


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
    return queryset.order_by().count()


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


def after_cursor(
    queryset, field: str, descending: bool, sort_value, pk: int, never_empty: bool = False
):
    """Rows after (sort_value, pk) in the order field (nulls last) then id, both in one direction.

    `never_empty` (a NOT NULL sort column): the condition also says `field >= value` (`<=`
    descending), a range both databases start the (field, id) index walk at, so a deep next
    page reads only its own rows instead of filtering every row before the cursor."""
    if field == "id":
        return queryset.filter(pk__lt=pk) if descending else queryset.filter(pk__gt=pk)
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
