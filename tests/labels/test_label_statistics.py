"""Statistics per tag and per close reason: the rollups the services keep equal a rebuild, and
the figures equal a direct aggregation over the conversations (issue 19 item 3)."""

import datetime as dt

import pytest
from django.db.models import Avg, Count

from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationTag
from convodesk.stats import aggregates, rollups
from convodesk.stats.models import METRICS, LabelRollup

from .builders import BASE, labelled_history

KEY = rollups.LABEL_KEY


def _label_state():
    return {
        tuple(r[k] for k in KEY): tuple(r[c] for c in rollups.COLUMNS)
        for r in LabelRollup.objects.values(*KEY, *rollups.COLUMNS)
        if any(r[c] for c in rollups.COLUMNS)
    }


def _expected(queryset, field):
    """Per label: count and the four metrics' averages straight from the conversation table,
    leaving out what the statistics leave out (spam and duplicates; outgoing for the first two)."""
    expected = {}
    for label in set(queryset.exclude(**{field: None}).values_list(field, flat=True)):
        rows = queryset.filter(**{field: label})
        figures = {"conversations": rows.count()}
        eligible = rows.exclude(status__in=(Status.SPAM, Status.DUPLICATE))
        for m in METRICS:
            scope = eligible.filter(type="incoming") if m in aggregates.INCOMING_ONLY else eligible
            value = scope.aggregate(v=Avg(m))["v"]
            figures[f"{m}_avg"] = None if value is None else round(value, 1)
        expected[label] = figures
    return expected


def _got(rows):
    keys = ["conversations", *[f"{m}_avg" for m in METRICS]]
    return {r["id"]: {k: r[k] for k in keys} for r in rows}


@pytest.mark.parametrize("seed", [11, 12])
def test_label_rollups_kept_by_the_services_equal_a_rebuild(org, seed):
    labelled_history(org, seed)
    assert ConversationTag.objects.exists()
    assert Conversation.objects.filter(close_reason__isnull=False).exists()
    kept = _label_state()
    assert kept
    rollups.rebuild()
    assert _label_state() == kept


@pytest.mark.parametrize("seed", [13, 14])
def test_statistics_per_tag_and_reason_equal_direct_aggregation(org, seed):
    from convodesk.lines.models import Line

    labelled_history(org, seed)
    admin = org.admin
    now = BASE + dt.timedelta(days=9)
    everything = Conversation.objects.all()
    for params in (
        {},
        {"started_from": "2026-10-06", "started_to": "2026-10-08"},
        {"line": str(Line.objects.order_by("pk").first().pk)},
        {"channel": "api,email", "status": "closed"},
    ):
        scope = aggregates.build_scope(admin, params, now=now)
        assert scope.rollup is not None, params
        from_rollups = aggregates.compute(scope)
        scope.rollup = None
        direct = aggregates.compute(scope)
        assert from_rollups["source"] == "rollups" and direct["source"] == "conversations"
        assert from_rollups["tags"] == direct["tags"], params
        assert from_rollups["close_reasons"] == direct["close_reasons"], params
        chosen = scope.filter.filter(everything)
        assert _got(direct["tags"]) == _expected(chosen, "tag_links__tag_id"), params
        assert _got(direct["close_reasons"]) == _expected(chosen, "close_reason_id"), params
        assert (
            sum(r["conversations"] for r in direct["close_reasons"])
            == chosen.filter(close_reason__isnull=False).count()
        )


def test_a_tag_filter_is_answered_from_the_conversations_and_counts_each_tag(org):
    _connections, tags, _reasons = labelled_history(org, 15)
    billing = tags[0]
    scope = aggregates.build_scope(org.admin, {"tag": str(billing.pk)})
    assert scope.rollup is None  # a tag condition is no rollup key
    report = aggregates.compute(scope)
    tagged = Conversation.objects.filter(tag_links__tag=billing)
    assert report["kpis"]["conversations"] == tagged.count()
    by_tag = {r["id"]: r["conversations"] for r in report["tags"]}
    assert by_tag[billing.pk] == tagged.count()
    counts = dict(
        ConversationTag.objects.filter(conversation__in=tagged)
        .values_list("tag_id")
        .annotate(n=Count("pk"))
    )
    assert by_tag == counts


def test_the_statistics_page_and_api_show_the_tag_and_reason_breakdowns(org, client):
    from tests.api.conftest import token_for

    _connections, tags, _reasons = labelled_history(org, 16, conversations=15)
    client.force_login(org.admin)
    page = client.get("/contact-center/statistics/").content.decode()
    assert 'id="stats-tags"' in page and 'id="stats-close-reasons"' in page
    assert tags[0].name in page and "Avg duration" in page
    response = client.get("/api/v1/stats", HTTP_AUTHORIZATION=f"Bearer {token_for(org.admin)}")
    body = response.json()
    assert response.status_code == 200
    assert {r["name"] for r in body["tags"]} <= {t.name for t in tags}
    assert all("time_to_agent_close_avg" in r for r in body["close_reasons"])
