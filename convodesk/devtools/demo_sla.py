"""The demo's business calendars and reply-time targets (issue 19), with some conversations
answered in time, some late and some overdue now, so the Overdue tab, the Due column, the
workspace's order and the statistics' targets have something to show.

Called once by `demo.simulate` after the simulated history (whose conversations started before
the targets existed and so have none: a target applies to waits that begin after it is set).
"""

from __future__ import annotations

import datetime as dt

from convodesk.accounts.models import User
from convodesk.conversations import services
from convodesk.conversations.services import Actor
from convodesk.lines import services as lines

SPANISH_HOLIDAYS = ["2026-12-08", "2026-12-25", "2027-01-01", "2027-01-06"]
# Per open channel: first-answer and next-reply targets (minutes, business hours or not).
TARGETS = {
    "Support": dict(first=(15, True), next=(30, True), mail=True),
    "Sales": dict(first=(30, True), next=(60, True), mail=False),
    "Billing": dict(first=(240, True), next=(240, True), mail=False),
    "Partners": dict(first=(60, False), next=(120, False), mail=False),
    "VIP": dict(first=(5, False), next=(10, False), mail=True),
}
CLIENTS = ["Olivia Brandt", "Hugo Lemaire", "Carmen Vidal", "Jonas Berg", "Ines Duarte"]


def add_sla(org, now: dt.datetime) -> None:
    """Calendars and targets on every demo open channel, then on each channel: one wait
    answered in time, one answered late, one overdue now and one due soon."""
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
    for index, line in enumerate(org.lines):
        line.refresh_from_db()
        connection = line.connections.first()
        fallback = Actor.of(admin)
        # VIP counts calendar time, so its waits are overdue whatever the hour of the demo.
        target = dt.timedelta(seconds=line.sla_first_seconds)
        stories = [
            ("in-time", now - dt.timedelta(hours=3), target / 2),
            ("late", now - dt.timedelta(hours=2), target * 2),
            ("overdue", now - target - dt.timedelta(minutes=7 + index), None),
            ("due-soon", now - target / 3, None),
        ]
        for n, (kind, start, answer_after) in enumerate(stories):
            name = CLIENTS[(index + n) % len(CLIENTS)]
            conv = services.receive_client_message(
                connection,
                client_external_id=f"sla-demo-{line.pk}-{kind}",
                client_name=name,
                text="Hello, I'm still waiting for an answer about my order.",
                now=start,
                email=f"sla-{line.pk}-{kind}@example.net",
            ).conversation
            if answer_after is not None:
                conv.refresh_from_db()
                # Whoever it was offered to answers (the line's distribution chose them).
                agent = Actor.of(conv.responsible) if conv.responsible_id else fallback
                services.take(conv.pk, agent, now=start + answer_after / 2)
                services.reply(
                    conv.pk,
                    agent,
                    "Sorry for the wait: your order left the warehouse this morning.",
                    now=start + answer_after,
                )
    services.run_due_timers(now=now)
