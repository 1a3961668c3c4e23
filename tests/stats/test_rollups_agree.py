"""Rollups kept by the services equal a rebuild, and both statistics paths give the same answers."""

import datetime as dt
import random

import pytest

from convodesk.conversations.filters import ConversationFilter
from convodesk.conversations.models import Conversation
from convodesk.stats import aggregates, histogram, rollups, tiers
from convodesk.stats.models import METRICS, Participation, Rollup, RollupBucket

from .builders import BASE, random_history

KEY = ("tier", "period", "line_id", "channel", "responsible_key", "type", "status")


def _rollup_state():
    """Every tier's non-empty rows and buckets, and the per-employee participation, by key."""
    measures = [c for c in rollups.COLUMNS]
    rows = {
        tuple(r[k] for k in KEY): tuple(r[c] for c in measures)
        for r in Rollup.objects.values(*KEY, *measures)
        if any(r[c] for c in measures)
    }
    buckets = {
        tuple(b[k] for k in (*KEY, "metric", "bucket")): b["n"]
        for b in RollupBucket.objects.values(*KEY, "metric", "bucket", "n")
        if b["n"]
    }
    participation = {
        tuple(p[k] for k in rollups.PARTICIPATION_KEY): tuple(
            p[c] for c in rollups.PARTICIPATION_COLUMNS
        )
        for p in Participation.objects.values()
        if any(p[c] for c in rollups.PARTICIPATION_COLUMNS)
    }
    return rows, buckets, participation


