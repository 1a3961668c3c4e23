"""One test per rule of SPEC "Conversation lifecycle" and per edge case of "The four time metrics".

Most go through the services with explicit clocks (`f.at(seconds)`); the few marked `nodb`
exercise the pure state machine directly.
"""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from convodesk.conversations import lifecycle, services
from convodesk.conversations.lifecycle import (
    IllegalTransition,
    Rules,
    State,
    Status,
)
from convodesk.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
    ReplyPeriod,
)

from .. import factories as f

METRICS = ("agent_response_time", "first_answer_wait", "duration", "time_to_agent_close")
REPLY_TIMES = ("reply_time_first", "reply_time_total", "reply_time_avg", "reply_time_max")


def start(conn, t=0, client="c1", text="Hello", **kw) -> Conversation:
    return f.client_message(conn, client, text, when=f.at(t), **kw).conversation


def fresh(conv) -> Conversation:
    return Conversation.objects.get(pk=conv.pk)


def metrics(conv):
    conv = fresh(conv)
    return tuple(getattr(conv, k) for k in METRICS)


def reply_times(conv):
    conv = fresh(conv)
    return tuple(getattr(conv, k) for k in REPLY_TIMES)


def offered_to(conv) -> set[int]:
    return set(
        ConversationParticipant.objects.filter(conversation=conv, offered_now=True).values_list(
            "employee_id", flat=True
        )
    )


@pytest.fixture
def evenly(org):
    line = f.line("Evenly", members=[org.op1, org.op2, org.op3], distribution="evenly")
    return f.connection(line, "api")


@pytest.fixture
def strict(org):
    line = f.line("Strict", members=[org.op1, org.op2, org.op3], distribution="strict")
    return f.connection(line, "api")


@pytest.fixture
def closing(org):
    """A line that sends a closing text, so every close passes through closing mode (50)."""
    line = f.line(
        "Closing", members=[org.op1, org.op2, org.op3], closing_text="Bye!", full_close_minutes=10
    )
    return f.connection(line, "api")


# Type and outgoing ---------------------------------------------------------------------


def test_an_outgoing_conversation_starts_with_the_employees_first_message_at_40_and_them_responsible(
    org,
):
    email_line = f.line("Mail", members=[org.op1])
    conn = f.connection(email_line, "email")
    first = start(conn, 0, client="ana@example.com")
    services.close(first.pk, f.act(org.op1), now=f.at(10))
    identity = fresh(first).identity

    conv = services.start_outgoing(f.act(org.op1), identity, "We have news", now=f.at(1000))
    conv = fresh(conv)
    assert conv.type == "outgoing"
    assert conv.status == Status.AGENT_REPLIED
    assert conv.responsible_id == org.op1.pk
    assert conv.started_at == f.at(1000)
    assert conv.first_reply_at == f.at(1000)  # lead's decision: the start
    assert conv.message_count == 1
    assert conv.auto_close_at == f.at(1000) + dt.timedelta(hours=4)
    assert conv.waiting_since is None
    # Outgoing: agent response time and waiting for the answer stay empty.
    assert metrics(conv) == (None, None, 0, None)


def test_outgoing_conversation_keeps_its_first_only_metrics_empty_but_counts_reply_times(org):
    email_line = f.line("Mail", members=[org.op1])
    conn = f.connection(email_line, "email")
    first = start(conn, 0, client="ana@example.com")
    services.close(first.pk, f.act(org.op1), now=f.at(10))
    conv = services.start_outgoing(f.act(org.op1), fresh(first).identity, "Hi", now=f.at(1000))

    f.client_message(conn, "ana@example.com", "Tell me more", when=f.at(1060))
    assert fresh(conv).status == Status.CLIENT_WROTE_AFTER_AGENT
    services.reply(conv.pk, f.act(org.op1), "Sure", now=f.at(1100))
    services.close(conv.pk, f.act(org.op1), now=f.at(1200))
    assert metrics(conv) == (None, None, 100, 200)
    assert reply_times(conv) == (40, 40, 40, 40)


# Take --------------------------------------------------------------------------------


def test_take_raises_the_status_to_at_least_10(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(30))
    conv = fresh(conv)
    assert conv.status == Status.TAKEN
    assert conv.responsible_id == org.op1.pk
    assert conv.taken_at == f.at(30)
    assert conv.agent_response_time == 30


def test_take_by_the_employee_who_already_holds_it_changes_nothing(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(30))
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(40))
    services.take(conv.pk, f.act(org.op1), now=f.at(50))
    conv = fresh(conv)
    assert conv.status == Status.AGENT_REPLIED
    assert conv.taken_at == f.at(30)
    assert conv.agent_response_time == 30


