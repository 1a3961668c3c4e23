"""The only writer of conversation state (DESIGN rule 1).

Each public function runs in one transaction, locks the conversation row, applies the pure
state machine, writes the row with its stored metrics, records a `ConversationEvent`, and
publishes after commit. Views, the API, connectors and timers call these; nothing else
assigns a status.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from types import SimpleNamespace

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from convodesk.accounts.models import User
from convodesk.lines.models import Connection, Line

from . import hooks, lifecycle, visibility
from .attachments import clean as clean_attachments
from .lifecycle import IllegalTransition, Rules, Status
from .models import (
    Client,
    ClientIdentity,
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
    ReplyPeriod,
)
from .normalize import clean, clean_data, clean_text

log = logging.getLogger("convodesk.services")

EXCERPT_LENGTH = 200


class NotFound(Exception):
    """The conversation does not exist or the actor may not see it (the same answer for both)."""


class LineInactive(IllegalTransition, ValueError):
    """A message that would start a conversation on a deactivated open channel. The API answers
    409; Telegram and e-mail record it as a skipped message (a ValueError is the message's own
    fault) and go on with the next one."""

    def __init__(self):
        super().__init__(
            "line_inactive",
            _("This open channel is deactivated: it starts no new conversations."),
        )


class NotAllowed(Exception):
    """The actor sees the conversation but their role does not allow this action."""

    def __init__(self, message=None):
        self.message = message or _("You are not allowed to do this.")
        super().__init__(str(self.message))


@dataclass(frozen=True)
class Actor:
    """Who acts: an employee (UI or own token), an integration's token, the system or a timer."""

    kind: str  # "employee", "integration", "system", "timer"
    user: User | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls("integration" if user.is_integration else "employee", user)

    @property
    def is_employee(self) -> bool:
        return self.kind == "employee"

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user else None


SYSTEM = Actor("system")
TIMER = Actor("timer")


@dataclass(frozen=True)
class Received:
    conversation: Conversation
    message: Message
    created: bool


# Internals ----------------------------------------------------------------------------


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _lock(conversation_id: int) -> Conversation:
    try:
        return (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("line", "connection")
            .get(pk=conversation_id)
        )
    except Conversation.DoesNotExist:
        raise NotFound(conversation_id) from None


def _load_for(actor: Actor, conversation_id: int, action: str = "act") -> Conversation:
    """Lock the row, then make sure the actor may see it (else NotFound) and act on it (else NotAllowed)."""
    conversation = _lock(conversation_id)
    if actor.user is None:
        return conversation
    if not visibility.can(actor.user, conversation_id, "view"):
        raise NotFound(conversation_id)
    if visibility.scope_for(actor.user, action) == visibility.scope_for(actor.user, "view"):
        return conversation  # the same rule as for seeing it, which it just passed
    if not visibility.can(actor.user, conversation_id, action):
        raise NotAllowed()
    return conversation


_PARTICIPANT_FLAGS = (
    "is_responsible",
    "was_responsible",
    "wrote",
    "offered_now",
    "ever_offered",
    "took",
    "joined",
    "skip_count",
    "sees",
)


def _participants(conversation: Conversation, user_ids) -> dict[int, ConversationParticipant]:
    """The participant rows of these employees in one query; unsaved new rows for the others.

    Change them in memory and write them with `_save_participants` (only changed columns).
    The conversation row is locked, so nobody else adds participants meanwhile.
    """
    ids = sorted({u for u in user_ids if u is not None})
    conversation._no_participants = False
    rows = {}
    if ids:
        found = ConversationParticipant.objects.filter(conversation=conversation)
        found = (
            found.filter(employee_id=ids[0]) if len(ids) == 1 else found.filter(employee_id__in=ids)
        )
        rows = {p.employee_id: p for p in found}
    for user_id in ids:
        if user_id not in rows:
            rows[user_id] = ConversationParticipant(
                conversation=conversation, employee_id=user_id, started_at=conversation.started_at
            )
    for participant in rows.values():
        _remember(participant)
    return rows


def _participant(conversation: Conversation, user_id: int) -> ConversationParticipant:
    return _participants(conversation, [user_id])[user_id]


