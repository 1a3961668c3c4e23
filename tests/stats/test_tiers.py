"""How a range is cut into rollup periods, and which tier answers which read."""

import datetime as dt
import random

import pytest

from convodesk.conversations.lifecycle import Status, simple_status
from convodesk.stats import tiers

pytestmark = pytest.mark.nodb

EPOCH_ALIGNED = dt.datetime(2026, 10, 26, tzinfo=dt.UTC)  # a 16-day span starts here


def _hours(parts):
    """Every hour each part covers, as (hour, part index), within a finite window."""
    window = (EPOCH_ALIGNED - dt.timedelta(days=80), EPOCH_ALIGNED + dt.timedelta(days=80))
    covered = []
    for i, part in enumerate(parts):
        start = part.start or window[0]
        end = part.end or window[1]
        if part.span is not None:
            assert tiers.floor_span(start, part.span) == start or part.start is None
            assert tiers.floor_span(end, part.span) == end or part.end is None
        hour = start
        while hour < end:
            covered.append((hour, i))
            hour += dt.timedelta(hours=1)
    return covered


def test_a_16_day_span_boundary_is_aligned_to_the_epoch():
    assert tiers.floor_span(EPOCH_ALIGNED + dt.timedelta(days=5), 384) == EPOCH_ALIGNED
    assert tiers.floor_span(EPOCH_ALIGNED + dt.timedelta(hours=5), 24) == EPOCH_ALIGNED


def test_cut_covers_every_hour_of_the_range_exactly_once_with_whole_periods():
    rng = random.Random(11)
    for _ in range(300):
        start = EPOCH_ALIGNED + dt.timedelta(hours=rng.randrange(-60 * 24, 60 * 24))
        end = start + dt.timedelta(hours=rng.randrange(1, 50 * 24))
        if rng.random() < 0.1:
            start = None
        if rng.random() < 0.1:
            end = None
        parts = tiers.cut(start, end, tiers.SPANS[1:])
        covered = _hours(parts)
        hours = [h for h, _i in covered]
        assert len(hours) == len(set(hours)), "a period is counted twice"
        lo = start or EPOCH_ALIGNED - dt.timedelta(days=80)
        hi = end or EPOCH_ALIGNED + dt.timedelta(days=80)
        assert min(hours) == lo and max(hours) == hi - dt.timedelta(hours=1)
        assert len(hours) == (hi - lo) // dt.timedelta(hours=1)


def test_a_30_day_range_reads_a_handful_of_periods_not_720_hours():
    start = EPOCH_ALIGNED - dt.timedelta(days=7, hours=5)
    parts = tiers.cut(start, start + dt.timedelta(days=30), tiers.SPANS[1:])
    assert len(parts) <= 14
    assert {p.span for p in parts} == {None, 24, 96, 384}


def test_each_read_goes_to_the_smallest_tier_holding_what_it_needs():
    start, end = EPOCH_ALIGNED, EPOCH_ALIGNED + dt.timedelta(days=16)

    def tier_of(needed, **kw):
        ((tier, _s, _e),) = tiers.plan(needed, start, end, **kw)
        return tier

    assert tier_of({"line", "channel", "status"}).dims == {"line", "channel"}
    assert tier_of({"responsible", "status"}).dims == {"channel", "responsible"}
    assert tier_of(set(), buckets=True).exact_status is False
    # An exact status or a line in the filter: only tier 0 keeps buckets for those, at hourly
    # resolution.
    assert tier_of({"status"}, buckets=True) is tiers.FULL
    assert tier_of({"line"}, buckets=True) is tiers.FULL
    assert tier_of({"responsible", "status"}, buckets=True) is tiers.FULL
    # A department's histograms (responsible employee in the department), also of simple
    # statuses, come from 16-day spans by employee, not from the 384 hours of tier 0.
    by_employee = tier_of({"responsible", "simple_status"}, buckets=True)
    assert by_employee.span == 384 and "responsible" in by_employee.dims
    # That tier keeps no Rollup rows: the employees' rows come from the exact-status one.
    assert by_employee.rows is False
    assert tier_of({"responsible", "status"}).exact_status is True
    # The timeline and heatmap need hours.
    assert tiers.plan(set(), start, end, hourly=True)[0][0].span == 1


def test_folded_statuses_keep_what_metrics_the_service_level_and_simple_statuses_need():
    assert tiers.fold_status(Status.SPAM) == Status.SPAM
    assert tiers.fold_status(Status.DUPLICATE) == Status.DUPLICATE
    assert {tiers.fold_status(s) for s in Status if s not in (Status.SPAM, Status.DUPLICATE)} == {
        Status.NEW,
        Status.AGENT_REPLIED,
        Status.CLOSED,
    }
    # Each status folds into its own simple status: a simple status filter keeps the same rows.
    for status in Status:
        assert simple_status(tiers.fold_status(status)) == simple_status(status), status


def test_a_simple_status_filter_reads_the_histograms_of_the_folded_tiers():
    start, end = EPOCH_ALIGNED, EPOCH_ALIGNED + dt.timedelta(days=32)
    for needed in ({"simple_status"}, {"simple_status", "channel", "type"}):
        parts = tiers.plan(needed, start, end, buckets=True)
        assert {tier.span for tier, _s, _e in parts} == {384}
        assert all(not tier.exact_status for tier, _s, _e in parts)
    # Exact statuses still come from tier 0 only.
    assert {t for t, _s, _e in tiers.plan({"status"}, start, end, buckets=True)} == {tiers.FULL}


def test_the_hours_of_a_read_without_line_or_employee_come_from_the_small_hourly_tier():
    start = EPOCH_ALIGNED + dt.timedelta(hours=3)
    ((tier, _s, _e),) = tiers.plan({"channel", "status"}, start, start + dt.timedelta(hours=5))
    assert tier.span == 1 and tier.dims == {"channel"}
    assert tiers.plan({"channel"}, start, None, hourly=True)[0][0].dims == {"channel"}
