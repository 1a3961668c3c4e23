"""Regression guard for the write path's statement counts (PERFORMANCE.md: ingestion rate, demo load).

A service call is one transaction; the count is its statements (the test's own transaction
turns BEGIN / COMMIT into SAVEPOINT / RELEASE, which are left out, as BEGIN and COMMIT are in
production). Each bound is the count measured when the write path was tuned; a change that
adds statements to a service call fails here and has to justify the new bound.
"""

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk.conversations import services
from convodesk.conversations.models import Conversation

from .. import factories as f

# Measured. SQLite before the identity and open-conversation look-ups became one read there:
# 18 and 15 for the first and returning messages. Before the batched write path (issue 17), the same on both databases and without
# the savepoint markers: 22, 6 (+1 idempotency read each), 15, 11, 9; before the first tuning
# 34, 11, 22, 18, 19 with them. A transaction's batch (the row's changed columns, participants,
# events, rollups, buckets, participation) is one statement each on SQLite and one statement in
# all on PostgreSQL (data-modifying WITH clauses). On PostgreSQL a row and the rows that point at
# it are also one statement (`services.core.insert_linked`): client and identity, conversation and
# first message, new lead and activity; a new conversation's CRM links go with the batch. SQLite
# has no statement that writes two tables: a new client's first message there writes twelve
# (client, identity, conversation, message, lead, link, activity, participants, rollups,
# buckets, participation, events), so its floor is above the target of 10. The line and its
# available members are one read (`distribution.line_and_members`).
BUDGET = {
    "sqlite": {
        # new client, a lead made and bound, offered to six: identity with its open
        # conversation (one outer join: SQLite has no row lock to take first), client, identity,
        # line with its available members, conversation, message, contact, lead, lead, activity,
        # + batch: link, crm columns, participants, events, rollups, buckets, participation
        "first_message": 17,
        # identity with its open conversation, message + batch: conversation, event, rollups,
        # buckets
        "second_message": 6,
        # the same client's next conversation, bound to their open lead: identity (with
        # "returning") and its open conversation, line with members, conversation, message,
        # contact, lead, activity,
        # + batch: link, crm columns, participants, events, rollups, buckets, participation
        "returning_client": 14,
        "take": 14,  # of which 3 compute the employee's levels (cached on the user)
        "reply": 11,
        # lock, may the employee act, participants, their reply periods' sums (a close moves
        # the conversation's per-employee figures to the closed ones: issue 23 item 5; was 9),
        # conversation, activity, lead + batch: rollups, buckets, participation, events
        "close": 11,
    },
    "postgresql": {
        # lock, identity, client + identity, line with its available members, conversation +
        # message, contact, lead, lead + activity, batch (crm columns, links, participants,
        # events, rollups, buckets, participation)
        "first_message": 9,
        "second_message": 3,  # lock, message, batch
        "returning_client": 8,
        "take": 9,
        "reply": 6,
        "close": 6,
    },
}


def _count(call):
    with CaptureQueriesContext(connection) as queries:
        result = call()
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    if os.environ.get("CONVODESK_SHOW_QUERIES"):
        print(f"\n{len(statements)} statements")
        for sql in statements:
            print("  ", sql[:200])
    return len(statements), result


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
    counts["returning_client"], again = _count(
        lambda: f.client_message(
            conn, "new-client", "Me again", when=f.at(86400), external_message_id="m3"
        )
    )
    assert again.created and again.conversation.pk != conversation.pk
    assert again.conversation.returning and again.conversation.crm_entity_type == "lead"
    print(f"\nquery counts ({connection.vendor}): {counts}")
    budget = BUDGET[connection.vendor]
    over = {k: (v, budget[k]) for k, v in counts.items() if v > budget[k]}
    assert not over, f"over budget (measured, bound): {over}"


def test_after_its_commit_a_message_that_closes_nothing_reads_nothing(
    busy_line, django_capture_on_commit_callbacks
):
    """The after-commit subscribers (live events, deliveries, Bitrix24's session-finish events)
    take what they need from the batch itself: a client's message costs no statement there."""
    _line, conn, _members = busy_line
    f.client_message(conn, "after-commit", "Hi", external_message_id="a1")
    with django_capture_on_commit_callbacks() as callbacks:
        f.client_message(conn, "after-commit", "Anyone?", external_message_id="a2")
    assert callbacks
    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    assert [q["sql"] for q in queries.captured_queries] == []
