"""`run_due_timers`: auto-close, full close of closing mode, queue time-out; idempotent."""

import datetime as dt
import threading

import pytest
from django.db import connections

from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
)

from .. import factories as f

FOUR_HOURS = dt.timedelta(hours=4)


def fresh(conv) -> Conversation:
    return Conversation.objects.get(pk=conv.pk)


def answered(conn, op, client="c1", t=0, reply_at=10) -> Conversation:
    conv = f.client_message(conn, client, "Hello", when=f.at(t)).conversation
    services.reply(conv.pk, f.act(op), "Hi, how can I help?", now=f.at(reply_at))
    return conv


def offered_to(conv) -> set[int]:
    return set(
        ConversationParticipant.objects.filter(conversation=conv, offered_now=True).values_list(
            "employee_id", flat=True
        )
    )


def test_an_answered_conversation_auto_closes_as_75_by_automatic_after_the_client_is_silent(org):
    conv = answered(org.conn, org.op1)
    assert fresh(conv).auto_close_at == f.at(10) + FOUR_HOURS
    assert services.run_due_timers(now=f.at(10) + FOUR_HOURS - dt.timedelta(seconds=1)) == 0
    assert fresh(conv).status == Status.AGENT_REPLIED
    assert services.run_due_timers(now=f.at(10) + FOUR_HOURS) == 1
    conv = fresh(conv)
    assert conv.status == Status.AUTO_CLOSED
    assert conv.closed_by == "automatic"
    assert conv.closed_at == f.at(10) + FOUR_HOURS
    assert conv.auto_close_at is None
    assert conv.duration == 10
    assert conv.time_to_agent_close is None
    event = ConversationEvent.objects.get(conversation=conv, kind="auto_closed")
    assert (event.actor_kind, event.from_status, event.to_status) == ("timer", 40, 75)


def test_the_auto_close_follows_the_lines_setting(org):
    line = f.line("Fast", members=[org.op1], auto_close_minutes=30)
    conv = answered(f.connection(line), org.op1)
    assert services.run_due_timers(now=f.at(10 + 30 * 60)) == 1
    assert fresh(conv).status == Status.AUTO_CLOSED


def test_with_a_closing_text_the_auto_close_goes_to_50_then_closes_fully_after_the_delay(org):
    line = f.line(
        "Polite", members=[org.op1], closing_text="Thanks for writing!", full_close_minutes=10
    )
    conv = answered(f.connection(line), org.op1)
    due = f.at(10) + FOUR_HOURS
    assert services.run_due_timers(now=due) == 1
    conv = fresh(conv)
    assert conv.status == Status.CLOSING
    assert conv.full_close_at == due + dt.timedelta(minutes=10)
    assert list(
        Message.objects.filter(conversation=conv, author_kind="bot").values_list("text", flat=True)
    ) == ["Thanks for writing!"]
    assert services.run_due_timers(now=due + dt.timedelta(minutes=9)) == 0
    assert services.run_due_timers(now=due + dt.timedelta(minutes=10)) == 1
    conv = fresh(conv)
    assert conv.status == Status.AUTO_CLOSED
    assert conv.closed_by == "automatic"
    assert conv.closed_at == due + dt.timedelta(minutes=10)
    assert conv.time_to_agent_close is None


def test_a_client_message_just_before_the_deadline_prevents_the_auto_close(org):
    conv = answered(org.conn, org.op1)
    deadline = f.at(10) + FOUR_HOURS
    f.client_message(org.conn, "c1", "Wait!", when=deadline - dt.timedelta(seconds=1))
    assert services.run_due_timers(now=deadline) == 0
    conv = fresh(conv)
    assert conv.status == Status.CLIENT_WROTE_AFTER_AGENT
    assert conv.closed_at is None
    assert services.run_due_timers(now=deadline + dt.timedelta(days=30)) == 0
    assert not ConversationEvent.objects.filter(conversation=conv, kind="auto_closed").exists()


def test_running_the_timers_twice_in_a_row_closes_each_conversation_once(org):
    convs = [answered(org.conn, org.op1, client=f"c{i}") for i in range(5)]
    due = f.at(10) + FOUR_HOURS
    assert services.run_due_timers(now=due) == 5
    assert services.run_due_timers(now=due) == 0
    assert services.run_due_timers(now=due + dt.timedelta(seconds=1)) == 0
    for conv in convs:
        assert ConversationEvent.objects.filter(conversation=conv, kind="auto_closed").count() == 1
        assert fresh(conv).status == Status.AUTO_CLOSED


