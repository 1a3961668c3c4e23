"""`/ws/operator/`: the live feed of the workspace and the conversation list.

Authenticated by the session. Every event read from the log is checked against the one
visibility rule before it is sent: `visibility.visible_among`, asked for all of a process's
sockets at once, reads the participant rows `Conversation.objects.visible_to(user, "view")`
reads. A conversation the socket was told about that is no longer visible (taken by someone
else, transferred away) is announced once as `gone`, without details. The browser resumes with
`?last=<event id>`.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from convodesk.accounts import deactivation
from convodesk.accounts.access import forget_levels
from convodesk.conversations import outbox, realtime, visibility
from convodesk.conversations.models import Conversation
from convodesk.conversations.normalize import parse_id

from . import presence

PERMISSION_TTL = 30  # seconds

MAX_WATCH = 500


def _int(value, default=None):
    """An id or an event number from the browser: a JSON integer or ASCII digits, 0 to 18 digits
    (parse_id: "³" or "٣" is no number here)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    number = parse_id(value)
    return default if number is None else number


class OperatorConsumer(outbox.Feed, AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active or user.is_integration:
            await self.close(code=4401)
            return
        self.user = user
        self.feed_init()
        self.known: set[int] = set()
        self.opened: set[int] = set()
        query = dict(
            part.split("=", 1)
            for part in self.scope.get("query_string", b"").decode().split("&")
            if "=" in part
        )
        last = _int(query.get("last"))
        latest = await database_sync_to_async(outbox.latest_id)()
        # Nothing past the log's end can have been seen: a larger number would silence the feed.
        self.cursor = outbox.Cursor(latest if last is None or last > latest else last)
        await database_sync_to_async(self._read_scope)()
        await self.accept()
        # Deactivating the employee closes this socket at once (accounts.deactivation).
        await self.channel_layer.group_add(deactivation.user_group(user.pk), self.channel_name)
        if not await database_sync_to_async(self._still_active)():
            await self.close(code=deactivation.CLOSE_CODE)  # deactivated while connecting
            return
        await database_sync_to_async(presence.socket_opened)(user.pk)
        await self.send_json({"type": "hello", "last": self.cursor.last})
        # Join the process's hub first, then catch up: nothing committed in between is missed,
        # and what both bring is sent once (the cursor drops ids it has sent).
        self.hub = await outbox.hub()
        await self.hub.join(self)
        await self.catch_up()

    async def disconnect(self, code):
        if not hasattr(self, "user"):
            return
        if getattr(self, "hub", None) is not None:
            self.hub.leave(self)
        try:
            await self.channel_layer.group_discard(
                deactivation.user_group(self.user.pk), self.channel_name
            )
            for conversation_id in self.opened:
                await self.channel_layer.group_discard(
                    realtime.conversation_group(conversation_id), self.channel_name
                )
        except Exception:  # many sockets closing at once (a restart): memberships expire anyway
            pass
        due = await database_sync_to_async(presence.socket_closed)(self.user.pk)
        if due is not None:
            asyncio.get_running_loop().create_task(self._turn_away_later(due))

    async def _turn_away_later(self, due):
        await asyncio.sleep(max(0.0, (due - timezone.now()).total_seconds()) + 0.05)
        await database_sync_to_async(presence.sweep)()

    # From the browser -------------------------------------------------------------------

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "watch":
            ids = [i for i in (_int(x) for x in (content.get("ids") or [])[:MAX_WATCH]) if i]
            self.known |= await database_sync_to_async(self._visible_ids)(ids)
        elif kind == "open":
            conversation_id = _int(content.get("conversation"))
            if conversation_id and await database_sync_to_async(self._visible_ids)(
                [conversation_id]
            ):
                self.known.add(conversation_id)
                for old in self.opened - {conversation_id}:
                    await self.channel_layer.group_discard(
                        realtime.conversation_group(old), self.channel_name
                    )
                self.opened = {conversation_id}
                await self.channel_layer.group_add(
                    realtime.conversation_group(conversation_id), self.channel_name
                )
        elif kind == "typing":
            conversation_id = _int(content.get("conversation"))
            if conversation_id in self.opened:
                await self.channel_layer.group_send(
                    realtime.conversation_group(conversation_id),
                    {
                        "type": "conversation.typing",
                        "who": "employee",
                        "name": self.user.name,
                        "conversation": conversation_id,
                        "sender": self.channel_name,
                    },
                )

    # From the channel layer ---------------------------------------------------------------

    async def user_force_close(self, message):
        """The employee was deactivated: nothing more is sent on this socket."""
        if getattr(self, "hub", None) is not None:
            self.hub.leave(self)
            self.hub = None
        await self.close(code=deactivation.CLOSE_CODE)

    async def conversation_event(self, message):
        """From the group of the conversation open in the workspace; the hub already brings it."""

    async def _still_open(self, conversation_id) -> bool:
        """A conversation's group is left as soon as the employee may no longer see it (their
        role changed, it was transferred away): its typing and delivery news stop too."""
        if conversation_id in self.opened:
            return True
        await self.channel_layer.group_discard(
            realtime.conversation_group(conversation_id), self.channel_name
        )
        return False

    async def conversation_typing(self, message):
        if message.get("sender") == self.channel_name or message.get("who") != "client":
            return
        if not await self._still_open(message["conversation"]):
            return
        await self.send_json({"type": "typing", "conversation": message["conversation"]})

    async def conversation_delivery(self, message):
        if not await self._still_open(message["conversation"]):
            return
        await self.send_json(
            {
                "type": "delivery",
                "conversation": message["conversation"],
                "message": message["message"],
                "state": message["state"],
            }
        )

    async def read_and_send(self):
        while True:
            items, full = await database_sync_to_async(self._batch)()
            for item in items:
                await self.send_json(item)
            if not full:
                return

    # Database side (sync) ---------------------------------------------------------------

    def _still_active(self) -> bool:
        from django.contrib.auth import get_user_model

        return get_user_model().objects.filter(pk=self.user.pk, is_active=True).exists()

    def permissions_due(self) -> bool:
        return time.monotonic() - self.permissions_read_at >= PERMISSION_TTL

    def refresh_permissions(self) -> None:
        """A socket lives for hours: the employee's levels are read again every PERMISSION_TTL
        seconds (sync side; the hub calls it before a batch), so a lowered role or a department
        move narrows what the socket streams."""
        forget_levels(self.user)
        visibility.forget_departments(self.user)
        self._read_scope()
        if self.opened and self.view_scope is not None:
            self.opened &= self._visible_ids(self.opened)

    def _read_scope(self) -> None:
        kind_ids = visibility.scope_for(self.user, "view")
        self.view_scope = None if kind_ids[0] == "all" else kind_ids
        self.permissions_read_at = time.monotonic()

    def _visible_ids(self, ids) -> set[int]:
        return set(
            Conversation.objects.visible_to(self.user, "view")
            .filter(pk__in=list(ids))
            .values_list("pk", flat=True)
        )

    def _batch(self):
        events = outbox.events_after(self.cursor)
        return self._frames(events, fresh=True), len(events) >= outbox.BATCH

    def _frames(self, events, fresh: bool = False) -> list[dict]:
        if self.permissions_due():
            self.refresh_permissions()
        if not fresh:
            events = self.take(events)
        if not events:
            return []
        scope = self.visible_scope()
        visible = None
        if scope is not None:
            ids = {e.conversation_id for e in events}
            visible = visibility.visible_among({0: scope}, ids)[0]
        return self.frames_for(events, visible)

    # The hub's side: it reads each event once for the whole process -----------------------

    def take(self, events) -> list:
        keep = set(self.cursor.take([e.id for e in events]))
        return [e for e in events if e.id in keep]

    def visible_scope(self):
        """The user's `visibility.scope_for(user, "view")`, read at most PERMISSION_TTL seconds
        ago; None when they see everything."""
        return self.view_scope

    def frames_for(self, events, visible: set[int] | None) -> list[dict]:
        """Frames for the events this user may see now; `gone` once for those it no longer may."""
        items = []
        gone_sent = set()
        for event in events:
            cid = event.conversation_id
            if visible is None or cid in visible:
                self.known.add(cid)
                items.append(
                    {
                        "type": "event",
                        "id": event.id,
                        "conversation": cid,
                        "kind": event.kind,
                        "status": event.to_status,
                        "from_status": event.from_status,
                    }
                )
            elif cid in self.known and cid not in gone_sent:
                gone_sent.add(cid)
                items.append({"type": "gone", "id": event.id, "conversation": cid})
        self.known -= gone_sent
        self.opened -= gone_sent
        return items
