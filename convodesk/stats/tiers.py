"""The rollup tiers: which projections of the hourly key are kept, and which one answers a question.

Tier 0 is the full key at hourly resolution; it answers every rollup-eligible filter. The other
tiers drop dimensions and/or widen the period to a UTC day, so a 30-day page reads a few
thousand rows instead of about one per conversation. Every tier is written in the same upsert as
tier 0 (services) or projected from tier 0 (rebuild), so all tiers always agree.

A read names the dimensions it needs (the filter's plus the grouping's). `plan` picks the
smallest hourly tier holding them and, when the range covers whole UTC days, the smallest daily
tier holding them for those days; the hours before the first and after the last whole day come
from the hourly tier. A viewer whose day does not start at UTC midnight therefore reads up to
two partial days hourly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DIMENSIONS = ("line", "channel", "responsible")
SENTINEL = {"line_id": 0, "channel": "", "responsible_key": -1}
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Tier:
    code: int
    period: str  # "hour" or "day"
    dims: frozenset[str]
    buckets: bool  # keeps the metric histograms

    def covers(self, needed: set[str], buckets: bool) -> bool:
        return needed <= self.dims and (self.buckets or not buckets)


# In order of preference: the first tier of a period that covers a read is the smallest.
TIERS = (
    Tier(4, "day", frozenset({"channel"}), buckets=True),
    Tier(2, "day", frozenset({"line", "channel"}), buckets=False),
    Tier(3, "day", frozenset({"channel", "responsible"}), buckets=False),
    Tier(1, "hour", frozenset({"channel"}), buckets=False),
    Tier(0, "hour", frozenset(DIMENSIONS), buckets=True),
)
FULL = TIERS[-1]
BUCKET_TIERS = tuple(t for t in TIERS if t.buckets)


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(moment: dt.datetime) -> dt.datetime:
    return floor_hour(moment).replace(hour=0)


def ceil_day(moment: dt.datetime) -> dt.datetime:
    day = floor_day(moment)
    return day if day == moment else day + DAY


def period_of(tier: Tier, moment: dt.datetime) -> dt.datetime:
    return floor_day(moment) if tier.period == "day" else floor_hour(moment)


def project(tier: Tier, key: tuple) -> tuple:
    """A tier-0 key (hour, line, channel, responsible, type, status) as the tier's key."""
    hour, line, channel, responsible, type_, status = key
    return (
        tier.code,
        period_of(tier, hour),
        line if "line" in tier.dims else SENTINEL["line_id"],
        channel if "channel" in tier.dims else SENTINEL["channel"],
        responsible if "responsible" in tier.dims else SENTINEL["responsible_key"],
        type_,
        status,
    )


@dataclass(frozen=True)
class Part:
    tier: Tier
    start: dt.datetime | None  # inclusive, None: unbounded
    end: dt.datetime | None  # exclusive, None: unbounded


def split_days(
    start: dt.datetime | None, end: dt.datetime | None
) -> tuple[tuple | None, list[tuple]]:
    """[start, end) as its whole UTC days (first, last) and the hour ranges around them.

    Without a whole day inside, the days are None and the one range is [start, end) itself.
    """
    first = ceil_day(start) if start is not None else None
    last = floor_day(end) if end is not None else None
    if first is not None and last is not None and first >= last:
        return None, [(start, end)]
    edges = []
    if start is not None and start < first:
        edges.append((start, first))
    if end is not None and last < end:
        edges.append((last, end))
    return (first, last), edges


def plan(
    needed: set[str],
    start: dt.datetime | None,
    end: dt.datetime | None,
    buckets: bool = False,
    hourly: bool = False,
) -> list[Part]:
    """The tier parts whose union is exactly [start, end) (whole hours) for a read of `needed`.

    `hourly`: the read groups by hour (timeline, heatmap), so no daily tier may answer it.
    Type and status are in every tier; only the other dimensions choose.
    """
    needed = set(needed) & set(DIMENSIONS)
    hour_tier = next(t for t in TIERS if t.period == "hour" and t.covers(needed, buckets))
    day_tier = next((t for t in TIERS if t.period == "day" and t.covers(needed, buckets)), None)
    if day_tier is None or hourly:
        return [Part(hour_tier, start, end)]
    days, edges = split_days(start, end)
    if days is None:
        return [Part(hour_tier, start, end)]
    return [Part(day_tier, *days), *(Part(hour_tier, *edge) for edge in edges)]
