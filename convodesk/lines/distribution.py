"""Which employees a queued conversation is offered to (SPEC "Distribution modes").

The decision only: `choose` reads the line's available members and returns whom to offer to.
The services (`conversations/services/queue.py`) write the offer; nothing here calls them.
"""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from convodesk.conversations.lifecycle import Status
from convodesk.prepared import Prepared

from .models import Line, LineMember


def available_members(line: Line) -> list[LineMember]:
    """The line's members an offer may go to now, as `choose` reads them (read once for many
    conversations of the line: pass them to `choose`, and `took_one` after each assignment)."""
    return _available_members(line)


def took_one(line: Line, members: list[LineMember], user_id: int) -> list[LineMember]:
    """`members` after `user_id` became responsible for one more conversation: their open count
    (evenly, the per-employee cap) goes up, and a member at the cap drops out."""
    for member in members:
        if member.user_id == user_id and hasattr(member, "open_count"):
            member.open_count += 1
    return _under_cap(line, members)


def _available_members(line: Line) -> list[LineMember]:
    members = line.memberships.filter(
        user__is_active=True, user__is_integration=False, user__availability="online"
    ).only("id", "line_id", "user_id", "position")
    # Open counts cost a join and a GROUP BY: only evenly and the per-employee cap read them.
    counted = line.distribution == Line.Distribution.EVENLY or bool(line.max_open_per_employee)
    if counted:
        members = members.annotate(open_count=Coalesce(Subquery(_open_count()), 0))
    return _under_cap(line, list(members.order_by("position", "id")))


def _open_count():
    """A member's open conversations, as a subquery per member: read off the partial index of
    open conversations by responsible and status (`conv_resp_open_status`). A join and GROUP BY over the members'
    conversations read every one they were ever responsible for (200-300 ms a line at
    1,000,000 conversations, paid by every timers sweep that re-offers)."""
    from convodesk.conversations.models import Conversation

    return (
        Conversation.objects.filter(responsible_id=OuterRef("user_id"), status__lt=Status.CLOSING)
        .order_by()
        .values("responsible_id")
        .annotate(n=Count("id"))
        .values("n")
    )


def _under_cap(line: Line, members: list[LineMember]) -> list[LineMember]:
    if line.max_open_per_employee:
        members = [m for m in members if m.open_count < line.max_open_per_employee]
    return members


def _line_with_members(line_id: int):
    return (
        LineMember.objects.filter(
            line_id=line_id,
            user__is_active=True,
            user__is_integration=False,
            user__availability="online",
        )
        .select_related("line")
        .only("id", "line_id", "user_id", "position", "line")
        .annotate(
            # Counted only where the line's mode reads it (evenly, a per-employee cap).
            open_count=Case(
                When(
                    Q(line__distribution=Line.Distribution.EVENLY)
                    | Q(line__max_open_per_employee__gt=0),
                    then=Coalesce(Subquery(_open_count()), 0),
                ),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("position", "id")
    )


_LINE_WITH_MEMBERS = Prepared(_line_with_members)


def line_and_members(line_id: int) -> tuple[Line, list[LineMember]]:
    """The line, read fresh, and its available members (as `choose` reads them) in one query
    when any is available: what a new conversation needs before it is inserted."""
    members = _LINE_WITH_MEMBERS(line_id)
    if not members:
        return Line.objects.get(pk=line_id), []
    line = members[0].line
    for member in members:
        member.line = line
    return line, _under_cap(line, members)


def choose(
    line: Line, exclude: list[int], available: list[LineMember] | None = None
) -> tuple[list[int], bool]:
    """The employees to offer to, and whether the first becomes responsible at offer time.
    `available`: the line's available members when already read (`line_and_members`)."""
    exclude = list(exclude)
    members = _available_members(line) if available is None else available
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
