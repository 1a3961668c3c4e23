"""Fan-out of committed conversation events to the channel layer (DESIGN rule 8).

The event table is the source of truth; this is only the fast path.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("convodesk.realtime")

EVENTS_GROUP = "conversation-events"


def publish(event_id: int, conversation_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            EVENTS_GROUP, {"type": "conversation.event", "event": event_id, "conversation": conversation_id}
        )
    except Exception:  # the event is in the table; sockets resume from it
        log.warning("could not publish event %s", event_id, exc_info=True)
