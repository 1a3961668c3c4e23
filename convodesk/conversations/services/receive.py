"""The client side: a client's message (continuing, reopening or starting a conversation) and
a client's rating."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db import connection as db
from django.db.models import (
    BigIntegerField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
)

from convodesk.lines import distribution
from convodesk.lines.models import Connection
from convodesk.prepared import Prepared

from .. import lifecycle
from ..attachments import clean as clean_attachments
from ..lifecycle import Status
from ..models import Client, ClientIdentity, Conversation, Message
from . import queue
from .core import (
    CLIENT,
    EXCERPT_LENGTH,
    LineInactive,
    add_message,
    insert_linked,
    lock,
    now_or,
    transition,
    unit,
)
from .start import start


@dataclass(frozen=True)
class Received:
    conversation: Conversation
    message: Message
    created: bool


def _complete_client(client: Client, connection: Connection, name: str, phone: str, email: str):
    """Fill in what a known client lacks (a name, a phone, an e-mail) from a new message."""
    changed = False
    if name and not client.name:
        client.name, changed = name, True
    if phone and not client.phone:
        client.set_contact(phone=phone, country=connection.line.default_country)
        changed = True
    if email and not client.email:
        client.set_contact(email=email)
        changed = True
    if changed:
        client.save()


def _known_identity(connection_id: int, line_id: int, external_id: str):
    """The client's identity on this connection with its client, and `returning`: whether the
    client wrote to this line before."""
    # Through the client's own conversations (`conv_client_line`), never the line's: `line_id + 0`
    # is no index's column, so a planner without statistics cannot walk every conversation of a
    # busy line looking for this client instead (it did, on PostgreSQL, after other writes had
    # left the table's pages behind).
    returning = Exists(
        Conversation.objects.filter(client_id=OuterRef("client_id"))
        .alias(on_line=ExpressionWrapper(F("line_id") + 0, output_field=BigIntegerField()))
        .filter(on_line=line_id)
    )
    return (
        ClientIdentity.objects.select_related("client")
        .filter(connection_id=connection_id, external_id=external_id)
        .annotate(returning=returning)
        .order_by()[:1]
    )


_KNOWN_IDENTITY = Prepared(_known_identity)
# The client's open conversation, locked (`_open_conversation`). The identity is found first, by
# its unique key, then its open conversation by `one_open_conversation_per_identity` (an
# identity's conversations are all on its connection): a plan that does not depend on the
# tables' statistics. Joined the other way, tables not yet analysed were read as "every open
# conversation of the connection, then their identities" (68 ms at 600 conversations).
_OPEN = Prepared(
    lambda connection_id, external_id: (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("line", "connection", "identity__client")
        .filter(
            identity_id=Subquery(
                ClientIdentity.objects.filter(
                    connection_id=connection_id, external_id=external_id
                ).values("pk")
            ),
            status__lt=lifecycle.OPEN_BELOW,
        )[:1]
    )
)
# Without row locks: the identity, and its open conversation if any (`_open_conversation`).
_IDENTITY_AND_OPEN = Prepared(
    lambda connection_id, line_id, external_id: (
        _known_identity(connection_id, line_id, external_id)
        .annotate(
            # A conversation's connection is its identity's; at most one is open
            # (`one_open_conversation_per_identity`).
            open=FilteredRelation(
                "conversations", condition=Q(conversations__status__lt=lifecycle.OPEN_BELOW)
            )
        )
        .select_related("open__line", "open__connection")
    )
)


_UNREAD = object()


def _open_conversation(connection: Connection, external_id: str):
    """The client's open conversation (locked), found by their channel identity in one query,
    and the identity: `_UNREAD` when not read, else the identity or None (no such client).

    Where the database has no row locks (SQLite: a write transaction locks the whole file) the
    same query also reads the identity when there is no open conversation (an outer join), so a
    new conversation of a known or new client does not read it again (`_identity`)."""
    if db.features.has_select_for_update:
        return _OPEN.first(connection.pk, external_id), _UNREAD
    identity = _IDENTITY_AND_OPEN.first(connection.pk, connection.line_id, external_id)
    if identity is None:
        return None, None
    conversation = getattr(identity, "open", None)  # unset when the outer join found none
    if conversation is not None:
        conversation.identity = identity
    return conversation, identity


def _identity(
    connection: Connection, external_id: str, name: str, phone: str, email: str, read=_UNREAD
) -> tuple[ClientIdentity, bool]:
    """The client's identity on this connection, made (with a new client) when unknown. A known
    one comes with `returning` (`_known_identity`). `read`: what `_open_conversation` read."""
    if read is _UNREAD:
        read = _KNOWN_IDENTITY.first(connection.pk, connection.line_id, external_id)
    identity = read
    if identity is not None:
        _complete_client(identity.client, connection, name, phone, email)
        return identity, False
    client = Client(name=name or external_id)
    client.set_contact(phone=phone, email=email, country=connection.line.default_country)
    identity = ClientIdentity(
        connection=connection, external_id=external_id, display_name=name or ""
    )
    insert_linked(client, (identity, "client_id"))
    identity.client = client
    identity.returning = False  # a client met just now wrote to no line before
    return identity, True


def _existing(connection, external_message_id) -> Received | None:
    if not external_message_id:
        return None
    existing = (
        Message.objects.select_related("conversation")
        .filter(connection=connection, external_id=external_message_id)
        .first()
    )
    return Received(existing.conversation, existing, False) if existing is not None else None


def receive_client_message(
    connection: Connection,
    *,
    client_external_id: str,
    text: str,
    client_name: str = "",
    phone: str = "",
    email: str = "",
    external_message_id: str | None = None,
    attachments: list | None = None,
    sent_at: dt.datetime | None = None,
    source_url: str = "",
    now: dt.datetime | None = None,
) -> Received:
    """Store a client's message: continue their open conversation, reopen one, or start a new one.

    Idempotent by (connection, external message id): a retry returns the stored message. The
    unique index says so (a retry's insert fails and the transaction rolls back), so a first
    delivery reads nothing to check it.
    """
    attachments = clean_attachments(attachments)
    for attempt in range(3):
        try:
            with unit():
                return _receive(
                    connection,
                    client_external_id,
                    text,
                    client_name,
                    phone,
                    email,
                    external_message_id,
                    attachments or [],
                    sent_at,
                    source_url,
                    now_or(now),
                )
        except (IntegrityError, LineInactive):
            # A retry of a stored message, a concurrent delivery of the same message, or a
            # concurrent first message of the same client: the winner's rows are committed now.
            existing = _existing(connection, external_message_id)
            if existing is not None:
                return existing
            if attempt == 2 or not isinstance(sys.exc_info()[1], IntegrityError):
                raise
    raise AssertionError("unreachable")


def _receive(
    connection,
    external_id,
    text,
    name,
    phone,
    email,
    external_message_id,
    attachments,
    sent_at,
    source_url,
    now,
) -> Received:
    message_fields = {
        "connection": connection,
        "external_id": external_message_id,
        "attachments": attachments,
        "channel_sent_at": sent_at,
    }
    conversation, identity = _open_conversation(connection, external_id)
    if conversation is not None:
        _complete_client(conversation.identity.client, connection, name, phone, email)
        message = add_message(conversation, Message.Author.CLIENT, text, now, **message_fields)
        transition(
            conversation,
            lifecycle.ClientMessage(now),
            CLIENT,
            "client_message",
            {"message": message.pk},
        )
        return Received(conversation, message, True)

    identity, new_client = _identity(connection, external_id, name, phone, email, identity)
    # A client met just now has no earlier conversation to reopen or to be returning from.
    reopenable = None if new_client else _reopenable(identity, connection, now)
    if reopenable is not None:
        message = add_message(reopenable, Message.Author.CLIENT, text, now, **message_fields)
        transition(reopenable, lifecycle.Reopen(now), CLIENT, "reopened", {"message": message.pk})
        if reopenable.responsible_id is None:  # closed while still queued: back to the queue
            queue.distribute(reopenable, exclude=[], now=now)
        return Received(reopenable, message, True)

    # Read fresh, not from the connection: a long-lived socket or poll loop holds an old copy,
    # and a deactivation (or new working hours) must apply from the next conversation on.
    line, available = distribution.line_and_members(connection.line_id)
    if not line.active:
        raise LineInactive()
    conversation = Conversation(
        line=line,
        connection=connection,
        channel=connection.kind,
        client=identity.client,
        identity=identity,
        started_at=now,
        updated_at=now,
        source_url=source_url[:1000],
        excerpt=text[:EXCERPT_LENGTH],
        business_hours=line.within_working_hours(now),
        returning=identity.returning,
    )
    message = start(
        conversation,
        lifecycle.StartIncoming(now),
        CLIENT,
        "created",
        text=text,
        author_kind=Message.Author.CLIENT,
        available=available,
        **message_fields,
    )
    return Received(conversation, message, True)


def _reopenable(identity: ClientIdentity, connection: Connection, now) -> Conversation | None:
    window = connection.line.reopen_window_minutes
    if not window:
        return None
    last = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("line", "connection")
        .filter(identity=identity, connection=connection)
        .order_by("-started_at", "-id")
        .first()
    )
    if (
        last is None
        or last.status not in (Status.CLOSED, Status.AUTO_CLOSED)
        or last.closed_at is None
    ):
        return None
    if last.closed_at < now - dt.timedelta(minutes=window):
        return None
    return last


def client_rate(conversation_id: int, like: bool, now=None) -> Conversation:
    with unit():
        conversation = lock(conversation_id)
        transition(
            conversation,
            lifecycle.ClientRate(now_or(now), 1 if like else -1),
            CLIENT,
            "client_rated",
            {"rating": "like" if like else "dislike"},
        )
        return conversation


def keep_attachment_files(message_id: int, kept: dict[int, dict]) -> list:
    """Record what became of a client message's channel files fetched after it arrived: each
    `kept[index]` (`stored`, or `refused` with the reason) is merged into that attachment while
    it still waits, under the message's row lock, so a second run changes nothing. Returns the
    message's attachments as they are now. Nothing slow happens here: the files were fetched
    and stored before."""
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            return []
        items = list(message.attachments or [])
        changed = False
        for index, fields in kept.items():
            item = items[index] if 0 <= index < len(items) else None
            if isinstance(item, dict) and not item.get("stored") and not item.get("refused"):
                items[index] = {**item, **fields}
                changed = True
        if changed:
            message.attachments = items
            message.save(update_fields=["attachments"])
        return items
