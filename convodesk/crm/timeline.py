"""A card's timeline: its conversations (with their metrics), activities, notes, stage changes,
merges and other changes, newest first, a page at a time.

Each source is read newest first up to the end of the asked page, then the sources are merged;
a card's history is a few hundred entries at most, so the merge stays small. Conversations come
only from `Conversation.objects.visible_to(user, "view")`, activities only from the CRM rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import ngettext

from convodesk.conversations.columns import crm_url, humanize_duration
from convodesk.conversations.models import Conversation, ConversationCrmLink
from convodesk.links import id_path

from . import merge as merging
from .models import Activity, CrmEvent, CrmMerge

PER_PAGE = 20
EVENT_LABELS = {
    "created": _l("Created"),
    "updated": _l("Changed"),
    "stage_changed": _l("Stage changed"),
    "deal_won": _l("Deal won"),
    "deal_lost": _l("Deal lost"),
    "activity_added": _l("Activity added"),
    "activity_deleted": _l("Activity deleted"),
    "merged": _l("Merged"),
    "merge_undone": _l("Merge undone"),
    "imported": _l("Imported"),
    "converted": _l("Converted"),
    "deleted": _l("Deleted"),
}


@dataclass
class Entry:
    at: object
    kind: str  # event, conversation, activity
    label: str
    detail: str
    url: str = ""
    actor: str = ""
    obj: object = None
    undo: int | None = None  # the CrmMerge an "Undo" button posts for


def _event_detail(event: CrmEvent) -> str:
    p = event.payload or {}
    if event.kind in ("stage_changed", "deal_won", "deal_lost"):
        text = f"{p.get('from_name') or p.get('from') or '–'} → {p.get('to_name') or p.get('to')}"
        if p.get("reason"):
            text += f" · {p['reason']}"
        return text
    if event.kind == "updated":
        changes = p.get("changes") or {}
        return "; ".join(
            f"{name}: {before or '–'} → {after or '–'}" for name, (before, after) in changes.items()
        )
    if event.kind in ("activity_added", "activity_deleted"):
        return (p.get("activity") or {}).get("title", "")
    if event.kind in ("merged", "merge_undone"):
        gone = p.get("merged") or {}
        return f"{gone.get('title', '')} (#{gone.get('id', '')})"
    if event.kind == "created" and p.get("conversation"):
        return _("from conversation #%(id)s") % {"id": p["conversation"]}
    if event.kind == "created" and p.get("lead"):
        return _("from lead “%(title)s” (#%(id)s)") % p["lead"]
    if event.kind == "converted":
        return ", ".join(f"{r.get('title', '')} (#{r.get('id', '')})" for r in p.get("records", []))
    return ""


def _conversation_detail(conv) -> str:
    parts = [
        conv.line.name if conv.line_id else "",
        ngettext("%(count)s message", "%(count)s messages", conv.message_count)
        % {"count": conv.message_count},
    ]
    if conv.first_answer_wait is not None:
        parts.append(
            _("first answer in %(time)s") % {"time": humanize_duration(conv.first_answer_wait)}
        )
    if conv.duration is not None:
        parts.append(_("lasted %(time)s") % {"time": humanize_duration(conv.duration)})
    return " · ".join(p for p in parts if p)


def entries(user, record, page: int = 1) -> tuple[list[Entry], bool]:
    """The entries of one page (1-based) and whether an older page exists."""
    want = page * PER_PAGE + 1
    found: list[Entry] = []
    events = CrmEvent.objects.filter(
        entity_type=record.entity_type, entity_id=record.pk
    ).select_related("actor")[:want]
    events = list(events)
    merge_ids = [e.payload.get("merge") for e in events if e.kind == "merged"]
    undoable = {
        m.pk
        for m in CrmMerge.objects.filter(pk__in=[i for i in merge_ids if i])
        if merging.can_undo(m)
    }
    for e in events:
        found.append(
            Entry(
                e.at,
                "event",
                str(EVENT_LABELS.get(e.kind, e.kind.replace("_", " ").capitalize())),
                _event_detail(e),
                actor=e.actor.name if e.actor_id and e.actor else "",
                obj=e,
                undo=e.payload.get("merge") if e.payload.get("merge") in undoable else None,
            )
        )
    if record.entity_type != "activity":
        activities = (
            Activity.objects.visible_to(user, "view")
            .filter(owner_type=record.entity_type, owner_id=record.pk, conversation__isnull=True)
            .select_related("responsible")
            .order_by("-start_at", "-id")[:want]
        )
        for a in activities:
            found.append(
                Entry(
                    a.start_at,
                    "activity",
                    str(a.get_type_display()),
                    a.subject + (f" — {a.description[:200]}" if a.description else ""),
                    url=crm_url("activity", a.pk),
                    actor=a.responsible.name if a.responsible_id else "",
                    obj=a,
                )
            )
        links = ConversationCrmLink.objects.filter(
            conversation=OuterRef("pk"), entity_type=record.entity_type, entity_id=record.pk
        )
        conversations = (
            Conversation.objects.visible_to(user, "view")
            .filter(Exists(links))
            .select_related("line", "responsible")
            .order_by("-started_at", "-id")[:want]
        )
        for c in conversations:
            found.append(
                Entry(
                    c.started_at,
                    "conversation",
                    _("Conversation #%(id)s") % {"id": c.pk},
                    _conversation_detail(c),
                    url=id_path("conversations:history", c.pk),
                    actor=c.responsible.name if c.responsible_id else "",
                    obj=c,
                )
            )
    found.sort(key=lambda e: e.at, reverse=True)
    start = (page - 1) * PER_PAGE
    return found[start : start + PER_PAGE], len(found) > start + PER_PAGE
