"""The statistics of a filtered set of conversations (SPEC "Statistics page").

Scope: exactly the list's — `Conversation.objects.visible_to(user, "stats")` narrowed by the one
`ConversationFilter` — so the total equals the list's count for the same user and filter.
Figures come from the rollups (tiers.py: hourly, and by spans of 1, 4 and 16 days) when the
filter uses only rollup keys and whole hours: at level *all* all of them, for a viewer who sees
through employees (department, own) those of the conversations their employees are responsible
for, plus the few other visible ones from the table (sources.SplitSource); otherwise from the
conversation table; `sources.py` gives both the same shape, and everything below is shared
arithmetic.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from convodesk import display
from convodesk.conversations import lifecycle
from convodesk.conversations.columns import COLUMNS, INCOMING_METRIC_KEYS
from convodesk.conversations.filters import ConversationFilter, scope_tz
from convodesk.conversations.models import Conversation
from convodesk.conversations.normalize import parse_id
from convodesk.conversations.visibility import granting_rows, scope_for, withheld_rows
from convodesk.lines.models import Connection, Line

from . import histogram
from .models import METRICS, LabelRollup
from .sources import (
    CLOSED_CODES,
    SPAM,
    DirectSource,
    RollupFilter,
    RollupSource,
    Sight,
    SplitSource,
    materialized,
    started_between,
)

Status = lifecycle.Status
INCOMING_ONLY = (*INCOMING_METRIC_KEYS, *(f"{m}_bh" for m in INCOMING_METRIC_KEYS))
ROLLUP_PARAMS = frozenset(
    {
        "line",
        "channel",
        "responsible",
        "type",
        "status",
        "status_detail",
        "started_from",
        "started_to",
        "sort",
    }
)
INTERVALS = ("hour", "day", "week", "month")
MAX_POINTS = 800
PAGE_PARAMS = ("interval", "sl")


def metric_labels() -> dict[str, str]:
    """The metrics' names as the conversation list's columns show them."""
    return {m: str(COLUMNS[m].label) for m in METRICS}


def metric_eligible(metric: str, status: int, type_: str) -> bool:
    """The four metrics leave out spam and duplicates; the first two leave out outgoing ones."""
    if status in (Status.SPAM, Status.DUPLICATE):
        return False
    return type_ == lifecycle.INCOMING or metric not in INCOMING_ONLY


class Tally:
    """Sums of rollup-shaped rows (each carrying its status and type) and the KPIs they give."""

    PLAIN = (
        "returning",
        "likes",
        "dislikes",
        "supervisor_rating_n",
        "supervisor_rating_sum",
        "reply_n",
        "reply_sum",
        "reply_bh_sum",
        "sla_met",
        "sla_breaches",
    )

    def __init__(self):
        self.v: dict[str, int] = defaultdict(int)

    def add(self, row: dict) -> None:
        v, n = self.v, row["n"]
        counted, summed = _row_plan(row["status"], row["type"])
        for key in counted:
            v[key] += n
        for key, column in summed:
            v[key] += row[column]

    def __getitem__(self, key):
        return self.v[key]

    @staticmethod
    def ratio(part, whole, scale=100.0):
        return round(part * scale / whole, 1) if whole else None

    @staticmethod
    def mean(total, count):
        return round(total / count, 1) if count else None

    def sla(self) -> dict:
        """Reply-time targets: waits answered in time, breaches, and the share in time."""
        met, breaches = self.v["sla_met"], self.v["sla_breaches"]
        return {
            "sla_met": met,
            "sla_breaches": breaches,
            "sla_compliance": self.ratio(met, met + breaches),
        }

    def summary(self) -> dict:
        v = self.v
        return {
            "conversations": v["total"],
            "new": v["total"] - v["returning"],
            "returning": v["returning"],
            "closed": v["closed"],
            "spam": v["spam"],
            "likes": v["likes"],
            "dislikes": v["dislikes"],
            "satisfaction": self.ratio(v["likes"], v["likes"] + v["dislikes"]),
            "supervisor_rating_avg": self.mean(
                v["supervisor_rating_sum"], v["supervisor_rating_n"]
            ),
            "reply_time_avg": self.mean(v["reply_sum"], v["reply_n"]),
            "reply_time_avg_bh": self.mean(v["reply_bh_sum"], v["reply_n"]),
            **self.sla(),
            "agent_response_time_avg": self.mean(
                v["agent_response_time_sum"], v["agent_response_time_n"]
            ),
            "first_answer_wait_avg": self.mean(
                v["first_answer_wait_sum"], v["first_answer_wait_n"]
            ),
        }


@functools.cache
def _status_keys(status: int, type_: str) -> tuple[str, ...]:
    keys = ["total", "incoming" if type_ == lifecycle.INCOMING else "outgoing"]
    if status < Status.CLOSED:
        keys.append("in_work")
    elif status == SPAM:
        keys.append("spam")
    else:
        keys.append("closed")
    keys += {
        Status.AUTO_CLOSED: ["auto_closed"],
        Status.CLOSED: ["closed_by_employee"],
        Status.DUPLICATE: ["duplicates"],
    }.get(status, [])
    return tuple(keys)


@functools.cache
def _row_plan(status: int, type_: str) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """What one row of this status and type adds to a Tally: the keys that count its
    conversations, and (key, column) pairs that add one of its columns. Worked out once per
    status and type: the employee table sums thousands of rows a page."""
    counted = list(_status_keys(status, type_))
    summed = [(c, c) for c in Tally.PLAIN]
    for m, has, total in _eligible_metrics(status, type_):
        counted.append(f"{m}_eligible")
        summed += [(has, has), (total, total)]
    if type_ == lifecycle.INCOMING and status != SPAM:
        counted.append("sl_incoming")
        summed += [("sl_taken", "agent_response_time_n"), ("sl_answered", "first_answer_wait_n")]
    return tuple(counted), tuple(summed)


@functools.cache
def _eligible_metrics(status: int, type_: str) -> tuple[tuple[str, str, str], ...]:
    return tuple((m, f"{m}_n", f"{m}_sum") for m in METRICS if metric_eligible(m, status, type_))


@dataclass
class Scope:
    user: object
    filter: ConversationFilter
    tz: dt.tzinfo
    now: dt.datetime
    queryset: object
    rollup: RollupFilter | None
    service_level: int = histogram.DEFAULT_SERVICE_LEVEL
    interval: str | None = None
    errors: dict = field(default_factory=dict)
    # The employees through whose participant rows the viewer sees (level department or own);
    # None at level all. With `rollup`, the figures come from a SplitSource.
    employees: frozenset[int] | None = None


def build_scope(user, params, now=None) -> Scope:
    tz = scope_tz(user)
    now = now or timezone.now()
    flt = ConversationFilter(params, tz=tz, now=now)
    errors = dict(flt.errors)
    service_level = histogram.DEFAULT_SERVICE_LEVEL
    raw_sl = str(params.get("sl", "") or "").strip()
    if raw_sl:
        chosen = parse_id(raw_sl)
        if chosen in histogram.SERVICE_LEVEL_CHOICES:
            service_level = chosen
        else:
            errors["sl"] = _("The service level threshold must be one of %(choices)s seconds.") % {
                "choices": ", ".join(str(c) for c in histogram.SERVICE_LEVEL_CHOICES)
            }
    interval = str(params.get("interval", "") or "").strip() or None
    if interval and interval not in INTERVALS:
        errors["interval"] = _("Unknown interval “%(value)s”.") % {"value": interval}
        interval = None
    queryset = flt.filter(Conversation.objects.visible_to(user, "stats", shape="set"))
    kind, ids = scope_for(user, "stats")
    rollup = None
    if kind in ("all", "employees") and not errors:
        rollup = rollup_condition(flt, params, tz, now)
    employees = frozenset(ids) if kind == "employees" else None
    return Scope(user, flt, tz, now, queryset, rollup, service_level, interval, errors, employees)


def _whole_hour(moment: dt.datetime) -> bool:
    utc = moment.astimezone(dt.UTC)
    return utc.minute == 0 and utc.second == 0 and utc.microsecond == 0


def rollup_condition(flt: ConversationFilter, params, tz, now) -> RollupFilter | None:
    """The filter as conditions on rollup rows, or None when rollups cannot answer it exactly."""
    if any(key not in ROLLUP_PARAMS for key in flt.cleaned):
        return None
    probes = [now] + [flt.cleaned[k] for k in ("started_from", "started_to") if k in flt.cleaned]
    if any(tz.utcoffset(p.replace(tzinfo=None)).total_seconds() % 3600 for p in probes):
        return None  # the viewer's hours do not line up with UTC hours
    q, on_days, uses = Q(), Q(), set()
    people: Q | None = Q()  # the same on Participation, while it can answer it
    c = flt.cleaned
    if "line" in c:
        q &= Q(line_id__in=c["line"])
        people &= Q(line_id__in=c["line"])
        uses.add("line")
    if "channel" in c:
        q &= Q(channel__in=c["channel"])
        on_days &= Q(channel__in=c["channel"])
        uses.add("channel")
    if "type" in c:
        q &= Q(type__in=c["type"])
        on_days &= Q(type__in=c["type"])
        uses.add("type")
    if "responsible" in c:
        q &= Q(responsible_key__in=[i or 0 for i in c["responsible"]])
        uses.add("responsible")
        people = None
    if "status" in c:
        simple = Q()
        codes = set()
        for name in c["status"]:
            low, high = lifecycle.SIMPLE_RANGES[name]
            simple |= Q(status__gte=low, status__lte=high)
            codes |= {s for s in Status if low <= s <= high}
        q &= simple
        uses.add("simple_status")
        people = _open_or_closed(people, codes)
    if "status_detail" in c:
        codes = {lifecycle.STATUS_BY_KEY[k] for k in c["status_detail"]}
        q &= Q(status__in=[int(code) for code in codes])
        uses.add("status")
        people = _open_or_closed(people, codes)
    start = end = None
    if "started_from" in c:
        if not _whole_hour(c["started_from"]):
            return None
        start = c["started_from"].astimezone(dt.UTC)
    if "started_to" in c:
        raw = str(params.get("started_to", ""))
        if "T" in raw or " " in raw or not _whole_hour(c["started_to"]):
            return None  # an inclusive instant cannot be cut at an hour boundary
        end = c["started_to"].astimezone(dt.UTC)
    # The line, responsible and status conditions on conversations too, as the list writes them.
    narrowing = flt.condition_on(("line", "responsible", "status", "status_detail"))
    people = None if people is None else people & on_days
    return RollupFilter(q, frozenset(uses), start, end, on_days, narrowing, people)


def _open_or_closed(people: Q | None, codes: set) -> Q | None:
    """`people` narrowed to statuses `codes` as far as Participation keeps them (open or
    closed), or None when the codes split one of the two."""
    if people is None:
        return None
    closed = {code >= lifecycle.OPEN_BELOW for code in codes}
    kept = {code for code in Status if (code >= lifecycle.OPEN_BELOW) in closed}
    if codes != kept:
        return None
    return people & Q(closed=closed.pop()) if len(closed) == 1 else people


def rollup_total(user, flt: ConversationFilter) -> int | None:
    """How many conversations `user` sees under `flt`, summed from the rollups when they hold
    it exactly: a viewer at level all and a filter the statistics page would answer from them
    (rollup keys, whole hours: rollup_condition); else None.

    The services keep the rollups in the transaction that changes the conversation, so this is
    the count of the rows, read from a few hundred rollup rows instead of every matching
    conversation (the list's and the API's total, exact where counting would stop at the
    threshold or the statement timeout)."""
    kind, _ids = scope_for(user, "view")
    if kind != "all" or not flt.is_valid():
        return None
    rollup = rollup_condition(flt, flt.raw, flt.tz, flt.now)
    return None if rollup is None else RollupSource.total(rollup)


def compute(scope: Scope) -> dict:
    if scope.rollup is not None and scope.employees is not None:
        with SplitSource(scope.rollup, sight(scope)) as source:
            return _compute(scope, source)
    if scope.rollup is not None:
        everything = Conversation.objects.visible_to(scope.user, "stats", shape="set")
        with RollupSource(scope.rollup, scope.queryset, everything) as source:
            return _compute(scope, source)
    with materialized(scope.queryset, figures=True) as conversations:
        return _compute(scope, DirectSource(conversations))


def sight(scope: Scope) -> Sight:
    """How a viewer below level all sees the statistics' range, from their participant rows:
    they carry the conversation's `started_at`, and the partial indexes `participant_own` and
    `participant_withheld` hold each employee's in that order, so the visible set is found from
    the rows' range rather than by probing every conversation of the range."""
    start, end = scope.rollup.start, scope.rollup.end
    granting = started_between(granting_rows(scope.user, "stats")[0], start, end)
    withheld = started_between(withheld_rows(scope.user, "stats"), start, end)

    def among(rows):
        return scope.filter.filter(
            Conversation.objects.filter(pk__in=rows.values("conversation_id"))
        )

    return Sight(
        employees=sorted(scope.employees),
        granting=granting,
        withheld=withheld,
        visible=among(granting),
        # Seen through a row that is not the responsible's (X is among them).
        candidates=among(granting.filter(is_responsible=False)),
        # Whoever sees them: only to find the hidden conversations whose figures Participation
        # holds and the page must leave out (SplitSource.participation); nothing of them is shown.
        matching=scope.filter.filter(Conversation.objects.all()) if scope.rollup.uses else None,
    )


