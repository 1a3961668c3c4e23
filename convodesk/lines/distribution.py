"""Which employees a queued conversation is offered to (SPEC "Distribution modes")."""

from __future__ import annotations

from django.db.models import Count, Q

from convodesk.conversations.lifecycle import Status

from .models import Line, LineMember


def _available_members(line: Line) -> list[LineMember]:
    members = line.memberships.filter(
        user__is_active=True, user__is_integration=False, user__availability="online"
    ).only("id", "line_id", "user_id", "position")
    # Open counts cost a join and a GROUP BY: only evenly and the per-employee cap read them.
    counted = line.distribution == Line.Distribution.EVENLY or bool(line.max_open_per_employee)
    if counted:
        members = members.annotate(
            open_count=Count(
                "user__responsible_conversations",
                filter=Q(user__responsible_conversations__status__lt=Status.CLOSING),
            )
        )
    members = list(members.order_by("position", "id"))
    if line.max_open_per_employee:
        members = [m for m in members if m.open_count < line.max_open_per_employee]
    return members


def choose(line: Line, exclude: list[int]) -> tuple[list[int], bool]:
    """The employees to offer to, and whether the first becomes responsible at offer time."""
    members = _available_members(line)
    if not members:
        return [], False
    if line.distribution == Line.Distribution.ALL_AT_ONCE:
        # Everyone available but those who just declined it (a skip); nobody when all did.
        return [m.user_id for m in members if m.user_id not in exclude], False
    others = [m for m in members if m.user_id not in exclude] or members
    if line.distribution == Line.Distribution.EVENLY:
        chosen = min(others, key=lambda m: (m.open_count, m.position, m.id))
    else:  # strictly in order: the next member after the ones just passed over
        order = [m.user_id for m in members]
        last = max((order.index(e) for e in exclude if e in order), default=-1)
        after = [m for m in members[last + 1 :] if m.user_id not in exclude]
        chosen = (after or others)[0]
    return [chosen.user_id], True


def distribute(conversation, exclude: list[int], now) -> None:
    """Offer a conversation waiting in the queue; when nobody is available it stays queued."""
    from convodesk.conversations import services

    if conversation.status >= Status.AGENT_REPLIED or conversation.responsible_id:
        return
    employees, assign = choose(conversation.line, exclude)
    if employees:
        services.offer(conversation, employees, assign, now)


def offer_queued(user_ids, now=None, limit: int = 200) -> int:
    """Offer what waits in the queues of these employees' lines once they become available
    (a deactivated line too: it starts no new conversations, the waiting ones carry on).

    Each conversation is re-checked under its row lock by the service, so several processes
    (two operators coming online at once) cannot offer the same one twice.
    """
    from convodesk.conversations import services
    from convodesk.conversations.models import Conversation

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
    return sum(
        1 for conversation_id in list(waiting) if services.offer_waiting(conversation_id, now)
    )
