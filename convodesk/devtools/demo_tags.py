"""Tags and close reasons for the demo organisation (issue 19 item 3).

One function, called once after the demo history is simulated: it makes the tags and each open
channel's close reasons through the settings' writer (audited like a real set-up), then puts
tags and close reasons on the simulated conversations through the services (events, statistics
and history as an operator's would be), and makes the Billing open channel require a reason.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db import transaction

from convodesk.accounts.models import User
from convodesk.administration import labels
from convodesk.conversations import hooks, services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation
from convodesk.conversations.services import Actor
from convodesk.lines.models import Line

TAGS = [
    ("Billing question", "blue"),
    ("Refund", "orange"),
    ("Urgent", "red"),
    ("VIP", "purple"),
    ("Feedback", "green"),
    ("Bug report", "yellow"),
    ("Legacy plan", "grey"),  # archived: still on old conversations
]
REASONS = {
    "Support": ["Solved", "Workaround given", "No answer from the client", "Duplicate request"],
    "Soporte ES": ["Resuelto", "Sin respuesta del cliente", "Derivado a otro equipo"],
    "Sales": ["Sale made", "Quote sent", "Not interested", "No answer from the client"],
    "Billing": [
        "Invoice sent",
        "Refund issued",
        "Payment plan agreed",
        "No answer from the client",
    ],
}
REQUIRED = ("Billing",)  # this open channel's employees must choose a reason to close


def add_tags_and_close_reasons(
    seed: int = 7, share: float = 0.45, now: dt.datetime | None = None
) -> dict[str, int]:
    """Make the demo's tags and close reasons and use them on about `share` of the simulated
    conversations; returns what it did, by kind. Run once, after `demo.simulate`."""
    rng = random.Random(seed + 19)
    admin = User.objects.get(username="admin")
    actor = Actor.of(admin)
    done = {"tags": 0, "reasons": 0, "tagged": 0, "with_reason": 0}
    with transaction.atomic():
        tags = []
        for name, colour in TAGS:
            tags.append(labels.save_tag(admin, None, name=name, colour=colour))
            done["tags"] += 1
        for line in Line.objects.filter(name__in=REASONS):
            labels.save_close_reasons(admin, line, {}, REASONS[line.name])
            done["reasons"] += len(REASONS[line.name])
    legacy = tags[-1]
    reasons_by_line = {
        line.pk: list(line.close_reasons.all())
        for line in Line.objects.filter(name__in=REASONS).prefetch_related("close_reasons")
    }
    weights = [5, 3, 2, 1, 2, 1, 1]
    conversations = Conversation.objects.order_by("started_at", "id").values_list(
        "pk", "status", "line_id", "updated_at"
    )
    with hooks.publishing_suspended():
        for pk, status, line_id, updated_at in conversations:
            if rng.random() >= share:
                continue
            at = updated_at + dt.timedelta(seconds=rng.randint(5, 120))
            if now is not None:
                at = min(at, now)  # nothing in the demo is dated after its "now"
            with transaction.atomic():
                chosen = {t.pk for t in rng.choices(tags, weights, k=rng.randint(1, 2))}
                services.change_tags(pk, actor, add=sorted(chosen), now=at)
                done["tagged"] += 1
                reasons = reasons_by_line.get(line_id)
                if reasons and status in (Status.CLOSED, Status.AUTO_CLOSED):
                    reason = rng.choices(reasons, [6, 3, 2, 1][: len(reasons)])[0]
                    services.change_close_reason(pk, actor, reason.pk, now=at)
                    done["with_reason"] += 1
    labels.save_tag(admin, legacy, name=legacy.name, colour=legacy.colour, archived=True)
    for line in Line.objects.filter(name__in=REQUIRED):
        from convodesk.lines import services as line_services

        line_services.update_line(admin, line, close_reason_required=True)
    return done
