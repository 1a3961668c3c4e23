"""Sockets are fed from the event log (DESIGN rule 8).

A socket remembers the last event id it delivered (a `Cursor`) and, whenever it is woken,
reads the events after it from `ConversationEvent`. The wake-up comes from the channel layer:
the services publish after commit (`realtime.publish`), and on the embedded default a `tailer`
in each web process polls the event table, so events committed by another process (the task
worker, the timers loop) still arrive. The layer message is only a hint; the table is the truth,
so a lost hint delays an event but never loses it, and a duplicate hint sends nothing twice.

On PostgreSQL ids can commit out of order (id 10 may commit after id 11), so a cursor re-reads
a short window of ids below its last one and drops those it has already sent.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.models import Max

from . import realtime
from .models import ConversationEvent

log = logging.getLogger("convodesk.outbox")

BATCH = 200


def lag_ids() -> int:
    """How far below its last id a cursor re-reads; SQLite commits ids in order."""
    if connection.vendor == "postgresql":
        return int(settings.CONVODESK.get("OUTBOX_LAG_IDS", 500))
    return 0


def latest_id() -> int:
    return ConversationEvent.objects.aggregate(m=Max("id"))["m"] or 0


class Cursor:
    """The position of one socket in the event log: ids up to `last`, plus recent ids sent."""

    def __init__(self, last: int):
        self.base = self.last = max(0, int(last))  # everything up to `base` was delivered before
        self.sent: set[int] = set()

    def floor(self) -> int:
        return max(self.base, self.last - lag_ids())

    def take(self, ids) -> list[int]:
        """Mark these ids as read; return the ones not delivered before, in order."""
        fresh = []
        for event_id in sorted(ids):
            if event_id <= self.base or event_id in self.sent:
                continue
            self.sent.add(event_id)
            fresh.append(event_id)
            self.last = max(self.last, event_id)
        lowest = self.floor()
        self.sent = {i for i in self.sent if i > lowest}
        return fresh


def events_after(cursor: Cursor, **filters) -> list[ConversationEvent]:
    """The events after the cursor matching `filters`, not yet sent, oldest first."""
    rows = list(
        ConversationEvent.objects.filter(id__gt=cursor.floor(), **filters)
        .select_related("actor")
        .order_by("id")[:BATCH]
    )
    fresh = set(cursor.take([e.id for e in rows]))
    return [e for e in rows if e.id in fresh]


# The tailer -----------------------------------------------------------------------------

_tailers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layer_is_shared() -> bool:
    """With Redis every process publishes to every other; no polling needed."""
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return "InMemory" not in backend


def ensure_tailer() -> None:
    """Start this event loop's tailer once (embedded default only)."""
    if layer_is_shared():
        return
    loop = asyncio.get_running_loop()
    task = _tailers.get(loop)
    if task is None or task.done():
        _tailers[loop] = loop.create_task(tail())


@database_sync_to_async
def _poll(cursor: Cursor) -> list[tuple[int, int]]:
    rows = list(
        ConversationEvent.objects.filter(id__gt=cursor.floor())
        .order_by("id")
        .values_list("id", "conversation_id")[: BATCH * 5]
    )
    fresh = set(cursor.take([r[0] for r in rows]))
    return [r for r in rows if r[0] in fresh]


async def tail(interval: float | None = None) -> None:
    """Poll the event table and wake this process's sockets for events it did not publish."""
    interval = interval or float(settings.CONVODESK.get("OUTBOX_POLL_SECONDS", 0.5))
    layer = get_channel_layer()
    cursor = Cursor(await database_sync_to_async(latest_id)())
    while True:
        try:
            for event_id, conversation_id in await _poll(cursor):
                await realtime._send(
                    layer, {"type": "conversation.event", "event": event_id, "conversation": conversation_id}
                )
        except asyncio.CancelledError:
            raise
        except Exception:  # a locked or restarting database: try again on the next tick
            log.warning("event tailer could not read the event table", exc_info=True)
        await asyncio.sleep(interval)


async def stop_tailer() -> None:
    """Stop this event loop's tailer (tests, shutdown)."""
    task = _tailers.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
