"""Fetching one page of the list in a constant number of queries, fast at any depth.

Two ways to reach a page, both ending in the same "ids first, rows by id" shape:

* Next / previous follow keyset cursors (paging.py): the ids after (or before) the last row
  seen, read straight off the (sort, id) index, never scanning what came before.
* Jumping to page N (page=1000) uses a *deferred join*: the OFFSET runs over the ordered index
  selecting only ids (an index-only walk, no row fetches, no joins for the columns), and only
  the page's ids are then fetched as full rows with their select_related joins. The expensive
  part of a deep OFFSET, materialising and joining every skipped row, never happens.

A viewer who sees through several employees (a department supervisor) reaches the page's ids
through `walk` instead (visibility.merged_walk: the merge of each employee's participant rows in
list order); the cursors and the OFFSET then apply to the merged walk, and the rows are fetched by
id the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import F, Q
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

from ..paging import (
    BadCursor,
    after_cursor,
    make_cursor,
    read_cursor,
    row_values,
    sort_value_of,
    typed,
)


@dataclass
class Page:
    rows: list
    number: int
    has_next: bool
    has_prev: bool
    next_cursor: str = ""
    prev_cursor: str = ""
    ids: list = field(default_factory=list)


def before_cursor(
    queryset, field_name: str, descending: bool, sort_value, pk: int, never_empty: bool = False
):
    """Rows that come before (sort_value, pk) in the list order (sort field nulls last, then id).
    `never_empty`: a NOT NULL column, bounded as a range (see `paging.after_cursor`)."""
    id_before = Q(pk__gt=pk) if descending else Q(pk__lt=pk)
    if field_name == "id":
        return queryset.filter(id_before)
    if sort_value is not None and row_values(queryset, field_name):
        ahead = TupleGreaterThan if descending else TupleLessThan
        value = typed(queryset, field_name, sort_value)
        return queryset.filter(ahead(Tuple(F(field_name), F("pk")), (value, pk)))
    if never_empty and sort_value is not None:
        bound = Q(**{f"{field_name}__gte" if descending else f"{field_name}__lte": sort_value})
        ahead = Q(**{f"{field_name}__gt" if descending else f"{field_name}__lt": sort_value})
        return queryset.filter(bound & (ahead | (Q(**{field_name: sort_value}) & id_before)))
    if sort_value is None:
        return queryset.filter(
            Q(**{f"{field_name}__isnull": False})
            | (Q(**{f"{field_name}__isnull": True}) & id_before)
        )
    ahead = Q(**{f"{field_name}__gt" if descending else f"{field_name}__lt": sort_value})
    return queryset.filter(ahead | (Q(**{field_name: sort_value}) & id_before))


def reversed_ordering(field_name: str, descending: bool, never_empty: bool = False) -> list:
    pk = F("id")
    if field_name == "id":
        return [pk.asc() if descending else pk.desc()]
    sort = F(field_name)
    if never_empty:  # no NULLS FIRST: it would keep PostgreSQL off the (field, id) index
        return [sort.asc(), pk.asc()] if descending else [sort.desc(), pk.desc()]
    if descending:
        return [sort.asc(nulls_first=True), pk.asc()]
    return [sort.desc(nulls_first=True), pk.desc()]


def fetch_page(
    queryset,
    flt,
    *,
    per_page: int,
    page: int,
    after: str = "",
    before: str = "",
    related=(),
    walk=None,
    prefetch=None,
) -> Page:
    field_name = flt.sort_field
    if walk is not None:
        ids, more, reverse, after = _walk_ids(walk, per_page, page, after, before)
    else:
        ids, more, reverse, after = _ids(queryset, flt, per_page, page, after, before)
    if reverse:
        ids.reverse()
    rows = []
    if ids:
        rel = set(related)
        if "__" in field_name:
            rel.add(field_name.split("__")[0])
        # The queryset's own model: the CRM lists page through this function too.
        rows_qs = queryset.model._default_manager.filter(pk__in=ids).select_related(*sorted(rel))
        if prefetch is not None:  # how the caller loads its rows (views/rows.grid_queryset)
            rows_qs = prefetch(rows_qs)
        by_id = {row.pk: row for row in rows_qs}
        rows = [by_id[i] for i in ids if i in by_id]
    if reverse:
        has_prev, has_next = more, True
    else:
        has_prev = page > 1 or bool(after)
        has_next = more
    result = Page(
        rows=rows, number=page, has_next=has_next, has_prev=has_prev and page > 1, ids=ids
    )
    if rows:
        first, last = rows[0], rows[-1]
        result.prev_cursor = make_cursor(sort_value_of(first, field_name), first.pk)
        result.next_cursor = make_cursor(sort_value_of(last, field_name), last.pk)
    return result


def _ids(queryset, flt, per_page, page, after, before):
    """The page's ids (one more, to know whether there is a next page) off the sort index."""
    field_name, descending = flt.sort_field, flt.sort_descending
    never_empty = getattr(flt, "sort_never_empty", False)
    reverse = False
    ids_qs = None
    try:
        if after:
            value, pk = read_cursor(after)
            ids_qs = after_cursor(
                queryset, field_name, descending, value, pk, never_empty
            ).order_by(*flt.ordering())
        elif before:
            value, pk = read_cursor(before)
            ids_qs = before_cursor(queryset, field_name, descending, value, pk, never_empty)
            ids_qs = ids_qs.order_by(*reversed_ordering(field_name, descending, never_empty))
            reverse = True
    except (BadCursor, ValueError, TypeError):
        ids_qs = None
        after = ""
    if ids_qs is None:
        offset = (page - 1) * per_page
        ids_qs = queryset.order_by(*flt.ordering())[offset : offset + per_page + 1]
        ids = list(ids_qs.values_list("pk", flat=True))
    else:
        ids = list(ids_qs.values_list("pk", flat=True)[: per_page + 1])
    more = len(ids) > per_page
    return ids[:per_page], more, reverse, after


def _walk_ids(walk, per_page, page, after, before):
    """The same off a merged walk (visibility.merged_walk): cursors and OFFSET apply to it."""
    reverse = False
    keys = None
    try:
        if after:
            value, pk = read_cursor(after)
            keys = walk.keys(limit=per_page + 1, after=(_cursor_time(value), pk))
        elif before:
            value, pk = read_cursor(before)
            keys = walk.keys(limit=per_page + 1, after=(_cursor_time(value), pk), reverse=True)
            reverse = True
    except (BadCursor, ValueError, TypeError):
        keys = None
        after = ""
        reverse = False
    if keys is None:
        keys = walk.keys(limit=per_page + 1, offset=(page - 1) * per_page)
    ids = [pk for _, pk in keys]
    more = len(ids) > per_page
    return ids[:per_page], more, reverse, after


def _cursor_time(value):
    """A cursor's started_at; anything else is a cursor from another sort."""
    if not isinstance(value, dt.datetime):
        raise BadCursor("not a time")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
