"""The one filter set: every parameter of SPEC "Filter parameters", and its errors."""

import datetime as dt
import zoneinfo

import pytest

from convodesk.conversations import services
from convodesk.conversations.columns import SORTABLE
from convodesk.conversations.filters import ConversationFilter
from convodesk.conversations.models import Conversation, ConversationCrmLink

from .. import factories as f

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def ids(params, tz=dt.UTC, now=None) -> set[int]:
    flt = ConversationFilter(params, tz=tz, now=now)
    assert flt.errors == {}, flt.errors
    return set(flt.filter(Conversation.objects.all()).values_list("pk", flat=True))


def ordered(params) -> list[int]:
    flt = ConversationFilter(params)
    assert flt.errors == {}, flt.errors
    return list(Conversation.objects.order_by(*flt.ordering()).values_list("pk", flat=True))


def start(conn, client, t=0, text="Hello", **kw) -> Conversation:
    return f.client_message(conn, client, text, when=f.at(t), **kw).conversation


def fresh(conv) -> Conversation:
    return Conversation.objects.get(pk=conv.pk)


@pytest.fixture
def world(org):
    """A handful of conversations across channels, statuses and employees (no CRM binding)."""
    org.line.crm_binding = "nothing"
    org.line.save()
    tg_line = f.line("Telegram line", members=[org.op2], crm_binding="nothing")
    tg = f.connection(tg_line, "telegram")
    mail = f.connection(org.line, "email")

    new = start(org.conn, "ana", 0, name="Ana Pérez", source_url="https://shop.example.com/cart")
    answered = start(tg, "bob", 100, name="Bob Stone")
    services.take(answered.pk, f.act(org.op2), now=f.at(130))
    services.reply(answered.pk, f.act(org.op2), "Hello Bob", now=f.at(200))
    closed = start(mail, "carla@example.com", 300, name="Carla Ruiz", text="My invoice is wrong")
    services.take(closed.pk, f.act(org.op1), now=f.at(310))
    services.reply(closed.pk, f.act(org.op1), "Fixed it", now=f.at(400))
    f.client_message(mail, "carla@example.com", "Thanks", when=f.at(450))
    services.reply(closed.pk, f.act(org.op1), "Bye", now=f.at(470))
    services.client_rate(closed.pk, like=True, now=f.at(480))
    services.close(closed.pk, f.act(org.op1), now=f.at(500))
    services.supervisor_rate(closed.pk, f.act(org.supervisor), 4, "good", now=f.at(600))
    spam = start(org.conn, "dan", 700, name="Dan Spammer")
    services.mark_spam(spam.pk, f.act(org.op3), now=f.at(710))

    class W:
        pass

    w = W()
    w.__dict__.update(
        new=new.pk,
        answered=answered.pk,
        closed=closed.pk,
        spam=spam.pk,
        tg=tg,
        mail=mail,
        tg_line=tg_line,
        org=org,
    )
    return w


def test_status_takes_simple_status_keys(world):
    assert ids({"status": "waiting"}) == {world.new}
    assert ids({"status": "answered"}) == {world.answered}
    assert ids({"status": "closed"}) == {world.closed, world.spam}
    assert ids({"status": "waiting,answered"}) == {world.new, world.answered}


def test_status_detail_takes_detailed_status_names(world):
    assert ids({"status_detail": "new"}) == {world.new}
    assert ids({"status_detail": "agent_replied,spam"}) == {world.answered, world.spam}
    assert ids({"status_detail": "closed"}) == {world.closed}


def test_channel_takes_connection_kinds(world):
    assert ids({"channel": "telegram"}) == {world.answered}
    assert ids({"channel": "telegram,email"}) == {world.answered, world.closed}
    assert ids({"channel": "livechat"}) == set()


def test_line_and_connection_take_ids(world):
    assert ids({"line": str(world.tg_line.pk)}) == {world.answered}
    assert ids({"line": f"{world.org.line.pk},{world.tg_line.pk}"}) == {
        world.new, world.answered, world.closed, world.spam,
    }  # fmt: skip
    assert ids({"connection": str(world.mail.pk)}) == {world.closed}


def test_responsible_takes_ids_and_none_for_not_assigned(world):
    org = world.org
    assert ids({"responsible": str(org.op1.pk)}) == {world.closed}
    assert ids({"responsible": "none"}) == {world.new}
    assert ids({"responsible": f"none,{org.op2.pk}"}) == {world.new, world.answered}


