"""How many live events each service call publishes (like Zulip's capture_send_event_calls).

A service call is one transaction: whatever it records (a new conversation's created, crm_bound,
offered and greeting events, a close's closing texts) is announced once, after commit, in one
hint that names every event. A refused call publishes nothing; a bulk load publishes nothing.
"""

from contextlib import contextmanager

import pytest

from convodesk.conversations import hooks, realtime, services
from convodesk.conversations.lifecycle import IllegalTransition
from convodesk.conversations.models import ConversationEvent

from .. import factories as f


@contextmanager
def capture_send_event_calls(monkeypatch, django_capture_on_commit_callbacks):
    """Each publish after commit, as the kinds of the events it announced (calls through)."""
    calls = []
    original = realtime.publish_events

    def capture(events):
        ids = [event_id for event_id, _conversation in events]
        kinds = dict(ConversationEvent.objects.filter(pk__in=ids).values_list("pk", "kind"))
        calls.append([kinds[i] for i in ids])
        original(events)

    monkeypatch.setattr(realtime, "publish_events", capture)
    with django_capture_on_commit_callbacks(execute=True):
        yield calls
    monkeypatch.undo()


@pytest.fixture
def publishes(monkeypatch, django_capture_on_commit_callbacks):
    def start():
        return capture_send_event_calls(monkeypatch, django_capture_on_commit_callbacks)

    return start


@pytest.fixture
def desk(org):
    """A line that greets, binds a lead, closes in closing mode with a rating request."""
    line = f.line(
        "Greeting line",
        members=[org.op1, org.op2],
        greeting_text="Hello, we are here.",
        closing_text="Thank you for writing.",
        ask_rating=True,
        crm_binding="lead",
    )
    return line, f.connection(line, "api")


def test_each_service_call_publishes_its_events_once(desk, org, publishes):
    line, conn = desk
    with publishes() as calls:
        received = f.client_message(conn, "c1", "Hi", when=f.at(0), phone="+49 30 1234567")
    assert calls == [["created", "crm_bound", "offered", "bot_message"]]
    conversation = received.conversation

    with publishes() as calls:
        f.client_message(conn, "c1", "Anyone?", when=f.at(5))
    assert calls == [["client_message"]]

    with publishes() as calls:
        services.take(conversation.pk, f.act(org.op1), now=f.at(10))
    assert calls == [["taken"]]

    with publishes() as calls:
        services.reply(conversation.pk, f.act(org.op1), "Hello", now=f.at(20))
    assert calls == [["employee_message"]]

    with publishes() as calls:
        services.close(conversation.pk, f.act(org.op1), now=f.at(30))
    assert calls == [["closing", "bot_message", "bot_message"]]

    with publishes() as calls:
        services.client_rate(conversation.pk, True, now=f.at(40))
    assert calls == [["client_rated"]]


def test_a_skip_publishes_the_skip_and_the_next_offer_together(org, publishes):
    line = f.line("In order", members=[org.op1, org.op2], distribution="strict")
    conn = f.connection(line, "api")
    conversation = f.client_message(conn, "c1", "Hi", when=f.at(0)).conversation
    with publishes() as calls:
        services.skip(conversation.pk, f.act(org.op1), now=f.at(5))
    assert calls == [["skipped", "offered"]]


def test_a_refused_call_publishes_nothing(org, publishes):
    conversation = f.client_message(org.conn, "c1", "Hi", when=f.at(0)).conversation
    services.close(conversation.pk, f.act(org.op1), now=f.at(10))
    with publishes() as calls:
        with pytest.raises(IllegalTransition):
            services.take(conversation.pk, f.act(org.op1), now=f.at(20))
    assert calls == []


def test_the_timers_loop_publishes_once_per_sweep_naming_every_conversation_it_changes(
    org, publishes
):
    """The due queue time-outs of a sweep are one transaction (issue 23 item 6): one hint."""
    for client in ("c1", "c2"):
        f.client_message(org.conn, client, "Hi", when=f.at(0))
    with publishes() as calls:  # both offers expire; to all at once they are offered again
        assert services.run_due_timers(now=f.at(3600)) == 2
    assert calls == [["queue_timeout", "offered", "queue_timeout", "offered"]]


def test_a_bulk_load_publishes_nothing(org, publishes):
    with publishes() as calls, hooks.publishing_suspended():
        conversation = f.client_message(org.conn, "c1", "Hi", when=f.at(0)).conversation
        services.take(conversation.pk, f.act(org.op1), now=f.at(5))
    assert calls == []