def test_take_by_another_employee_is_refused_as_already_taken_and_changes_nothing(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(30))
    before = fresh(conv)
    # The admin sees every conversation, so the refusal comes from the lifecycle, not from
    # visibility (an operator whose offer ended with op1's take gets "not found" instead).
    with pytest.raises(IllegalTransition) as err:
        services.take(conv.pk, f.act(org.admin), now=f.at(40))
    assert err.value.code == "already_taken"
    after = fresh(conv)
    assert (after.status, after.responsible_id, after.taken_at, after.updated_at) == (
        before.status,
        before.responsible_id,
        before.taken_at,
        before.updated_at,
    )


# Skip and queue time-out -----------------------------------------------------------------


def test_skip_in_evenly_returns_it_to_5_and_offers_it_to_the_next_member(org, evenly):
    conv = start(evenly, 0)
    assert fresh(conv).responsible_id == org.op1.pk
    assert offered_to(conv) == {org.op1.pk}
    services.skip(conv.pk, f.act(org.op1), now=f.at(10))
    conv = fresh(conv)
    assert conv.status == Status.SKIPPED
    assert conv.responsible_id == org.op2.pk
    assert offered_to(conv) == {org.op2.pk}
    assert ConversationParticipant.objects.get(conversation=conv, employee=org.op1).skip_count == 1


def test_skip_in_strictly_in_order_offers_it_to_the_next_member_in_order(org, strict):
    conv = start(strict, 0)
    assert fresh(conv).responsible_id == org.op1.pk
    services.skip(conv.pk, f.act(org.op1), now=f.at(10))
    assert fresh(conv).responsible_id == org.op2.pk
    services.skip(conv.pk, f.act(org.op2), now=f.at(20))
    conv = fresh(conv)
    assert conv.status == Status.SKIPPED
    assert conv.responsible_id == org.op3.pk


def test_queue_timeout_in_evenly_returns_it_to_5_and_offers_it_to_the_next_member(org, evenly):
    conv = start(evenly, 0)
    assert services.run_due_timers(now=f.at(59)) == 0
    assert services.run_due_timers(now=f.at(60)) == 1
    conv = fresh(conv)
    assert conv.status == Status.SKIPPED
    assert conv.responsible_id == org.op2.pk
    assert offered_to(conv) == {org.op2.pk}
    assert conv.offer_expires_at == f.at(120)


def test_queue_timeout_in_all_at_once_only_notifies_again_and_keeps_the_status(org):
    conv = start(org.conn, 0)
    members = {org.op1.pk, org.op2.pk, org.op3.pk}
    assert offered_to(conv) == members
    assert services.run_due_timers(now=f.at(61)) == 1
    conv = fresh(conv)
    assert conv.status == Status.NEW
    assert conv.responsible_id is None
    assert offered_to(conv) == members
    assert conv.offer_expires_at == f.at(121)
    assert ConversationEvent.objects.filter(conversation=conv, kind="queue_timeout").count() == 1


def test_skip_in_all_at_once_keeps_the_status_and_nobody_becomes_responsible(org):
    conv = start(org.conn, 0)
    services.skip(conv.pk, f.act(org.op1), now=f.at(10))
    conv = fresh(conv)
    assert conv.status == Status.NEW
    assert conv.responsible_id is None


def test_skip_in_all_at_once_withdraws_the_offer_from_the_employee_who_skipped(org):
    conv = start(org.conn, 0)
    services.skip(conv.pk, f.act(org.op1), now=f.at(10))
    assert offered_to(fresh(conv)) == {org.op2.pk, org.op3.pk}


# Offer and responsibility -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["evenly", "strict"])
def test_offer_makes_the_offered_employee_responsible_in_evenly_and_strictly_in_order(org, mode):
    line = f.line("L", members=[org.op1, org.op2], distribution=mode)
    conv = start(f.connection(line), 0)
    conv = fresh(conv)
    assert conv.responsible_id == org.op1.pk
    assert conv.assigned_at == f.at(0)
    assert conv.status == Status.NEW


def test_offer_to_all_at_once_leaves_the_responsible_empty_until_someone_takes_it(org):
    conv = fresh(start(org.conn, 0))
    assert conv.responsible_id is None
    assert conv.assigned_at == f.at(0)
    assert offered_to(conv) == {org.op1.pk, org.op2.pk, org.op3.pk}
    services.take(conv.pk, f.act(org.op2), now=f.at(5))
    conv = fresh(conv)
    assert conv.responsible_id == org.op2.pk
    assert offered_to(conv) == set()


# Client messages ---------------------------------------------------------------------------


def test_a_client_message_at_0_or_5_keeps_the_status(org, evenly):
    new = start(org.conn, 0)
    f.client_message(org.conn, "c1", "Anyone?", when=f.at(10))
    assert fresh(new).status == Status.NEW
    skipped = start(evenly, 0, client="c2")
    services.skip(skipped.pk, f.act(org.op1), now=f.at(5))
    f.client_message(evenly, "c2", "Anyone?", when=f.at(10))
    assert fresh(skipped).status == Status.SKIPPED
    # The waiting period started with the first unanswered message.
    assert fresh(new).waiting_since == f.at(0)
    assert fresh(new).message_count == 2


