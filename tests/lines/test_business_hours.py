"""Business seconds of a span (`lines.calendar`) against a slow, obviously correct count.

The reference asks the open channel's own `Line.within_working_hours` about every second (or,
for minute-aligned inputs, every minute times 60) of the span: random weekly hours, time zones
with daylight-saving changes (including half-hour ones), holidays, spans across the changes.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convodesk.lines.calendar import Calendar, business_seconds
from convodesk.lines.models import Line

pytestmark = pytest.mark.nodb

ZONES = [
    "UTC",
    "Europe/Madrid",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",  # a 30-minute change
    "Asia/Kolkata",
    "Pacific/Chatham",
]
# Near a daylight-saving change in at least one of the zones above.
ANCHORS = [
    dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC),  # Europe spring forward
    dt.datetime(2026, 10, 25, 0, 0, tzinfo=dt.UTC),  # Europe fall back
    dt.datetime(2026, 3, 8, 5, 0, tzinfo=dt.UTC),  # US spring forward
    dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC),  # US fall back
    dt.datetime(2026, 4, 4, 14, 0, tzinfo=dt.UTC),  # Lord Howe, Chatham, Santiago (April)
    dt.datetime(2026, 9, 5, 15, 0, tzinfo=dt.UTC),  # Santiago, Chatham (September)
    dt.datetime(2026, 7, 15, 12, 0, tzinfo=dt.UTC),  # no change anywhere near
]

hhmm = st.integers(0, 24 * 60).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
day_ranges = st.lists(st.tuples(hhmm, hhmm).map(sorted).map(list), max_size=3)
weekly = st.one_of(
    st.just({}),
    st.dictionaries(st.sampled_from([str(d) for d in range(7)]), day_ranges, max_size=7),
)


@st.composite
def calendars(draw):
    anchor = draw(st.sampled_from(ANCHORS))
    holidays = draw(
        st.lists(
            st.integers(-3, 6).map(lambda d: (anchor + dt.timedelta(days=d)).date()), max_size=3
        )
    )
    return Line(
        working_hours=draw(weekly),
        time_zone=draw(st.sampled_from(ZONES)),
        holidays=[d.isoformat() for d in holidays],
    ), anchor


def reference_seconds(line: Line, a: dt.datetime, b: dt.datetime, step: int = 1) -> int:
    total, t = 0, a
    while t < b:
        if line.within_working_hours(t):
            total += step
        t += dt.timedelta(seconds=step)
    return total


@settings(max_examples=60)
@given(
    calendars(),
    st.integers(-3 * 24 * 60, 3 * 24 * 60),
    st.integers(0, 4 * 24 * 60),
)
def test_business_minutes_equal_counting_each_minute(calendar_and_anchor, start, length):
    line, anchor = calendar_and_anchor
    a = anchor + dt.timedelta(minutes=start)
    b = a + dt.timedelta(minutes=length)
    calendar = Calendar.of_line(line)
    assert business_seconds(a, b, calendar) == reference_seconds(line, a, b, step=60)


@settings(max_examples=40)
@given(calendars(), st.integers(-36 * 3600, 36 * 3600), st.integers(0, 3 * 3600))
def test_business_seconds_equal_counting_each_second(calendar_and_anchor, start, length):
    line, anchor = calendar_and_anchor
    a = anchor + dt.timedelta(seconds=start)
    b = a + dt.timedelta(seconds=length)
    assert business_seconds(a, b, Calendar.of_line(line)) == reference_seconds(line, a, b)


@settings(max_examples=60)
@given(
    calendars(),
    st.integers(-3 * 24 * 60, 3 * 24 * 60),
    st.integers(0, 24 * 60),
    st.integers(0, 24 * 60),
)
def test_business_seconds_add_up_over_adjacent_spans(calendar_and_anchor, start, first, second):
    line, anchor = calendar_and_anchor
    calendar = Calendar.of_line(line)
    a = anchor + dt.timedelta(minutes=start)
    m = a + dt.timedelta(minutes=first, seconds=17)
    b = m + dt.timedelta(minutes=second)
    assert business_seconds(a, b, calendar) == business_seconds(a, m, calendar) + business_seconds(
        m, b, calendar
    )


@settings(max_examples=60)
@given(calendars(), st.integers(-3 * 24 * 60, 3 * 24 * 60), st.integers(1, 12 * 3600))
def test_adding_business_seconds_lands_where_the_count_reaches_them(
    calendar_and_anchor, start, seconds
):
    line, anchor = calendar_and_anchor
    calendar = Calendar.of_line(line)
    a = anchor + dt.timedelta(minutes=start)
    due = calendar.add_business_seconds(a, seconds)
    if due is None:
        assert business_seconds(a, a + dt.timedelta(days=30), calendar) < seconds
        return
    assert business_seconds(a, due, calendar) == seconds
    # and not a second earlier: the instant just before it is open
    assert line.within_working_hours(due - dt.timedelta(seconds=1))


def test_calendar_agrees_with_the_open_channel_instant_by_instant():
    line = Line(
        working_hours={"0": [["09:00", "13:00"], ["12:00", "17:30"]], "5": [["10:00", "24:00"]]},
        time_zone="Europe/Madrid",
        holidays=["2026-10-26"],
    )
    calendar = Calendar.of_line(line)
    t = dt.datetime(2026, 10, 24, 0, 0, tzinfo=dt.UTC)
    while t < dt.datetime(2026, 11, 3, tzinfo=dt.UTC):
        assert calendar.is_open(t) == line.within_working_hours(t), t
        t += dt.timedelta(minutes=7)