def _compute(scope: Scope, source) -> dict:
    # Two groupings rather than one over every dimension: line x channel has a few hundred
    # combinations, responsible a few thousand; their product had tens of thousands of rows.
    totals = Tally()
    by_line, by_channel, by_responsible = defaultdict(Tally), defaultdict(Tally), defaultdict(Tally)
    for row in source.rows(("line", "channel", "status", "type")):
        totals.add(row)
        by_line[row["line"]].add(row)
        by_channel[row["channel"]].add(row)
    for row in source.rows(("responsible", "status", "type")):
        by_responsible[row["responsible"]].add(row)
    hist = source.histograms()
    slots = source.slots()
    cutoff = scope.now - dt.timedelta(seconds=scope.service_level)
    open_old = source.open_before(cutoff)
    report = {
        "source": "rollups" if source.is_rollup else "conversations",
        "kpis": kpis(totals, hist, open_old, scope.service_level),
        "metrics": metric_stats(totals, hist),
        "lines": breakdown_lines(by_line),
        "channels": breakdown_channels(by_channel),
        "tags": breakdown_labels(source, LabelRollup.KIND_TAG),
        "close_reasons": breakdown_labels(source, LabelRollup.KIND_REASON),
        "employees": employee_table(scope, by_responsible, source),
    }
    interval, points = timeline(slots, scope, source.slot_size)
    report["interval"] = interval
    report["timeline"] = points
    report["heatmap"] = heatmap(slots, scope.tz)
    return report