def test_client_matches_the_clients_name(world):
    assert ids({"client": "pérez"}) == {world.new}
    assert ids({"client": "Stone"}) == {world.answered}


@pytest.mark.parametrize("typed", ["+34 600 11 22 33", "0034600112233", "600-112-233"])
def test_contact_matches_a_phone_in_any_of_its_written_forms(org, typed):
    a = start(org.conn, "p1", 0, phone="+34 600 11 22 33")
    b = start(org.conn, "p2", 0, phone="0034600112233")
    c = start(org.conn, "p3", 0, phone="600-112-233")
    start(org.conn, "p4", 0, phone="+34 699 99 99 99")
    assert ids({"contact": typed}) == {a.pk, b.pk, c.pk}


def test_contact_matches_an_email_case_insensitively(org):
    a = start(org.conn, "e1", 0, email="Ana.Lopez@Example.COM")
    start(org.conn, "e2", 0, email="someone@example.com")
    assert ids({"contact": "ana.lopez@example.com"}) == {a.pk}
    assert ids({"contact": "ANA.LOPEZ@EXAMPLE.COM"}) == {a.pk}


def test_q_searches_names_contact_source_url_id_and_closed_transcripts(world):
    assert ids({"q": "Carla"}) == {world.closed}
    assert ids({"q": "op2"}) == {world.answered}  # the responsible employee's name
    assert ids({"q": "shop.example.com"}) == {world.new}
    assert ids({"q": str(world.spam)}) >= {world.spam}
    assert ids({"q": "invoice"}) == {world.closed}  # closed: transcript searched
    assert ids({"q": "Hello Bob"}) == set()  # open: transcript not searched


def test_id_is_the_conversation_id(world):
    assert ids({"id": str(world.closed)}) == {world.closed}
    assert ids({"id": f"#{world.closed}"}) == {world.closed}


def test_type_filters_incoming_and_outgoing(org, world):
    first = fresh(Conversation.objects.get(pk=world.closed))
    out = services.start_outgoing(f.act(org.op1), first.identity, "News for you", now=f.at(2000))
    assert ids({"type": "outgoing"}) == {out.pk}
    assert world.new in ids({"type": "incoming"})
    assert out.pk not in ids({"type": "incoming"})


def test_dates_are_read_in_the_viewers_time_zone_and_to_includes_the_whole_day(org):
    # 2026-11-03 23:30 UTC is 2026-11-04 00:30 in Madrid.
    base = dt.datetime(2026, 11, 3, 23, 30, tzinfo=dt.UTC)
    late = f.client_message(org.conn, "late", "Hi", when=base).conversation
    early = f.client_message(
        org.conn, "early", "Hi", when=base.replace(hour=0, minute=0)
    ).conversation
    assert ids({"started_from": "2026-11-03", "started_to": "2026-11-03"}) == {late.pk, early.pk}
    assert ids({"started_from": "2026-11-03", "started_to": "2026-11-03"}, tz=MADRID) == {early.pk}
    assert ids({"started_from": "2026-11-04"}, tz=MADRID) == {late.pk}
    assert ids({"started_to": "2026-11-02"}, tz=MADRID) == set()
    assert ids({"started_to": "2026-11-03"}, tz=MADRID) == {early.pk}
    # An ISO datetime with an offset is taken as it is, and the end is inclusive.
    assert ids({"started_to": "2026-11-03T23:30:00+00:00"}) == {late.pk, early.pk}
    assert ids({"started_from": "2026-11-04T00:30:00+01:00"}, tz=dt.UTC) == {late.pk}
    assert ids({"started_to": "2026-11-04T00:29:59+01:00"}) == {early.pk}


def test_closed_from_and_to_filter_the_close_instant(org):
    conv = start(org.conn, "c1", 0)
    services.close(conv.pk, f.act(org.op1), now=dt.datetime(2026, 11, 5, 12, 0, tzinfo=dt.UTC))
    start(org.conn, "c2", 0)  # open: never in a closed range
    assert ids({"closed_from": "2026-11-05", "closed_to": "2026-11-05"}) == {conv.pk}
    assert ids({"closed_to": "2026-11-04"}) == set()
    assert ids({"closed_from": "2026-11-06"}) == set()


