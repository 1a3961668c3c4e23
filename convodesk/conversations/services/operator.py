"""What employees (and integrations' tokens) do to a conversation: take, skip, join, reply,
transfer, close, mark, pin, rate; and an outgoing conversation started by an employee."""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from convodesk.accounts.models import User
from convodesk.lines.models import Line

from .. import lifecycle, uploads, visibility
from ..attachments import clean as clean_attachments
from ..lifecycle import IllegalTransition, Rules, Status
from ..models import ClientIdentity, Conversation, Message
from ..normalize import clean_text
from . import labels, queue
from .core import (
    EXCERPT_LENGTH,
    SYSTEM,
    Actor,
    NotAllowed,
    NotFound,
    add_message,
    batch,
    load_for,
    lock,
    now_or,
    record,
    send_automatic,
    transition,
    unit,
)
from .start import start


def closing_texts(conversation: Conversation, at) -> None:
    """Closing mode: the line's closing text and rating request, as automatic texts."""
    for text in closing_messages(conversation):
        send_automatic(conversation, text, at)


def closing_messages(conversation: Conversation) -> list[str]:
    """The automatic texts a conversation that just went to closing mode sends (none otherwise):
    the line's closing text, then its rating request."""
    if conversation.status != Status.CLOSING:
        return []
    line = conversation.line
    texts = []
    if line.closing_text:
        texts.append(line.closing_text)
    if line.ask_rating:
        texts.append(gettext("Please rate this conversation: 👍 or 👎"))
    return texts


def take(conversation_id: int, actor: Actor, now=None) -> Conversation:
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can take a conversation."))
    with unit():
        conversation = load_for(actor, conversation_id)
        held = conversation.responsible_id == actor.user_id and conversation.taken_at is not None
        if held and Status.TAKEN <= conversation.status < Status.CLOSING:
            return conversation  # already theirs: nothing happens, nothing is recorded
        transition(conversation, lifecycle.Take(now_or(now), actor.user_id), actor, "taken")
        return conversation


def skip(conversation_id: int, actor: Actor, now=None) -> Conversation:
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can skip a conversation."))
    at = now_or(now)
    with unit():
        conversation = load_for(actor, conversation_id)
        participant = batch().participants(conversation).get(actor.user_id)
        if participant is None or not participant.offered_now:
            raise IllegalTransition("not_offered", _("This conversation is not offered to you."))
        transition(conversation, lifecycle.Skip(at, actor.user_id), actor, "skipped")
        participant.offered_now = False
        participant.skip_count += 1
        if conversation.line.distribution != Line.Distribution.ALL_AT_ONCE or not queue.offered_now(
            conversation
        ):
            queue.distribute(conversation, exclude=queue.passed_over(conversation), now=at)
        return conversation


def join(conversation_id: int, actor: Actor, now=None) -> Conversation:
    """Open someone else's conversation as an extra participant; the responsible is unchanged."""
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can join a conversation."))
    at = now_or(now)
    with unit() as current:
        conversation = lock(conversation_id)
        if not visibility.can(actor.user, conversation_id, "act"):
            raise NotFound(conversation_id)
        if not conversation.is_open:
            raise IllegalTransition("closed", _("The conversation is already closed."))
        participant = current.participant(conversation, actor.user_id)
        if not participant.joined:
            participant.joined = True
            conversation.updated_at = at
            current.touch(conversation, ["updated_at"])
            record(conversation, "joined", actor, at, conversation.status)
        return conversation


def reply(conversation_id: int, actor: Actor, text: str, now=None, attachments=None) -> Message:
    """An employee's message (counts as a reply), or an integration's automatic text (never does)."""
    text = clean_text(text)
    attachments = clean_attachments(attachments)
    if not text and not attachments:
        raise IllegalTransition("empty", _("The message is empty."))
    at = now_or(now)
    with unit() as current:
        conversation = load_for(actor, conversation_id)
        if not actor.is_employee:
            if not conversation.is_open:
                raise IllegalTransition("closed", _("The conversation is already closed."))
            message = add_message(conversation, Message.Author.BOT, text, at, author=actor.user)
            conversation.updated_at = at
            current.touch(conversation, ["updated_at"])
            record(
                conversation, "bot_message", actor, at, conversation.status, {"message": message.pk}
            )
            return message
        # Check first so a refused reply writes no message.
        lifecycle.apply(
            conversation.to_state(),
            lifecycle.EmployeeMessage(at, actor.user_id),
            Rules.for_line(conversation.line),
        )
        message = add_message(
            conversation,
            Message.Author.EMPLOYEE,
            text,
            at,
            author=actor.user,
            attachments=attachments or [],
        )
        transition(
            conversation,
            lifecycle.EmployeeMessage(at, actor.user_id),
            actor,
            "employee_message",
            {"message": message.pk},
            writer=actor.user_id,
        )
        return message