def test_a_client_message_at_10_or_20_moves_it_to_20(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(5))
    f.client_message(org.conn, "c1", "Still there?", when=f.at(10))
    assert fresh(conv).status == Status.CLIENT_WROTE
    f.client_message(org.conn, "c1", "Hello??", when=f.at(20))
    assert fresh(conv).status == Status.CLIENT_WROTE


def test_a_client_message_at_25_or_40_moves_it_to_25(org):
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(5))
    assert fresh(conv).status == Status.AGENT_REPLIED
    f.client_message(org.conn, "c1", "Question", when=f.at(10))
    assert fresh(conv).status == Status.CLIENT_WROTE_AFTER_AGENT
    assert fresh(conv).auto_close_at is None  # the auto-close only runs at 40
    f.client_message(org.conn, "c1", "Another", when=f.at(20))
    assert fresh(conv).status == Status.CLIENT_WROTE_AFTER_AGENT


def test_a_client_message_in_closing_mode_moves_it_to_25_and_cancels_the_close(org, closing):
    conv = start(closing, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(5))
    services.close(conv.pk, f.act(org.op1), now=f.at(30))
    conv = fresh(conv)
    assert conv.status == Status.CLOSING
    assert conv.agent_closed_at == f.at(30) and conv.time_to_agent_close == 30
    f.client_message(closing, "c1", "Wait, one more thing", when=f.at(60))
    conv = fresh(conv)
    assert conv.status == Status.CLIENT_WROTE_AFTER_AGENT
    assert conv.full_close_at is None
    assert conv.agent_closed_at is None and conv.time_to_agent_close is None
    assert conv.waiting_since == f.at(60)
    # The delay passes; nothing closes it.
    assert services.run_due_timers(now=f.at(30 + 3600)) == 0
    assert fresh(conv).status == Status.CLIENT_WROTE_AFTER_AGENT


def test_one_client_identity_has_at_most_one_open_conversation_per_connection(org):
    conv = start(org.conn, 0)
    again = f.client_message(org.conn, "c1", "Second message", when=f.at(10))
    assert again.conversation.pk == conv.pk
    assert Conversation.objects.filter(identity=conv.identity).count() == 1
    dup = fresh(conv)
    dup.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        dup.save()


def test_a_client_message_after_the_close_starts_a_new_conversation_when_reopen_is_off(org):
    conv = start(org.conn, 0)
    services.close(conv.pk, f.act(org.op1), now=f.at(10))
    again = f.client_message(org.conn, "c1", "Back again", when=f.at(20)).conversation
    assert again.pk != conv.pk
    assert fresh(again).returning is True
    assert fresh(conv).returning is False


# Employee messages ----------------------------------------------------------------------


def test_an_employee_message_moves_it_to_40_and_arms_the_auto_close(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(10))
    f.client_message(org.conn, "c1", "?", when=f.at(20))
    services.reply(conv.pk, f.act(org.op1), "Here", now=f.at(50))
    conv = fresh(conv)
    assert conv.status == Status.AGENT_REPLIED
    assert conv.auto_close_at == f.at(50) + dt.timedelta(hours=4)
    assert conv.waiting_since is None


def test_an_employee_message_to_a_conversation_nobody_took_takes_it_at_that_instant(org):
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op2), "Hello, I can help", now=f.at(45))
    conv = fresh(conv)
    assert conv.status == Status.AGENT_REPLIED
    assert conv.responsible_id == org.op2.pk
    assert conv.taken_at == f.at(45)
    assert metrics(conv)[:2] == (45, 45)
    assert offered_to(conv) == set()
    p = ConversationParticipant.objects.get(conversation=conv, employee=org.op2)
    assert p.took and p.wrote and p.is_responsible


def test_a_reply_to_a_closed_conversation_is_refused_and_writes_no_message(org):
    conv = start(org.conn, 0)
    services.close(conv.pk, f.act(org.op1), now=f.at(10))
    with pytest.raises(IllegalTransition) as err:
        services.reply(conv.pk, f.act(org.op1), "Too late", now=f.at(20))
    assert err.value.code == "closed"
    assert Message.objects.filter(conversation=conv).count() == 1


# Transfer --------------------------------------------------------------------------------


def test_transfer_keeps_the_conversation_and_metrics_adds_one_transfer_sets_5_and_makes_the_target_responsible(
    org,
):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(20))
    services.reply(conv.pk, f.act(org.op1), "Let me transfer you", now=f.at(50))
    before = fresh(conv)
    services.transfer(conv.pk, f.act(org.op1), to_employee=org.op2, now=f.at(60))
    conv = fresh(conv)
    assert conv.pk == before.pk
    assert conv.status == Status.SKIPPED
    assert conv.transfer_count == 1
    assert conv.responsible_id == org.op2.pk
    assert conv.started_at == before.started_at
    assert metrics(conv) == metrics(before)
    assert offered_to(conv) == {org.op2.pk}
    # The target takes it with Answer like any other; the first take stays the measure.
    services.take(conv.pk, f.act(org.op2), now=f.at(90))
    conv = fresh(conv)
    assert conv.status == Status.TAKEN
    assert conv.taken_at == f.at(20)
    assert conv.agent_response_time == 20


