"""Fan-out of committed conversation events to the channel layer (DESIGN rule 8).

The event table is the source of truth; this is only the fast path. A service transaction
publishes once, after commit, however many events it recorded: one hint to the events group
naming them all, and one to each conversation's group.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("convodesk.realtime")

EVENTS_GROUP = "conversation-events"


def conversation_group(conversation_id: int) -> str:
    """Sockets about one conversation (the client's widget, the operator who has it open)."""
    return f"conversation-{conversation_id}"


def _hint(ids: list[int], conversation_id: int) -> dict:
    return {
        "type": "conversation.event",
        "event": ids[-1],
        "events": ids,
        "conversation": conversation_id,
    }


async def _send(layer, events: list[tuple[int, int]]) -> None:
    by_conversation: dict[int, list[int]] = {}
    for event_id, conversation_id in events:
        by_conversation.setdefault(conversation_id, []).append(event_id)
    first = events[0][1]
    await layer.group_send(EVENTS_GROUP, _hint([e for e, _c in events], first))
    for conversation_id, ids in by_conversation.items():
        await layer.group_send(conversation_group(conversation_id), _hint(ids, conversation_id))


def publish_events(events: list[tuple[int, int]]) -> None:
    """Announce committed events [(event id, conversation id), …] in one go."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    try:
        async_to_sync(_send)(layer, list(events))
    except Exception:  # the events are in the table; sockets resume from them
        log.warning("could not publish events %s", [e for e, _c in events], exc_info=True)