def _random_filter(rng, org, connections, tz, days=6):
    params = {}
    if rng.random() < 0.5:
        params["line"] = ",".join(
            str(c.line_id) for c in rng.sample(connections, rng.randint(1, 2))
        )
    if rng.random() < 0.4:
        params["channel"] = ",".join(
            rng.sample(["api", "livechat", "email", "telegram"], rng.randint(1, 2))
        )
    if rng.random() < 0.4:
        params["responsible"] = ",".join(rng.sample(["none", str(org.op1.pk), str(org.op2.pk)], 2))
    if rng.random() < 0.3:
        params["status"] = rng.choice(["waiting", "answered", "closed", "waiting,closed"])
    if rng.random() < 0.3:
        params["status_detail"] = rng.choice(
            ["closed,spam", "auto_closed", "new,skipped,closed,duplicate"]
        )
    if rng.random() < 0.2:
        params["type"] = "incoming"
    if rng.random() < 0.7:
        first = (BASE + dt.timedelta(days=rng.randrange(days - 2))).astimezone(tz).date()
        params["started_from"] = first.isoformat()
        if rng.random() < 0.8:
            last = first + dt.timedelta(days=rng.randrange(max(3, days // 2 + 1)))
            params["started_to"] = last.isoformat()
    return params


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_kept_by_the_services_equal_a_rebuild_from_the_conversation_table(org, seed):
    random_history(org, seed, conversations=35)
    assert Conversation.objects.count() > 0
    kept = _rollup_state()
    rollups.rebuild()
    assert _rollup_state() == kept
    rollups.rebuild(BASE + dt.timedelta(days=1), BASE + dt.timedelta(days=2, hours=3))
    assert _rollup_state() == kept


@pytest.mark.parametrize(
    "seed,tz_name,days",
    [
        (3, "UTC", 6),
        (4, "Europe/Madrid", 6),
        (5, "America/New_York", 6),
        (6, "UTC", 40),
        (8, "America/New_York", 40),
    ],
)
def test_rollup_answers_equal_direct_aggregation_for_random_rollup_eligible_filters(
    org, seed, tz_name, days
):
    """Forty days of history reach the 4- and 16-day spans with bounded ranges too."""
    import zoneinfo

    connections = random_history(org, seed, conversations=45, days=days)
    admin = org.admin
    admin.time_zone = tz_name
    admin.save()
    tz = zoneinfo.ZoneInfo(tz_name)
    rng = random.Random(seed)
    now = BASE + dt.timedelta(days=days - 3, minutes=37)
    for _ in range(6):
        params = _random_filter(rng, org, connections, tz, days)
        params["sl"] = str(rng.choice(histogram.SERVICE_LEVEL_CHOICES))
        scope = aggregates.build_scope(admin, params, now=now)
        assert not scope.errors, scope.errors
        assert scope.rollup is not None, params
        from_rollups = aggregates.compute(scope)
        scope.rollup = None
        direct = aggregates.compute(scope)
        assert from_rollups.pop("source") == "rollups" and direct.pop("source") == "conversations"
        assert from_rollups == direct, params
        assert direct["kpis"]["conversations"] == scope.queryset.count()
        # The list's and the API's total under the same filter, from the same rollups.
        listed = ConversationFilter({k: v for k, v in params.items() if k != "sl"}, tz, now)
        assert aggregates.rollup_total(admin, listed) == scope.queryset.count(), params


def _majority(counts: dict[str, int]) -> str:
    return max(counts, key=lambda k: (counts[k], k))


def test_a_status_line_or_responsible_filter_over_most_conversations_subtracts_the_rest(org):
    """Histograms and per-employee figures under such a filter are the channel-level ones less
    the conversations the filter leaves out (the fewer); both paths still agree exactly."""
    connections = random_history(org, 9, conversations=60, days=40)
    now = BASE + dt.timedelta(days=37, minutes=37)
    everything = Conversation.objects.all()
    statuses = {
        "closed": everything.filter(status__gte=60).count(),
        "waiting,answered": everything.filter(status__lt=60).count(),
    }
    lines = {}
    for connection in connections:
        others = [c.line_id for c in connections if c.line_id != connection.line_id]
        lines[",".join(str(i) for i in sorted(set(others)))] = everything.filter(
            line_id__in=others
        ).count()
    for params in (
        {"status": _majority(statuses)},
        {
            "line": _majority(lines),
            "started_from": (BASE + dt.timedelta(days=3)).date().isoformat(),
        },
        {"responsible": f"none,{org.op1.pk},{org.op2.pk}", "channel": "livechat,api,email"},
    ):
        scope = aggregates.build_scope(org.admin, params, now=now)
        assert scope.rollup is not None and scope.rollup.narrowing is not None, params
        with aggregates.RollupSource(scope.rollup, scope.queryset, everything) as source:
            assert source._outside() is not None, params
        from_rollups = aggregates.compute(scope)
        scope.rollup = None
        direct = aggregates.compute(scope)
        assert from_rollups.pop("source") == "rollups" and direct.pop("source") == "conversations"
        assert from_rollups == direct, params
        assert any(e["assigned"] for e in direct["employees"]), params


def test_percentiles_are_within_the_documented_bound_of_the_exact_percentiles(org):
    random_history(org, 7, conversations=60)
    scope = aggregates.build_scope(org.admin, {}, now=BASE + dt.timedelta(days=8))
    report = aggregates.compute(scope)
    for stat in report["metrics"]:
        qs = scope.queryset.exclude(status__in=(65, 69)).filter(**{f"{stat['key']}__isnull": False})
        if stat["key"] in aggregates.INCOMING_ONLY:
            qs = qs.filter(type="incoming")
        values = list(qs.values_list(stat["key"], flat=True))
        assert stat["count"] == len(values)
        for p, name in ((0.5, "median"), (0.9, "p90")):
            assert histogram.within_bound(stat[name], histogram.exact_percentile(values, p)), stat
        if values:
            assert stat["average"] == round(sum(values) / len(values), 1)
    assert {m["key"] for m in report["metrics"]} == set(METRICS)


def test_filters_outside_rollup_keys_or_whole_hours_use_the_conversation_table(org):
    now = BASE
    for params in (
        {"client_rating": "like"},
        {"started_from": "2026-10-05T10:30:00+00:00"},
        {"started_to": "2026-10-05T10:00:00+00:00"},
        {"q": "hello"},
        {"connection": "1"},
    ):
        assert aggregates.build_scope(org.admin, params, now=now).rollup is None, params
    org.admin.time_zone = "Asia/Kolkata"
    org.admin.save()
    assert aggregates.build_scope(org.admin, {"line": str(org.line.pk)}, now=now).rollup is None
    assert aggregates.build_scope(org.supervisor, {"q": "hello"}, now=now).rollup is None


def test_a_new_tier_filled_by_its_migration_equals_the_tier_the_services_kept(org):
    """Migration stats/0014 fills the histograms by employee (tiers 11-13) from tier 0, one
    16-day span at a time: the same rows the services keep from then on."""
    random_history(org, 5, conversations=35)
    kept = _rollup_state()
    new = tuple(t.code for t in tiers.TIERS if not t.rows)
    assert new and RollupBucket.objects.filter(tier__in=new).exists()
    RollupBucket.objects.filter(tier__in=new).delete()
    assert _rollup_state() != kept
    rollups.fill_tiers(new)
    assert _rollup_state() == kept