def kpis(t: Tally, hist: dict, open_old: dict, n: int) -> dict:
    edge = histogram.upper_bucket(n)
    within = {m: 0 for m in INCOMING_ONLY}
    for (metric, bucket, status, type_), count in hist.items():
        name = METRICS[metric]
        if name in within and type_ == lifecycle.INCOMING and status != SPAM and bucket <= edge:
            within[name] += count
    taken_base = t["sl_taken"] + open_old["agent_response_time"]
    answered_base = t["sl_answered"] + open_old["first_answer_wait"]
    rated = t["likes"] + t["dislikes"]
    return {
        "conversations": t["total"],
        "in_work": t["in_work"],
        "closed": t["closed"],
        "spam": t["spam"],
        "incoming": t["incoming"],
        "outgoing": t["outgoing"],
        "new": t["total"] - t["returning"],
        "returning": t["returning"],
        "likes": t["likes"],
        "dislikes": t["dislikes"],
        "not_rated": t["total"] - rated,
        "satisfaction": Tally.ratio(t["likes"], rated),
        "supervisor_rating_avg": Tally.mean(t["supervisor_rating_sum"], t["supervisor_rating_n"]),
        "supervisor_rated": t["supervisor_rating_n"],
        "auto_closed": t["auto_closed"],
        "closed_by_employee": t["closed_by_employee"],
        "duplicates": t["duplicates"],
        "reply_time_avg": Tally.mean(t["reply_sum"], t["reply_n"]),
        "reply_periods": t["reply_n"],
        "reply_time_avg_bh": Tally.mean(t["reply_bh_sum"], t["reply_n"]),
        **t.sla(),
        "service_level_seconds": n,
        "service_level": Tally.ratio(within["agent_response_time"], taken_base),
        "taken_within": within["agent_response_time"],
        "service_level_base": taken_base,
        "answered_within_share": Tally.ratio(within["first_answer_wait"], answered_base),
        "answered_within": within["first_answer_wait"],
        "answered_within_base": answered_base,
    }


