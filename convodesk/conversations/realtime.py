"""Fan-out of committed conversation events to the channel layer (DESIGN rule 8).

The event table is the source of truth; this is only the fast path.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("convodesk.realtime")

EVENTS_GROUP = "conversation-events"


def conversation_group(conversation_id: int) -> str:
    """Sockets about one conversation (the client's widget, the operator who has it open)."""
    return f"conversation-{conversation_id}"


async def _send(layer, message) -> None:
    await layer.group_send(EVENTS_GROUP, message)
    await layer.group_send(conversation_group(message["conversation"]), message)


def publish(event_id: int, conversation_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "conversation.event", "event": event_id, "conversation": conversation_id}
    try:
        async_to_sync(_send)(layer, message)
    except Exception:  # the event is in the table; sockets resume from it
        log.warning("could not publish event %s", event_id, exc_info=True)
