"""The deal pipeline: the kanban board (drag between stages, won / lost with a reason), the
move a drag or the card's form posts, pipeline statistics, and a deal made from a conversation
in one click. Deals come only from the CRM rule (crm/visibility.py); moves go through
`services.move_deal`."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery, Sum
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.formats import get_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from convodesk import display, links
from convodesk.conversations.columns import crm_url
from convodesk.conversations.models import ConversationCrmLink
from convodesk.conversations.normalize import parse_id
from convodesk.conversations.services import NotAllowed, NotFound
from convodesk.lines.models import Line

from . import lists, services
from .models import CLOSED_STAGES, CrmEvent, Deal, Pipeline
from .views import _employee, _tabs

BOARD_LIMIT = 50  # cards per column; the list shows the rest


def _pipeline_of(request) -> Pipeline:
    pk = parse_id(request.GET.get("pipeline", ""))
    if pk is not None:
        pipeline = Pipeline.objects.filter(pk=pk).first()
        if pipeline is None:
            raise Http404
        return pipeline
    return Pipeline.default()


@login_required
@require_GET
def board(request):
    user = _employee(request)
    pipeline = _pipeline_of(request)
    visible = Deal.objects.visible_to(user, "view").filter(pipeline=pipeline)
    q = request.GET.get("q", "").strip()[:100]
    if q:
        visible = visible.filter(lists.search_q(q, "deal"))
    stages = pipeline.ordered_stages()
    counts: dict[str, int] = defaultdict(int)
    sums: dict[str, dict[str, Decimal]] = defaultdict(dict)  # per stage, per currency
    for row in (
        visible.order_by().values("stage", "currency").annotate(n=Count("id"), amount=Sum("amount"))
    ):
        counts[row["stage"]] += row["n"]
        sums[row["stage"]][row["currency"]] = row["amount"] or Decimal(0)
    columns = []
    shown_ids = []
    for stage in stages:
        deals = list(
            visible.filter(stage=stage.code)
            .select_related("contact", "responsible")
            .order_by("-updated_at", "-id")[:BOARD_LIMIT]
        )
        shown_ids += [d.pk for d in deals]
        columns.append(
            {
                "stage": stage,
                "deals": deals,
                "count": counts[stage.code],
                # The board's script moves a deal's amount between these as it is dragged.
                "sums": json.dumps({c: str(a) for c, a in sums[stage.code].items()}),
                "sums_text": display.money_sums(sums[stage.code]),
            }
        )
    editable = set(
        Deal.objects.visible_to(user, "edit").filter(pk__in=shown_ids).values_list("pk", flat=True)
    )
    for column in columns:
        for deal in column["deals"]:
            deal.editable = deal.pk in editable
    return render(
        request,
        "crm/board.html",
        {
            "pipeline": pipeline,
            "pipelines": Pipeline.objects.all(),
            "columns": columns,
            "stages": stages,
            "q": q,
            "limit": BOARD_LIMIT,
            "decimal_separator": get_format("DECIMAL_SEPARATOR"),
            "thousand_separator": get_format("THOUSAND_SEPARATOR"),
            "segment": "deals",
            "tabs": _tabs(),
            "can_create": services.may_create(user),
            "view_name": "board",
        },
    )


@login_required
@require_POST
def move(request, pk):
    """Move a deal: JSON for the board's script (Accept: application/json), else a redirect."""
    user = _employee(request)
    wants_json = "application/json" in request.headers.get("Accept", "")
    stage = request.POST.get("stage", "")[:20]
    reason = request.POST.get("reason", "")
    try:
        deal = services.move_deal(user, pk, stage, reason)
    except NotFound:
        raise Http404 from None
    except NotAllowed:
        raise PermissionDenied from None
    except services.FieldErrors as exc:
        if wants_json:
            return JsonResponse({"errors": exc.errors}, status=400)
        messages.error(request, " ".join(exc.errors.values()))
        return redirect(
            request.POST.get("back") == "card" and crm_url("deal", pk) or _board_url(pk)
        )
    if wants_json:
        return JsonResponse(
            {"id": deal.pk, "stage": deal.stage, "stage_name": deal.get_stage_display()}
        )
    messages.success(
        request,
        _("“%(title)s” moved to %(stage)s.")
        % {"title": deal.title, "stage": deal.get_stage_display()},
    )
    return redirect(crm_url("deal", pk) if request.POST.get("back") == "card" else _board_url(pk))


