"""Rows of the list again, for live updates: only those matching the page's filter that the
user may see (the same filter set and visibility rule as the grid)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..columns import COLUMNS
from ..filters import ConversationFilter
from ..models import Conversation
from ..normalize import parse_id
from .params import normalize
from .prefs import user_column_keys
from .rows import build_rows, grid_queryset, load_row, row_texts

MAX_IDS = 200


@login_required
@require_GET
def live_rows(request):
    # parse_id: ids longer than 18 digits cannot exist and would overflow the database
    parsed = (parse_id(v.strip()) for v in request.GET.get("ids", "").split(","))
    ids = [pk for pk in parsed if pk is not None][:MAX_IDS]
    flt = ConversationFilter(normalize(request.GET, timezone.localdate()))
    if not ids or not flt.is_valid():
        return HttpResponse("")
    keys = user_column_keys(request.user)
    qs = flt.filter(Conversation.objects.visible_to(request.user, "view")).filter(pk__in=ids)
    qs = grid_queryset(qs, keys, flt.sort_field)
    rows = build_rows(request.user, list(qs.order_by(*flt.ordering())), keys)
    return render(
        request,
        "conversations/_live_rows.html",
        {"rows": rows, "t": row_texts(), "columns": [COLUMNS[k] for k in keys]},
    )


@login_required
@require_GET
def row_menu(request, pk: int):
    """One row's action menu, loaded when it is opened: a page of rows does not carry 50 menus.
    The same visibility rule and per-action permissions as the grid (load_row, build_rows)."""
    row = load_row(request.user, pk, ["crm_record"])
    if row is None:
        raise Http404
    return render(request, "conversations/_row_menu.html", {"row": row, "t": row_texts()})
