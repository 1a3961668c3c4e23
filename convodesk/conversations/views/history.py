"""Chat history: the whole transcript with lifecycle events, read-only and printable."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from .. import attachments, lifecycle
from ..columns import COLUMNS, METRIC_KEYS
from ..models import Conversation, ConversationEvent, Message

EVENT_LABELS = {
    "created": _("Conversation started by the client"),
    "created_outgoing": _("Outgoing conversation started"),
    "offered": _("Offered to employees"),
    "taken": _("Taken"),
    "skipped": _("Skipped"),
    "transferred": _("Transferred"),
    "closing": _("Closed, waiting for the final close"),
    "closed": _("Closed"),
    "auto_closed": _("Closed automatically"),
    "full_closed": _("Closed"),
    "queue_timeout": _("Queue time-out"),
    "sla_breached": _("Reply-time target missed"),
    "spam": _("Marked as spam"),
    "duplicate": _("Marked as a duplicate"),
    "reopened": _("Reopened"),
    "pinned": _("Pinned"),
    "unpinned": _("Unpinned"),
    "supervisor_rated": _("Supervisor rating"),
    "client_rated": _("Client rating"),
    "crm_bound": _("Bound to a CRM record"),
    "crm_rebound": _("CRM record changed"),
    "crm_lead_converted": _("Lead converted"),
    "crm_unlinked": _("CRM record deleted, link removed"),
    "crm_deal_created": _("Deal created from the conversation"),
    "crm_merged": _("Contacts merged"),
    "crm_merge_undone": _("Contact merge undone"),
    "joined": _("Joined as an extra participant"),
    "note": _("Note"),
    "delivery_failed": _("Reply not delivered"),
    "tags_changed": _("Tags changed"),
    "close_reason_changed": _("Close reason changed"),
}
# Events that only mirror a message already shown in the transcript.
MESSAGE_EVENTS = {"client_message", "employee_message", "bot_message", "private_note"}
ACTOR_LABELS = {
    "client": _("Client"),
    "system": _("System"),
    "timer": _("Timer"),
    "integration": _("Integration"),
}


def tags_detail(payload: dict) -> str:
    """ "+ Billing, + Urgent, − VIP": the tags a tags_changed event added and removed."""
    added = [f"+ {t.get('name', '')}" for t in payload.get("added") or ()]
    removed = [f"− {t.get('name', '')}" for t in payload.get("removed") or ()]
    return ", ".join(added + removed)


def _event_detail(event: ConversationEvent) -> str:
    payload = event.payload or {}
    if event.kind == "tags_changed":
        return tags_detail(payload)
    if payload.get("close_reason"):
        return str(_("Close reason: %(reason)s") % {"reason": payload["close_reason"]})
    if event.kind == "supervisor_rated":
        stars = payload.get("rating")
        text = "★" * stars + "☆" * (5 - stars) if stars else str(_("rating removed"))
        return f"{text} {payload.get('comment') or ''}".strip()
    if event.kind == "client_rated":
        return str({"like": _("Like"), "dislike": _("Dislike")}.get(payload.get("rating"), ""))
    if event.kind == "duplicate" and payload.get("of"):
        return str(_("of #%(id)s") % {"id": payload["of"]})
    if payload.get("title"):
        return str(payload["title"])
    if event.kind == "delivery_failed":
        return str(payload.get("error", ""))
    if event.kind == "transferred":
        return _transfer_detail(payload)
    if event.to_status is not None and event.from_status != event.to_status:
        try:
            label = str(lifecycle.STATUS_LABELS[lifecycle.Status(event.to_status)])
        except ValueError:
            return ""
        return "" if label == str(EVENT_LABELS.get(event.kind, "")) else label
    return ""


def _transfer_detail(payload: dict) -> str:
    from convodesk.accounts.models import User
    from convodesk.lines.models import Line

    parts = []
    if payload.get("employee"):
        user = User.objects.filter(pk=payload["employee"]).first()
        parts.append(
            str(_("to %(name)s") % {"name": user.name if user else "#%s" % payload["employee"]})
        )
    if payload.get("line"):
        line = Line.objects.filter(pk=payload["line"]).first()
        parts.append(
            str(
                _("to the open channel %(name)s") % {"name": line.name if line else payload["line"]}
            )
        )
    if payload.get("comment"):
        parts.append(f"“{payload['comment']}”")
    return " ".join(parts)


def _actor(event: ConversationEvent) -> str:
    if event.actor is not None:
        return event.actor.name
    return str(ACTOR_LABELS.get(event.actor_kind, event.actor_kind))


@login_required
@require_GET
def conversation_history(request, pk: int):
    conv = (
        Conversation.objects.visible_to(request.user, "history")
        .select_related("client", "line", "connection", "responsible")
        .filter(pk=pk)
        .first()
    )
    if conv is None:
        raise Http404
    messages = list(
        Message.objects.filter(conversation=conv)
        .select_related("author", "connection")
        .order_by("created_at", "id")
    )
    for message in messages:
        message.files = attachments.for_display(message)
    events = (
        ConversationEvent.objects.filter(conversation=conv)
        .exclude(kind__in=MESSAGE_EVENTS)
        .select_related("actor")
        .order_by("at", "id")
    )
    entries = [(m.created_at, 1, m.pk, "message", m) for m in messages]
    entries += [
        (
            e.at,
            0,
            e.pk,
            "event",
            {
                "label": EVENT_LABELS.get(e.kind, e.kind.replace("_", " ").capitalize()),
                "actor": _actor(e),
                "detail": _event_detail(e),
                "at": e.at,
                "kind": e.kind,
            },
        )
        for e in events
    ]
    entries.sort(key=lambda item: item[:3])
    summary = [
        (COLUMNS[k].label, COLUMNS[k].render_html(conv))
        for k in (
            "status_detail",
            "type",
            "channel",
            "line",
            "responsible",
            "started_at",
            "closed_at",
            "message_count",
            *METRIC_KEYS,
            "client_rating",
            "supervisor_rating",
        )
    ]
    return render(
        request,
        "conversations/history.html",
        {
            "conv": conv,
            "entries": [(kind, obj) for *_k, kind, obj in entries],
            "summary": summary,
        },
    )