def test_the_queue_timeout_fires_after_the_timeout_and_offers_it_to_the_next_member_evenly(org):
    line = f.line(
        "Evenly",
        members=[org.op1, org.op2, org.op3],
        distribution="evenly",
        queue_timeout_seconds=45,
    )
    conv = f.client_message(f.connection(line), "c1", "Hello", when=f.at(0)).conversation
    assert offered_to(conv) == {org.op1.pk}
    assert services.run_due_timers(now=f.at(44)) == 0
    assert services.run_due_timers(now=f.at(45)) == 1
    conv = fresh(conv)
    assert conv.status == Status.SKIPPED
    assert conv.responsible_id == org.op2.pk
    assert offered_to(conv) == {org.op2.pk}
    assert services.run_due_timers(now=f.at(90)) == 1
    conv = fresh(conv)
    assert conv.responsible_id not in (None, org.op2.pk)  # someone other than who timed out
    assert offered_to(conv) == {conv.responsible_id}
    assert conv.assigned_at == f.at(0)  # first offered


def test_evenly_queue_timeouts_reach_every_member_before_repeating_one(org):
    line = f.line(
        "Evenly",
        members=[org.op1, org.op2, org.op3],
        distribution="evenly",
        queue_timeout_seconds=45,
    )
    conv = f.client_message(f.connection(line), "c1", "Hello", when=f.at(0)).conversation
    services.run_due_timers(now=f.at(45))
    services.run_due_timers(now=f.at(90))
    assert fresh(conv).responsible_id == org.op3.pk


def test_no_queue_timeout_after_the_conversation_was_taken(org):
    line = f.line("Evenly", members=[org.op1, org.op2], distribution="evenly")
    conv = f.client_message(f.connection(line), "c1", "Hello", when=f.at(0)).conversation
    services.take(conv.pk, f.act(org.op1), now=f.at(30))
    assert fresh(conv).offer_expires_at is None
    assert services.run_due_timers(now=f.at(600)) == 0
    assert fresh(conv).responsible_id == org.op1.pk


@pytest.mark.django_db(transaction=True)
def test_two_timer_loops_running_at_once_close_each_conversation_once(org):
    convs = [answered(org.conn, org.op1, client=f"c{i}") for i in range(12)]
    line = f.line("Polite", members=[org.op2], closing_text="Bye")
    polite = [answered(f.connection(line), org.op2, client=f"p{i}") for i in range(4)]
    due = f.at(10) + FOUR_HOURS
    barrier = threading.Barrier(2)
    fired = [0, 0]

    def loop(i):
        try:
            barrier.wait(timeout=30)
            fired[i] = services.run_due_timers(now=due)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(fired) == 16
    for conv in convs + polite:
        assert ConversationEvent.objects.filter(conversation=conv, kind="auto_closed").count() == 1
    assert {fresh(c).status for c in convs} == {Status.AUTO_CLOSED}
    assert {fresh(c).status for c in polite} == {Status.CLOSING}
    for conv in polite:  # the closing text went out once per conversation
        assert Message.objects.filter(conversation=conv, author_kind="bot").count() == 1


def waiting(conn, count, start=0) -> list[Conversation]:
    return [
        f.client_message(conn, f"w{start + i}", "Hello", when=f.at(i)).conversation
        for i in range(count)
    ]