def add_private_note(
    conversation_id: int, actor: Actor, text: str, now=None, attachments=None
) -> Message:
    """A note for employees only: never delivered, no state change, counted as no reply.

    It is its own author kind (`note`), so every reader that lists the client's or the
    employees' messages (delivery, the widget, metrics, rollups) leaves it out by construction.
    """
    if actor.user is None:
        raise NotAllowed(_("Only an employee can write a private note."))
    text = clean_text(text)
    attachments = clean_attachments(attachments)
    if not text and not attachments:
        raise IllegalTransition("empty", _("The note is empty."))
    at = now_or(now)
    with unit() as current:
        conversation = load_for(actor, conversation_id)
        message = add_message(
            conversation, Message.Author.NOTE, text, at, author=actor.user, attachments=attachments
        )
        conversation.updated_at = at
        current.touch(conversation, ["updated_at"])
        record(
            conversation, "private_note", actor, at, conversation.status, {"message": message.pk}
        )
        return message


def write_with_files(
    conversation_id: int, actor: Actor, text: str, files, note: bool = False, now=None
) -> Message:
    """A reply (or with `note` a private note) carrying uploaded files, for the composer and
    the API alike. Every file is checked before any is stored (`uploads.UploadRefused` says
    why); the stored files are removed again when the message is refused, and when it is
    written without them (an integration's automatic text carries none). The caller checks
    first that the actor sees the conversation, so nothing is stored for a hidden one."""
    stored = uploads.store_all(files)
    write = add_private_note if note else reply
    try:
        message = write(conversation_id, actor, text, now=now, attachments=stored)
    except BaseException:
        uploads.discard(stored)
        raise
    if not message.attachments:
        uploads.discard(stored)
    return message


def add_system_note(
    conversation_id: int, text: str, *, external_id: str | None = None, connection=None, now=None
):
    """A system line in the transcript (e.g. "the client edited a message"); changes no state,
    idempotent by the channel's id when one is given."""
    at = now_or(now)
    if (
        external_id
        and Message.objects.filter(connection=connection, external_id=external_id).exists()
    ):
        return None
    with unit() as current:
        conversation = lock(conversation_id)
        message = add_message(
            conversation,
            Message.Author.SYSTEM,
            text,
            at,
            connection=connection,
            external_id=external_id,
        )
        conversation.updated_at = at
        current.touch(conversation, ["updated_at"])
        record(conversation, "note", SYSTEM, at, conversation.status, {"message": message.pk})
        return message


def record_delivery_failure(message: Message, error: str, now=None) -> None:
    """A reply that could not be delivered is an event in the conversation's history."""
    at = now_or(now)
    with unit():
        conversation = lock(message.conversation_id)
        record(
            conversation,
            "delivery_failed",
            SYSTEM,
            at,
            conversation.status,
            {"message": message.pk, "error": error[:500]},
        )


def transfer(
    conversation_id: int,
    actor: Actor,
    *,
    to_employee: User | None = None,
    to_line: Line | None = None,
    comment: str = "",
    now=None,
) -> Conversation:
    if (to_employee is None) == (to_line is None):
        raise IllegalTransition("transfer_target", _("Choose one employee or one open channel."))
    at = now_or(now)
    with unit() as current:
        conversation = load_for(actor, conversation_id)
        payload = {"comment": comment}
        also = ()
        from_line = None
        if to_line is not None and to_line.pk != conversation.line_id:
            from_line = conversation.line_id
            payload["from_line"] = conversation.line_id
            conversation.line = to_line
            payload["line"] = to_line.pk
            also = ("line",)
        if to_employee is not None:
            if not to_employee.is_active or to_employee.is_integration:
                raise IllegalTransition(
                    "transfer_target", _("This employee cannot receive conversations.")
                )
            payload["employee"] = to_employee.pk
        for participant in current.participants(conversation).values():
            participant.offered_now = False
        transition(
            conversation,
            lifecycle.Transfer(at, to_employee.pk if to_employee else None),
            actor,
            "transferred",
            payload,
            also=also,
            from_line=from_line,
        )
        if to_employee is not None:
            queue.mark_offered(conversation, [to_employee.pk])
        else:
            queue.distribute(conversation, exclude=[], now=at)
        return conversation


