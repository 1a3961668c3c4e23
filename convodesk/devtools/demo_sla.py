"""The demo's business calendars and reply-time targets (issue 19).

`set_targets` runs before today's conversations are played through the services, so their waits
get due instants: some are answered in time, some late, and on VIP (short targets in calendar
time, whatever the hour of the load) the waiting ones are overdue. `record_breaches` then runs
the timers once at the load's "now". The Overdue tab, the Due column, the workspace's order and
the statistics' targets all have something to show. The bulk history started before the targets
existed and has none: a target applies to waits that begin after it is set.
"""

from __future__ import annotations

import datetime as dt

from convodesk.accounts.models import User
from convodesk.conversations import services
from convodesk.lines import services as lines

SPANISH_HOLIDAYS = ["2026-12-08", "2026-12-25", "2027-01-01", "2027-01-06"]
# Per open channel: first-answer and next-reply targets (minutes, business hours or not).
TARGETS = {
    "Support": dict(first=(15, True), next=(30, True), mail=True),
    "Sales": dict(first=(30, True), next=(60, True), mail=False),
    "Billing": dict(first=(240, True), next=(240, True), mail=False),
    "Partners": dict(first=(60, False), next=(120, False), mail=False),
    "VIP": dict(first=(3, False), next=(5, False), mail=True),
}


def set_targets(org) -> None:
    """Holidays and reply-time targets on every demo open channel, through the open channel
    service (audited like a real set-up). Run before today's conversations, so their waits get
    due instants; the history before them started without targets and has none."""
    admin = User.objects.get(username="admin")
    for line in org.lines:
        spec = TARGETS.get(line.name, TARGETS["Sales"])
        lines.update_line(
            admin,
            line,
            holidays=SPANISH_HOLIDAYS,
            sla_first_seconds=spec["first"][0] * 60,
            sla_first_business=spec["first"][1],
            sla_next_seconds=spec["next"][0] * 60,
            sla_next_business=spec["next"][1],
            sla_mail=spec["mail"],
        )
        line.refresh_from_db()


def record_breaches(now: dt.datetime) -> int:
    """The timers' pass at the load's "now": waits past their due instant are breached (an
    event each, once). Returns how many timers fired."""
    return services.run_due_timers(now=now)
