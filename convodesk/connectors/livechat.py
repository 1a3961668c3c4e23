"""The website chat widget (`livechat` connections): a thin connector (DESIGN rule 6).

The client's browser keeps a random token in `localStorage`; its SHA-256 is the channel
identity, so the token itself is never stored nor shown, and an id cannot be guessed. The
widget talks over `/ws/widget/<public key>/`: it says hello with its token and the last event
id it saw, sends messages (into `services.receive_client_message`), typing and a rating, and is
fed the events of its own identity's conversations from the event log (`outbox`).

Attachments are not accepted by the widget: text only.
"""

from __future__ import annotations

import hashlib
import logging
import re

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from convodesk.conversations import outbox, realtime, services
from convodesk.conversations.attachments import safe_url
from convodesk.conversations.lifecycle import IllegalTransition, Status
from convodesk.conversations.models import ClientIdentity, Conversation, Message
from convodesk.lines.models import Connection
from convodesk.prepared import Prepared
from convodesk.ratelimit import LeakyBucket

from . import files, origins, skipped
from .clean import clean


def in_db_thread(func):
    """A widget socket's database work, in the process's one thread for sync code
    (`database_sync_to_async`'s default). Running it in the event loop's pool of threads on
    PostgreSQL made live events slower on an idle machine, not faster (BENCHMARKS.md, the
    ws_bench A/B of 2026-12-06): concurrent transactions of one line contend for its rows."""
    return database_sync_to_async(func)


log = logging.getLogger("convodesk.livechat")

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
CLIENT_MESSAGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MESSAGE_KINDS = {
    "created",
    "reopened",
    "client_message",
    "employee_message",
    "bot_message",
    "created_outgoing",
}
HISTORY_MESSAGES = 100
# The reads of every echo, compiled once (an echo follows each of the client's messages).
# The client's newest conversation, with who holds it (`_state`).
_LATEST = Prepared(
    lambda identity_id: (
        Conversation.objects.select_related("responsible")
        .filter(identity_id=identity_id)
        .order_by("-started_at", "-id")[:1]
    )
)
_MESSAGES = Prepared(lambda *ids: Message.objects.select_related("author").filter(pk__in=ids))
# What the client's own transcript shows: never system lines, never employees' private notes.
CLIENT_SEES = (Message.Author.CLIENT, Message.Author.EMPLOYEE, Message.Author.BOT)

DEFAULTS = {
    "max_length": 2000,  # characters per message
    "per_token": 8,  # messages per window per client token
    "per_ip": 30,  # messages per window per IP address
    "window_seconds": 10,
    "ask_name": True,
    "ask_email": True,
    "ask_phone": False,
    "title": "",
    "color": "#2f5bea",
    "greeting": "",  # the first line in the chat window; empty: the product's own, translated
    "position": "right",  # the corner the chat button sits in: right or left
    "language": "",  # the widget's language; empty: the visitor's browser's
}
POSITIONS = ("right", "left")


def option(connection: Connection, name: str):
    value = (connection.config or {}).get(name, DEFAULTS[name])
    return type(DEFAULTS[name])(value) if value is not None else DEFAULTS[name]


def identity_of(token: str) -> str:
    return "web-" + hashlib.sha256(token.encode()).hexdigest()[:40]


# A widget key is what crypto.new_secret() makes: URL-safe base64, at most 64 characters.
WIDGET_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def widget_connection(key) -> Connection | None:
    """The active web chat connection a public key names (its script, its demo page, its
    socket). Anything that is not a key's shape is nobody's key, before any query (a NUL in
    the URL was a 500 on PostgreSQL)."""
    if not isinstance(key, str) or not WIDGET_KEY_RE.fullmatch(key):
        return None
    return (
        Connection.objects.select_related("line")
        .filter(public_key=key, kind=Connection.Kind.LIVECHAT, active=True, line__active=True)
        .first()
    )


# Each web process limits its own sockets' messages, as the API its tokens' requests.
limiter = LeakyBucket()


