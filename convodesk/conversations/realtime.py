"""Fan-out of committed conversation events to the channel layer (DESIGN rule 8).

The event table is the source of truth; this is only the fast path. A service transaction
publishes once, after commit, however many events it recorded: one hint to the events group
naming them all, and one to each conversation's group.
"""

import asyncio
import contextvars
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("convodesk.realtime")

EVENTS_GROUP = "conversation-events"

# The event loop serving the current request or socket (`convodesk.asgi` sets it for each
# connection; asgiref carries it into the thread a sync view or a socket's database call runs
# in). A service called there hands its hint to that loop and returns: the process's one thread
# for sync views then goes on with the next request instead of waiting for the channel layer's
# round trips, which waited in turn for the loop to be free (issue 17: live events under load).
SERVING_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "convodesk_serving_loop", default=None
)
_SENDING: set[asyncio.Task] = set()  # hints on their way (a task is only weakly referenced)


def serving(app):
    """The ASGI `app` with the loop serving each connection made known (SERVING_LOOP)."""

    async def application(scope, receive, send):
        SERVING_LOOP.set(asyncio.get_running_loop())
        return await app(scope, receive, send)

    return application


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
    """Announce committed events [(event id, conversation id), …] in one go: handed to the
    serving loop when there is one (a request or socket of the ASGI server), else sent before
    returning (the task worker, the timers, a management command)."""
    layer = get_channel_layer()
    if layer is None or not events:
        return
    events = list(events)
    loop = SERVING_LOOP.get()
    if loop is not None and not _running_here(loop):
        try:
            loop.call_soon_threadsafe(_start, layer, events)
            return
        except RuntimeError:  # the loop closed meanwhile (a test's, or a server stopping)
            pass
    try:
        async_to_sync(_send)(layer, events)
    except Exception:  # the events are in the table; sockets resume from them
        log.warning("could not publish events %s", [e for e, _c in events], exc_info=True)


def _running_here(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _start(layer, events: list[tuple[int, int]]) -> None:
    task = asyncio.get_running_loop().create_task(_send_or_log(layer, events))
    _SENDING.add(task)
    task.add_done_callback(_SENDING.discard)


async def _send_or_log(layer, events: list[tuple[int, int]]) -> None:
    try:
        await _send(layer, events)
    except Exception:  # as above: a lost hint delays an event, never loses it
        log.warning("could not publish events %s", [e for e, _c in events], exc_info=True)
