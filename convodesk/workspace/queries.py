"""What the workspace reads; every path starts from `visible_to` (DESIGN rule 2)."""

from __future__ import annotations

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from convodesk.conversations.attachments import for_display
from convodesk.conversations.columns import DISLIKE, LIKE
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationEvent, Message
from convodesk.conversations.views.history import tags_detail

from .models import QuickReply, ReadMark

LIST_LIMIT = 100


def queue(user):
    """Conversations offered to me now and waiting to be taken."""
    return (
        Conversation.objects.visible_to(user, "view")
        .filter(
            participants__employee=user,
            participants__offered_now=True,
            status__in=(Status.NEW, Status.SKIPPED),
        )
        .select_related("client", "line")
        # The most urgent first: by the reply-time target's due instant, then by arrival.
        .order_by(F("due_at").asc(nulls_last=True), "started_at", "id")[:LIST_LIMIT]
    )


def mine(user):
    """My open conversations, pinned first, with the count of client messages I have not seen."""
    mark = ReadMark.objects.filter(user=user, conversation=OuterRef("pk")).values(
        "last_message_id"
    )[:1]
    return (
        Conversation.objects.visible_to(user, "view")
        .filter(responsible=user, status__gte=Status.TAKEN, status__lt=Status.CLOSED)
        .select_related("client", "line")
        .annotate(
            unread=Count(
                "messages",
                filter=Q(messages__author_kind=Message.Author.CLIENT)
                & Q(
                    messages__id__gt=Coalesce(Subquery(mark, output_field=IntegerField()), Value(0))
                ),
            )
        )
        .order_by("-pinned", F("due_at").asc(nulls_last=True), "-updated_at", "-id")[:LIST_LIMIT]
    )


def conversation(user, pk: int) -> Conversation | None:
    """The conversation pane shows the transcript: it needs the history permission, not only
    the list's (a row visible in the list may still be closed to its transcript)."""
    return (
        Conversation.objects.visible_to(user, "history")
        .select_related("client", "line", "connection", "identity", "responsible")
        .filter(pk=pk)
        .first()
    )


def labels(conv: Conversation) -> dict:
    """The tags on the conversation and those that can be put on it; its open channel's close
    reasons and whether closing needs one (issue 19 item 3)."""
    from convodesk.conversations.models import Tag
    from convodesk.lines.models import CloseReason

    on = list(conv.tags.order_by("name", "id"))
    ids = {t.pk for t in on}
    offered = [t for t in Tag.objects.order_by("name", "id") if not t.archived or t.pk in ids]
    return {
        "conv_tags": on,
        "tag_choices": [(t, t.pk in ids) for t in offered],
        "close_reasons": list(CloseReason.objects.filter(line_id=conv.line_id, archived=False)),
        "reason_required": conv.line.close_reason_required,
    }


def mark_read(user, conv: Conversation) -> None:
    last = (
        Message.objects.filter(conversation=conv)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )
    updated = ReadMark.objects.filter(
        user=user, conversation=conv, last_message_id__lt=last
    ).update(last_message_id=last)
    if not updated:
        ReadMark.objects.get_or_create(
            user=user, conversation=conv, defaults={"last_message_id": last}
        )