def _message_item(message: Message, event_id: int | None = None) -> dict:
    author = message.author_kind
    name = ""
    if author == Message.Author.EMPLOYEE and message.author is not None:
        name = message.author.name
    client_id = ""
    if author == Message.Author.CLIENT and message.external_id and ":" in message.external_id:
        client_id = message.external_id.rsplit(":", 1)[1]
    return {
        "type": "message",
        "event": event_id,
        "id": message.pk,
        "conversation": message.conversation_id,
        "author": author,
        "name": name,
        "text": message.text,
        # A reply's files as signed links that expire; a path when PUBLIC_URL is unset (the
        # widget puts its own server in front).
        "files": files.outgoing(message),
        "at": message.created_at.isoformat(),
        "client_id": client_id,
    }


def _state(conversation: Conversation | None) -> dict:
    if conversation is None:
        return {
            "type": "state",
            "conversation": None,
            "status": None,
            "closed": False,
            "can_rate": False,
        }
    status = conversation.status
    return {
        "type": "state",
        "conversation": conversation.pk,
        "status": conversation.simple_status,
        "code": status,
        "closed": status >= Status.CLOSING,
        "operator": conversation.responsible.name
        if conversation.responsible_id and status >= Status.TAKEN
        else "",
        "rating": {1: "like", -1: "dislike"}.get(conversation.client_rating),
        "can_rate": status >= Status.CLOSING
        and status not in (Status.SPAM, Status.DUPLICATE)
        and conversation.client_rating is None,
    }