def _board_url(pk) -> str:
    pipeline_id = Deal.objects.filter(pk=pk).values_list("pipeline_id", flat=True).first()
    return links.path("crm:board") + (f"?pipeline={pipeline_id}" if pipeline_id else "")


@login_required
@require_POST
def deal_from_conversation(request, conversation_id):
    user = _employee(request)
    try:
        deal = services.deal_from_conversation(user, conversation_id)
    except NotFound:
        raise Http404 from None
    except NotAllowed:
        raise PermissionDenied from None
    messages.success(request, _("The deal was created and bound to the conversation."))
    return redirect(crm_url("deal", deal.pk))


def conversion(pipeline, deals) -> list[dict]:
    """Per open stage (in order) and won: how many of `deals` reached it, as a count and a share
    of all. A deal reached a stage when it is in it or past it now, or was moved there or past
    it (its stage events); a lost deal reached what it had reached before."""
    stages = pipeline.ordered_stages()
    position = {s.code: i for i, s in enumerate(s for s in stages if s.outcome == "open")}
    won_position = len(position)
    furthest: dict[int, int] = {}
    ids = []
    for pk, code in deals.values_list("pk", "stage"):
        ids.append(pk)
        furthest[pk] = won_position if code == "won" else position.get(code, -1)
    if ids:
        events = CrmEvent.objects.filter(
            entity_type="deal",
            entity_id__in=ids,
            kind__in=("stage_changed", "deal_won", "deal_lost"),
        ).values_list("entity_id", "payload")
        for pk, payload in events.iterator(chunk_size=2000):
            for code in (payload.get("from"), payload.get("to")):
                reached = won_position if code == "won" else position.get(code, -1)
                if reached > furthest.get(pk, -1):
                    furthest[pk] = reached
    total = len(ids)
    rows = []
    for stage in stages:
        if stage.outcome == "lost":
            continue
        index = won_position if stage.outcome == "won" else position[stage.code]
        count = sum(1 for f in furthest.values() if f >= index)
        rows.append(
            {
                "stage": stage,
                "count": count,
                "share": round(100 * count / total) if total else 0,
            }
        )
    return rows


@login_required
@require_GET
def statistics(request):
    """Conversion by stage; won amount by employee and by open channel (the first conversation
    bound to the deal); over the deals the viewer may see, created in the chosen period."""
    user = _employee(request)
    pipeline = _pipeline_of(request)
    params = {
        k: request.GET.get(k, "") for k in ("created_from", "created_to") if request.GET.get(k)
    }
    flt = lists.CrmFilter("deal", params)
    deals = (
        flt.filter(Deal.objects.visible_to(user, "view").filter(pipeline=pipeline))
        if flt.is_valid()
        else Deal.objects.none()
    )
    won = deals.filter(stage="won")
    by_employee = (
        won.order_by()
        .values("responsible_id", "responsible__username", "responsible__display_name", "currency")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("-amount")
    )
    first_line = Subquery(
        ConversationCrmLink.objects.filter(entity_type="deal", entity_id=OuterRef("pk"))
        .order_by("conversation_id")
        .values("conversation__line_id")[:1]
    )
    by_line_rows = (
        won.order_by()
        .annotate(line_id=first_line)
        .values("line_id", "currency")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by("-amount")
    )
    line_names = dict(Line.objects.values_list("pk", "name"))
    by_line = [
        {**row, "line": line_names.get(row["line_id"], _("No conversation"))}
        for row in by_line_rows
    ]
    totals = defaultdict(lambda: 0)
    for row in by_employee:
        totals[row["currency"]] += row["amount"] or 0
    return render(
        request,
        "crm/statistics.html",
        {
            "pipeline": pipeline,
            "pipelines": Pipeline.objects.all(),
            "conversion": conversion(pipeline, deals) if flt.is_valid() else [],
            "by_employee": list(by_employee),
            "by_line": by_line,
            "won_totals": sorted(totals.items()),
            "total": deals.count(),
            "open_count": deals.exclude(stage__in=CLOSED_STAGES).count(),
            "lost_count": deals.filter(stage="lost").count(),
            "won_count": won.count(),
            "errors": list(flt.errors.items()),
            "params": params,
            "segment": "deals",
            "tabs": _tabs(),
            "view_name": "statistics",
        },
    )
