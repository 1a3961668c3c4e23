"""Tagged and closed-with-a-reason histories written through the services."""

import datetime as dt
import random

from convodesk.conversations import services
from convodesk.conversations.lifecycle import IllegalTransition
from convodesk.conversations.models import Conversation, Tag
from convodesk.lines.models import CloseReason, Line

from .. import factories as f
from ..stats.builders import BASE, random_history


def make_labels(org):
    tags = [
        Tag.objects.create(name="Billing", colour="blue"),
        Tag.objects.create(name="Urgent", colour="red"),
        Tag.objects.create(name="VIP", colour="purple"),
    ]
    reasons = {}
    for line in Line.objects.all():
        reasons[line.pk] = [
            CloseReason.objects.create(line=line, name="Solved", position=1),
            CloseReason.objects.create(line=line, name="No answer", position=2),
        ]
    return tags, reasons


def labelled_history(org, seed: int, conversations: int = 30, days: int = 6):
    """random_history, then random tag changes and closes with a reason, all through the services."""
    connections = random_history(org, seed, conversations=conversations, days=days)
    tags, reasons = make_labels(org)
    rng = random.Random(seed * 7)
    admin = f.act(org.admin)
    for conv in Conversation.objects.order_by("pk"):
        t = conv.updated_at + dt.timedelta(minutes=1)
        for _ in range(rng.randrange(0, 4)):
            chosen = rng.sample(tags, rng.randrange(0, 3))
            if rng.random() < 0.5:
                services.change_tags(conv.pk, admin, replace=[x.pk for x in chosen], now=t)
            else:
                services.change_tags(
                    conv.pk, admin, add=[x.pk for x in chosen], remove=[rng.choice(tags).pk], now=t
                )
            t += dt.timedelta(minutes=1)
        if conv.is_open and rng.random() < 0.7:
            choice = rng.choice(reasons[conv.line_id] + [None])
            try:
                services.close(conv.pk, admin, now=t, reason=choice.pk if choice else None)
            except IllegalTransition:
                pass
    return connections, tags, reasons


__all__ = ["BASE", "labelled_history", "make_labels"]