def _remember(participant: ConversationParticipant) -> None:
    participant._loaded = {f: getattr(participant, f) for f in _PARTICIPANT_FLAGS}


def _save_participants(conversation: Conversation, participants) -> dict[int, dict[str, int]]:
    """Write the changed columns; return each employee's change in the statistics figures."""
    from convodesk.stats.rollups import participant_figures

    deltas = {}
    for participant in sorted(participants, key=lambda p: p.employee_id):
        participant.refresh_sees()
        loaded = getattr(participant, "_loaded", None)
        if participant.pk is None:
            before = dict.fromkeys(participant_figures(participant), 0)
            participant.save(force_insert=True)
        else:
            if loaded is None:  # not read through _participants: take the stored flags
                loaded = (
                    ConversationParticipant.objects.filter(pk=participant.pk)
                    .values(*_PARTICIPANT_FLAGS)
                    .get()
                )
            before = participant_figures(SimpleNamespace(**loaded))
            changed = [f for f in _PARTICIPANT_FLAGS if getattr(participant, f) != loaded[f]]
            if changed:
                participant.save(update_fields=changed)
        after = participant_figures(participant)
        delta = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        if delta:
            deltas[participant.employee_id] = delta
        _remember(participant)
    return deltas


def _save_participant(conversation: Conversation, participant: ConversationParticipant) -> None:
    hooks.after_participation(conversation, _save_participants(conversation, [participant]))


def _sync_responsible(
    rows: dict[int, ConversationParticipant], previous: int | None, current: int | None, kind: str
) -> None:
    if previous == current:
        return
    if previous is not None:
        old = rows[previous]
        old.is_responsible = False
        # "Responsible before a transfer" keeps seeing it; an offer passed on by a skip or a
        # queue time-out (never taken) does not.
        old.was_responsible = old.was_responsible or old.took or kind == "transferred"
        old.refresh_sees()
    if current is not None:
        new = rows[current]
        new.is_responsible = True
        new.refresh_sees()


_SEES_WITHOUT_OFFER = ExpressionWrapper(
    Q(is_responsible=True) | Q(was_responsible=True) | Q(wrote=True) | Q(joined=True),
    output_field=BooleanField(),
)


def _clear_offers(conversation: Conversation, except_user: int | None = None) -> None:
    rows = ConversationParticipant.objects.filter(conversation=conversation, offered_now=True)
    if except_user is not None:
        rows = rows.exclude(employee_id=except_user)
    rows.update(offered_now=False, sees=_SEES_WITHOUT_OFFER)


def _record(
    conversation, kind, actor: Actor, at, from_status=None, payload=None
) -> ConversationEvent:
    event = ConversationEvent.objects.create(
        conversation=conversation,
        kind=kind,
        actor=actor.user,
        actor_kind=actor.kind,
        from_status=from_status,
        to_status=conversation.status,
        at=at,
        payload=clean_data(payload or {}),
    )
    hooks.publish_after_commit(event)
    return event


def _transition(
    conversation: Conversation,
    event: lifecycle.Event,
    actor: Actor,
    kind: str,
    payload=None,
    *,
    also: tuple[str, ...] = (),
    writer: int | None = None,
):
    """Apply one lifecycle event to a locked conversation and write everything it implies.

    `also`: columns the caller changed on the row besides the state (a transfer's `line`).
    `writer`: the employee whose message this is (their participant row records it).
    """
    before = conversation.to_state()
    state, outcome = lifecycle.apply(before, event, Rules.for_line(conversation.line))
    changed = conversation.set_state(state)
    conversation.updated_at = event.at
    conversation.save(update_fields=[*changed, *also, "updated_at"])
    current = conversation.responsible_id
    figures = {}
    if before.responsible != current or outcome.took is not None or writer is not None:
        moved = [before.responsible, current] if before.responsible != current else []
        rows = _participants(conversation, [*moved, outcome.took, writer])
        _sync_responsible(rows, before.responsible, current, kind)
        if outcome.took is not None:
            rows[outcome.took].took = True
        if writer is not None:
            rows[writer].wrote = True
        figures = _save_participants(conversation, rows.values())
    if outcome.took is not None:
        _clear_offers(conversation)
    if outcome.reply_period is not None:
        start, end, seconds, employee = outcome.reply_period
        ReplyPeriod.objects.create(
            conversation=conversation,
            employee_id=employee,
            started_at=start,
            ended_at=end,
            seconds=seconds,
        )
        if employee is not None:
            figures.setdefault(employee, {}).update(reply_n=1, reply_sum=seconds)
    hooks.after_participation(conversation, figures)
    if state.status >= Status.CLOSING and before.status < Status.CLOSING:
        _clear_offers(conversation)
    recorded = _record(
        conversation, kind, actor, event.at, from_status=before.status, payload=payload
    )
    hooks.after_transition(conversation, before, recorded)
    return recorded