def test_transfer_to_an_open_channel_leaves_the_responsible_empty(org):
    other = f.line("Support", members=[org.op3], distribution="all_at_once")
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(20))
    services.transfer(conv.pk, f.act(org.op1), to_line=other, now=f.at(30))
    conv = fresh(conv)
    assert conv.status == Status.SKIPPED
    assert conv.responsible_id is None
    assert conv.line_id == other.pk
    assert conv.transfer_count == 1
    assert offered_to(conv) == {org.op3.pk}


def test_transfer_then_second_take_keeps_the_first_agent_response_time(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(15))
    services.transfer(conv.pk, f.act(org.op1), to_employee=org.op2, now=f.at(40))
    services.transfer(conv.pk, f.act(org.op2), to_employee=org.op3, now=f.at(70))
    services.take(conv.pk, f.act(org.op3), now=f.at(100))
    services.reply(conv.pk, f.act(org.op3), "Hello", now=f.at(130))
    conv = fresh(conv)
    assert conv.transfer_count == 2
    assert conv.agent_response_time == 15
    assert conv.first_answer_wait == 130
    assert conv.reply_time_first == 130


# Integration tokens ------------------------------------------------------------------------


def test_integration_token_messages_are_automatic_and_never_take_reply_or_end_a_period(org):
    bot = f.integration()
    conv = start(org.conn, 0)
    msg = services.reply(conv.pk, f.act(bot), "Automatic: we received your request", now=f.at(5))
    assert msg.author_kind == "bot"
    conv = fresh(conv)
    assert conv.status == Status.NEW
    assert conv.responsible_id is None and conv.taken_at is None and conv.first_reply_at is None
    assert conv.message_count == 1
    assert conv.last_message_at == f.at(0)
    assert conv.waiting_since == f.at(0)
    assert metrics(conv) == (None, None, 0, None)
    # After a human reply, a bot text does not end the client's next waiting period either.
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(20))
    f.client_message(org.conn, "c1", "?", when=f.at(30))
    services.reply(conv.pk, f.act(bot), "Bot ping", now=f.at(40))
    conv = fresh(conv)
    assert conv.status == Status.CLIENT_WROTE_AFTER_AGENT
    assert conv.waiting_since == f.at(30)
    assert ReplyPeriod.objects.filter(conversation=conv).count() == 1


def test_integration_token_cannot_take_a_conversation(org):
    bot = f.integration()
    conv = start(org.conn, 0)
    with pytest.raises(services.NotAllowed):
        services.take(conv.pk, f.act(bot), now=f.at(5))


def test_a_close_through_an_integration_token_is_a_system_close(org):
    bot = f.integration()
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.close(conv.pk, f.act(bot), now=f.at(20))
    conv = fresh(conv)
    assert conv.status == Status.AUTO_CLOSED
    assert conv.closed_by == "system"
    assert conv.agent_closed_at is None and conv.time_to_agent_close is None


