"""What a committed service transaction sets off outside the database: a plain list of
after-commit subscribers (DESIGN rule 9).

A service transaction collects what it wrote (`services.core.Batch`); after commit each
subscriber below is called once with the `Committed` summary: the live-event hint (one per
transaction, however many events it recorded) and the outbound delivery of the messages it
marked pending. Nothing here writes to the database or calls back into the services.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from convodesk.connectors import delivery

from . import realtime, sla

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


def publishing() -> bool:
    return _publishing.get()


@dataclass(frozen=True)
class Committed:
    """What one committed service transaction recorded."""

    events: list[tuple[int, int]] = field(default_factory=list)  # (event id, conversation id)
    deliveries: list[int] = field(default_factory=list)  # message ids marked pending
    breaches: list[int] = field(default_factory=list)  # conversations that missed a target now
    # (conversation id, when) of each conversation the transaction closed (open -> closed)
    closed: list[tuple[int, object]] = field(default_factory=list)


def publish_events(committed: Committed) -> None:
    if committed.events:
        realtime.publish_events(committed.events)


def enqueue_deliveries(committed: Committed) -> None:
    for message_id in committed.deliveries:
        delivery.enqueue(message_id)


def mail_breaches(committed: Committed) -> None:
    """The optional e-mail to the open channel's supervisors at a reply-time breach (sla.py)."""
    for conversation_id in committed.breaches:
        sla.mail_breach(conversation_id)


SUBSCRIBERS: list[Callable[[Committed], None]] = [
    publish_events,
    enqueue_deliveries,
    mail_breaches,
]


def after_commit(committed: Committed) -> None:
    for subscriber in SUBSCRIBERS:
        subscriber(committed)
