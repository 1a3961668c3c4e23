"""Distribution per open channel: modes, queue time-outs, limits, availability and presence."""

import threading

import pytest
from django.db import close_old_connections

from convodesk.conversations import services
from convodesk.conversations.lifecycle import IllegalTransition, Status
from convodesk.conversations.models import ConversationEvent, ConversationParticipant
from convodesk.workspace import presence
from tests import factories as f


def offered_to(conv) -> set[int]:
    return set(
        ConversationParticipant.objects.filter(conversation=conv, offered_now=True).values_list(
            "employee_id", flat=True
        )
    )


def message(line, client="c1", when=0):
    conn = line.connections.first() or f.connection(line, "api")
    return f.client_message(conn, client, "hi", when=f.at(when)).conversation


@pytest.fixture
def ops(db):
    return [f.employee(f"member{i}") for i in range(3)]


def test_to_all_at_once_offers_every_available_member_and_nobody_is_responsible(ops):
    ops[2].availability = "away"
    ops[2].save()
    line = f.line(members=ops)
    conv = message(line)
    assert offered_to(conv) == {ops[0].pk, ops[1].pk}
    assert conv.responsible_id is None and conv.status == Status.NEW


def test_evenly_offers_to_the_member_with_fewest_open_conversations(ops):
    line = f.line(members=ops, distribution="evenly")
    first = message(line, "a")
    second = message(line, "b")
    third = message(line, "c")
    assert [first.responsible_id, second.responsible_id, third.responsible_id] == [
        o.pk for o in ops
    ]
    services.close(first.pk, f.act(ops[0]))
    fourth = message(line, "d")
    assert fourth.responsible_id == ops[0].pk


def test_strictly_in_order_skip_and_queue_time_out_pass_it_down_the_list(ops):
    line = f.line(members=ops, distribution="strict", queue_timeout_seconds=60)
    conv = message(line, when=0)
    assert conv.responsible_id == ops[0].pk and offered_to(conv) == {ops[0].pk}
    services.skip(conv.pk, f.act(ops[0]), now=f.at(5))
    conv.refresh_from_db()
    assert conv.responsible_id == ops[1].pk and conv.status == Status.SKIPPED
    assert services.run_due_timers(now=f.at(64)) == 0  # not due yet: offered at 5 s
    assert services.run_due_timers(now=f.at(66)) == 1
    conv.refresh_from_db()
    assert conv.responsible_id == ops[2].pk and offered_to(conv) == {ops[2].pk}


def test_a_queue_time_out_in_all_at_once_only_notifies_the_members_again(ops):
    line = f.line(members=ops[:2], queue_timeout_seconds=60)
    conv = message(line, when=0)
    assert services.run_due_timers(now=f.at(61)) == 1
    conv.refresh_from_db()
    assert conv.status == Status.NEW and conv.responsible_id is None
    assert offered_to(conv) == {ops[0].pk, ops[1].pk}
    assert ConversationEvent.objects.filter(conversation=conv, kind="offered").count() == 2


def test_the_limit_of_open_conversations_per_employee_is_respected(ops):
    line = f.line(members=ops[:2], distribution="evenly", max_open_per_employee=1)
    a, b, c = message(line, "a"), message(line, "b"), message(line, "c")
    assert {a.responsible_id, b.responsible_id} == {ops[0].pk, ops[1].pk}
    assert c.responsible_id is None and offered_to(c) == set()
    services.close(a.pk, f.act(ops[0] if a.responsible_id == ops[0].pk else ops[1]))
    assert services.offer_waiting(c.pk)
    c.refresh_from_db()
    assert c.responsible_id == a.responsible_id


def test_when_nobody_is_online_it_waits_and_is_offered_when_someone_comes_online(ops):
    for op in ops:
        op.availability = "away"
        op.save()
    line = f.line(members=ops)
    conv = message(line)
    assert offered_to(conv) == set()
    presence.socket_opened(ops[1].pk)
    ops[1].refresh_from_db()
    assert ops[1].availability == "online"
    assert offered_to(conv) == {ops[1].pk}


def test_presence_turns_away_after_the_grace_period_and_a_chosen_away_sticks(ops, settings):
    settings.CONVODESK = {**settings.CONVODESK, "PRESENCE_GRACE_SECONDS": 60}
    op = ops[0]
    presence.socket_opened(op.pk, now=f.at(0))
    presence.socket_opened(op.pk, now=f.at(1))
    presence.socket_closed(op.pk, now=f.at(10))
    assert presence.sweep(now=f.at(500)) == 0  # one socket still open
    due = presence.socket_closed(op.pk, now=f.at(20))
    assert due == f.at(80)
    assert presence.sweep(now=f.at(79)) == 0
    assert presence.sweep(now=f.at(81)) == 1
    op.refresh_from_db()
    assert op.availability == "away"

    presence.socket_opened(op.pk)
    op.refresh_from_db()
    assert op.availability == "online"
    presence.choose(op.pk, "away")
    presence.socket_closed(op.pk)
    presence.socket_opened(op.pk)
    op.refresh_from_db()
    assert op.availability == "away"
    presence.choose(op.pk, "online")
    op.refresh_from_db()
    assert op.availability == "online"


def test_a_reconnect_within_the_grace_period_keeps_the_employee_online(ops):
    op = ops[0]
    presence.socket_opened(op.pk, now=f.at(0))
    presence.socket_closed(op.pk, now=f.at(10))
    presence.socket_opened(op.pk, now=f.at(30))
    assert presence.sweep(now=f.at(200)) == 0
    op.refresh_from_db()
    assert op.availability == "online"


@pytest.mark.django_db(transaction=True)
def test_two_operators_pressing_answer_at_the_same_moment_exactly_one_gets_it():
    a, b = f.employee("racer-a"), f.employee("racer-b")
    line = f.line(members=[a, b])
    conv = message(line)
    barrier = threading.Barrier(2)
    results = {}

    def press(user):
        try:
            barrier.wait()
            services.take(conv.pk, f.act(user))
            results[user.pk] = "took"
        except IllegalTransition as error:
            results[user.pk] = str(error.message)
        except services.NotFound:  # the winner's take cleared the loser's offer
            results[user.pk] = "no longer offered"
        except Exception as error:  # shown in the assertion below
            results[user.pk] = repr(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=press, args=(u,)) for u in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 2 and list(results.values()).count("took") == 1, results
    loser = next(r for r in results.values() if r != "took")
    assert loser in ("Another employee has already taken this conversation.", "no longer offered")
    conv.refresh_from_db()
    winner = next(pk for pk, r in results.items() if r == "took")
    assert conv.responsible_id == winner and conv.status == Status.TAKEN
    assert ConversationEvent.objects.filter(conversation=conv, kind="taken").count() == 1
