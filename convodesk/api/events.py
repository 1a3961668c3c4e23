"""The event log as a feed (DESIGN rule 8): resume by event id, only what the token's user may see."""

from __future__ import annotations

from ninja import Query, Router

from convodesk.conversations.models import Conversation, ConversationEvent
from convodesk.conversations.visibility import scope_for

from .conversations import MAX_ID, EventPage
from .serializers import event_out

router = Router(tags=["events"])


@router.get(
    "/events", response=EventPage, summary="Changes after an event id, in order (for resuming)"
)
def events(
    request,
    after: int = Query(0, ge=0, lt=MAX_ID, description="The last event id you have seen"),
    limit: int = Query(200, ge=1, le=1000),
):
    visible = Conversation.objects.visible_to(request.auth, "view").values("pk")
    rows = list(
        ConversationEvent.objects.filter(id__gt=after, conversation_id__in=visible)
        .select_related("actor")
        .order_by("id")[:limit]
    )
    items = [event_out(e) for e in rows]
    if scope_for(request.auth, "history") != scope_for(request.auth, "view"):
        # A row the user may list but whose history is closed to them: the feed says what
        # changed (kind, status), not the transcript details (comments, message ids).
        readable = set(
            Conversation.objects.visible_to(request.auth, "history")
            .filter(pk__in={e.conversation_id for e in rows})
            .values_list("pk", flat=True)
        )
        for item in items:
            if item["conversation_id"] not in readable:
                item["payload"] = {}
    return {"items": items, "last_id": rows[-1].pk if rows else after}