def test_metric_ranges_are_inclusive(world):
    # agent response time: answered 30 s, closed 10 s; new and spam have none.
    assert ids({"agent_response_time_min": "10"}) == {world.answered, world.closed}
    assert ids({"agent_response_time_min": "11"}) == {world.answered}
    assert ids({"agent_response_time_max": "10"}) == {world.closed}
    assert ids({"agent_response_time_min": "10", "agent_response_time_max": "30"}) == {
        world.answered, world.closed,
    }  # fmt: skip
    assert ids({"first_answer_wait_min": "100", "first_answer_wait_max": "100"}) == {
        world.answered,
        world.closed,
    }
    assert ids({"duration_min": "170"}) == {world.closed}
    assert ids({"time_to_agent_close_min": "1"}) == {world.closed, world.spam}
    assert ids({"time_to_agent_close_max": "10"}) == {world.spam}


def test_reply_time_message_count_and_transfer_ranges(world, org):
    # closed: periods 300→400 (100 s) and 450→470 (20 s).
    assert ids({"reply_time_first_min": "100"}) == {world.answered, world.closed}
    assert ids({"reply_time_total_min": "120", "reply_time_total_max": "120"}) == {world.closed}
    assert ids({"reply_time_avg_max": "60"}) == {world.closed}
    assert ids({"reply_time_max_min": "100", "reply_time_max_max": "100"}) == {
        world.answered,
        world.closed,
    }
    assert ids({"message_count_min": "4"}) == {world.closed}
    assert ids({"message_count_max": "1"}) == {world.new, world.spam}
    services.transfer(world.answered, f.act(org.admin), to_employee=org.op1, now=f.at(900))
    assert ids({"transfer_count_min": "1"}) == {world.answered}


def test_waiting_min_means_waiting_longer_than(world):
    # Only the new conversation has a client waiting (since f.at(0)).
    assert ids({"waiting_min": "300"}, now=f.at(301)) == {world.new}
    assert ids({"waiting_min": "300"}, now=f.at(300)) == set()
    assert ids({"waiting_min": "0"}, now=f.at(1)) == {world.new}


def test_crm_type_and_has_crm(world):
    Conversation.objects.filter(pk=world.closed).update(
        crm_entity_type="deal", crm_entity_id=7, crm_title="Big deal"
    )
    ConversationCrmLink.objects.create(
        conversation_id=world.closed, entity_type="deal", entity_id=7, is_primary=True
    )
    ConversationCrmLink.objects.create(
        conversation_id=world.closed, entity_type="contact", entity_id=3
    )
    Conversation.objects.filter(pk=world.new).update(crm_entity_type="lead", crm_entity_id=9)
    ConversationCrmLink.objects.create(
        conversation_id=world.new, entity_type="lead", entity_id=9, is_primary=True
    )
    assert ids({"has_crm": "true"}) == {world.closed, world.new}
    assert ids({"has_crm": "false"}) == {world.answered, world.spam}
    assert ids({"crm_type": "contact"}) == {world.closed}
    assert ids({"crm_type": "lead,deal"}) == {world.closed, world.new}
    assert ids({"crm_type": "company"}) == set()


def test_client_and_supervisor_ratings(world):
    assert ids({"client_rating": "like"}) == {world.closed}
    assert ids({"client_rating": "dislike"}) == set()
    assert ids({"client_rating": "none"}) == {world.new, world.answered, world.spam}
    assert ids({"client_rating": "like,none"}) == {
        world.new,
        world.answered,
        world.spam,
        world.closed,
    }
    assert ids({"supervisor_rating": "4"}) == {world.closed}
    assert ids({"supervisor_rating": "1,2"}) == set()
    assert ids({"supervisor_rating": "none"}) == {world.new, world.answered, world.spam}


def test_boolean_filters(world, org):
    assert ids({"agent_replied": "true"}) == {world.answered, world.closed}
    assert ids({"agent_replied": "false"}) == {world.new, world.spam}
    assert ids({"spam": "true"}) == {world.spam}
    assert ids({"spam": "false"}) == {world.new, world.answered, world.closed}
    services.pin(world.answered, f.act(org.op2), True, now=f.at(1000))
    assert ids({"pinned": "true"}) == {world.answered}
    assert world.answered not in ids({"pinned": "false"})
    Conversation.objects.filter(pk=world.new).update(business_hours=False)
    assert ids({"business_hours": "false"}) == {world.new}
    again = start(world.mail, "carla@example.com", 5000)
    assert ids({"returning": "true"}) == {again.pk}
    assert again.pk not in ids({"returning": "false"})


def test_source_url_contains(world):
    assert ids({"source_url": "example.com/cart"}) == {world.new}
    assert ids({"source_url": "other.org"}) == set()


