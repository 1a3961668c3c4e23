"""The rollup tiers: which projections of the hourly key are kept, and which ones answer a read.

Tier 0 is the full key at hourly resolution; it answers every rollup-eligible filter. The other
tiers drop dimensions and widen the period to a *span* of 1, 4 or 16 UTC days (spans are aligned
to the Unix epoch, so every 16-day span holds exactly four 4-day spans and each of those four
days). Every tier is written in the same upsert as tier 0 (services) or projected from tier 0
(rebuild), so all tiers always agree.

A read names what it needs (the filter's dimensions plus the grouping's). `plan` cuts the
range like a segment tree: the whole 16-day spans inside it from the widest tier that holds what
is needed, what is left at either end from 4-day spans, then days, then hours. A 30-day page
reads at most about a dozen periods per key instead of 30 days (or 720 hours), and at
10,000,000 conversations the wider spans hold hardly more rows than one day does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from convodesk.conversations.lifecycle import Status

DIMENSIONS = ("line", "channel", "responsible")
SENTINEL = {"line_id": 0, "channel": "", "responsible_key": -1}
HOUR = 3600
SPANS = (1, 24, 96, 384)  # hours; each divides the next
WIDEST = SPANS[-1]


def fold_status(status: int) -> int:
    """The status as far as the time metrics, the service level and the simple statuses care.

    Metrics leave out spam and duplicates, the service level leaves out spam, and the list's
    simple status filter (waiting, answered, closed: `lifecycle.SIMPLE_RANGES`) tells three
    ranges apart. A tier that folds statuses stores each open status as the first of its simple
    range (NEW or AGENT_REPLIED) and every other closed one as CLOSED: the same arithmetic reads
    it unchanged, and a simple status filter selects the same rows as on the exact statuses.
    """
    if status in (Status.SPAM, Status.DUPLICATE):
        return status
    if status >= Status.CLOSED:
        return int(Status.CLOSED)
    return int(Status.AGENT_REPLIED) if status >= Status.AGENT_REPLIED else int(Status.NEW)


@dataclass(frozen=True)
class Tier:
    code: int
    span: int  # hours
    dims: frozenset[str]
    buckets: bool = False  # keeps the metric histograms
    exact_status: bool = True  # False: statuses folded (fold_status): metrics, simple statuses
    rows: bool = True  # False: the histograms alone (RollupBucket), no Rollup rows

    def covers(self, needed: set[str], buckets: bool) -> bool:
        """`needed` names "status" for a read of exact statuses, "simple_status" for one that
        only filters by the simple statuses (which folded statuses keep apart). `buckets`: the
        read is of the histograms (RollupBucket), else of the Rollup rows."""
        return (
            (needed - {"type", "status", "simple_status"}) <= self.dims
            and (self.buckets if buckets else self.rows)
            and (self.exact_status or "status" not in needed)
        )

    def status_of(self, status: int) -> int:
        return status if self.exact_status else fold_status(status)


def _tiers() -> tuple[Tier, ...]:
    lines, employees, channel = (
        frozenset({"line", "channel"}),
        frozenset({"channel", "responsible"}),
        frozenset({"channel"}),
    )
    kept = [Tier(1, 1, channel), Tier(0, 1, frozenset(DIMENSIONS), buckets=True)]
    for span in SPANS[1:]:
        code = len(kept)
        kept += [
            Tier(code, span, channel, buckets=True, exact_status=False),  # metrics
            Tier(code + 1, span, lines),
            Tier(code + 2, span, employees),
        ]
    # The histograms by employee (a department supervisor's; an employee's at level own), so
    # that whole days of them no longer come from tier 0's hours. Codes are stored: new tiers
    # take the next ones.
    for span in SPANS[1:]:
        kept.append(Tier(len(kept), span, employees, buckets=True, exact_status=False, rows=False))
    return tuple(kept)


# Within a span, smallest first: the first tier that covers a read is the one to read.
TIERS = _tiers()
FULL = next(t for t in TIERS if t.code == 0)


def source_of(tier: Tier) -> Tier:
    """The tier a rebuild projects `tier` from: the same projection one span narrower, else tier 0."""
    narrower = [
        t
        for t in TIERS
        if t.span < tier.span
        and (t.dims, t.buckets, t.exact_status, t.rows)
        == (tier.dims, tier.buckets, tier.exact_status, tier.rows)
    ]
    return max(narrower, key=lambda t: t.span) if narrower else FULL


def floor_span(moment: dt.datetime, span: int) -> dt.datetime:
    seconds = int(moment.timestamp()) // (span * HOUR) * (span * HOUR)
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def ceil_span(moment: dt.datetime, span: int) -> dt.datetime:
    floor = floor_span(moment, span)
    return floor if floor == moment else floor + dt.timedelta(hours=span)


def floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def project(tier: Tier, key: tuple) -> tuple:
    """A tier-0 key (hour, line, channel, responsible, type, status) as the tier's key."""
    hour, line, channel, responsible, type_, status = key
    return (
        tier.code,
        floor_span(hour, tier.span),
        line if "line" in tier.dims else SENTINEL["line_id"],
        channel if "channel" in tier.dims else SENTINEL["channel"],
        responsible if "responsible" in tier.dims else SENTINEL["responsible_key"],
        type_,
        tier.status_of(status),
    )


@dataclass(frozen=True)
class Part:
    span: int | None  # None: below the narrowest span given (read some other way)
    start: dt.datetime | None  # inclusive, None: unbounded
    end: dt.datetime | None  # exclusive, None: unbounded


def cut(start: dt.datetime | None, end: dt.datetime | None, spans) -> list[Part]:
    """[start, end) as whole periods of the given spans, widest first, and what is left over."""
    if not spans:
        return [Part(None, start, end)] if start is None or end is None or start < end else []
    span, narrower = spans[-1], spans[:-1]
    first = ceil_span(start, span) if start is not None else None
    last = floor_span(end, span) if end is not None else None
    if first is not None and last is not None and first >= last:
        return cut(start, end, narrower)
    parts = [Part(span, first, last)]
    if start is not None and start < first:
        parts += cut(start, first, narrower)
    if end is not None and last < end:
        parts += cut(last, end, narrower)
    return parts


def plan(
    needed: set[str],
    start: dt.datetime | None,
    end: dt.datetime | None,
    buckets: bool = False,
    hourly: bool = False,
) -> list[tuple[Tier, dt.datetime | None, dt.datetime | None]]:
    """(tier, start, end) parts whose union is exactly [start, end) (whole hours) for a read.

    `needed` names the dimensions the read filters or groups by ("status" when it needs the
    exact status, "simple_status" when it filters by simple statuses only; type is in every
    tier). `hourly`: the read groups by hour (timeline, heatmap),
    so only hourly tiers may answer it.
    """
    chosen: dict[int, Tier] = {}
    for tier in TIERS:
        if tier.span not in chosen and tier.covers(needed, buckets):
            if tier.span == 1 or not hourly:
                chosen[tier.span] = tier
    wide = [s for s in SPANS[1:] if s in chosen]
    return [
        (chosen[part.span or 1], part.start, part.end)
        for part in cut(start, end, wide)
        if part.start is None or part.end is None or part.start < part.end
    ]