def metric_stats(t: Tally, hist: dict) -> list[dict]:
    per_metric: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (metric, bucket, status, type_), count in hist.items():
        if metric_eligible(METRICS[metric], status, type_):
            per_metric[metric][bucket] += count
    labels = metric_labels()
    result = []
    for index, m in enumerate(METRICS):
        counts = per_metric.get(index, {})
        result.append(
            {
                "key": m,
                "label": labels[m],
                "count": t[f"{m}_n"],
                "without_value": t[f"{m}_eligible"] - t[f"{m}_n"],
                "average": Tally.mean(t[f"{m}_sum"], t[f"{m}_n"]),
                "median": histogram.percentile(counts, 0.5),
                "p90": histogram.percentile(counts, 0.9),
            }
        )
    return result


def _breakdown_row(tally: Tally) -> dict:
    s = tally.summary()
    s["in_work"] = tally["in_work"]
    return s


def breakdown_lines(by_line: dict) -> list[dict]:
    names = dict(Line.objects.filter(pk__in=list(by_line)).values_list("pk", "name"))
    rows = [
        {"id": pk, "name": names.get(pk, f"#{pk}"), **_breakdown_row(t)}
        for pk, t in by_line.items()
    ]
    return sorted(rows, key=lambda r: (-r["conversations"], r["name"]))


