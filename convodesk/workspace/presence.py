"""Availability follows presence (SPEC "Operator workspace").

An employee becomes online when their first operator socket connects, unless they chose
*away*; they become away a grace period after their last socket closes. The workspace switch
(and `PUT /api/v1/me/availability`) overrides both: choosing away sticks until they choose
online again. Becoming online offers what waits in their lines' queues.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from convodesk.accounts.models import User
from convodesk.conversations import services

from .models import OperatorPresence


def grace() -> dt.timedelta:
    return dt.timedelta(seconds=float(settings.CONVODESK.get("PRESENCE_GRACE_SECONDS", 60)))


def _row(user_id: int) -> OperatorPresence:
    row, _created = OperatorPresence.objects.get_or_create(user_id=user_id)
    return row


def _set(user_id: int, availability: str, now) -> bool:
    """Write the availability; returns whether it changed to online (the caller then offers
    what waits in the queues, after its transaction)."""
    changed = (
        User.objects.filter(pk=user_id)
        .exclude(availability=availability)
        .update(availability=availability)
    )
    return bool(changed) and availability == User.Availability.ONLINE


def socket_opened(user_id: int, now=None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        _row(user_id)
        OperatorPresence.objects.filter(user_id=user_id).update(
            sockets=F("sockets") + 1, away_due_at=None, last_seen=now
        )
        row = OperatorPresence.objects.get(user_id=user_id)
        came_online = not row.chose_away and _set(user_id, User.Availability.ONLINE, now)
    if came_online:
        services.offer_queued([user_id], now)


def socket_closed(user_id: int, now=None) -> dt.datetime | None:
    """Returns when the employee turns away if no socket opens again before then."""
    now = now or timezone.now()
    with transaction.atomic():
        _row(user_id)
        OperatorPresence.objects.filter(user_id=user_id, sockets__gt=0).update(
            sockets=F("sockets") - 1, last_seen=now
        )
        due = now + grace()
        OperatorPresence.objects.filter(user_id=user_id, sockets=0).update(away_due_at=due)
        row = OperatorPresence.objects.get(user_id=user_id)
        return row.away_due_at


def choose(user_id: int, availability: str, now=None) -> None:
    """The employee's own choice (workspace switch or API)."""
    now = now or timezone.now()
    if availability not in User.Availability.values:
        raise ValueError(availability)
    with transaction.atomic():
        _row(user_id)
        OperatorPresence.objects.filter(user_id=user_id).update(
            chose_away=availability == User.Availability.AWAY
        )
        came_online = _set(user_id, availability, now)
    if came_online:
        services.offer_queued([user_id], now)


def sweep(now=None) -> int:
    """Turn away everyone whose last socket closed more than the grace period ago."""
    now = now or timezone.now()
    turned = 0
    for row in OperatorPresence.objects.filter(away_due_at__lte=now, sockets=0):
        with transaction.atomic():
            updated = OperatorPresence.objects.filter(
                pk=row.pk, away_due_at__lte=now, sockets=0
            ).update(away_due_at=None)
            if updated:
                _set(row.user_id, User.Availability.AWAY, now)
                turned += 1
    return turned