def test_an_integration_close_passes_through_closing_mode_when_the_line_sends_a_closing_text(
    org, closing
):
    bot = f.integration()
    conv = start(closing, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.close(conv.pk, f.act(bot), now=f.at(20))
    conv = fresh(conv)
    assert conv.status == Status.CLOSING
    assert conv.agent_closed_at is None
    assert services.run_due_timers(now=f.at(20 + 600)) == 1
    conv = fresh(conv)
    assert conv.status == Status.AUTO_CLOSED
    assert conv.closed_by == "system"
    assert conv.time_to_agent_close is None


# Closing ------------------------------------------------------------------------------------


def test_a_close_is_immediate_when_the_line_sends_no_closing_text_or_rating_request(org):
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.close(conv.pk, f.act(org.op1), now=f.at(25))
    conv = fresh(conv)
    assert conv.status == Status.CLOSED
    assert conv.closed_by == "employee"
    assert conv.closed_at == f.at(25)
    assert conv.time_to_agent_close == 25
    assert not Message.objects.filter(conversation=conv, author_kind="bot").exists()


def test_an_employee_close_with_a_closing_text_goes_to_50_then_60_after_the_full_close_delay(
    org, closing
):
    conv = start(closing, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.close(conv.pk, f.act(org.op1), now=f.at(25))
    conv = fresh(conv)
    assert conv.status == Status.CLOSING
    assert conv.closed_at is None
    assert conv.agent_closed_at == f.at(25)
    assert conv.time_to_agent_close == 25
    bot_texts = list(
        Message.objects.filter(conversation=conv, author_kind="bot").values_list("text", flat=True)
    )
    assert bot_texts == ["Bye!"]
    assert fresh(conv).message_count == 2  # the automatic text is not counted
    assert fresh(conv).last_message_at == f.at(10)
    assert services.run_due_timers(now=f.at(25 + 599)) == 0
    assert services.run_due_timers(now=f.at(25 + 600)) == 1
    conv = fresh(conv)
    assert conv.status == Status.CLOSED
    assert conv.closed_by == "employee"
    assert conv.closed_at == f.at(625)
    assert conv.time_to_agent_close == 25  # even when closing mode follows


def test_a_client_rating_in_closing_mode_closes_it_at_once(org):
    line = f.line("Rated", members=[org.op1], ask_rating=True)
    conn = f.connection(line)
    conv = start(conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.close(conv.pk, f.act(org.op1), now=f.at(20))
    assert fresh(conv).status == Status.CLOSING
    services.client_rate(conv.pk, like=True, now=f.at(40))
    conv = fresh(conv)
    assert conv.status == Status.CLOSED
    assert conv.closed_at == f.at(40)
    assert conv.client_rating == 1
    assert conv.duration == 10  # ratings are not messages


def test_take_and_end_makes_the_closer_responsible_without_counting_as_a_take(org):
    conv = start(org.conn, 0)
    services.close(conv.pk, f.act(org.op1), now=f.at(30))
    conv = fresh(conv)
    assert conv.status == Status.CLOSED
    assert conv.responsible_id == org.op1.pk
    assert conv.taken_at is None
    assert conv.agent_response_time is None
    assert conv.first_answer_wait is None
    assert conv.time_to_agent_close == 30
    assert conv.waiting_since is None
    assert offered_to(conv) == set()


def test_end_is_refused_at_50_and_above(org, closing):
    conv = start(closing, 0)
    services.close(conv.pk, f.act(org.op1), now=f.at(10))
    with pytest.raises(IllegalTransition) as err:
        services.close(conv.pk, f.act(org.op1), now=f.at(20))
    assert err.value.code == "closing"
    with pytest.raises(IllegalTransition):
        services.mark_spam(conv.pk, f.act(org.op1), now=f.at(20))


# Spam, duplicate, pin ------------------------------------------------------------------------


def test_spam_is_a_forced_close_by_an_employee_even_when_the_line_has_closing_mode(org, closing):
    conv = start(closing, 0)
    services.mark_spam(conv.pk, f.act(org.op2), now=f.at(12))
    conv = fresh(conv)
    assert conv.status == Status.SPAM
    assert conv.spam is True
    assert conv.closed_by == "employee"
    assert conv.closed_at == f.at(12)
    assert conv.time_to_agent_close == 12
    assert conv.responsible_id == org.op2.pk
    assert not Message.objects.filter(conversation=conv, author_kind="bot").exists()


def test_duplicate_closes_the_newer_conversation_as_69_by_the_system_and_clears_the_agent_close(
    org,
):
    older = start(org.conn, 0, client="c1")
    newer = start(org.conn, 100, client="c2")
    services.close(newer.pk, f.act(org.op1), now=f.at(150))
    services.mark_duplicate(newer.pk, f.act(org.admin), older.pk, now=f.at(200))
    newer = fresh(newer)
    assert newer.status == Status.DUPLICATE
    assert newer.closed_by == "system"
    assert newer.closed_at == f.at(150)
    assert newer.agent_closed_at is None and newer.time_to_agent_close is None
    assert ConversationEvent.objects.get(conversation=newer, kind="duplicate").payload == {
        "of": older.pk
    }


def test_duplicate_of_an_open_conversation_closes_it_now(org):
    conv = start(org.conn, 0)
    services.mark_duplicate(conv.pk, f.act(org.admin), 999, now=f.at(20))
    conv = fresh(conv)
    assert conv.status == Status.DUPLICATE
    assert conv.closed_at == f.at(20)
    assert conv.waiting_since is None


def test_a_pinned_conversation_auto_closes_only_after_a_week(org):
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.pin(conv.pk, f.act(org.op1), True, now=f.at(20))
    conv = fresh(conv)
    assert conv.pinned
    assert conv.auto_close_at == f.at(10) + dt.timedelta(days=7)
    assert services.run_due_timers(now=f.at(10) + dt.timedelta(hours=5)) == 0
    assert fresh(conv).status == Status.AGENT_REPLIED
    assert services.run_due_timers(now=f.at(10) + dt.timedelta(days=7)) == 1
    conv = fresh(conv)
    assert conv.status == Status.AUTO_CLOSED
    assert conv.closed_by == "automatic"


def test_unpinning_restores_the_lines_auto_close(org):
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.pin(conv.pk, f.act(org.op1), True, now=f.at(20))
    services.pin(conv.pk, f.act(org.op1), False, now=f.at(30))
    assert fresh(conv).auto_close_at == f.at(10) + dt.timedelta(hours=4)


# Reopen -------------------------------------------------------------------------------------


@pytest.fixture
def reopening(org):
    line = f.line("Reopen", members=[org.op1, org.op2], reopen_window_minutes=30)
    return f.connection(line)


def test_a_client_message_within_the_reopen_window_reopens_the_last_closed_conversation_at_25(
    org, reopening
):
    conv = start(reopening, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(10))
    services.reply(conv.pk, f.act(org.op1), "Done", now=f.at(40))
    services.close(conv.pk, f.act(org.op1), now=f.at(60))
    again = f.client_message(reopening, "c1", "Not done!", when=f.at(60 + 29 * 60)).conversation
    assert again.pk == conv.pk
    conv = fresh(conv)
    assert conv.status == Status.CLIENT_WROTE_AFTER_AGENT
    assert conv.started_at == f.at(0)
    assert (conv.agent_response_time, conv.first_answer_wait, conv.reply_time_first) == (10, 40, 40)
    assert conv.duration == 60 + 29 * 60  # keeps growing
    assert conv.closed_at is None and conv.agent_closed_at is None and conv.closed_by == ""
    assert conv.time_to_agent_close is None
    assert conv.waiting_since == f.at(60 + 29 * 60)
    assert conv.message_count == 3
    assert ConversationEvent.objects.filter(conversation=conv, kind="reopened").count() == 1
    # It closes again later with fresh close fields.
    services.reply(conv.pk, f.act(org.op1), "Now done", now=f.at(2000))
    services.close(conv.pk, f.act(org.op1), now=f.at(2100))
    conv = fresh(conv)
    assert conv.time_to_agent_close == 2100
    assert conv.reply_time_first == 40 and conv.reply_count == 2


def test_an_auto_closed_conversation_reopens_within_the_window(org, reopening):
    conv = start(reopening, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.run_due_timers(now=f.at(10) + dt.timedelta(hours=4))
    assert fresh(conv).status == Status.AUTO_CLOSED
    again = f.client_message(
        reopening, "c1", "Hello?", when=f.at(10) + dt.timedelta(hours=4, minutes=5)
    )
    assert again.conversation.pk == conv.pk
    assert fresh(conv).status == Status.CLIENT_WROTE_AFTER_AGENT


def test_a_client_message_outside_the_reopen_window_starts_a_new_conversation(org, reopening):
    conv = start(reopening, 0)
    services.close(conv.pk, f.act(org.op1), now=f.at(60))
    again = f.client_message(reopening, "c1", "Hi", when=f.at(60 + 31 * 60)).conversation
    assert again.pk != conv.pk
    assert fresh(conv).status == Status.CLOSED


@pytest.mark.parametrize("how", ["spam", "duplicate"])
def test_spam_and_duplicate_conversations_are_never_reopened(org, reopening, how):
    conv = start(reopening, 0)
    if how == "spam":
        services.mark_spam(conv.pk, f.act(org.op1), now=f.at(10))
    else:
        services.mark_duplicate(conv.pk, f.act(org.admin), 1, now=f.at(10))
    again = f.client_message(reopening, "c1", "Hi", when=f.at(20)).conversation
    assert again.pk != conv.pk
    assert fresh(conv).status in (Status.SPAM, Status.DUPLICATE)


def test_a_reopened_conversation_nobody_took_can_be_taken_and_answered(org, reopening):
    bot = f.integration()
    conv = start(reopening, 0)
    services.close(conv.pk, f.act(bot), now=f.at(10))  # a system close of a queued conversation
    assert fresh(conv).responsible_id is None
    f.client_message(reopening, "c1", "Hello?", when=f.at(20))
    assert fresh(conv).status == Status.CLIENT_WROTE_AFTER_AGENT
    services.take(conv.pk, f.act(org.admin), now=f.at(30))
    conv = fresh(conv)
    assert conv.responsible_id == org.admin.pk
    assert conv.status >= Status.TAKEN
    assert conv.agent_response_time == 30
    services.reply(conv.pk, f.act(org.admin), "Hi", now=f.at(40))
    assert fresh(conv).status == Status.AGENT_REPLIED


# The event log ------------------------------------------------------------------------------


def test_every_transition_is_recorded_as_an_event_with_who_when_from_and_to(org):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(10))
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(20))
    f.client_message(org.conn, "c1", "Thanks", when=f.at(30))
    services.close(conv.pk, f.act(org.op1), now=f.at(40))
    rows = list(
        ConversationEvent.objects.filter(conversation=conv).values_list(
            "kind", "actor_id", "actor_kind", "from_status", "to_status", "at"
        )
    )
    lifecycle_kinds = {
        "created",
        "offered",
        "taken",
        "employee_message",
        "client_message",
        "closed",
    }
    kinds = [r[0] for r in rows if r[0] in lifecycle_kinds]  # other areas may add their own kinds
    assert kinds == ["created", "offered", "taken", "employee_message", "client_message", "closed"]
    by_kind = {r[0]: r for r in rows}
    assert by_kind["taken"][1:] == (org.op1.pk, "employee", 0, 10, f.at(10))
    assert by_kind["employee_message"][3:5] == (10, 40)
    assert by_kind["client_message"][2:5] == ("client", 40, 25)
    assert by_kind["closed"][3:] == (25, 60, f.at(40))


# The four metrics and reply times -------------------------------------------------------------


def test_conversation_duration_ends_at_the_last_client_or_employee_message_not_automatic_texts(
    org, closing
):
    bot = f.integration()
    conv = start(closing, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(30))
    f.client_message(closing, "c1", "Thanks", when=f.at(70))
    services.reply(conv.pk, f.act(bot), "Survey link", now=f.at(90))
    services.close(conv.pk, f.act(org.op1), now=f.at(100))  # sends the closing text
    services.client_rate(conv.pk, like=False, now=f.at(130))
    assert fresh(conv).duration == 70


def test_time_to_agent_close_is_empty_when_auto_closed(org):
    conv = start(org.conn, 0)
    services.reply(conv.pk, f.act(org.op1), "Hi", now=f.at(10))
    services.run_due_timers(now=f.at(10) + dt.timedelta(hours=4))
    conv = fresh(conv)
    assert conv.status == Status.AUTO_CLOSED and conv.closed_by == "automatic"
    assert conv.time_to_agent_close is None


def test_reply_periods_are_credited_to_the_employee_who_ended_them_and_an_open_one_is_dropped_at_close(
    org,
):
    conv = start(org.conn, 0)
    services.take(conv.pk, f.act(org.op1), now=f.at(5))
    f.client_message(org.conn, "c1", "More", when=f.at(10))  # still the same waiting period
    services.reply(conv.pk, f.act(org.op1), "A", now=f.at(30))  # period 0..30 -> op1
    f.client_message(org.conn, "c1", "B?", when=f.at(40))
    services.transfer(conv.pk, f.act(org.op1), to_employee=org.op2, now=f.at(45))
    services.take(conv.pk, f.act(org.op2), now=f.at(50))
    services.reply(conv.pk, f.act(org.op2), "B", now=f.at(100))  # period 40..100 -> op2
    services.reply(conv.pk, f.act(org.op2), "B2", now=f.at(110))  # no period open
    f.client_message(org.conn, "c1", "C?", when=f.at(120))  # open at close: dropped
    services.close(conv.pk, f.act(org.op2), now=f.at(500))
    periods = list(
        ReplyPeriod.objects.filter(conversation=conv)
        .order_by("started_at")
        .values_list("employee_id", "started_at", "ended_at", "seconds")
    )
    assert periods == [(org.op1.pk, f.at(0), f.at(30), 30), (org.op2.pk, f.at(40), f.at(100), 60)]
    assert reply_times(conv) == (30, 90, 45, 60)
    assert fresh(conv).reply_count == 2
    assert fresh(conv).waiting_since is None


def test_first_reply_time_equals_waiting_for_the_agents_answer_for_incoming_conversations(org):
    conv = start(org.conn, 0)
    f.client_message(org.conn, "c1", "Hello?", when=f.at(50))
    services.reply(conv.pk, f.act(org.op3), "Hi", now=f.at(77))
    conv = fresh(conv)
    assert conv.reply_time_first == conv.first_answer_wait == 77


def test_agent_replied_means_a_first_reply_exists(org):
    from convodesk.conversations.filters import ConversationFilter

    a = start(org.conn, 0, client="a")
    b = start(org.conn, 0, client="b")
    services.reply(a.pk, f.act(org.op1), "Hi", now=f.at(5))
    yes = ConversationFilter({"agent_replied": "true"}).filter(Conversation.objects.all())
    no = ConversationFilter({"agent_replied": "false"}).filter(Conversation.objects.all())
    assert list(yes.values_list("pk", flat=True)) == [a.pk]
    assert list(no.values_list("pk", flat=True)) == [b.pk]


# Pure state machine --------------------------------------------------------------------------


@pytest.mark.nodb
def test_simple_status_derives_from_the_detailed_code_alone():
    expected = {
        0: "waiting", 5: "waiting", 10: "waiting", 20: "waiting", 25: "waiting",
        40: "answered", 50: "answered",
        60: "closed", 65: "closed", 69: "closed", 75: "closed",
    }  # fmt: skip
    assert {int(s): lifecycle.simple_status(s) for s in Status} == expected
    for name, (low, high) in lifecycle.SIMPLE_RANGES.items():
        assert all(
            lifecycle.simple_status(code) == name
            for code in range(low, high + 1)
            if code in set(map(int, Status))
        )


@pytest.mark.nodb
def test_each_metric_is_floored_whole_seconds_and_never_negative():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    state, _ = lifecycle.apply(State(), lifecycle.StartIncoming(t0))
    state, _ = lifecycle.apply(state, lifecycle.Take(t0 + dt.timedelta(seconds=9.999), 1))
    assert lifecycle.metrics(state)["agent_response_time"] == 9
    assert lifecycle.seconds_between(t0, t0 - dt.timedelta(seconds=3)) == 0


@pytest.mark.nodb
def test_an_illegal_transition_raises_and_leaves_the_state_as_it_was():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    state, _ = lifecycle.apply(State(), lifecycle.StartIncoming(t0))
    state, _ = lifecycle.apply(state, lifecycle.Close(t0, "employee", 1))
    snapshot = state
    for event in (
        lifecycle.EmployeeMessage(t0, 1),
        lifecycle.Take(t0, 2),
        lifecycle.Close(t0, "employee", 1),
        lifecycle.MarkSpam(t0, 1),
        lifecycle.Transfer(t0, 2),
        lifecycle.ClientMessage(t0),
    ):
        with pytest.raises(IllegalTransition):
            lifecycle.apply(state, event)
        assert state == snapshot


@pytest.mark.nodb
def test_the_closing_mode_close_by_the_auto_close_timer_ends_as_75_automatic():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rules = Rules(closing_mode=True)
    state, _ = lifecycle.apply(State(), lifecycle.StartIncoming(t0), rules)
    state, _ = lifecycle.apply(
        state, lifecycle.EmployeeMessage(t0 + dt.timedelta(seconds=5), 7), rules
    )
    due = state.auto_close_at
    with pytest.raises(IllegalTransition):
        lifecycle.apply(state, lifecycle.AutoClose(due - dt.timedelta(seconds=1)), rules)
    state, _ = lifecycle.apply(state, lifecycle.AutoClose(due), rules)
    assert state.status == Status.CLOSING and state.agent_closed_at is None
    state, _ = lifecycle.apply(state, lifecycle.FullClose(due + rules.full_close), rules)
    assert (state.status, state.closed_by) == (Status.AUTO_CLOSED, "automatic")


def test_the_edge_case_flows_leave_rows_that_satisfy_the_stored_invariants(org, closing, reopening):
    from convodesk.devtools import invariants

    bot = f.integration()
    # answered, take-and-end by someone else... then reopened and taken again
    a = start(reopening, 0, client="a")
    services.reply(a.pk, f.act(org.op1), "Hi", now=f.at(5))
    services.close(a.pk, f.act(org.op1), now=f.at(10))
    f.client_message(reopening, "a", "Back", when=f.at(20))
    services.take(a.pk, f.act(org.op1), now=f.at(30))
    services.reply(a.pk, f.act(org.op1), "Hi again", now=f.at(40))
    # closing mode cancelled by the client, then an integration close through closing mode
    b = start(closing, 0, client="b")
    services.reply(b.pk, f.act(org.op1), "Hi", now=f.at(5))
    services.close(b.pk, f.act(org.op1), now=f.at(10))
    f.client_message(closing, "b", "Wait", when=f.at(20))
    services.reply(b.pk, f.act(bot), "Automatic", now=f.at(25))
    services.close(b.pk, f.act(bot), now=f.at(30))
    services.run_due_timers(now=f.at(30 + 600))
    # transfer, second take, duplicate
    c = start(org.conn, 0, client="c")
    services.take(c.pk, f.act(org.op1), now=f.at(5))
    services.transfer(c.pk, f.act(org.op1), to_employee=org.op2, now=f.at(10))
    services.take(c.pk, f.act(org.op2), now=f.at(15))
    services.reply(c.pk, f.act(org.op2), "Hi", now=f.at(20))
    services.close(c.pk, f.act(org.op2), now=f.at(25))
    services.mark_duplicate(c.pk, f.act(org.admin), a.pk, now=f.at(30))
    assert fresh(b).status == Status.AUTO_CLOSED and fresh(b).closed_by == "system"
    assert invariants.check(Conversation.objects.all()) == []


def test_a_never_answered_conversation_reopened_and_answered_still_satisfies_the_invariants(
    org, reopening
):
    from convodesk.devtools import invariants

    a = start(reopening, 0, client="a")
    services.close(a.pk, f.act(org.op1), now=f.at(10))  # take-and-end, no reply
    f.client_message(reopening, "a", "Back", when=f.at(20))
    services.take(a.pk, f.act(org.op1), now=f.at(30))
    assert fresh(a).agent_response_time == 30
    services.reply(a.pk, f.act(org.op1), "Hi", now=f.at(40))
    assert invariants.check(Conversation.objects.all()) == []
    # Decided: the first wait (0→10) was dropped at the close; the first reply time is the wait
    # after the reopen, while "waiting for the agent's answer" runs from the start.
    a = fresh(a)
    assert (a.reply_time_first, a.first_answer_wait) == (20, 40)