def _add_message(conversation, author_kind, text, at, author=None, **extra) -> Message:
    return Message.objects.create(
        conversation=conversation,
        author_kind=author_kind,
        author=author,
        text=clean(text),
        created_at=at,
        **extra,
    )


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


def _identity(
    connection: Connection, external_id: str, name: str, phone: str, email: str
) -> tuple[ClientIdentity, bool]:
    """The client's identity on this connection, made (with a new client) when unknown."""
    identity = (
        ClientIdentity.objects.select_related("client")
        .filter(connection=connection, external_id=external_id)
        .first()
    )
    if identity is not None:
        _complete_client(identity.client, connection, name, phone, email)
        return identity, False
    client = Client(name=name or external_id)
    client.set_contact(phone=phone, email=email, country=connection.line.default_country)
    client.save()
    identity = ClientIdentity.objects.create(
        client=client, connection=connection, external_id=external_id, display_name=name or ""
    )
    return identity, True


# Client side ------------------------------------------------------------------------


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

    Idempotent by (connection, external message id): a retry returns the stored message.
    """
    attachments = clean_attachments(attachments)
    if external_message_id:
        existing = Message.objects.filter(
            connection=connection, external_id=external_message_id
        ).first()
        if existing is not None:
            return Received(existing.conversation, existing, False)
    for attempt in range(3):
        try:
            with transaction.atomic():
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
                    _now(now),
                )
        except IntegrityError:
            # A concurrent delivery of the same message, or a concurrent first message of the
            # same client: the winner's rows are committed now, so look again.
            if external_message_id:
                existing = Message.objects.filter(
                    connection=connection, external_id=external_message_id
                ).first()
                if existing is not None:
                    return Received(existing.conversation, existing, False)
            if attempt == 2:
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
    # The client's open conversation, found by their channel identity in one query.
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("line", "connection", "identity__client")
        .filter(
            identity__connection=connection,
            identity__external_id=external_id,
            connection=connection,
            status__lt=lifecycle.OPEN_BELOW,
        )
        .first()
    )
    actor = Actor("client")
    if conversation is not None:
        _complete_client(conversation.identity.client, connection, name, phone, email)
        message = _add_message(
            conversation,
            Message.Author.CLIENT,
            text,
            now,
            connection=connection,
            external_id=external_message_id,
            attachments=attachments,
            channel_sent_at=sent_at,
        )
        _transition(
            conversation,
            lifecycle.ClientMessage(now),
            actor,
            "client_message",
            {"message": message.pk},
        )
        return Received(conversation, message, True)

    identity, new_client = _identity(connection, external_id, name, phone, email)
    # A client met just now has no earlier conversation to reopen or to be returning from.
    reopenable = None if new_client else _reopenable(identity, connection, now)
    if reopenable is not None:
        message = _add_message(
            reopenable,
            Message.Author.CLIENT,
            text,
            now,
            connection=connection,
            external_id=external_message_id,
            attachments=attachments,
            channel_sent_at=sent_at,
        )
        _transition(reopenable, lifecycle.Reopen(now), actor, "reopened", {"message": message.pk})
        if (
            reopenable.responsible_id is None
        ):  # closed while still queued: back to the queue's offers
            hooks.after_requeue(reopenable, exclude=[], now=now)
        return Received(reopenable, message, True)

    # Read fresh, not from the connection: a long-lived socket or poll loop holds an old copy,
    # and a deactivation (or new working hours) must apply from the next conversation on.
    line = Line.objects.get(pk=connection.line_id)
    if not line.active:
        raise LineInactive()
    state, _outcome = lifecycle.apply(
        lifecycle.State(), lifecycle.StartIncoming(now), Rules.for_line(line)
    )
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
        returning=False
        if new_client
        else Conversation.objects.filter(client=identity.client, line=line).exists(),
    )
    conversation.set_state(state)
    conversation.save()
    conversation._no_participants = True  # none yet: the first offer need not look for any
    message = _add_message(
        conversation,
        Message.Author.CLIENT,
        text,
        now,
        connection=connection,
        external_id=external_message_id,
        attachments=attachments,
        channel_sent_at=sent_at,
    )
    event = _record(conversation, "created", actor, now, payload={"message": message.pk})
    hooks.after_create(conversation, event)
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
    with transaction.atomic():
        conversation = _lock(conversation_id)
        _transition(
            conversation,
            lifecycle.ClientRate(_now(now), 1 if like else -1),
            Actor("client"),
            "client_rated",
            {"rating": "like" if like else "dislike"},
        )
        return conversation


# Employee side ----------------------------------------------------------------------


def offer(conversation: Conversation, employee_ids: list[int], assign: bool, now) -> None:
    """Offer a queued conversation to employees (inside the caller's transaction)."""
    _transition(
        conversation,
        lifecycle.Offer(now, employee_ids[0] if assign else None, assign),
        SYSTEM,
        "offered",
        {"employees": employee_ids},
    )
    existing = ConversationParticipant.objects.filter(
        conversation=conversation, employee_id__in=employee_ids
    )
    if getattr(conversation, "_no_participants", False):
        known = set()
        conversation._no_participants = False
    else:
        known = set(existing.values_list("employee_id", flat=True))
    first_offers = [user_id for user_id in employee_ids if user_id not in known]
    if known:
        first_offers += existing.filter(ever_offered=False).values_list("employee_id", flat=True)
        existing.update(offered_now=True, ever_offered=True, sees=True)
    new = [
        ConversationParticipant(
            conversation=conversation,
            employee_id=user_id,
            started_at=conversation.started_at,
            offered_now=True,
            ever_offered=True,
            sees=True,
        )
        for user_id in employee_ids
        if user_id not in known
    ]
    if new:
        ConversationParticipant.objects.bulk_create(new)
    hooks.after_participation(conversation, {user_id: {"assigned": 1} for user_id in first_offers})


def offer_waiting(conversation_id: int, now=None) -> bool:
    """Offer a conversation still waiting in its line's queue to the members available now
    (someone came online). Returns whether anyone new was offered it."""
    from convodesk.lines import distribution

    at = _now(now)
    with transaction.atomic():
        conversation = _lock_if_free(conversation_id)
        if conversation is None or conversation.status not in (Status.NEW, Status.SKIPPED):
            return False
        if conversation.responsible_id:
            return False
        offered = set(
            ConversationParticipant.objects.filter(
                conversation=conversation, offered_now=True
            ).values_list("employee_id", flat=True)
        )
        employees, assign = distribution.choose(conversation.line, exclude=list(offered))
        if not employees or (not assign and set(employees) <= offered):
            return False
        offer(conversation, employees, assign, at)
        return True


def take(conversation_id: int, actor: Actor, now=None) -> Conversation:
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can take a conversation."))
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        held = conversation.responsible_id == actor.user_id and conversation.taken_at is not None
        if held and Status.TAKEN <= conversation.status < Status.CLOSING:
            return conversation  # already theirs: nothing happens, nothing is recorded
        _transition(conversation, lifecycle.Take(_now(now), actor.user_id), actor, "taken")
        return conversation


def skip(conversation_id: int, actor: Actor, now=None) -> Conversation:
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can skip a conversation."))
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        participant = ConversationParticipant.objects.filter(
            conversation=conversation, employee=actor.user, offered_now=True
        ).first()
        if participant is None:
            raise IllegalTransition("not_offered", _("This conversation is not offered to you."))
        _transition(conversation, lifecycle.Skip(_now(now), actor.user_id), actor, "skipped")
        participant.refresh_from_db()
        _remember(participant)
        participant.offered_now = False
        participant.skip_count += 1
        _save_participant(conversation, participant)
        still_offered = ConversationParticipant.objects.filter(
            conversation=conversation, offered_now=True
        )
        if (
            conversation.line.distribution != Line.Distribution.ALL_AT_ONCE
            or not still_offered.exists()
        ):
            hooks.after_requeue(conversation, exclude=_passed_over(conversation), now=_now(now))
        return conversation


def join(conversation_id: int, actor: Actor, now=None) -> Conversation:
    """Open someone else's conversation as an extra participant; the responsible is unchanged."""
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can join a conversation."))
    at = _now(now)
    with transaction.atomic():
        conversation = _lock(conversation_id)
        if not visibility.can(actor.user, conversation_id, "act"):
            raise NotFound(conversation_id)
        if not conversation.is_open:
            raise IllegalTransition("closed", _("The conversation is already closed."))
        participant = _participant(conversation, actor.user_id)
        if not participant.joined:
            participant.joined = True
            _save_participant(conversation, participant)
            conversation.updated_at = at
            conversation.save(update_fields=["updated_at"])
            _record(conversation, "joined", actor, at, conversation.status)
        return conversation


def reply(conversation_id: int, actor: Actor, text: str, now=None, attachments=None) -> Message:
    """An employee's message (counts as a reply), or an integration's automatic text (never does)."""
    text = clean_text(text)
    if not text:
        raise IllegalTransition("empty", _("The message is empty."))
    attachments = clean_attachments(attachments)
    at = _now(now)
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        if not actor.is_employee:
            if not conversation.is_open:
                raise IllegalTransition("closed", _("The conversation is already closed."))
            message = _add_message(conversation, Message.Author.BOT, text, at, author=actor.user)
            conversation.updated_at = at
            conversation.save(update_fields=["updated_at"])
            _record(
                conversation, "bot_message", actor, at, conversation.status, {"message": message.pk}
            )
            hooks.after_message(conversation, message)
            return message
        # Check first so a refused reply writes no message.
        lifecycle.apply(
            conversation.to_state(),
            lifecycle.EmployeeMessage(at, actor.user_id),
            Rules.for_line(conversation.line),
        )
        message = _add_message(
            conversation,
            Message.Author.EMPLOYEE,
            text,
            at,
            author=actor.user,
            attachments=attachments or [],
        )
        _transition(
            conversation,
            lifecycle.EmployeeMessage(at, actor.user_id),
            actor,
            "employee_message",
            {"message": message.pk},
            writer=actor.user_id,
        )
        hooks.after_message(conversation, message)
        return message


def add_system_note(
    conversation_id: int, text: str, *, external_id: str | None = None, connection=None, now=None
):
    """A system line in the transcript (e.g. "the client edited a message"); changes no state,
    idempotent by the channel's id when one is given."""
    at = _now(now)
    if (
        external_id
        and Message.objects.filter(connection=connection, external_id=external_id).exists()
    ):
        return None
    with transaction.atomic():
        conversation = _lock(conversation_id)
        message = _add_message(
            conversation,
            Message.Author.SYSTEM,
            text,
            at,
            connection=connection,
            external_id=external_id,
        )
        conversation.updated_at = at
        conversation.save(update_fields=["updated_at"])
        _record(conversation, "note", SYSTEM, at, conversation.status, {"message": message.pk})
        return message


def record_delivery_failure(message: Message, error: str, now=None) -> None:
    """A reply that could not be delivered is an event in the conversation's history."""
    at = _now(now)
    with transaction.atomic():
        conversation = _lock(message.conversation_id)
        _record(
            conversation,
            "delivery_failed",
            SYSTEM,
            at,
            conversation.status,
            {"message": message.pk, "error": error[:500]},
        )


def send_automatic(conversation: Conversation, text: str, at) -> Message:
    """An automatic text (closing text, rating request): stored and delivered, never a reply."""
    message = _add_message(conversation, Message.Author.BOT, text, at)
    _record(conversation, "bot_message", SYSTEM, at, conversation.status, {"message": message.pk})
    hooks.after_message(conversation, message)
    return message


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
    at = _now(now)
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        payload = {"comment": comment}
        also = ()
        if to_line is not None and to_line.pk != conversation.line_id:
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
        _clear_offers(conversation)
        _transition(
            conversation,
            lifecycle.Transfer(at, to_employee.pk if to_employee else None),
            actor,
            "transferred",
            payload,
            also=also,
        )
        if to_employee is not None:
            target = _participant(conversation, to_employee.pk)
            target.offered_now = True
            target.ever_offered = True
            _save_participant(conversation, target)
        else:
            hooks.after_requeue(conversation, exclude=[], now=at)
        return conversation


def close(conversation_id: int, actor: Actor, now=None) -> Conversation:
    at = _now(now)
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        by = lifecycle.CLOSED_BY_EMPLOYEE if actor.is_employee else lifecycle.CLOSED_BY_SYSTEM
        _transition(
            conversation,
            lifecycle.Close(at, by, actor.user_id if actor.is_employee else None),
            actor,
            "closing" if conversation.line.closing_mode else "closed",
        )
        hooks.after_close_requested(conversation, at)
        return conversation


def mark_spam(conversation_id: int, actor: Actor, now=None) -> Conversation:
    if not actor.is_employee:
        raise NotAllowed(_("Only an employee can mark a conversation as spam."))
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        _transition(conversation, lifecycle.MarkSpam(_now(now), actor.user_id), actor, "spam")
        return conversation


def mark_duplicate(
    conversation_id: int, actor: Actor, of_conversation_id: int, now=None
) -> Conversation:
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        _transition(
            conversation,
            lifecycle.MarkDuplicate(_now(now)),
            actor,
            "duplicate",
            {"of": of_conversation_id},
        )
        return conversation


def pin(conversation_id: int, actor: Actor, pinned: bool = True, now=None) -> Conversation:
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id)
        _transition(
            conversation,
            lifecycle.Pin(_now(now), pinned),
            actor,
            "pinned" if pinned else "unpinned",
        )
        return conversation