def close(conversation_id: int, actor: Actor, now=None, reason=None) -> Conversation:
    """Close; `reason` is the id of one of the open channel's close reasons (required when the
    open channel requires one: a ValidationError naming `close_reason` otherwise)."""
    at = now_or(now)
    with unit():
        conversation = load_for(actor, conversation_id)
        chosen = None
        if conversation.status < Status.CLOSING:  # closing twice refuses as it always has
            chosen = labels.choose_close_reason(conversation, reason)
        by = lifecycle.CLOSED_BY_EMPLOYEE if actor.is_employee else lifecycle.CLOSED_BY_SYSTEM
        recorded = transition(
            conversation,
            lifecycle.Close(at, by, actor.user_id if actor.is_employee else None),
            actor,
            "closing" if conversation.line.closing_mode else "closed",
        )
        if chosen is not None:
            labels.set_close_reason(conversation, chosen, actor, at)
            recorded.payload = {**recorded.payload, "close_reason": chosen.name}
        closing_texts(conversation, at)
        return conversation


def mark_spam(conversation_id: int, actor: Actor, now=None) -> Conversation:
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can mark a conversation as spam."))
    with unit():
        conversation = load_for(actor, conversation_id)
        transition(conversation, lifecycle.MarkSpam(now_or(now), actor.user_id), actor, "spam")
        return conversation


def mark_duplicate(
    conversation_id: int, actor: Actor, of_conversation_id: int, now=None
) -> Conversation:
    with unit():
        conversation = load_for(actor, conversation_id)
        transition(
            conversation,
            lifecycle.MarkDuplicate(now_or(now)),
            actor,
            "duplicate",
            {"of": of_conversation_id},
        )
        return conversation


def pin(conversation_id: int, actor: Actor, pinned: bool = True, now=None) -> Conversation:
    with unit():
        conversation = load_for(actor, conversation_id)
        transition(
            conversation,
            lifecycle.Pin(now_or(now), pinned),
            actor,
            "pinned" if pinned else "unpinned",
        )
        return conversation


def supervisor_rate(
    conversation_id: int, actor: Actor, rating: int | None, comment: str = "", now=None
) -> Conversation:
    with unit():
        conversation = load_for(actor, conversation_id, action="rate")
        transition(
            conversation,
            lifecycle.SupervisorRate(now_or(now), rating, comment),
            actor,
            "supervisor_rated",
            {"rating": rating, "comment": comment},
        )
        return conversation


def start_outgoing(actor: Actor, identity: ClientIdentity, text: str, now=None) -> Conversation:
    """An employee starts a conversation with a client on one of the client's channel identities."""
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can start a conversation."))
    text = clean_text(text)
    if not text:
        raise IllegalTransition("empty", _("The message is empty."))
    connection = identity.connection
    if not connection.active or not connection.allows_outgoing:
        raise IllegalTransition("no_outgoing", _("This channel cannot start conversations."))
    at = now_or(now)
    with unit():
        open_one = Conversation.objects.filter(
            identity=identity, connection=connection, status__lt=lifecycle.OPEN_BELOW
        ).first()
        if open_one is not None:
            if visibility.can(actor.user, open_one.pk, "view"):
                message = _("The client already has an open conversation #%(id)s.") % {
                    "id": open_one.pk
                }
            else:  # never name a conversation the employee may not see
                message = _("The client already has an open conversation on this channel.")
            raise IllegalTransition("open_exists", message)
        line = connection.line
        conversation = Conversation(
            line=line,
            connection=connection,
            channel=connection.kind,
            client=identity.client,
            identity=identity,
            started_at=at,
            updated_at=at,
            excerpt=text[:EXCERPT_LENGTH],
            business_hours=line.within_working_hours(at),
            returning=Conversation.objects.filter(client=identity.client, line=line).exists(),
        )
        start(
            conversation,
            lifecycle.StartOutgoing(at, actor.user_id),
            actor,
            "created_outgoing",
            text=text,
            author_kind=Message.Author.EMPLOYEE,
            author=actor.user,
        )
        return conversation


__all__ = [
    "add_private_note",
    "add_system_note",
    "close",
    "join",
    "mark_duplicate",
    "mark_spam",
    "pin",
    "record_delivery_failure",
    "reply",
    "skip",
    "start_outgoing",
    "supervisor_rate",
    "take",
    "transfer",
]
