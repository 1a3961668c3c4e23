"""An open channel's business calendar as a pure value, and the business seconds of a span.

An instant is *open* when its wall-clock time in the calendar's time zone falls inside one of
that weekday's ranges and its local date is not a holiday; a calendar without weekly hours is
open all the time except on holidays. This is exactly `Line.within_working_hours`, measured:
`business_seconds(a, b)` is the length of the open part of [a, b).

Wall-clock ranges follow the zone's daylight-saving changes: a 09:00–17:00 day is 8 hours on
most days, and the span of a range that a change cuts into is what the clock shows (the hour
skipped in spring is never open, the hour repeated in autumn is open twice if in range).

The computation walks the span in pieces of constant UTC offset (found by sampling the offset
and bisecting to the second where it changes), so each piece's wall-clock time is a plain shift
of UTC, and intersects each piece with the day ranges: cost grows with the number of days, not
seconds.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

DAY_MINUTES = 24 * 60
_SAMPLE = dt.timedelta(hours=6)  # offsets change far less often than this
_HORIZON = dt.timedelta(days=400)  # how far `add_business_seconds` looks for open time


def _minutes(text: str) -> int | None:
    try:
        hours, minutes = str(text).split(":")
        value = int(hours) * 60 + int(minutes)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= DAY_MINUTES and 0 <= int(minutes) < 60 else None


def _merge(ranges) -> tuple[tuple[int, int], ...]:
    merged: list[list[int]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def zone_of(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return dt.UTC


@dataclass(frozen=True)
class Calendar:
    """Weekly ranges in minutes from local midnight (Monday first), the zone and the holidays."""

    week: tuple[tuple[tuple[int, int], ...], ...] = (((0, DAY_MINUTES),),) * 7
    zone: str = "UTC"
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def of(cls, working_hours, time_zone="UTC", holidays=()) -> Calendar:
        """From the open channel's settings (`working_hours`, `time_zone`, `holidays`)."""
        if not working_hours:
            week = (((0, DAY_MINUTES),),) * 7
        else:
            days = []
            for weekday in range(7):
                ranges = []
                for pair in working_hours.get(str(weekday), []) or []:
                    try:
                        start, end = (_minutes(p) for p in pair)
                    except (TypeError, ValueError):
                        continue
                    if start is not None and end is not None:
                        ranges.append((start, end))
                days.append(_merge(ranges))
            week = tuple(days)
        dates = set()
        for text in holidays or ():
            try:
                dates.add(dt.date.fromisoformat(str(text)))
            except ValueError:
                continue
        return cls(week=week, zone=str(time_zone or "UTC"), holidays=frozenset(dates))

    @classmethod
    def of_line(cls, line) -> Calendar:
        return cls.of(line.working_hours, line.time_zone, line.holidays)

    @property
    def tz(self) -> dt.tzinfo:
        return zone_of(self.zone)

    def is_open(self, at: dt.datetime) -> bool:
        local = at.astimezone(self.tz)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(s <= minute < e for s, e in self.week[local.weekday()])

    # Walking the open time

    def _pieces(self, a: dt.datetime, b: dt.datetime):
        """[a, b) cut where the zone's UTC offset changes: (start, end, offset) in UTC.

        Zone changes happen at whole seconds: sample every few hours, and where the offset
        differs bisect over whole epoch seconds to the first second of the new offset."""
        tz = self.tz

        def offset_at(seconds: int):
            return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone(tz).utcoffset()

        start, offset = a, a.astimezone(tz).utcoffset()
        probe = a
        while probe < b:
            probe = min(b, probe + _SAMPLE)
            if probe.astimezone(tz).utcoffset() == offset:
                continue
            low, high = math.floor(start.timestamp()), math.ceil(probe.timestamp())
            while high - low > 1:  # offset_at(low) == offset != offset_at(high)
                mid = (low + high) // 2
                if offset_at(mid) == offset:
                    low = mid
                else:
                    high = mid
            change = max(start, dt.datetime.fromtimestamp(high, dt.UTC))
            if change > start:
                yield start, change, offset
            start, offset, probe = change, change.astimezone(tz).utcoffset(), change
        if start < b:
            yield start, b, offset

    def open_intervals(
        self, a: dt.datetime, b: dt.datetime
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The open parts of [a, b) as UTC intervals, in order."""
        if a is None or b is None or b <= a:
            return
        a, b = a.astimezone(dt.UTC), b.astimezone(dt.UTC)
        for start, end, offset in self._pieces(a, b):
            wall_start = (start + offset).replace(tzinfo=None)
            wall_end = (end + offset).replace(tzinfo=None)
            day = wall_start.date()
            while dt.datetime.combine(day, dt.time()) < wall_end:
                if day not in self.holidays:
                    midnight = dt.datetime.combine(day, dt.time())
                    for s, e in self.week[day.weekday()]:
                        lo = max(wall_start, midnight + dt.timedelta(minutes=s))
                        hi = min(wall_end, midnight + dt.timedelta(minutes=e))
                        if lo < hi:
                            yield (
                                (lo - offset).replace(tzinfo=dt.UTC),
                                (hi - offset).replace(tzinfo=dt.UTC),
                            )
                day += dt.timedelta(days=1)

    def add_business_seconds(self, start: dt.datetime, seconds: int) -> dt.datetime | None:
        """The instant at which [start, instant) holds `seconds` of open time (None: the
        calendar is not open that long within a year)."""
        if seconds <= 0:
            return start
        left = dt.timedelta(seconds=seconds)
        for lo, hi in self.open_intervals(start, start + _HORIZON):
            if hi - lo >= left:
                return lo + left
            left -= hi - lo
        return None


ALWAYS = Calendar()


def business_seconds(
    a: dt.datetime | None, b: dt.datetime | None, calendar: Calendar
) -> int | None:
    """Whole seconds of [a, b) inside the calendar (floor, never negative); None if either end is."""
    if a is None or b is None:
        return None
    total = dt.timedelta()
    for lo, hi in calendar.open_intervals(a, b):
        total += hi - lo
    return max(0, math.floor(total.total_seconds()))
