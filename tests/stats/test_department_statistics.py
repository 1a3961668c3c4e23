"""A viewer below level all (a department supervisor, an employee at level own) gets statistics
from the rollups (stats.sources.SplitSource) that equal direct aggregation over exactly the
conversations the visibility rule lets them see (issue 23 item 1)."""

import datetime as dt
import random
import zoneinfo

import pytest
from django.db import connection

from convodesk.conversations import services
from convodesk.conversations.models import Conversation
from convodesk.conversations.visibility import scope_for
from convodesk.lines.models import Line
from convodesk.stats import aggregates, histogram, sources
from tests import factories as f

from .builders import BASE, random_history
from .test_rollups_agree import _random_filter


def _split_and_direct(user, params, now):
    scope = aggregates.build_scope(user, params, now=now)
    assert not scope.errors, scope.errors
    assert scope.rollup is not None and scope.employees is not None, params
    split = aggregates.compute(scope)
    scope.rollup = None
    direct = aggregates.compute(scope)
    return scope, split, direct


@pytest.mark.parametrize(
    "seed,tz_name,days",
    [(31, "UTC", 6), (32, "Europe/Madrid", 6), (33, "America/New_York", 40), (34, "UTC", 40)],
)
def test_department_and_own_statistics_from_rollups_equal_direct_aggregation(
    org, seed, tz_name, days
):
    connections = random_history(org, seed, conversations=45, days=days)
    tz = zoneinfo.ZoneInfo(tz_name)
    rng = random.Random(seed)
    now = BASE + dt.timedelta(days=days - 3, minutes=37)
    viewers = [org.supervisor, org.op1, org.op3]
    assert scope_for(org.supervisor, "stats")[0] == "employees"
    outside_seen = 0
    for viewer in viewers:
        viewer.time_zone = tz_name
        viewer.save()
        kind, ids = scope_for(viewer, "stats")
        if kind != "employees":
            continue
        visible = Conversation.objects.visible_to(viewer, "stats")
        outside_seen += visible.exclude(responsible_id__in=ids).count()
        for round_ in range(5):
            params = _random_filter(rng, org, connections, tz, days) if round_ else {}
            params["sl"] = str(rng.choice(histogram.SERVICE_LEVEL_CHOICES))
            scope, split, direct = _split_and_direct(viewer, params, now)
            assert split.pop("source") == "rollups" and direct.pop("source") == "conversations"
            assert split == direct, (viewer.username, params)
            assert direct["kpis"]["conversations"] == scope.queryset.count()
    # The histories include visible conversations with someone else (or nobody) responsible,
    # the part read from the table.
    assert outside_seen


@pytest.mark.parametrize("listed", [5000, 0], ids=["hidden-as-ids", "hidden-as-query"])
def test_a_hidden_skipped_offer_does_not_count_for_the_supervisor(org, monkeypatch, listed):
    """Participation keeps op1's skipped offer of a conversation the department never saw; the
    supervisor's employee table must not count it (Participation less the conversations hidden
    from them), while the administrator's does. Many hidden conversations are read through the
    query that finds them rather than as a list of ids: both ways give the same figures."""
    monkeypatch.setattr(sources, "HIDDEN_LISTED", listed)
    line2 = f.line("Other line", members=[org.op1, org.op3], distribution=Line.Distribution.STRICT)
    conn = f.connection(line2, "api")
    at = BASE + dt.timedelta(hours=2)
    conv = f.client_message(conn, "client-x", "Hello", when=at).conversation
    participants = {p.employee_id: p for p in conv.participants.all()}
    assert participants[org.op1.pk].offered_now  # strictly in order: op1 first
    services.skip(conv.pk, f.act(org.op1), now=at + dt.timedelta(seconds=5))
    conv.refresh_from_db()
    if conv.responsible_id is None or conv.responsible_id == org.op1.pk:
        services.take(conv.pk, f.act(org.op3), now=at + dt.timedelta(seconds=9))
    assert not Conversation.objects.visible_to(org.supervisor, "stats").filter(pk=conv.pk).exists()
    params = {"started_from": "2026-10-01"}
    now = at + dt.timedelta(days=1)
    _scope, split, direct = _split_and_direct(org.supervisor, params, now)
    split.pop("source"), direct.pop("source")
    assert split == direct
    op1_row = next((r for r in split["employees"] if r["id"] == org.op1.pk), None)
    assert op1_row is None or op1_row["skipped"] == 0
    everyone = aggregates.compute(aggregates.build_scope(org.admin, params, now=now))
    assert next(r for r in everyone["employees"] if r["id"] == org.op1.pk)["skipped"] == 1


@pytest.mark.sqlite_only("its planner, without table statistics")
def test_a_departments_rollup_rows_are_read_through_its_employees_index(org):
    """SQLite keeps no table statistics here, so it picks an index by the query's shape. Grouped
    by line first, the department's tier-0 rows were read through (tier, line_id, period) by the
    tier alone, every month of every employee (130 ms at 1,000,000 conversations against 8 ms);
    each rollup read of a department must go through (tier, responsible_key, period)."""
    random_history(org, 41, conversations=20, days=6)
    now = BASE + dt.timedelta(days=3)
    scope = aggregates.build_scope(org.supervisor, {"started_from": "2026-10-01"}, now=now)
    assert scope.rollup is not None and scope.employees is not None
    statements = []

    def record(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        aggregates.compute(scope)
    reads = [
        (sql, params)
        for sql, params in statements
        if 'FROM "stats_rollup" ' in sql and ('AS "d_line"' in sql or 'AS "d_responsible"' in sql)
    ]
    assert len(reads) == 2  # by line and channel, by responsible
    with connection.cursor() as cursor:
        for sql, params in reads:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "USING INDEX rollup_by_responsible (tier=? AND responsible_key=?" in plan, plan