EVENT_LINES = {
    "created": None,
    "created_outgoing": None,
    "client_message": None,
    "employee_message": None,
    "bot_message": None,
    "private_note": None,
    "offered": gettext_lazy("Offered to %(employees)s"),
    "taken": gettext_lazy("%(actor)s took the conversation"),
    "skipped": gettext_lazy("%(actor)s skipped the conversation"),
    "queue_timeout": gettext_lazy("Queue time-out: nobody took it in time"),
    "sla_breached": gettext_lazy("The reply-time target was missed"),
    "transferred": gettext_lazy("%(actor)s transferred the conversation to %(target)s"),
    "closing": gettext_lazy("%(actor)s closed the conversation (closing mode)"),
    "closed": gettext_lazy("%(actor)s closed the conversation"),
    "spam": gettext_lazy("%(actor)s marked the conversation as spam"),
    "duplicate": gettext_lazy("%(actor)s marked the conversation as a duplicate"),
    "auto_closed": gettext_lazy("Closed automatically after the client's silence"),
    "full_closed": gettext_lazy("Closed"),
    "pinned": gettext_lazy("%(actor)s pinned the conversation"),
    "unpinned": gettext_lazy("%(actor)s unpinned the conversation"),
    "reopened": gettext_lazy("The client came back: the conversation was reopened"),
    "client_rated": gettext_lazy("The client rated the conversation: %(rating)s"),
    "supervisor_rated": gettext_lazy("%(actor)s rated the conversation"),
    "crm_bound": gettext_lazy("Bound to the CRM"),
    "tags_changed": gettext_lazy("%(actor)s changed the tags: %(tags)s"),
    "close_reason_changed": gettext_lazy("%(actor)s changed the close reason"),
}


def _names(ids) -> dict[int, str]:
    from convodesk.accounts.models import User

    return {
        u.pk: u.name for u in User.objects.filter(pk__in=[i for i in ids if isinstance(i, int)])
    }


def transcript(conv: Conversation) -> list[dict]:
    """Messages and lifecycle events, in order, as lines to render (text stays text)."""
    from convodesk.lines.models import Line

    lines = []
    for message in (
        Message.objects.filter(conversation=conv)
        .select_related("author", "connection")
        .order_by("created_at", "id")
    ):
        message.files = for_display(message) if message.attachments else []
        lines.append(
            {
                "kind": "message",
                "at": message.created_at,
                "order": (message.created_at, 0, message.id),
                "message": message,
            }
        )
    events = list(
        ConversationEvent.objects.filter(conversation=conv).select_related("actor").order_by("id")
    )
    people = set()
    for event in events:
        people.update(event.payload.get("employees") or [])
        if event.payload.get("employee"):
            people.add(event.payload["employee"])
    names = _names(people)
    for event in events:
        template = EVENT_LINES.get(event.kind, "")
        if template is None:
            continue
        payload = event.payload or {}
        target = ""
        if event.kind == "transferred":
            if payload.get("employee"):
                target = names.get(payload["employee"], "?")
            elif payload.get("line"):
                target = (
                    Line.objects.filter(pk=payload["line"]).values_list("name", flat=True).first()
                    or "?"
                )
            else:
                target = _("the queue")
        values = {
            "actor": event.actor.name if event.actor else _("The system"),
            "employees": ", ".join(names.get(i, "?") for i in payload.get("employees") or []),
            "target": target,
            # words, not emoji: a machine without an emoji font shows boxes (issue 22)
            "rating": str(LIKE if payload.get("rating") == "like" else DISLIKE),
            "tags": tags_detail(payload) if event.kind == "tags_changed" else "",
        }
        text = str(template) % values if template else event.kind.replace("_", " ").capitalize()
        comment = payload.get("comment") or ""
        if payload.get("close_reason"):
            comment = _("Close reason: %(reason)s") % {"reason": payload["close_reason"]}
        lines.append(
            {
                "kind": "event",
                "at": event.at,
                "order": (event.at, 1, event.id),
                "text": text,
                "comment": comment,
            }
        )
    lines.sort(key=lambda line: line["order"])
    return lines


def past(user, conv: Conversation):
    return (
        Conversation.objects.visible_to(user, "history")
        .filter(client_id=conv.client_id)
        .exclude(pk=conv.pk)
        .select_related("line")
        .order_by("-started_at", "-id")[:10]
    )


def quick_replies(conv: Conversation, user=None) -> list[QuickReply]:
    """The shared replies and the employee's own for this conversation's channel, their
    `{client_name}` and `{employee_name}` already filled in."""
    from .quick_replies import fill, offered

    client_name = conv.client.name if conv.client_id else ""
    employee_name = user.name if user is not None else ""
    replies = offered(user, conv.line_id)
    for reply in replies:
        reply.text = fill(reply.text, client_name=client_name, employee_name=employee_name)
    return replies
