"""The per-employee reply time in business hours comes from the reply periods each employee
ended (Participation.reply_bh_sum), like the per-employee reply time: from the rollups and from
the conversation table alike, equal to a direct aggregation of the reply-period rows."""

import datetime as dt
import zoneinfo

import pytest
from django.db.models import Count, Sum

from convodesk.conversations import services
from convodesk.conversations.models import ReplyPeriod
from convodesk.stats import aggregates, rollups
from convodesk.stats.aggregates import Tally
from convodesk.stats.models import Participation

from .. import factories as f

pytestmark = pytest.mark.django_db
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def madrid(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MADRID)


@pytest.fixture
def office_line(org):
    org.line.working_hours = {str(d): [["09:00", "17:00"]] for d in range(5)}
    org.line.time_zone = "Europe/Madrid"
    org.line.holidays = ["2026-11-09"]
    org.line.save()
    return org.line


def _conversations(org):
    # Friday 16:50 → op1 answers Tuesday 09:10 (the Monday a holiday): 20 business minutes, days
    # of calendar time; then transferred to op2, who answers a later message at night.
    friday = madrid(2026, 11, 6, 16, 50)
    conv = f.client_message(org.conn, "c1", "Hi", when=friday).conversation
    services.reply(conv.pk, f.act(org.op1), "Hello", now=madrid(2026, 11, 10, 9, 10))
    services.transfer(conv.pk, f.act(org.op1), to_employee=org.op2, now=madrid(2026, 11, 10, 9, 20))
    f.client_message(org.conn, "c1", "And?", when=madrid(2026, 11, 10, 16, 30))
    services.reply(conv.pk, f.act(org.op2), "Yes", now=madrid(2026, 11, 10, 20, 0))
    # Inside hours: op2 answers in 5 minutes, op1 in 2 hours.
    for i, (who, minutes) in enumerate([(org.op2, 5), (org.op1, 120)]):
        start = madrid(2026, 11, 11, 10, 0) + dt.timedelta(hours=i)
        conv = f.client_message(org.conn, f"d{i}", "Hi", when=start).conversation
        services.reply(conv.pk, f.act(who), "Hi", now=start + dt.timedelta(minutes=minutes))


def _expected() -> dict[int, float | None]:
    rows = ReplyPeriod.objects.filter(employee__isnull=False).values("employee_id")
    return {
        r["employee_id"]: Tally.mean(r["bh"], r["n"])
        for r in rows.annotate(bh=Sum("business_seconds"), n=Count("pk"))
    }


def test_the_employee_reply_time_in_business_hours_equals_direct_aggregation(org, office_line):
    _conversations(org)
    expected = _expected()
    assert expected[org.op1.pk] == (20 * 60 + 120 * 60) / 2  # 20 min over the weekend, 2 h
    assert expected[org.op2.pk] == (30 * 60 + 5 * 60) / 2  # 16:30–17:00 only, then 5 min
    for params in ({}, {"message_count_min": "0"}):  # from rollups, then from the table
        scope = aggregates.build_scope(org.admin, params, now=madrid(2026, 12, 1))
        report = aggregates.compute(scope)
        assert report["source"] == ("rollups" if not params else "conversations")
        got = {e["id"]: e["reply_time_avg_bh"] for e in report["employees"] if e["reply_periods"]}
        assert got == expected, params


def test_participation_kept_by_the_services_equals_a_rebuild(org, office_line):
    _conversations(org)
    columns = (*rollups.PARTICIPATION_KEY, *rollups.PARTICIPATION_COLUMNS)

    def totals():
        found = {}
        for row in Participation.objects.values(*columns):
            key = tuple(row[c] for c in rollups.PARTICIPATION_KEY)
            sums = found.setdefault(key, dict.fromkeys(rollups.PARTICIPATION_COLUMNS, 0))
            for c in rollups.PARTICIPATION_COLUMNS:
                sums[c] += row[c]
        return found

    kept = totals()
    assert sum(v["reply_bh_sum"] for v in kept.values()) > 0
    rollups.rebuild_derived()
    assert totals() == kept
