"""Reply-time targets (SLA) through the services: the due instant across calendar edges, the
breach recorded once (a live event, one mail), business-hours metrics of a real conversation,
the Overdue tab and the statistics against direct aggregation."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.db.models import Sum
from django.utils import timezone

from convodesk.conversations import services
from convodesk.conversations.models import Conversation, ConversationEvent
from convodesk.stats import aggregates

from .. import factories as f

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
WEEKDAYS_9_TO_5 = {str(d): [["09:00", "17:00"]] for d in range(5)}
LIST = "/contact-center/conversations/"


def madrid(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MADRID)


def breaches(conv) -> int:
    return ConversationEvent.objects.filter(conversation=conv, kind="sla_breached").count()


@pytest.fixture
def sla_line(org):
    line = org.line
    line.working_hours = WEEKDAYS_9_TO_5
    line.time_zone = "Europe/Madrid"
    line.holidays = ["2026-11-09"]
    line.sla_first_seconds = 30 * 60
    line.sla_first_business = True
    line.sla_next_seconds = 60 * 60
    line.sla_next_business = False
    line.save()
    return line


def test_a_friday_evening_message_is_due_after_the_weekend_and_the_holiday(org, sla_line):
    # 10 business minutes on Friday, Saturday and Sunday closed, Monday the 9th a holiday:
    # the remaining 20 minutes run from Tuesday 09:00.
    conv = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 11, 6, 16, 50)).conversation
    conv.refresh_from_db()
    assert conv.due_at == madrid(2026, 11, 10, 9, 20)
    services.run_due_timers(now=madrid(2026, 11, 10, 9, 19, 59))
    assert breaches(conv) == 0
    services.run_due_timers(now=madrid(2026, 11, 10, 9, 20))
    assert breaches(conv) == 1
    services.run_due_timers(now=madrid(2026, 11, 10, 9, 40))
    conv.refresh_from_db()
    assert conv.overdue and conv.sla_breaches == 1 and breaches(conv) == 1
    # The answer on Tuesday 09:30: 10 + 30 business minutes of waiting, one breach only.
    services.reply(conv.pk, f.act(org.op1), "Hello", now=madrid(2026, 11, 10, 9, 30))
    conv.refresh_from_db()
    assert conv.first_answer_wait == int(
        (madrid(2026, 11, 10, 9, 30) - madrid(2026, 11, 6, 16, 50)).total_seconds()
    )
    assert conv.first_answer_wait_bh == 40 * 60
    assert conv.agent_response_time_bh == 40 * 60
    assert conv.reply_time_first_bh == conv.reply_time_avg_bh == 40 * 60
    assert (conv.due_at, conv.overdue, conv.sla_breaches, conv.sla_met) == (None, False, 1, 0)
    # The next reply's target is calendar time: due an hour after the client writes, at night.
    f.client_message(org.conn, "c1", "And?", when=madrid(2026, 11, 10, 22, 0))
    conv.refresh_from_db()
    assert conv.due_at == madrid(2026, 11, 10, 23, 0)


def test_the_due_instant_follows_the_clock_across_a_daylight_saving_change(org, sla_line):
    # Madrid falls back on Sunday 25 October 2026: Friday is UTC+2, Monday UTC+1.
    conv = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 10, 23, 16, 50)).conversation
    conv.refresh_from_db()
    assert conv.due_at == madrid(2026, 10, 26, 9, 20)
    assert conv.due_at == dt.datetime(2026, 10, 26, 8, 20, tzinfo=dt.UTC)


def test_a_calendar_change_applies_to_waits_that_begin_after_it(org, sla_line):
    conv = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 11, 6, 16, 50)).conversation
    sla_line.holidays = []
    sla_line.working_hours = {}
    sla_line.save()
    conv.refresh_from_db()
    assert conv.due_at == madrid(2026, 11, 10, 9, 20)  # the wait began under the old calendar
    services.take(conv.pk, f.act(org.op1), now=madrid(2026, 11, 6, 17, 30))
    conv.refresh_from_db()
    assert conv.due_at == madrid(2026, 11, 10, 9, 20)  # a take does not end the wait
    # Taken Friday 17:30 (after hours under the old calendar): counted with the new one.
    assert conv.agent_response_time_bh == 40 * 60
    other = f.client_message(org.conn, "c2", "Hi", when=madrid(2026, 11, 6, 16, 50)).conversation
    other.refresh_from_db()
    assert other.due_at == madrid(2026, 11, 6, 17, 20)


def test_a_reply_in_time_meets_the_target_and_a_late_one_is_a_breach_recorded_once(org, sla_line):
    fast = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 11, 4, 10, 0)).conversation
    services.reply(fast.pk, f.act(org.op1), "Hello", now=madrid(2026, 11, 4, 10, 30))
    fast.refresh_from_db()
    assert (fast.sla_met, fast.sla_breaches, breaches(fast)) == (1, 0, 0)
    # Answered late before any timer loop noticed: the breach is recorded with the reply.
    slow = f.client_message(org.conn, "c2", "Hi", when=madrid(2026, 11, 4, 10, 0)).conversation
    services.reply(slow.pk, f.act(org.op1), "Hello", now=madrid(2026, 11, 4, 10, 31))
    assert services.run_due_timers(now=madrid(2026, 11, 4, 12, 0)) == 0
    slow.refresh_from_db()
    assert (slow.sla_met, slow.sla_breaches, breaches(slow)) == (0, 1, 1)


def test_the_breach_mails_the_open_channels_supervisors_once(
    org, sla_line, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.CONVODESK = {**settings.CONVODESK, "SYSTEM_MAIL": True}
    sla_line.sla_mail = True
    sla_line.save()
    org.supervisor.email = "boss@example.com"
    org.supervisor.save()
    conv = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 11, 4, 10, 0)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        services.run_due_timers(now=madrid(2026, 11, 4, 10, 31))
    with django_capture_on_commit_callbacks(execute=True):
        services.run_due_timers(now=madrid(2026, 11, 4, 10, 45))
    to_boss = [m for m in mailoutbox if "boss@example.com" in m.to]
    assert len(to_boss) == 1
    assert f"#{conv.pk}" in to_boss[0].subject
    sla_line.sla_mail = False
    sla_line.save()
    f.client_message(org.conn, "c2", "Hi", when=madrid(2026, 11, 4, 10, 0))
    with django_capture_on_commit_callbacks(execute=True):
        services.run_due_timers(now=madrid(2026, 11, 4, 11, 0))
    assert len([m for m in mailoutbox if "boss@example.com" in m.to]) == 1


def test_the_overdue_tab_counts_exactly_its_rows_and_marks_them(org, sla_line, client):
    sla_line.sla_first_business = False
    sla_line.save()
    late = [
        f.client_message(org.conn, f"late{i}", "Hi", when=f.at(i * 60)).conversation
        for i in range(3)
    ]
    fresh = f.client_message(org.conn, "fresh", "Hi", when=timezone.now()).conversation
    client.force_login(org.admin)
    html = client.get(LIST + "?overdue=true").content.decode()
    count = re.search(r'Overdue <span class="tab-count">(\d+)</span>', html)
    rows = [
        int(x)
        for x in re.findall(r'<tr id="row-(\d+)" class="([^"]*)"', html and html)[::1]
        and re.findall(r'<tr id="row-(\d+)"', html)
    ]
    assert count and int(count.group(1)) == len(rows) == 3
    assert set(rows) == {c.pk for c in late} and fresh.pk not in rows
    assert html.count("row-overdue") == 3
    everything = client.get(LIST + "?view=all&columns=id,client,due_at").content.decode()
    assert "overdue by" in everything and "in 29 min" in everything


def test_sla_statistics_equal_direct_aggregation_by_channel_line_and_employee(org, sla_line):
    other_line = f.line("Other", members=[org.op2], sla_first_seconds=60, sla_first_business=False)
    other = f.connection(other_line, "livechat")
    for i, (conn, minutes, who) in enumerate(
        [(org.conn, 10, org.op1), (org.conn, 45, org.op1), (other, 5, org.op2), (other, 0, None)]
    ):
        start = madrid(2026, 11, 4, 10, 0) + dt.timedelta(hours=i)
        conv = f.client_message(conn, f"s{i}", "Hi", when=start).conversation
        if who:
            services.reply(conv.pk, f.act(who), "Hi", now=start + dt.timedelta(minutes=minutes))
    services.run_due_timers(now=madrid(2026, 11, 5, 12, 0))
    for params in ({}, {"message_count_min": "0"}):  # from rollups, then from the table
        report = aggregates.compute(
            aggregates.build_scope(org.admin, params, now=madrid(2026, 11, 6))
        )
        assert report["source"] == ("rollups" if not params else "conversations")
        for key, rows, field in (
            ("lines", report["lines"], "line_id"),
            ("channels", report["channels"], "channel"),
            ("employees", report["employees"], "responsible_id"),
        ):
            expected = {
                r[field]: (r["met"], r["missed"])
                for r in Conversation.objects.values(field).annotate(
                    met=Sum("sla_met"), missed=Sum("sla_breaches")
                )
                if r[field] is not None
            }
            got = {r.get("id", r.get("key")): (r["sla_met"], r["sla_breaches"]) for r in rows}
            # The employee table also lists who only took part (offered, skipped): zeros.
            got = {k: v for k, v in got.items() if k in expected or v != (0, 0)}
            assert got == expected, key
        kpis = report["kpis"]
        assert (kpis["sla_met"], kpis["sla_breaches"]) == (1, 3)
        assert kpis["sla_compliance"] == 25.0


@pytest.fixture
def december_line(org):
    line = org.line
    line.working_hours = WEEKDAYS_9_TO_5
    line.time_zone = "Europe/Madrid"
    line.holidays = ["2026-12-08"]
    line.sla_first_seconds = 60 * 60
    line.sla_first_business = True
    line.closing_text = ""
    line.save()
    return line


def test_the_readme_examples_a_night_and_a_weekend_and_a_holiday(org, december_line):
    conv = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 12, 4, 16, 30)).conversation
    services.take(conv.pk, f.act(org.op1), now=madrid(2026, 12, 7, 9, 10))
    services.reply(conv.pk, f.act(org.op1), "Hello", now=madrid(2026, 12, 7, 9, 25))
    f.client_message(org.conn, "c1", "Thanks", when=madrid(2026, 12, 7, 10, 0))
    services.close(conv.pk, f.act(org.op1), now=madrid(2026, 12, 7, 10, 5))
    conv.refresh_from_db()
    assert (conv.agent_response_time, conv.agent_response_time_bh) == (232800, 2400)
    assert (conv.first_answer_wait, conv.first_answer_wait_bh) == (233700, 3300)
    assert (conv.duration, conv.duration_bh) == (235800, 5400)
    assert (conv.time_to_agent_close, conv.time_to_agent_close_bh) == (236100, 5700)
    assert conv.reply_time_first_bh == 3300
    holiday = f.client_message(org.conn, "c2", "Hi", when=madrid(2026, 12, 7, 16, 45))
    holiday = holiday.conversation
    holiday.refresh_from_db()
    assert holiday.due_at == madrid(2026, 12, 9, 9, 45)
    services.reply(holiday.pk, f.act(org.op1), "Hello", now=madrid(2026, 12, 9, 9, 15))
    holiday.refresh_from_db()
    assert (holiday.first_answer_wait, holiday.first_answer_wait_bh) == (145800, 1800)
    assert (holiday.sla_met, holiday.sla_breaches) == (1, 0)


def test_the_readme_example_a_calendar_change(org, december_line):
    conv = f.client_message(org.conn, "c1", "Hi", when=madrid(2026, 12, 9, 16, 0)).conversation
    services.take(conv.pk, f.act(org.op1), now=madrid(2026, 12, 9, 16, 10))
    december_line.working_hours = {**WEEKDAYS_9_TO_5, "2": [["09:00", "20:00"]]}
    december_line.save()
    services.run_due_timers(now=madrid(2026, 12, 9, 17, 0))
    assert breaches(conv) == 1
    services.reply(conv.pk, f.act(org.op1), "Hello", now=madrid(2026, 12, 9, 19, 0))
    conv.refresh_from_db()
    assert conv.agent_response_time_bh == 600
    assert conv.first_answer_wait_bh == 10800
    assert (conv.sla_met, conv.sla_breaches, breaches(conv)) == (0, 1, 1)
