"""The breach of a reply-time target is recorded once with two timer loops running at once
(one connection per thread: row locks taken with SKIP LOCKED on PostgreSQL, the one writer's
lock on SQLite)."""

import datetime as dt

import pytest
from django.db.models import Count

from convodesk.conversations import services
from convodesk.conversations.models import Conversation, ConversationEvent

from .. import factories as f
from ..conversations.test_concurrency import run_concurrently

pytestmark = [
    pytest.mark.django_db(transaction=True),
]


def test_two_timer_loops_record_each_breach_once(org):
    org.line.sla_first_seconds = 60
    org.line.sla_first_business = False
    org.line.save()
    conversations = [
        f.client_message(org.conn, f"c{i}", "Hi", when=f.at(i)).conversation for i in range(40)
    ]
    now = f.at(3600)

    def loop(_i):
        fired = 0
        for _ in range(3):  # each loop sweeps a few times, as the timers command does
            fired += services.run_due_timers(now=now + dt.timedelta(seconds=_ * 5))
        return fired

    results = run_concurrently(loop, count=2)
    assert not any(isinstance(r, Exception) for r in results), results
    per_conversation = dict(
        ConversationEvent.objects.filter(kind="sla_breached")
        .values_list("conversation_id")
        .annotate(n=Count("id"))
    )
    assert per_conversation == {c.pk: 1 for c in conversations}
    assert set(Conversation.objects.values_list("sla_breaches", "overdue")) == {(1, True)}
