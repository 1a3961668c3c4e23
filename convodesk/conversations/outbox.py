"""Sockets are fed from the event log (DESIGN rule 8).

A socket remembers the last event id it delivered (a `Cursor`) and, whenever it is woken,
reads the events after it from `ConversationEvent`. The wake-up comes from the channel layer:
the services publish once per transaction after commit (`realtime.publish_events`), and on the embedded default the `Hub`
of each web process also polls the event table, so events committed by another process (the task
worker, the timers loop) still arrive. The layer message is only a hint; the table is the truth,
so a lost hint delays an event but never loses it, and a duplicate hint sends nothing twice.

On PostgreSQL ids can commit out of order (id 10 may commit after id 11), so a cursor re-reads
a short window of ids below its last one and drops those it has already sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.models import Max

from convodesk.prepared import Prepared

from . import realtime, visibility
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
        floor = self.floor()
        for event_id in sorted(ids):
            if event_id <= floor or event_id in self.sent:
                continue
            self.sent.add(event_id)
            fresh.append(event_id)
            self.last = max(self.last, event_id)
        lowest = self.floor()
        self.sent = {i for i in self.sent if i > lowest}
        return fresh


def _events_query(names: tuple[str, ...]) -> Prepared:
    return Prepared(
        lambda floor, *values: (
            ConversationEvent.objects.filter(id__gt=floor, **dict(zip(names, values, strict=True)))
            .select_related("actor")
            .order_by("id")[:BATCH]
        )
    )


# One compiled read per set of filter names: every socket reads the same shape at every
# wake-up (a widget at each of its client's messages), so compiling it each time cost more
# CPU than running it.
_EVENTS: dict[tuple[str, ...], Prepared] = {}


def events_after(cursor: Cursor, **filters) -> list[ConversationEvent]:
    """The events after the cursor matching `filters`, not yet sent, oldest first."""
    names = tuple(sorted(filters))
    read = _EVENTS.get(names)
    if read is None:
        read = _EVENTS[names] = _events_query(names)
    rows = read(cursor.floor(), *(filters[name] for name in names))
    fresh = set(cursor.take([e.id for e in rows]))
    return [e for e in rows if e.id in fresh]


class Feed:
    """Mixin for consumers fed from the log: wake-ups arriving close together share one read,
    and reads run one at a time, so frames go out in id order."""

    coalesce_seconds = 0.02

    def feed_init(self) -> None:
        self._feed_lock = asyncio.Lock()
        self._feed_scheduled = False
        self._feed_dirty = False

    async def wake(self) -> None:
        if self._feed_scheduled:
            return
        self._feed_scheduled = True
        asyncio.get_running_loop().create_task(self._wake_later())

    async def _wake_later(self) -> None:
        await asyncio.sleep(self.coalesce_seconds)
        self._feed_scheduled = False
        try:
            await self.catch_up()
        except Exception:  # the socket went away meanwhile; it resumes from its last id
            log.debug("catch-up after a wake-up failed", exc_info=True)

    async def catch_up(self) -> None:
        async with self._feed_lock:
            while True:
                self._feed_dirty = False
                await self.read_and_send()
                if not self._feed_dirty:  # the hub came by while we read: read once more
                    return

    async def read_and_send(self) -> None:
        raise NotImplementedError


# The hub ---------------------------------------------------------------------------------
#
# Each web process (each event loop) has one hub. It is the process's only member of the
# layer's events group, reads each new event from the table once, and hands the batch to the
# operator sockets of the process, which each keep only what their user may see. On the
# embedded default (in-memory layer) it also polls the table, so events committed by another
# process (the task worker, the timers loop) arrive; those it forwards to the conversation's
# group, where the client's widget socket listens.

_hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layer_is_shared() -> bool:
    """With Redis every process publishes to every other; no polling needed."""
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return "InMemory" not in backend


@dataclass(frozen=True)
class Item:
    id: int
    conversation_id: int
    kind: str
    from_status: int | None
    to_status: int | None


class Hub:
    def __init__(self):
        self.members: set = set()
        self.announced: set[int] = set()
        self.cursor: Cursor | None = None
        self.scheduled = False
        self.lock = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self.layer = get_channel_layer()
        self.cursor = Cursor(await database_sync_to_async(latest_id)())
        self.channel = await self.layer.new_channel()  # shares the process's receive loop
        await self.layer.group_add(realtime.EVENTS_GROUP, self.channel)
        loop = asyncio.get_running_loop()
        self.tasks.append(loop.create_task(self._listen()))
        if not layer_is_shared():
            self.tasks.append(loop.create_task(self._poll()))

    async def join(self, member) -> None:
        self.members.add(member)

    def leave(self, member) -> None:
        self.members.discard(member)

    async def _listen(self) -> None:
        renewed = time.monotonic()
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("outbox hub could not read the channel layer", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") == "conversation.event":
                self.announced.update(message.get("events") or [message.get("event")])
                self.wake()
            if time.monotonic() - renewed > 3600:  # groups expire in Redis; stay a member
                await self.layer.group_add(realtime.EVENTS_GROUP, self.channel)
                renewed = time.monotonic()

    async def _poll(self) -> None:
        interval = float(settings.CONVODESK.get("OUTBOX_POLL_SECONDS", 0.5))
        while True:
            await asyncio.sleep(interval)
            self.wake()

    def wake(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().create_task(self._tick_later())

    async def _tick_later(self) -> None:
        await asyncio.sleep(Feed.coalesce_seconds)
        self.scheduled = False
        try:
            await self.tick()
        except asyncio.CancelledError:
            raise
        except Exception:  # a locked or restarting database: the next wake-up reads again
            log.warning("outbox hub could not read the event table", exc_info=True)

    async def tick(self) -> None:
        async with self.lock:
            while True:
                items = await database_sync_to_async(self._read)()
                if not items:
                    return
                unannounced = [i for i in items if i.id not in self.announced]
                self.announced.difference_update(i.id for i in items)
                if len(self.announced) > 10_000:
                    self.announced.clear()
                for item in unannounced:  # written by another process: wake its widget
                    await self.layer.group_send(
                        realtime.conversation_group(item.conversation_id),
                        {
                            "type": "conversation.event",
                            "event": item.id,
                            "conversation": item.conversation_id,
                        },
                    )
                await self.deliver(items)
                if len(items) < BATCH * 5:
                    return

    async def deliver(self, items: list[Item]) -> None:
        """Hand a batch to every member: one visibility query for all of them together."""
        ready = []
        for member in list(self.members):
            if member._feed_lock.locked():  # catching up: it reads these itself afterwards
                member._feed_dirty = True
                continue
            fresh = member.take(items)
            if fresh:
                ready.append((member, fresh))
        if not ready:
            return
        for member, _fresh in ready:  # sockets re-read their permissions now and then
            if getattr(member, "permissions_due", lambda: False)():
                await database_sync_to_async(member.refresh_permissions)()
        scopes = {n: member.visible_scope() for n, (member, _fresh) in enumerate(ready)}
        limited = {n: scope for n, scope in scopes.items() if scope is not None}
        visible = {}
        if limited:
            ids = {e.conversation_id for n in limited for e in ready[n][1]}
            visible = await database_sync_to_async(visibility.visible_among)(limited, ids)
        for n, (member, fresh) in enumerate(ready):
            frames = member.frames_for(fresh, visible.get(n))
            try:
                for frame in frames:
                    await member.send_json(frame)
            except Exception:  # one closed socket must not stop the others
                log.debug("delivery to a socket failed", exc_info=True)

    def _read(self) -> list[Item]:
        rows = list(
            ConversationEvent.objects.filter(id__gt=self.cursor.floor())
            .order_by("id")
            .values_list("id", "conversation_id", "kind", "from_status", "to_status")[: BATCH * 5]
        )
        fresh = set(self.cursor.take([r[0] for r in rows]))
        return [Item(*r) for r in rows if r[0] in fresh]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        try:
            await self.layer.group_discard(realtime.EVENTS_GROUP, self.channel)
        except Exception:
            pass


async def hub() -> Hub:
    """This event loop's hub, started on first use."""
    loop = asyncio.get_running_loop()
    current = _hubs.get(loop)
    if current is None:
        current = _hubs[loop] = Hub()
        await current.start()
    return current


async def stop_hub() -> None:
    """Stop this event loop's hub (tests, shutdown)."""
    current = _hubs.pop(asyncio.get_running_loop(), None)
    if current is not None:
        await current.stop()