def breakdown_labels(source, kind: str) -> list[dict]:
    """Per tag or per close reason: the breakdown's counts and the four time metrics' averages."""
    from convodesk.conversations.models import Tag
    from convodesk.lines.models import CloseReason

    by_label: dict = defaultdict(Tally)
    for row in source.label_rows(kind):
        by_label[row["label"]].add(row)
    if kind == LabelRollup.KIND_TAG:
        found = Tag.objects.filter(pk__in=list(by_label)).values_list("pk", "name", "colour")
        names = {pk: (name, colour) for pk, name, colour in found}
    else:
        found = CloseReason.objects.filter(pk__in=list(by_label)).select_related("line")
        names = {r.pk: (f"{r.name} ({r.line.name})", "") for r in found}
    rows = []
    for pk, t in by_label.items():
        name, colour = names.get(pk, (f"#{pk}", ""))
        row = {"id": pk, "name": name, **_breakdown_row(t)}
        if kind == LabelRollup.KIND_TAG:
            row["colour"] = colour
        for m in METRICS:
            row[f"{m}_avg"] = Tally.mean(t[f"{m}_sum"], t[f"{m}_n"])
        rows.append(row)
    return sorted(rows, key=lambda r: (-r["conversations"], r["name"]))


def breakdown_channels(by_channel: dict) -> list[dict]:
    labels = dict(Connection.Kind.choices)
    rows = [
        {"key": k, "name": str(labels.get(k, k)), **_breakdown_row(t)}
        for k, t in by_channel.items()
    ]
    return sorted(rows, key=lambda r: (-r["conversations"], r["name"]))


def visible_employee_ids(user) -> set[int] | None:
    """None means every employee (level all)."""
    kind, ids = scope_for(user, "stats")
    if kind == "all":
        return None
    return set(ids or ())


def employee_table(scope: Scope, by_responsible: dict, source) -> list[dict]:
    visible = visible_employee_ids(scope.user)
    figures = source.participation(visible)
    # An employee is listed for a figure, not for a row of zeros (a widened read less the
    # left-out conversations can leave one; so can a participant who only joined).
    ids = {k for k, f in figures.items() if any(f.values())}
    ids |= {k for k in by_responsible if k is not None}
    if visible is not None:
        ids &= visible
    users = get_user_model().objects.filter(pk__in=ids, is_integration=False)
    rows = []
    for user in users:
        tally = by_responsible.get(user.pk, Tally())
        p = figures.get(user.pk, {})
        summary = tally.summary()
        rows.append(
            {
                "id": user.pk,
                "name": user.name,
                **summary,
                "assigned": p.get("assigned", 0),
                "taken": p.get("taken", 0),
                "skipped": p.get("skipped", 0),
                "answered": p.get("answered", 0),
                "reply_time_avg": Tally.mean(p.get("reply_sum", 0), p.get("reply_n", 0)),
                "reply_periods": p.get("reply_n", 0),
                # The reply periods the employee ended, as reply_time_avg (not the ones of the
                # conversations they were responsible for).
                "reply_time_avg_bh": Tally.mean(p.get("reply_bh_sum", 0), p.get("reply_n", 0)),
            }
        )
    return sorted(rows, key=lambda r: (-r["conversations"], r["name"].lower()))


# Time ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)  # a long range's slots fall on the same few hundred days
def _day_start(day: dt.date, interval: str) -> dt.datetime:
    start = dt.datetime.combine(day, dt.time())
    if interval == "week":
        return start - dt.timedelta(days=start.weekday())
    return start.replace(day=1) if interval == "month" else start


def _truncate(local: dt.datetime, interval: str) -> dt.datetime:
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return _day_start(local.date(), interval).replace(tzinfo=local.tzinfo)


