"""Regression guard for the write path's query counts (PERFORMANCE.md: ingestion rate, demo load).

Each bound is the count measured when the write path was tuned plus a little slack; a change
that adds queries to a service call or a hook fails here and has to justify the new bound.
"""

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk.conversations import services
from convodesk.conversations.models import Conversation

from .. import factories as f

BUDGET = {  # measured (same on SQLite and PostgreSQL) + slack; before tuning: 34, 11, 22, 18, 19
    "first_message": 25,  # measured 23
    "second_message": 10,  # measured 9
    "take": 18,  # measured 16, of which 3 compute the employee's levels (cached on the user)
    "reply": 14,  # measured 12
    "close": 13,  # measured 11
}


def _count(call):
    with CaptureQueriesContext(connection) as queries:
        result = call()
    if os.environ.get("CONVODESK_SHOW_QUERIES"):
        print(f"\n{len(queries)} queries")
        for q in queries.captured_queries:
            print("  ", q["sql"][:200])
    return len(queries), result


@pytest.fixture
def busy_line(org):
    """A six-member line offering to all at once, creating a lead for unknown clients."""
    members = [org.op1, org.op2, org.op3] + [
        f.employee(departments=[org.support]) for _ in range(3)
    ]
    line = f.line("Busy line", members=members)
    return line, f.connection(line, "api"), members


def test_the_write_path_stays_within_its_query_budget(busy_line):
    line, conn, members = busy_line
    counts = {}
    counts["first_message"], received = _count(
        lambda: f.client_message(
            conn,
            "new-client",
            "Hi",
            when=f.at(0),
            phone="+49 30 1234567",
            email="new@example.com",
            external_message_id="m1",
        )
    )
    conversation = received.conversation
    assert received.created and conversation.crm_entity_type == "lead"
    assert conversation.participants.filter(offered_now=True).count() == 6
    counts["second_message"], again = _count(
        lambda: f.client_message(
            conn, "new-client", "Anyone?", when=f.at(5), external_message_id="m2"
        )
    )
    assert again.conversation.pk == conversation.pk and again.created
    op = members[0]
    counts["take"], _ = _count(lambda: services.take(conversation.pk, f.act(op), now=f.at(10)))
    counts["reply"], _ = _count(
        lambda: services.reply(conversation.pk, f.act(op), "Hello", now=f.at(20))
    )
    counts["close"], _ = _count(lambda: services.close(conversation.pk, f.act(op), now=f.at(30)))
    conversation = Conversation.objects.get(pk=conversation.pk)
    assert conversation.responsible_id == op.pk and not conversation.is_open
    print(f"\nquery counts ({connection.vendor}): {counts}")
    over = {k: (v, BUDGET[k]) for k, v in counts.items() if v > BUDGET[k]}
    assert not over, f"over budget (measured, bound): {over}"