def sweep_queries(now) -> tuple[int, int]:
    """(timers fired, statements run) for one sweep of the timers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as sweep:
        fired = services.run_due_timers(now=now)
    return fired, len(sweep.captured_queries)


@pytest.mark.parametrize("mode", ["all_at_once", "evenly", "strict"])
def test_a_sweep_re_offering_many_waiting_conversations_runs_as_many_statements_as_for_few(
    org, mode
):
    """Issue 23 item 6: thousands waiting must not make each sweep of the timers loop cost
    thousands of statements. The due queue time-outs are read by their index, locked,
    re-offered and written together: 4 waiting or 24, the sweep runs the same statements."""
    line = f.line(
        "Queue", members=[org.op1, org.op2, org.op3], distribution=mode, queue_timeout_seconds=60
    )
    conn = f.connection(line)
    few = waiting(conn, 4)
    fired_few, statements_few = sweep_queries(f.at(100))
    assert fired_few == 4
    for conv in few:  # out of the queue: the next sweep re-offers the new ones only
        Conversation.objects.filter(pk=conv.pk).update(offer_expires_at=None)
    many = waiting(conn, 24, start=200)
    fired_many, statements_many = sweep_queries(f.at(300))
    assert fired_many == 24
    assert statements_many == statements_few, (statements_few, statements_many)
    assert services.run_due_timers(now=f.at(300)) == 0  # nothing fires twice
    for conv in many:
        conv = fresh(conv)
        assert (
            ConversationEvent.objects.filter(conversation=conv, kind="queue_timeout").count() == 1
        )
        assert offered_to(conv), conv.pk  # offered again to someone
    if mode != "all_at_once":  # one responsible each, spread over the members
        responsible = [fresh(conv).responsible_id for conv in many]
        assert set(responsible) <= {org.op1.pk, org.op2.pk, org.op3.pk}
        assert None not in responsible


def test_a_sweep_works_in_short_transactions_and_still_fires_every_due_timer(org):
    """A sweep's transaction holds the write lock (SQLite) until it commits: 500 re-offers in
    one took 3.5 s at 1,000,000 conversations while client messages waited. A sweep now commits
    every `chunk` conversations, and fires all that are due (up to `batch`)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    line = f.line("Queue", members=[org.op1, org.op2], queue_timeout_seconds=60)
    many = waiting(f.connection(line), 7)
    with CaptureQueriesContext(connection) as sweep:
        assert services.run_due_timers(now=f.at(100), chunk=3) == 7
    units = [q for q in sweep.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(units) >= 3  # 3 + 3 + 1 re-offers, then the other kinds find nothing
    for conv in many:
        assert (
            ConversationEvent.objects.filter(conversation=conv, kind="queue_timeout").count() == 1
        )
    assert services.run_due_timers(now=f.at(100), chunk=3) == 0
    # `batch` still bounds a sweep: the rest waits for the next one.
    for conv in many:
        Conversation.objects.filter(pk=conv.pk).update(offer_expires_at=f.at(150))
    assert services.run_due_timers(now=f.at(200), batch=5, chunk=3) == 5
    assert services.run_due_timers(now=f.at(200), batch=5, chunk=3) == 2


def due_round(conn, op, count, start) -> tuple[list[Conversation], list[Conversation]]:
    """`count` answered conversations (auto-close due 4 h after the reply at start + 10 s) and
    `count` waiting ones (their first reply due 60 s after the message; no queue time-out)."""
    answered_ = [
        answered(conn, op, client=f"a{start + i}", t=start, reply_at=start + 10)
        for i in range(count)
    ]
    waiting_ = [
        f.client_message(conn, f"w{start + i}", "Hello", when=f.at(start + i)).conversation
        for i in range(count)
    ]
    Conversation.objects.filter(pk__in=[c.pk for c in waiting_]).update(offer_expires_at=None)
    return answered_, waiting_


def test_a_sweep_of_many_auto_closes_full_closes_and_breaches_runs_as_many_statements_as_for_few(
    org,
):
    """Issue 23 item 6: the auto-closes (with their closing texts), the full closes and the
    breaches of reply-time targets are fired like the queue time-outs: the due rows read and
    locked in one statement per kind, written together. 3 due of each or 30, a sweep runs the
    same statements."""
    line = f.line(
        "Polite",
        members=[org.op1],
        closing_text="Thanks for writing!",
        ask_rating=True,
        full_close_minutes=10,
        sla_first_seconds=60,
        sla_first_business=False,
    )
    conn = f.connection(line)
    counts = {}
    for count, start in ((3, 0), (30, 100_000)):
        closing, waiting_ = due_round(conn, org.op1, count, start)
        due = f.at(start + 10) + FOUR_HOURS
        fired, statements = sweep_queries(due)
        assert fired == 2 * count  # the auto-closes and the breaches
        fired_full, statements_full = sweep_queries(due + dt.timedelta(minutes=10))
        assert fired_full == count
        counts[count] = (statements, statements_full)
        assert services.run_due_timers(now=due + dt.timedelta(minutes=10)) == 0  # once each
        for conv in closing:
            conv = fresh(conv)
            assert conv.status == Status.AUTO_CLOSED
            assert conv.closed_at == due + dt.timedelta(minutes=10)
            events = ConversationEvent.objects.filter(conversation=conv)
            assert events.filter(kind="auto_closed").count() == 1
            assert events.filter(kind="full_closed").count() == 1
            texts = Message.objects.filter(conversation=conv, author_kind="bot").order_by("id")
            assert [m.text for m in texts][0] == "Thanks for writing!"
            assert texts.count() == 2
            # Each automatic text's event names that conversation's own message.
            assert sorted(e.payload["message"] for e in events.filter(kind="bot_message")) == [
                m.pk for m in texts
            ]
        for conv in waiting_:
            conv = fresh(conv)
            assert (conv.overdue, conv.sla_breaches) == (True, 1)
            assert (
                ConversationEvent.objects.filter(conversation=conv, kind="sla_breached").count()
                == 1
            )
    assert counts[30] == counts[3], counts


def test_a_conversation_the_state_machine_refuses_is_skipped_and_the_others_of_the_sweep_fire(
    org,
):
    convs = [answered(org.conn, org.op1, client=f"c{i}") for i in range(3)]
    # Due by its column but no longer answered (as if a client's message raced the sweep).
    Conversation.objects.filter(pk=convs[1].pk).update(status=Status.CLIENT_WROTE_AFTER_AGENT)
    due = f.at(10) + FOUR_HOURS
    assert services.run_due_timers(now=due) == 2
    assert [fresh(c).status for c in convs] == [
        Status.AUTO_CLOSED,
        Status.CLIENT_WROTE_AFTER_AGENT,
        Status.AUTO_CLOSED,
    ]
    refused = fresh(convs[1])
    assert refused.auto_close_at == due and refused.closed_at is None
    assert not ConversationEvent.objects.filter(conversation=convs[1], kind="auto_closed").exists()
    for conv in (convs[0], convs[2]):
        assert ConversationEvent.objects.filter(conversation=conv, kind="auto_closed").count() == 1