class WidgetConsumer(outbox.Feed, AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.connection = None
        self.identity_id = None
        self.conversations: set[int] = set()
        self.cursor = None
        self.feed_init()
        await self.accept()
        key = self.scope["url_route"]["kwargs"].get("key", "")
        connection = await in_db_thread(self._connection)(key)
        if connection is None:
            return await self.refuse("unknown_key", _("This chat is not available."), 4404)
        if not origins.widget_origin_allowed(self.scope, connection.allowed_origins):
            return await self.refuse("origin", _("This chat is not enabled on this website."), 4403)
        self.connection = connection

    async def refuse(self, code: str, message: str, close_code: int):
        await self.send_json({"type": "error", "code": code, "message": message, "fatal": True})
        await self.close(code=close_code)

    async def disconnect(self, code):
        try:
            for conversation_id in self.conversations:
                await self.channel_layer.group_discard(
                    realtime.conversation_group(conversation_id), self.channel_name
                )
        except Exception:  # many sockets closing at once (a restart): memberships expire anyway
            log.debug("could not leave the conversation groups", exc_info=True)

    # From the browser -------------------------------------------------------------------

    async def receive_json(self, content, **kwargs):
        if self.connection is None or not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "hello":
            await self.hello(content)
        elif self.cursor is None:
            await self.send_json(
                {"type": "error", "code": "hello_first", "message": _("Say hello first.")}
            )
        elif kind == "message":
            await self.client_message(content)
        elif kind == "typing":
            conversation_id = await in_db_thread(self._open_conversation_id)()
            if conversation_id:
                await self.channel_layer.group_send(
                    realtime.conversation_group(conversation_id),
                    {
                        "type": "conversation.typing",
                        "who": "client",
                        "conversation": conversation_id,
                        "sender": self.channel_name,
                    },
                )
        elif kind == "rate":
            await self.rate(content)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        limit = option(self.connection, "max_length") * 6 + 4096 if self.connection else 4096
        if bytes_data is not None or text_data is None or len(text_data) > limit:
            await self.send_json(
                {"type": "error", "code": "too_long", "message": _("The message is too long.")}
            )
            return
        try:
            await super().receive(text_data=text_data, **kwargs)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
            await self.send_json(
                {"type": "error", "code": "bad_request", "message": _("Unreadable message.")}
            )

    async def hello(self, content):
        token = content.get("token")
        if not isinstance(token, str) or not TOKEN_RE.match(token):
            return await self.refuse("bad_token", _("Unreadable client token."), 4400)
        self.external_id = identity_of(token)
        last = content.get("last")
        ready = await in_db_thread(self._hello)(
            last if isinstance(last, int) and last >= 0 else None
        )
        for conversation_id in self.conversations:
            await self.channel_layer.group_add(
                realtime.conversation_group(conversation_id), self.channel_name
            )
        await outbox.hub()  # on the embedded default it also polls for other processes' events
        await self.send_json(ready)
        await self.catch_up()

    async def client_message(self, content):
        text = clean(content.get("text")) if isinstance(content.get("text"), str) else None
        if not isinstance(text, str) or not text.strip():
            return await self.send_json(
                {"type": "error", "code": "empty", "message": _("The message is empty.")}
            )
        if len(text) > option(self.connection, "max_length"):
            return await self.send_json(
                {
                    "type": "error",
                    "code": "too_long",
                    "message": _("The message is too long (at most %(n)s characters).")
                    % {"n": option(self.connection, "max_length")},
                }
            )
        # A burst of `per_token` (`per_ip`) messages, refilled over `window_seconds`.
        window = option(self.connection, "window_seconds")
        ip = (self.scope.get("client") or ["?"])[0]
        per_token, per_ip = option(self.connection, "per_token"), option(self.connection, "per_ip")
        if not limiter.allow(f"t:{self.external_id}", per_token, per_token / window) or not (
            limiter.allow(f"i:{ip}", per_ip, per_ip / window)
        ):
            return await self.send_json(
                {
                    "type": "error",
                    "code": "rate_limited",
                    "message": _("You are sending messages too fast. Please wait a moment."),
                }
            )
        try:
            conversation_id = await in_db_thread(self._receive)(content, text)
        except Exception as exc:  # the socket lives on whatever one message does
            if skipped.is_message_fault(exc):
                await in_db_thread(skipped.record)(self.connection, content.get("id"), exc, content)
                code, message = "not_stored", _("This message could not be stored.")
            else:
                log.exception("livechat %s: message not stored", self.connection.pk)
                code, message = "unavailable", _("The message was not sent. Please try again.")
            return await self.send_json({"type": "error", "code": code, "message": message})
        if conversation_id not in self.conversations:
            self.conversations.add(conversation_id)
            await self.channel_layer.group_add(
                realtime.conversation_group(conversation_id), self.channel_name
            )
        await self.catch_up()

    async def rate(self, content):
        like = content.get("like")
        if not isinstance(like, bool):
            return await self.send_json(
                {"type": "error", "code": "bad_rating", "message": _("Choose 👍 or 👎.")}
            )
        error = await in_db_thread(self._rate)(like)
        if error:
            await self.send_json({"type": "error", "code": "cannot_rate", "message": error})
        await self.catch_up()

    # From the channel layer ---------------------------------------------------------------

    async def conversation_event(self, message):
        if self.cursor is None or message.get("conversation") not in self.conversations:
            return
        await self.wake()

    async def conversation_typing(self, message):
        if self.cursor is None or message.get("who") != "employee":
            return
        await self.send_json({"type": "typing", "name": message.get("name", "")})

    async def conversation_delivery(self, message):
        pass

    async def read_and_send(self):
        while True:
            items, delivered, full = await in_db_thread(self._batch)()
            for item in items:
                await self.send_json(item)
            for conversation_id, message_id in delivered:
                await self.channel_layer.group_send(
                    realtime.conversation_group(conversation_id),
                    {
                        "type": "conversation.delivery",
                        "conversation": conversation_id,
                        "message": message_id,
                        "state": Message.Delivery.SENT,
                    },
                )
            if not full:
                return

    # Database side (sync) ---------------------------------------------------------------

    def _connection(self, key: str) -> Connection | None:
        return widget_connection(key)

    def _identity(self) -> ClientIdentity | None:
        if self.identity_id is None:
            self.identity_id = (
                ClientIdentity.objects.filter(
                    connection=self.connection, external_id=self.external_id
                )
                .values_list("pk", flat=True)
                .first()
            )
        return self.identity_id

    def _latest(self) -> Conversation | None:
        if self._identity() is None:
            return None
        return _LATEST.first(self.identity_id)

    def _open_conversation_id(self) -> int | None:
        latest = self._latest()
        return latest.pk if latest is not None and latest.is_open else None

    def _hello(self, last: int | None) -> dict:
        latest_event = outbox.latest_id()
        messages = []
        if self._identity() is not None:
            conversations = Conversation.objects.filter(identity_id=self.identity_id)
            self.conversations = set(
                conversations.filter(status__lt=Status.CLOSED).values_list("pk", flat=True)
            )
            latest = self._latest()
            if latest is not None:
                self.conversations.add(latest.pk)
            if last is None:
                rows = list(
                    Message.objects.filter(conversation__identity_id=self.identity_id)
                    .filter(author_kind__in=CLIENT_SEES)
                    .select_related("author")
                    .order_by("-created_at", "-id")[:HISTORY_MESSAGES]
                )[::-1]
                messages = [_message_item(m) for m in rows]
                self._mark_delivered(rows)
        # Nothing past the log's end can have been seen: a larger number would silence the feed.
        self.cursor = outbox.Cursor(latest_event if last is None or last > latest_event else last)
        return {
            "type": "ready",
            "last": self.cursor.last,
            "messages": messages,
            "state": _state(self._latest()),
        }

    def _receive(self, content, text) -> int:
        client_message_id = content.get("id")
        external_message_id = None
        if isinstance(client_message_id, str) and CLIENT_MESSAGE_ID_RE.match(client_message_id):
            external_message_id = f"{self.external_id}:{client_message_id}"

        def field(name, size):
            value = content.get(name)
            return clean(value).strip()[:size] if isinstance(value, str) else ""

        url = safe_url(field("url", 1000))  # the page the visitor writes from, if it is one
        name = field("name", 120)
        received = services.receive_client_message(
            self.connection,
            client_external_id=self.external_id,
            text=text.strip(),
            client_name=name or _("Website visitor %(n)s") % {"n": self.external_id[-4:].upper()},
            email=field("email", 254) if "@" in field("email", 254) else "",
            phone=field("phone", 40),
            external_message_id=external_message_id,
            source_url=url,
        )
        self.identity_id = received.conversation.identity_id
        return received.conversation.pk

    def _rate(self, like: bool) -> str:
        latest = self._latest()
        if latest is None or latest.status < Status.CLOSING:
            return _("You can rate the conversation once it is closed.")
        if latest.client_rating is not None:
            return _("Thank you, you have already rated this conversation.")
        try:
            services.client_rate(latest.pk, like)
        except IllegalTransition as error:
            return str(error.message)
        return ""

    def _batch(self):
        if self._identity() is None:
            return [], [], False
        events = outbox.events_after(self.cursor, conversation__identity_id=self.identity_id)
        if not events:
            return [], [], False
        message_ids = {e.payload.get("message") for e in events if e.kind in MESSAGE_KINDS}
        wanted = sorted(m for m in message_ids if isinstance(m, int) and not isinstance(m, bool))
        messages = {m.pk: m for m in _MESSAGES(*wanted)} if wanted else {}
        items, sent = [], []
        state_needed = False
        for event in events:
            message = (
                messages.get(event.payload.get("message")) if event.kind in MESSAGE_KINDS else None
            )
            if message is not None:
                items.append(_message_item(message, event.id))
                sent.append(message)
            if event.kind not in ("client_message", "bot_message", "employee_message"):
                state_needed = True
        if state_needed or events:
            state = _state(self._latest())
            state["event"] = events[-1].id
            items.append(state)
            if state["conversation"]:
                self.conversations.add(state["conversation"])
        delivered = self._mark_delivered(sent)
        return items, delivered, len(events) >= outbox.BATCH

    def _mark_delivered(self, messages) -> list[tuple[int, int]]:
        """Replies pushed to the client's open browser are delivered (the livechat delivery)."""
        ids = [
            m.pk
            for m in messages
            if m.author_kind in (Message.Author.EMPLOYEE, Message.Author.BOT)
            and m.delivery_state != Message.Delivery.SENT
        ]
        if not ids:
            return []
        Message.objects.filter(pk__in=ids).exclude(delivery_state=Message.Delivery.SENT).update(
            delivery_state=Message.Delivery.SENT
        )
        return [(m.conversation_id, m.pk) for m in messages if m.pk in ids]
