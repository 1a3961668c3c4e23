"""Fetching one page of the list in a constant number of queries, fast at any depth.

Two ways to reach a page, both ending in the same "ids first, rows by id" shape:

* Next / previous follow keyset cursors (paging.py): the ids after (or before) the last row
  seen, read straight off the (sort, id) index, never scanning what came before.
* Jumping to page N (page=1000) uses a *deferred join*: the OFFSET runs over the ordered index
  selecting only ids (an index-only walk, no row fetches, no joins for the columns), and only
  the page's ids are then fetched as full rows with their select_related joins. The expensive
  part of a deep OFFSET, materialising and joining every skipped row, never happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F, Q

from ..columns import with_crm_links as prefetch_crm_links
from ..paging import BadCursor, after_cursor, make_cursor, read_cursor, sort_value_of


@dataclass
class Page:
    rows: list
    number: int
    has_next: bool
    has_prev: bool
    next_cursor: str = ""
    prev_cursor: str = ""
    ids: list = field(default_factory=list)


def before_cursor(queryset, field_name: str, descending: bool, sort_value, pk: int):
    """Rows that come before (sort_value, pk) in the list order (sort field nulls last, then id)."""
    id_before = Q(pk__gt=pk) if descending else Q(pk__lt=pk)
    if field_name == "id":
        return queryset.filter(id_before)
    if sort_value is None:
        return queryset.filter(
            Q(**{f"{field_name}__isnull": False})
            | (Q(**{f"{field_name}__isnull": True}) & id_before)
        )
    ahead = Q(**{f"{field_name}__gt" if descending else f"{field_name}__lt": sort_value})
    return queryset.filter(ahead | (Q(**{field_name: sort_value}) & id_before))


def reversed_ordering(field_name: str, descending: bool) -> list:
    pk = F("id")
    if field_name == "id":
        return [pk.asc() if descending else pk.desc()]
    sort = F(field_name)
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
    with_crm_links=False,
    prefetch=None,
) -> Page:
    field_name, descending = flt.sort_field, flt.sort_descending
    reverse = False
    ids_qs = None
    try:
        if after:
            value, pk = read_cursor(after)
            ids_qs = after_cursor(queryset, field_name, descending, value, pk).order_by(
                *flt.ordering()
            )
        elif before:
            value, pk = read_cursor(before)
            ids_qs = before_cursor(queryset, field_name, descending, value, pk)
            ids_qs = ids_qs.order_by(*reversed_ordering(field_name, descending))
            reverse = True
    except (BadCursor, ValueError, TypeError):
        ids_qs = None
        after = before = ""
    if ids_qs is None:
        offset = (page - 1) * per_page
        ids_qs = queryset.order_by(*flt.ordering())[offset : offset + per_page + 1]
        ids = list(ids_qs.values_list("pk", flat=True))
    else:
        ids = list(ids_qs.values_list("pk", flat=True)[: per_page + 1])
    more = len(ids) > per_page
    ids = ids[:per_page]
    if reverse:
        ids.reverse()
    rows = []
    if ids:
        rel = set(related)
        if "__" in field_name:
            rel.add(field_name.split("__")[0])
        # The queryset's own model: the CRM lists page through this function too.
        rows_qs = queryset.model._default_manager.filter(pk__in=ids).select_related(*sorted(rel))
        if with_crm_links:
            rows_qs = prefetch_crm_links(rows_qs)
        if prefetch is not None:
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