def test_the_default_sort_is_newest_first_with_the_id_breaking_ties(org):
    a = start(org.conn, "a", 10)
    b = start(org.conn, "b", 10)
    c = start(org.conn, "c", 20)
    assert ordered({}) == [c.pk, b.pk, a.pk]
    assert ordered({"sort": "started_at"}) == [a.pk, b.pk, c.pk]


def test_sort_puts_empty_values_last_in_both_directions(org):
    a = start(org.conn, "a", 0)
    b = start(org.conn, "b", 0)
    c = start(org.conn, "c", 0)
    services.take(a.pk, f.act(org.op1), now=f.at(50))
    services.take(c.pk, f.act(org.op1), now=f.at(20))
    assert ordered({"sort": "agent_response_time"}) == [c.pk, a.pk, b.pk]
    assert ordered({"sort": "-agent_response_time"}) == [a.pk, c.pk, b.pk]
    assert ordered({"sort": "taken_at"})[-1] == b.pk
    assert ordered({"sort": "-taken_at"})[-1] == b.pk


def test_every_sortable_column_sorts_both_ways(world):
    everything = sorted([world.new, world.answered, world.closed, world.spam])
    for key in sorted(SORTABLE):
        for sort in (key, f"-{key}"):
            assert sorted(ordered({"sort": sort})) == everything, sort


def test_sort_by_responsible_and_line_sorts_by_their_names(world, org):
    order = ordered({"sort": "responsible"})
    assert order.index(world.closed) < order.index(world.answered)  # op1 before op2
    assert order[-1] == world.new  # not assigned: last
    line_order = ordered({"sort": "-line"})
    assert line_order[0] == world.answered  # "Telegram line" after "Sales line"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"status": "waiting,bogus"}, "status"),
        ({"status_detail": "closedd"}, "status_detail"),
        ({"channel": "fax"}, "channel"),
        ({"type": "sideways"}, "type"),
        ({"crm_type": "opportunity"}, "crm_type"),
        ({"client_rating": "love"}, "client_rating"),
        ({"supervisor_rating": "6"}, "supervisor_rating"),
        ({"line": "3,x"}, "line"),
        ({"responsible": "nobody"}, "responsible"),
        ({"id": "12a"}, "id"),
        ({"started_from": "2026-13-01"}, "started_from"),
        ({"started_to": "yesterday"}, "started_to"),
        ({"closed_from": "2026-02-30"}, "closed_from"),
        ({"closed_to": "2026-11-05T25:00"}, "closed_to"),
        ({"agent_response_time_min": "five"}, "agent_response_time_min"),
        ({"duration_max": "-3"}, "duration_max"),
        ({"message_count_min": "1.5"}, "message_count_min"),
        ({"waiting_min": "soon"}, "waiting_min"),
        ({"spam": "maybe"}, "spam"),
        ({"agent_replied": "2"}, "agent_replied"),
        ({"sort": "client"}, "sort"),
        ({"sort": "-excerpt"}, "sort"),
        ({"sort": "nonsense"}, "sort"),
        ({"duration_min": "100", "duration_max": "10"}, "duration_max"),
        ({"started_from": "2026-11-05", "started_to": "2026-11-04"}, "started_to"),
        ({"contact": "ab"}, "contact"),
    ],
)
def test_bad_input_is_rejected_with_an_error_naming_the_parameter(params, param):
    flt = ConversationFilter(params)
    assert not flt.is_valid()
    assert list(flt.errors) == [param]
    assert str(flt.errors[param])


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"status": "bogus"}, "status"),
        ({"started_from": "2026-13-01"}, "started_from"),
        ({"agent_response_time_min": "five"}, "agent_response_time_min"),
        ({"spam": "maybe"}, "spam"),
        ({"waiting_min": "x"}, "waiting_min"),
    ],
)
def test_the_error_message_itself_names_the_parameter(params, param):
    assert param in str(ConversationFilter(params).errors[param])


def test_unknown_parameters_are_reported_for_the_api_and_ignored_by_the_filter(world):
    flt = ConversationFilter({"status": "waiting", "colour": "blue", "page": "2"})
    assert flt.is_valid()
    assert flt.unknown_params() == ["colour", "page"]
    assert flt.unknown_params(allowed_extra=("page",)) == ["colour"]
    assert ids({"status": "waiting", "colour": "blue"}) == {world.new}


def test_several_parameters_combine_with_and(world, org):
    assert ids({"status": "closed", "channel": "email"}) == {world.closed}
    assert ids({"status": "closed", "channel": "telegram"}) == set()
    assert ids(
        {"responsible": str(org.op1.pk), "client_rating": "like", "supervisor_rating": "4"}
    ) == {world.closed}
