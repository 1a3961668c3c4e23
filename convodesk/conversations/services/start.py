"""A new conversation: its row, first message, CRM binding, first offer and greeting in one go.

The decisions come first (the lifecycle's start, whom `lines.distribution.choose` offers it to,
what `crm.binding` binds it to); then the row is inserted already offered, and the rest is
collected in the unit's batch like any other change.
"""

from __future__ import annotations

from convodesk.crm import binding
from convodesk.crm.models import Lead
from convodesk.lines import distribution
from convodesk.stats import rollups

from .. import lifecycle
from ..lifecycle import Rules, Status
from ..models import Conversation, Message
from . import crm
from .core import (
    SYSTEM,
    Actor,
    batch,
    delivered,
    insert_linked,
    new_message,
    record,
    send_automatic,
)
from .queue import mark_offered


def start(
    conversation: Conversation,
    event: lifecycle.Event,
    actor: Actor,
    kind: str,
    *,
    text: str,
    author_kind: str,
    author=None,
    available=None,
    **message_fields,
) -> Message:
    """Insert `conversation` (unsaved, its row's other columns set) started by `event`, with its
    first message; bind it, offer it when it waits in the queue, greet the client. `available`:
    the line's available members when the caller read them with the line
    (`distribution.line_and_members`)."""
    line = conversation.line
    rules = Rules.for_line(line)
    state, outcome = lifecycle.apply(lifecycle.State(), event, rules)
    conversation.set_state(state)
    unassigned = conversation.responsible_id
    offer_to, assign = [], False
    if state.status < Status.AGENT_REPLIED and state.responsible is None:
        offer_to, assign = distribution.choose(line, [], available)
    if offer_to:
        offer = lifecycle.Offer(event.at, offer_to[0] if assign else None, assign)
        conversation.set_state(lifecycle.apply(state, offer, rules)[0])
    message = new_message(
        conversation, author_kind, text, event.at, author=author, **message_fields
    )
    insert_linked(conversation, (message, "conversation_id"))
    delivered(message)
    current = batch()
    current.participants(conversation, new=True)  # none yet: nothing to read
    record(conversation, kind, actor, event.at, payload={"message": message.pk})
    decision = binding.decide_new_conversation(conversation, unassigned_responsible=unassigned)
    crm.bind(conversation, decision)
    if (
        decision is not None
        and decision.new is None
        and conversation.responsible_id != unassigned
        and conversation.crm_entity_type == "lead"
    ):  # a matched lead nobody holds goes to whoever holds the conversation
        Lead.objects.filter(pk=conversation.crm_entity_id, responsible__isnull=True).update(
            responsible_id=conversation.responsible_id
        )
    if outcome.took is not None:
        participant = current.participant(conversation, outcome.took)
        participant.is_responsible = participant.took = True
        participant.wrote = author_kind == Message.Author.EMPLOYEE
    if offer_to:
        if assign:
            current.participant(conversation, offer_to[0]).is_responsible = True
        mark_offered(conversation, offer_to)
        record(
            conversation,
            "offered",
            SYSTEM,
            event.at,
            Status.NEW,
            {"employees": offer_to},
        )
    current.deltas.move(None, rollups.of_conversation(conversation))
    if kind == "created":
        greet(conversation, event.at)
    return message


def greet(conversation: Conversation, at) -> None:
    """The open channel's greeting, or its out-of-hours text when the conversation started
    outside working hours (and one is set), as an automatic message."""
    line = conversation.line
    text = line.greeting_text
    if not conversation.business_hours and line.out_of_hours_text:
        text = line.out_of_hours_text
    if text:
        send_automatic(conversation, text, at)
