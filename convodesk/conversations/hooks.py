"""The one place for work inside a change (DESIGN rule 9).

The services call these plain functions inside their transaction; a reader sees here
everything a create, a transition, a message or a close sets off besides the row itself.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from django.db import transaction

_publishing = contextvars.ContextVar("convodesk_publishing", default=True)


@contextmanager
def publishing_suspended():
    """Bulk loaders (demo data) write thousands of events nobody is watching and messages
    that were delivered long ago: no live events, no outbound delivery."""
    token = _publishing.set(False)
    try:
        yield
    finally:
        _publishing.reset(token)


def publish_after_commit(event) -> None:
    if not _publishing.get():
        return
    from . import realtime

    event_id, conversation_id = event.pk, event.conversation_id
    transaction.on_commit(lambda: realtime.publish(event_id, conversation_id))


def after_create(conversation, event) -> None:
    from convodesk.crm import binding
    from convodesk.lines import distribution
    from convodesk.stats import rollups

    binding.bind_new_conversation(conversation)
    rollups.conversation_created(conversation)  # before distribution: its offers are transitions
    distribution.distribute(conversation, exclude=[], now=event.at)
    if event.kind == "created":  # a client started it: the open channel's greeting
        greet(conversation, event.at)


def greet(conversation, at) -> None:
    """The open channel's greeting, or its out-of-hours text when the conversation started
    outside working hours (and one is set), as an automatic message."""
    from . import services

    line = conversation.line
    text = line.greeting_text
    if not conversation.business_hours and line.out_of_hours_text:
        text = line.out_of_hours_text
    if text:
        services.send_automatic(conversation, text, at)


def after_transition(conversation, before, event) -> None:
    """Called after every lifecycle transition of an existing conversation."""
    from convodesk.bitrix24 import events as bitrix24_events
    from convodesk.crm import binding
    from convodesk.stats import rollups

    binding.sync_activity(conversation, before)
    rollups.conversation_changed(conversation, before, event)
    bitrix24_events.after_transition(conversation, before, event)  # OnOpenLineSessionFinish


def after_participation(conversation, figures: dict[int, dict[str, int]]) -> None:
    """Employees' participant rows or reply periods changed ({employee: {figure: delta}})."""
    from convodesk.stats import rollups

    if figures:
        rollups.participation_changed(conversation, figures)


def after_requeue(conversation, exclude, now) -> None:
    from convodesk.lines import distribution

    distribution.distribute(conversation, exclude=exclude, now=now)


def after_message(conversation, message) -> None:
    """A message was stored; outbound delivery is queued by the connectors."""
    from convodesk.connectors import delivery

    if not _publishing.get():
        return  # a bulk load of history (demo data): nothing is sent to the outside world

    delivery.queue(conversation, message)  # employee/automatic messages on channels that deliver


def after_close_requested(conversation, at) -> None:
    """Closing mode: send the line's closing text and rating request as automatic texts."""
    from . import services
    from .lifecycle import Status

    if conversation.status != Status.CLOSING:
        return
    line = conversation.line
    if line.closing_text:
        services.send_automatic(conversation, line.closing_text, at)
    if line.ask_rating:
        from django.utils.translation import gettext

        services.send_automatic(
            conversation, gettext("Please rate this conversation: 👍 or 👎"), at
        )
