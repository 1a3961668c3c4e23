"""The conversation list (SPEC "The conversation list"): one page, a constant number of queries.

Queries per page, whatever the page size or visible columns: the bounded total, the tab counts
(one aggregate), the page's ids, the page's rows with their select_related joins, the CRM links
(only when that column shows), the viewer's presets, the per-row permission checks (one per
action unless the viewer's level is "all"), and the panel's option lists.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from convodesk import links
from convodesk.stats import aggregates

from ..columns import COLUMNS
from ..filters import ConversationFilter
from ..models import Conversation, ConversationEvent
from ..paging import Count, bounded_count, exact_count
from ..visibility import countable, granting_rows, merged_walk
from .paging import fetch_page
from .panel import build_fields, param_label
from .params import PER_PAGE_CHOICES, encode, filter_only, normalize, page_of, per_page_of
from .prefs import picker_entries, user_column_keys
from .rows import build_rows, grid_queryset, row_texts
from .tabs import all_tabs, count_tabs, list_path, visible_presets


def _headers(columns, flt, params):
    current, descending = flt.sort_key, flt.sort_descending
    base = {k: v for k, v in params.items() if k != "sort"}
    headers = []
    for col in columns:
        entry = {"col": col, "sorted": "", "url": ""}
        if col.sortable:
            if col.key == current:
                entry["sorted"] = "desc" if descending else "asc"
                new = col.key if descending else f"-{col.key}"
            else:
                new = (
                    f"-{col.key}"
                    if col.kind in ("datetime", "duration", "int", "stars")
                    else col.key
                )
            entry["url"] = "?" + encode(base, sort=new)
        headers.append(entry)
    return headers


def _page_links(number: int, last: int | None, params: dict) -> list:
    """Numbers around the current page, the first, and the last when the count is exact."""
    wanted = {1, number - 2, number - 1, number, number + 1, number + 2}
    if last:
        wanted.add(last)
        wanted = {n for n in wanted if n <= last}
    wanted = sorted(n for n in wanted if n >= 1)
    links, previous = [], 0
    for n in wanted:
        if n - previous > 1:
            links.append(None)
        links.append(
            (
                n,
                "?" + encode(params, page=str(n))
                if n != 1
                else "?" + (encode(params) or "view=all"),
            )
        )
        previous = n
    return links


# What the page loads when it is first opened instead of carrying it (issue 22: a 50-row page
# weighs under 80 KB): the filter form of an unfiltered list, and the column picker.
PARTS = {
    "filter": "conversations/_filter_form.html",
    "columns": "conversations/_column_picker_form.html",
}


def _part(request, part, params, flt, keys, today):
    current = request.htmx.current_url_abs_path or list_path()
    context = {
        "params": params,
        "list_path": list_path(),
        "errors": [(key, param_label(key), msg) for key, msg in flt.errors.items()],
        "picker_next": current if current.startswith(list_path()) else list_path(),
    }
    if part == "filter":
        context["fields"] = build_fields(params, flt.errors, today)
    else:
        context["picker"] = picker_entries(keys)
    return render(request, PARTS[part], context)


def new_rows_texts() -> dict[str, str]:
    """The live "N new — show" button in each plural form the browser may pick (live.js reads
    them through Intl.PluralRules): one, many (Spanish millions) and other."""
    return {
        form: ngettext("%(n)s new — show", "%(n)s new — show", n)
        for form, n in (("one", 1), ("many", 1000000), ("other", 2))
    }


def sticky_class(keys) -> str:
    """Which leading columns stay in place while the grid scrolls sideways (list.css)."""
    if keys[:2] == ["id", "client"]:
        return "stick-id stick-id-client"
    if keys[:1] == ["id"]:
        return "stick-id"
    if keys[:1] == ["client"]:
        return "stick-client"
    return ""


@login_required
@require_GET
def conversation_list(request):
    user = request.user
    presets = list(visible_presets(user))
    if not request.GET and not request.htmx:
        default = next((p for p in presets if p.owner_id == user.pk and p.is_default), None)
        if default is not None and default.query:
            return HttpResponseRedirect(f"{list_path()}?{default.query}")

    today = timezone.localdate()
    params = normalize(request.GET, today)
    flt = ConversationFilter(params)
    keys = user_column_keys(user)
    part = request.GET.get("part") if request.htmx else None
    if part in PARTS:
        return _part(request, part, params, flt, keys, today)
    columns = [COLUMNS[k] for k in keys]
    per_page, page_number = per_page_of(request.GET), page_of(request.GET)
    base = Conversation.objects.visible_to(user, "view")
    visible_set = Conversation.objects.visible_to(user, "view", shape="set")
    granting = granting_rows(user, "view")

    tabs = all_tabs(user, presets)
    count_tabs(visible_set, tabs, granting, walk=merged_walk(user, "view"))
    current_filter = filter_only(params)
    for tab in tabs:
        tab.active = tab.params == current_filter
    active_preset = next((t.preset for t in tabs if t.active and t.preset is not None), None)

    count = page = None
    rows = []
    errors = [(key, param_label(key), msg) for key, msg in flt.errors.items()]
    if flt.is_valid():
        qs = flt.filter(base, walk=True)
        counted = countable(user, flt, "view")
        total = aggregates.rollup_total(user, flt)
        if total is not None:
            count = Count(total, True)
        elif request.GET.get("count") == "exact":
            count = Count(exact_count(counted), True)
        else:
            count = bounded_count(counted, known_large=flt.known_large)
        page = fetch_page(
            qs,
            flt,
            per_page=per_page,
            page=page_number,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            walk=merged_walk(user, "view", flt),
            prefetch=lambda rows: grid_queryset(rows, keys, flt.sort_field),
        )
        rows = build_rows(user, page.rows, keys)

    last_page = max(1, math.ceil(count.value / per_page)) if count and count.exact else None
    canonical = encode(params)
    context = {
        "params": params,
        "query": canonical,
        "filter_query": encode(current_filter),
        "filter": flt,
        "errors": errors,
        "columns": columns,
        "headers": _headers(columns, flt, params),
        "rows": rows,
        "t": row_texts(),
        "count": count,
        "count_exact_url": "?" + encode(params, count="exact"),
        "page": page,
        "last_page": last_page,
        "page_links": _page_links(page_number, last_page, params) if page else [],
        "next_url": "?" + encode(params, page=str(page_number + 1), after=page.next_cursor)
        if page and page.has_next
        else "",
        "prev_url": "?" + encode(params, page=str(page_number - 1), before=page.prev_cursor)
        if page and page.has_prev and page_number > 2
        else ("?" + (encode(params) or "view=all") if page and page_number == 2 else ""),
        "first_row": (page_number - 1) * per_page + 1 if rows else 0,
        "last_row": (page_number - 1) * per_page + len(rows),
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "tabs": tabs,
        "own_presets": [p for p in presets if p.owner_id == user.pk],
        "active_preset": active_preset,
        "fields": build_fields(params, flt.errors, today) if params or errors else [],
        "stats_url": links.path("stats:page")
        + ("?" + encode(current_filter) if current_filter else ""),
        "list_path": list_path(),
        "sticky": sticky_class(keys),
        "new_rows": new_rows_texts(),
        "threshold": settings.CONVODESK["COUNT_THRESHOLD"],
        "last_event": ConversationEvent.objects.order_by("-id").values_list("id", flat=True).first()
        or 0,
    }
    template = "conversations/list.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "list-region":
        template = "conversations/_region.html"
    response = render(request, template, context)
    if request.htmx:
        extra = {
            k: request.GET[k] for k in ("page", "after", "before", "count") if request.GET.get(k)
        }
        pushed = encode(params, **extra)
        response["HX-Push-Url"] = list_path() + ("?" + pushed if pushed else "")
    return response