def _step(local: dt.datetime, interval: str, tz) -> dt.datetime:
    naive = local.replace(tzinfo=None)
    if interval == "hour":
        return (local.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(tz)
    if interval == "day":
        naive += dt.timedelta(days=1)
    elif interval == "week":
        naive += dt.timedelta(days=7)
    else:
        naive = (naive.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return naive.replace(tzinfo=tz)


def choose_interval(span: dt.timedelta) -> str:
    if span <= dt.timedelta(days=3):
        return "hour"
    if span <= dt.timedelta(days=92):
        return "day"
    if span <= dt.timedelta(days=366):
        return "week"
    return "month"


def timeline(slots: list[dict], scope: Scope, slot_size: int) -> tuple[str, list[dict]]:
    c = scope.filter.cleaned
    starts = [s["at"] for s in slots]
    start = c.get("started_from") or (min(starts) if starts else None)
    end = c.get("started_to") or max(
        [scope.now, *(s + dt.timedelta(seconds=slot_size) for s in starts)]
    )
    if start is None:
        return scope.interval or "day", []
    if starts and _count_points(start, end, "month", scope.tz) > MAX_POINTS:
        # An open-ended or absurd range: chart the span that has data instead.
        start, end = (
            max(start, min(starts)),
            min(end, max(starts) + dt.timedelta(seconds=slot_size)),
        )
    span = end - start
    interval = scope.interval or choose_interval(span)
    order = INTERVALS.index(interval)
    while (
        order < len(INTERVALS) - 1
        and _count_points(start, end, INTERVALS[order], scope.tz) > MAX_POINTS
    ):
        order += 1
    interval = INTERVALS[order]
    buckets: dict[dt.datetime, dict] = {}
    clock = LocalClock(scope.tz)
    for slot in slots:
        key = _truncate(clock.wall(slot["at"]), interval)
        acc = buckets.setdefault(key, defaultdict(int))
        for k in ("n", "closed", "likes", "dislikes", "reply_n", "reply_sum"):
            acc[k] += slot[k]
    points = []
    cursor = _truncate(start.astimezone(scope.tz), interval)
    last = end.astimezone(scope.tz)
    while cursor < last:
        acc = buckets.get(cursor.replace(tzinfo=None), {})
        points.append(
            {
                "start": cursor.isoformat(),
                "label": _label(cursor, interval),
                "new": acc.get("n", 0),
                "closed": acc.get("closed", 0),
                "likes": acc.get("likes", 0),
                "dislikes": acc.get("dislikes", 0),
                "reply_time_avg": Tally.mean(acc.get("reply_sum", 0), acc.get("reply_n", 0)),
            }
        )
        cursor = _step(cursor, interval, scope.tz)
    return interval, points


def _count_points(start, end, interval, tz) -> int:
    seconds = (end - start).total_seconds()
    per = {"hour": 3600, "day": 86400, "week": 7 * 86400, "month": 28 * 86400}[interval]
    return int(seconds // per) + 1


def _label(moment: dt.datetime, interval: str) -> str:
    """The axis label in the viewer's language (convodesk.display), like every other date."""
    if interval == "hour":
        return display.hour(moment)
    if interval in ("day", "week"):
        return display.day(moment.date())
    return display.year_month(moment)


def heatmap(slots: list[dict], tz) -> list[list[int]]:
    """Conversations started per weekday (Monday first) and hour, in the viewer's time zone."""
    grid = [[0] * 24 for _ in range(7)]
    clock = LocalClock(tz)
    for slot in slots:
        local = clock.wall(slot["at"])
        grid[local.weekday()][local.hour] += slot["n"]
    return grid


class LocalClock:
    """UTC instants as the viewer's wall-clock time (naive), one time-zone look-up per UTC day.

    A page over a long range has tens of thousands of slots, and converting each through the
    zone cost more than the statements that read them. A day whose offset is the same at its
    first and last instant adds that offset; a day with a change converts each instant."""

    def __init__(self, tz):
        self.tz = tz
        self.offsets: dict[int, dt.timedelta | None] = {}

    def wall(self, at: dt.datetime) -> dt.datetime:
        day = int(at.timestamp()) // 86400
        if day not in self.offsets:
            first = dt.datetime.fromtimestamp(day * 86400, dt.UTC)
            last = first + dt.timedelta(days=1, microseconds=-1)
            offset = first.astimezone(self.tz).utcoffset()
            self.offsets[day] = offset if offset == last.astimezone(self.tz).utcoffset() else None
        offset = self.offsets[day]
        if offset is None:
            return at.astimezone(self.tz).replace(tzinfo=None)
        return (at + offset).replace(tzinfo=None)


__all__ = ["CLOSED_CODES", "build_scope", "compute", "Scope"]