def supervisor_rate(
    conversation_id: int, actor: Actor, rating: int | None, comment: str = "", now=None
) -> Conversation:
    with transaction.atomic():
        conversation = _load_for(actor, conversation_id, action="rate")
        _transition(
            conversation,
            lifecycle.SupervisorRate(_now(now), rating, comment),
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
    at = _now(now)
    with transaction.atomic():
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
        state, _o = lifecycle.apply(
            lifecycle.State(), lifecycle.StartOutgoing(at, actor.user_id), Rules.for_line(line)
        )
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
        conversation.set_state(state)
        conversation.save()
        participant = _participant(conversation, actor.user_id)
        participant.is_responsible = participant.wrote = participant.took = True
        _save_participant(conversation, participant)
        message = _add_message(conversation, Message.Author.EMPLOYEE, text, at, author=actor.user)
        event = _record(
            conversation, "created_outgoing", actor, at, payload={"message": message.pk}
        )
        hooks.after_create(conversation, event)
        hooks.after_message(conversation, message)
        return conversation


# Timers -------------------------------------------------------------------------------

_TIMERS = (
    ("offer_expires_at", lifecycle.QueueTimeout, "queue_timeout"),
    ("auto_close_at", lifecycle.AutoClose, "auto_closed"),
    ("full_close_at", lifecycle.FullClose, "full_closed"),
)


def run_due_timers(now=None, batch: int = 500) -> int:
    """Fire every due queue time-out, auto-close and full close. Safe to run from many processes:
    each conversation is re-checked under its row lock, so a timer fires once."""
    at = _now(now)
    fired = 0
    for field, _event_class, _kind in _TIMERS:
        due = Conversation.objects.filter(**{f"{field}__lte": at}).order_by(field)
        for conversation_id in list(due.values_list("id", flat=True)[:batch]):
            fired += fire_due(conversation_id, at, only=field)
    return fired


def fire_due(conversation_id: int, now=None, only: str | None = None) -> int:
    """Fire the timers of one conversation that are due at `now`; returns how many fired.

    One transaction and one row lock for all of them, in timer order (a fired timer can make
    the next one due or moot); each firing has its own savepoint, so one refused by the state
    machine leaves the others standing.
    """
    at = _now(now)
    timers = [t for t in _TIMERS if only is None or t[0] == only]
    # One timer: a refusal rolls the whole transaction back (no savepoint needed).
    savepoint = transaction.atomic if len(timers) > 1 else contextlib.nullcontext
    fired = 0
    try:
        with transaction.atomic():
            conversation = _lock_if_free(conversation_id)
            for field, event_class, kind in timers:
                if conversation is None:
                    break
                due_at = getattr(conversation, field)
                if due_at is None or due_at > at:
                    continue
                try:
                    with savepoint():
                        _transition(conversation, event_class(at), TIMER, kind)
                        if event_class is lifecycle.QueueTimeout:
                            hooks.after_requeue(
                                conversation, exclude=_timed_out(conversation), now=at
                            )
                        elif event_class is lifecycle.AutoClose:
                            hooks.after_close_requested(conversation, at)
                    fired += 1
                except IllegalTransition:
                    if len(timers) == 1:
                        raise
                    # The savepoint is rolled back: read the row again for the next timer.
                    conversation = _lock_if_free(conversation_id)
    except IllegalTransition:
        return 0  # another process got there first, or the client wrote just in time
    return fired


def _lock_if_free(conversation_id: int) -> Conversation | None:
    # of=("self",): lock the conversation row only, not its line and connection (joined by
    # select_related), or two timer loops skip each other's conversations on the same line.
    rows = Conversation.objects.select_for_update(skip_locked=True, of=("self",))
    rows = rows.select_related("line", "connection")
    return rows.filter(pk=conversation_id).first()


def _timed_out(conversation: Conversation) -> list[int]:
    """Who the next offer should avoid after a queue time-out. To all at once: nobody (every
    member is notified again). Evenly / strictly in order: the expired offer ends, and every
    member offered it so far is passed over until all have had their turn."""
    if conversation.line.distribution == Line.Distribution.ALL_AT_ONCE:
        return []
    _clear_offers(conversation)
    return _passed_over(conversation)


def _passed_over(conversation: Conversation) -> list[int]:
    rows = ConversationParticipant.objects.filter(conversation=conversation, ever_offered=True)
    return list(rows.values_list("employee_id", flat=True))


# CRM ----------------------------------------------------------------------------------

_KEEP = object()


def record_crm_change(
    conversation,
    actor: Actor,
    kind: str,
    payload: dict | None = None,
    *,
    activity_id=_KEEP,
    at: dt.datetime | None = None,
    primary=_KEEP,
) -> ConversationEvent:
    """A change of the conversation's CRM records (binding, re-binding, lead conversion).

    CRM links are not lifecycle state, but the change belongs to the conversation's history and
    list row: lock the row, copy the primary `ConversationCrmLink` onto the denormalised columns,
    record the event and publish it after commit. The caller has written the link rows.

    `primary` (the primary link's record) is for a caller inside a service's transaction that
    holds `conversation` locked and has just written its links (the binding of a new
    conversation): the row is then neither locked nor read again.
    """
    from .models import ConversationCrmLink

    at = _now(at)
    if primary is not _KEEP and isinstance(conversation, Conversation):
        assert transaction.get_connection().in_atomic_block, "only inside a service's transaction"
        link = None
        if primary is not None:
            link = ConversationCrmLink(
                entity_type=primary.entity_type, entity_id=primary.pk, title=primary.display_title
            )
        return _write_crm(conversation, conversation, link, actor, kind, payload, activity_id, at)
    conversation_id = getattr(conversation, "pk", conversation)
    with transaction.atomic():
        row = _lock(conversation_id)
        link = ConversationCrmLink.objects.filter(
            conversation_id=conversation_id, is_primary=True
        ).first()
        return _write_crm(row, conversation, link, actor, kind, payload, activity_id, at)


def _write_crm(row, conversation, link, actor, kind, payload, activity_id, at):
    values = {
        "crm_entity_type": link.entity_type if link else "",
        "crm_entity_id": link.entity_id if link else None,
        "crm_title": link.title[:255] if link else "",
        "crm_activity_id": row.crm_activity_id if activity_id is _KEEP else activity_id,
        "updated_at": max(row.updated_at, at),
    }
    for name, value in values.items():
        setattr(row, name, value)
        if isinstance(conversation, Conversation) and conversation is not row:
            setattr(conversation, name, value)
    row.save(update_fields=list(values))
    return _record(row, kind, actor, at, from_status=row.status, payload=payload)
