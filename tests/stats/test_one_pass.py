"""A page the rollups cannot answer reads the filtered conversations' figures once."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from convodesk.conversations.lifecycle import STATUS_KEYS, Status
from convodesk.conversations.models import Conversation
from convodesk.stats import aggregates

from .builders import BASE, random_history

CONVERSATIONS = re.compile(r'\b(FROM|JOIN) "conversations_conversation"')
PEOPLE = re.compile(r'\b(FROM|JOIN) "conversations_(conversationparticipant|replyperiod)"')
LEFT_OUT = re.compile(r'NOT \(+"conversations_conversation"\."status" >=')  # "not closed"


def _reading_the_conversation_table(queries) -> list[str]:
    return [q["sql"] for q in queries if CONVERSATIONS.search(q["sql"])]


def test_an_arbitrary_filter_reads_the_conversation_table_once_for_every_figure(org):
    """The KPIs, breakdowns, histograms, timeline and close reasons of a client-rating filter
    come from one read of the matching conversations (the tags join their conversation); the
    figures equal those of the same conversations read by the rollups' arithmetic."""
    random_history(org, 5, conversations=50)
    now = BASE + dt.timedelta(days=8)
    scope = aggregates.build_scope(org.admin, {"client_rating": "like,dislike"}, now=now)
    assert scope.rollup is None
    with CaptureQueriesContext(connection) as captured:
        report = aggregates.compute(scope)
    reads = _reading_the_conversation_table(captured.captured_queries)
    assert report["kpis"]["conversations"] == scope.queryset.count() > 0
    assert len(reads) == 2, reads
    assert reads[0].startswith('CREATE TEMPORARY TABLE "stats_scope" AS')
    assert "conversations_conversationtag" in reads[1]


def test_the_few_conversations_read_beside_the_rollups_are_read_once(org):
    """A status filter the coarse tiers and Participation cannot tell apart (every status but
    spam) that keeps most conversations: the histograms and the per-employee figures are the
    channel-level ones less the left-out conversations', whose figures are read once (before,
    each of a dozen statements found them again)."""
    random_history(org, 9, conversations=60, days=40)
    now = BASE + dt.timedelta(days=37, minutes=37)
    assert (
        Conversation.objects.filter(status=Status.SPAM).count() * 2 < Conversation.objects.count()
    )
    but_spam = ",".join(key for code, key in STATUS_KEYS.items() if code != Status.SPAM)
    scope = aggregates.build_scope(org.admin, {"status_detail": but_spam}, now=now)
    with CaptureQueriesContext(connection) as captured:
        report = aggregates.compute(scope)
    reads = [
        sql
        for sql in _reading_the_conversation_table(captured.captured_queries)
        if "stats_outside" in sql or LEFT_OUT.search(sql)
    ]
    assert report["source"] == "rollups"
    assert any(q["sql"].startswith('CREATE TEMPORARY TABLE "stats_outside" AS') for q in captured)
    assert len(reads) == 1 and reads[0].startswith('CREATE TEMPORARY TABLE "stats_outside" AS'), (
        reads
    )


@pytest.mark.parametrize("status", ["closed", "waiting,answered"])
def test_closed_or_open_conversations_are_read_from_the_rollups_alone(org, status):
    """Issue 23 item 5: the folded tiers keep the simple statuses apart and Participation keeps
    open and closed apart, so neither the histograms nor the per-employee figures of a page
    narrowed to closed (or to open) conversations read a participant or reply-period row, nor
    the conversations left out: the same answer as the conversation table's."""
    random_history(org, 9, conversations=60, days=40)
    now = BASE + dt.timedelta(days=37, minutes=37)
    scope = aggregates.build_scope(org.admin, {"status": status}, now=now)
    with CaptureQueriesContext(connection) as captured:
        from_rollups = aggregates.compute(scope)
    statements = [q["sql"] for q in captured.captured_queries]
    assert not [sql for sql in statements if "stats_outside" in sql or LEFT_OUT.search(sql)]
    assert not [sql for sql in statements if PEOPLE.search(sql)], statements
    assert any('"stats_participation"' in sql for sql in statements)
    scope.rollup = None
    direct = aggregates.compute(scope)
    assert from_rollups.pop("source") == "rollups" and direct.pop("source") == "conversations"
    assert from_rollups == direct
    assert any(e["assigned"] for e in direct["employees"])


@pytest.mark.postgres_only("session settings")
def test_the_statistics_memory_and_workers_do_not_outlive_their_statement(org):
    """The statement that reads the filtered set runs with the statistics' own work_mem and
    parallel workers; the test's transaction (as any caller's) gets the session's back."""

    def settings_now():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('work_mem'), current_setting('max_parallel_workers_per_gather')"
            )
            return cursor.fetchone()

    random_history(org, 5, conversations=10)
    before = settings_now()
    scope = aggregates.build_scope(org.admin, {"client_rating": "none"}, now=BASE)
    with CaptureQueriesContext(connection) as captured:
        aggregates.compute(scope)
    assert any("set_config('work_mem'" in q["sql"] for q in captured.captured_queries)
    assert settings_now() == before
