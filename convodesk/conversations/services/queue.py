"""The queue: offering waiting conversations to employees (SPEC "Distribution modes").

`lines.distribution.choose` decides whom to offer to; `offer` writes it (the lifecycle's Offer,
the participant rows, the "assigned" figures), always inside a service's unit.
"""

from __future__ import annotations

from convodesk.lines import distribution
from convodesk.lines.models import Line

from .. import lifecycle
from ..lifecycle import Status
from ..models import Conversation
from .core import SYSTEM, batch, lock_if_free, now_or, transition, unit

__all__ = ["distribute", "offer", "offer_queued", "offer_waiting"]


def offer(conversation: Conversation, employee_ids: list[int], assign: bool, now) -> None:
    """Offer a queued conversation to employees (inside the caller's unit)."""
    transition(
        conversation,
        lifecycle.Offer(now, employee_ids[0] if assign else None, assign),
        SYSTEM,
        "offered",
        {"employees": employee_ids},
    )
    mark_offered(conversation, employee_ids)


def mark_offered(conversation: Conversation, employee_ids: list[int]) -> None:
    current = batch()
    for user_id in employee_ids:
        participant = current.participant(conversation, user_id)
        participant.offered_now = participant.ever_offered = True


def distribute(conversation: Conversation, exclude: list[int], now, available=None):
    """Offer a conversation waiting in the queue; when nobody is available it stays queued.

    `available`: the line's available members when already read for several conversations
    (`distribution.available_members`); returned as they are after this offer.
    """
    if conversation.status >= Status.AGENT_REPLIED or conversation.responsible_id:
        return available
    employees, assign = distribution.choose(conversation.line, exclude, available)
    if employees:
        offer(conversation, employees, assign, now)
        if assign and available is not None:
            available = distribution.took_one(conversation.line, available, employees[0])
    return available


def passed_over(conversation: Conversation) -> list[int]:
    """Every member offered the conversation so far."""
    rows = batch().participants(conversation)
    return sorted(e for e, p in rows.items() if p.ever_offered)


def offered_now(conversation: Conversation) -> set[int]:
    return {e for e, p in batch().participants(conversation).items() if p.offered_now}


def timed_out(conversation: Conversation) -> list[int]:
    """Who the next offer should avoid after a queue time-out. To all at once: nobody (every
    member is notified again). Evenly / strictly in order: the expired offer ends, and every
    member offered it so far is passed over until all have had their turn."""
    if conversation.line.distribution == Line.Distribution.ALL_AT_ONCE:
        return []
    for participant in batch().participants(conversation).values():
        participant.offered_now = False
    return passed_over(conversation)


def offer_waiting(conversation_id: int, now=None) -> bool:
    """Offer a conversation still waiting in its line's queue to the members available now
    (someone came online). Returns whether anyone new was offered it."""
    at = now_or(now)
    with unit():
        conversation = lock_if_free(conversation_id)
        if conversation is None or conversation.status not in (Status.NEW, Status.SKIPPED):
            return False
        if conversation.responsible_id:
            return False
        offered = offered_now(conversation)
        employees, assign = distribution.choose(conversation.line, exclude=sorted(offered))
        if not employees or (not assign and set(employees) <= offered):
            return False
        offer(conversation, employees, assign, at)
        return True


def offer_queued(user_ids, now=None, limit: int = 200) -> int:
    """Offer what waits in the queues of these employees' lines once they become available
    (a deactivated line too: it starts no new conversations, the waiting ones carry on).

    Each conversation is re-checked under its row lock, so several processes (two operators
    coming online at once) cannot offer the same one twice.
    """
    waiting = (
        Conversation.objects.filter(
            line__memberships__user_id__in=list(user_ids),
            status__in=(Status.NEW, Status.SKIPPED),
            responsible__isnull=True,
        )
        .exclude(participants__employee_id__in=list(user_ids), participants__offered_now=True)
        .order_by("started_at", "id")
        .values_list("id", flat=True)
        .distinct()[:limit]
    )
    return sum(1 for conversation_id in list(waiting) if offer_waiting(conversation_id, now))
