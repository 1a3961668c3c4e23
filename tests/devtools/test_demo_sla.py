"""The demo's calendars and reply-time targets: every open channel has them, some
conversations are overdue, breaches are recorded once, and the data passes the invariants."""

import datetime as dt

from convodesk.conversations.filters import ConversationFilter
from convodesk.conversations.models import Conversation, ConversationEvent
from convodesk.devtools import demo, invariants
from convodesk.lines.models import Line


def test_the_demo_sla_gives_every_open_channel_targets_and_leaves_some_overdue(db):
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # a Wednesday, 13:00 in Madrid
    demo.load(conversations=40, now=now)  # its steps include demo_sla's
    assert not Line.objects.filter(sla_first_seconds__isnull=True).exists()
    overdue = ConversationFilter({"overdue": "true"}, now=now).filter(Conversation.objects.all())
    assert overdue.exists()
    breached = ConversationEvent.objects.filter(kind="sla_breached")
    assert breached.count() == Conversation.objects.filter(sla_breaches__gt=0).count()
    assert Conversation.objects.filter(sla_met__gt=0).exists()
    assert Conversation.objects.filter(due_at__gt=now).exists()  # due soon
    assert invariants.check(Conversation.objects.all()) == []
