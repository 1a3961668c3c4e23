"""Timers: queue time-outs, auto-close, the full close of closing mode and the breach of a
reply-time target (recorded once: the lifecycle refuses a second `Breach` of the same wait)."""

from __future__ import annotations

from django.db import transaction

from convodesk.lines import distribution

from .. import lifecycle
from ..lifecycle import IllegalTransition
from ..models import Conversation
from . import queue
from .core import TIMER, batch, lock_if_free, now_or, send_automatic_many, transition, unit
from .operator import closing_messages, closing_texts

_TIMERS = (
    ("offer_expires_at", lifecycle.QueueTimeout, "queue_timeout"),
    ("auto_close_at", lifecycle.AutoClose, "auto_closed"),
    ("full_close_at", lifecycle.FullClose, "full_closed"),
    ("due_at", lifecycle.Breach, "sla_breached"),
)
# A wait whose breach is recorded stays due (the list shows it overdue) but fires no more.
_PENDING = {"due_at": {"overdue": False}}


# Conversations per transaction of a sweep. A transaction holds SQLite's one write lock (and
# on PostgreSQL its rows and the rollup rows it moves) until it commits: 500 re-offers in one
# took 3.5 s at 1,000,000 conversations, and every client message waited behind it.
CHUNK = 50


def run_due_timers(now=None, batch: int = 500, chunk: int = CHUNK) -> int:
    """Fire every due queue time-out, auto-close, full close and reply-time breach: at most
    `batch` of each kind per sweep, the longest due first, in transactions of at most `chunk`
    conversations (their statements do not grow with the number due). Safe to run from many
    processes: the due rows are locked as they are read and rows another process holds are
    skipped, and the state machine re-checks each one, so a timer fires once."""
    at = now_or(now)
    fired = 0
    for sweep in (queue_timeouts, auto_closes, full_closes, breaches):
        done = 0
        while done < batch:
            size = min(chunk, batch - done)
            count = sweep(at, size)
            done += count
            if count < size:  # none left due (or the rest refused: the next sweep reads them)
                break
        fired += done
    return fired


def _sweep(field: str, at, limit: int, participants: bool = False) -> list[Conversation]:
    """Lock the conversations whose `field` timer is due at `at` (the longest due first, at most
    `limit`; by the field's index, rows another process holds skipped) and fire that timer on
    each in the current unit. Returns the conversations it fired on.

    A conversation the state machine refuses (a client wrote just in time, a second breach of
    the same wait) is left as it is: `transition` raises before it changes anything, so the
    others' changes in the batch stand. `participants`: the timer's transition reads the
    participant rows (a close clears the offers); read them for all rows in one query."""
    _field, event_class, kind = next(t for t in _TIMERS if t[0] == field)
    rows = list(
        Conversation.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("line", "connection")
        .filter(**{f"{field}__lte": at}, **_PENDING.get(field, {}))
        .order_by(field, "id")[:limit]
    )
    if participants and rows:
        batch().load_participants(rows)
    fired = []
    for conversation in rows:
        try:
            transition(conversation, event_class(at), TIMER, kind)
        except IllegalTransition:
            continue  # refused before anything changed
        fired.append(conversation)
    return fired


def auto_closes(now=None, limit: int = 500) -> int:
    """Fire the due auto-closes in one transaction (see `_sweep`); a line in closing mode sends
    its automatic texts, all of the sweep's in one INSERT (per INSERT_ROWS)."""
    at = now_or(now)
    with unit():
        fired = _sweep("auto_close_at", at, limit, participants=True)
        texts = [(c, text) for c in fired for text in closing_messages(c)]
        if texts:
            send_automatic_many(texts, at)
    return len(fired)


def full_closes(now=None, limit: int = 500) -> int:
    """Fire the due full closes of closing mode in one transaction (see `_sweep`)."""
    at = now_or(now)
    with unit():
        fired = _sweep("full_close_at", at, limit)
    return len(fired)


def breaches(now=None, limit: int = 500) -> int:
    """Record the due breaches of reply-time targets in one transaction (see `_sweep`): each
    wait once (the due rows are those not overdue yet)."""
    at = now_or(now)
    with unit():
        fired = _sweep("due_at", at, limit)
    return len(fired)


def queue_timeouts(now=None, limit: int = 500) -> int:
    """Fire the due queue time-outs (the longest due first, at most `limit`) and offer each
    conversation again, all in one transaction: a sweep's statements do not grow with the
    number of waiting conversations (issue 23 item 6).

    The due rows are read and locked in one statement (by the `offer_expires_at` index; rows
    another process holds are skipped), their participants in one, each line's available
    members once; the batch then writes every row, offer and event together. A conversation
    the state machine refuses is left as it is (the refusal changes nothing).
    """
    at = now_or(now)
    with unit():
        rows = list(
            Conversation.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("line", "connection")
            .filter(offer_expires_at__lte=at)
            .order_by("offer_expires_at", "id")[:limit]
        )
        if not rows:
            return 0
        batch().load_participants(rows)
        available: dict[int, list] = {}
        fired = 0
        for conversation in rows:
            try:
                transition(conversation, lifecycle.QueueTimeout(at), TIMER, "queue_timeout")
            except IllegalTransition:
                continue  # refused before anything changed
            line = conversation.line
            if line.pk not in available:
                available[line.pk] = distribution.available_members(line)
            exclude = queue.timed_out(conversation)
            available[line.pk] = queue.distribute(conversation, exclude, at, available[line.pk])
            fired += 1
    return fired


def fire_due(conversation_id: int, now=None, only: str | None = None) -> int:
    """Fire the timers of one conversation that are due at `now`; returns how many fired.

    One transaction and one row lock for all of them, in timer order (a fired timer can make
    the next one due or moot); each firing is a unit of its own (a savepoint with its own batch),
    so one refused by the state machine leaves the others standing. A single timer needs no
    savepoint: a refusal rolls the whole transaction back.
    """
    at = now_or(now)
    timers = [t for t in _TIMERS if only is None or t[0] == only]
    fired = 0
    try:
        with transaction.atomic():
            conversation = lock_if_free(conversation_id)
            for field, event_class, kind in timers:
                if conversation is None:
                    break
                due_at = getattr(conversation, field)
                if due_at is None or due_at > at:
                    continue
                if any(getattr(conversation, k) != v for k, v in _PENDING.get(field, {}).items()):
                    continue
                try:
                    with unit(savepoint=len(timers) > 1):
                        transition(conversation, event_class(at), TIMER, kind)
                        if event_class is lifecycle.QueueTimeout:
                            exclude = queue.timed_out(conversation)
                            queue.distribute(conversation, exclude=exclude, now=at)
                        elif event_class is lifecycle.AutoClose:
                            closing_texts(conversation, at)
                    fired += 1
                except IllegalTransition:
                    if len(timers) == 1:
                        raise
                    # The unit is rolled back: read the row again for the next timer.
                    conversation = lock_if_free(conversation_id)
    except IllegalTransition:
        return 0  # another process got there first, or the client wrote just in time
    return fired
