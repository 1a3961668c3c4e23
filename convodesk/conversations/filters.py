"""The one filter set (DESIGN rule 4): the list URL, the API, the export, statistics and presets.

`ConversationFilter(params, tz=...)` parses SPEC "Filter parameters" into one queryset
filter and one ordering, collecting an error per bad parameter instead of guessing.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
import zoneinfo

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from convodesk.lines.models import Connection

from . import lifecycle
from .columns import (
    BUSINESS_METRIC_KEYS,
    BUSINESS_REPLY_TIME_KEYS,
    METRIC_KEYS,
    REPLY_TIME_KEYS,
    SORTABLE,
)
from .normalize import fold_name, looks_like_email, normalize_email, normalize_phone, parse_id
from .paging import keyset_ordering

CHANNELS = tuple(Connection.Kind.values)
CRM_TYPES = ("lead", "contact", "deal", "company")
BOOL_PARAMS = (
    "agent_replied",
    "spam",
    "pinned",
    "business_hours",
    "returning",
    "has_crm",
    "overdue",
)
RANGE_KEYS = (
    METRIC_KEYS
    + REPLY_TIME_KEYS
    + BUSINESS_METRIC_KEYS
    + BUSINESS_REPLY_TIME_KEYS
    + ["message_count", "transfer_count"]
)
DATE_PARAMS = ("started_from", "started_to", "closed_from", "closed_to")
MULTI_PARAMS = (
    "status",
    "status_detail",
    "channel",
    "line",
    "responsible",
    "connection",
    "crm_type",
    "client_rating",
    "supervisor_rating",
    "client_id",
)
TEXT_PARAMS = ("client", "contact", "q", "source_url")
# Tags and close reasons: any of (`tag`), all of (`tag_all`), none of (`tag_none`) the listed ids.
LABEL_PARAMS = tuple(
    f"{name}{mode}" for name in ("tag", "close_reason") for mode in ("", "_all", "_none")
)
FILTER_PARAMS = frozenset(
    MULTI_PARAMS
    + LABEL_PARAMS
    + TEXT_PARAMS
    + BOOL_PARAMS
    + DATE_PARAMS
    + ("id", "type", "waiting_min", "sort")
    + tuple(f"{k}_{b}" for k in RANGE_KEYS for b in ("min", "max"))
)
DEFAULT_SORT = "-started_at"
# Sort fields that are NOT NULL in the database.
NEVER_EMPTY_SORTS = frozenset(
    {
        "started_at",
        "updated_at",
        "type",
        "status",
        "channel",
        "message_count",
        "transfer_count",
        "line__name",
    }
)
MAX_INT = 2**31 - 1


class ConversationFilter:
    def __init__(self, params, tz=None, now: dt.datetime | None = None):
        self.raw = params
        self.tz = tz or timezone.get_current_timezone()
        self.now = now or timezone.now()
        self.errors: dict[str, str] = {}
        self.cleaned: dict[str, object] = {}
        self.where: dict[str, Q] = {}  # each parameter's condition, by parameter
        # A parameter's condition in another SQL form for a page walked in sort-index order
        # (filter(walk=True)): the same rows, planned for "the first 51 in order" rather
        # than for counting or aggregating all of them.
        self.walk_where: dict[str, Q] = {}
        # A probe found the set large (a client name more than NAMED_CLIENTS_LISTED clients
        # carry): its count is the planner's estimate on PostgreSQL (paging.bounded_count).
        self.known_large = False
        self._parse()

    # Public -------------------------------------------------------------------------

    def is_valid(self) -> bool:
        return not self.errors

    def unknown_params(self, allowed_extra=()) -> list[str]:
        return sorted(
            k for k in self.raw.keys() if k not in FILTER_PARAMS and k not in allowed_extra
        )

    @property
    def conditions(self) -> list[Q]:
        return list(self.where.values())

    def condition_on(self, keys) -> Q | None:
        """The conditions of these parameters alone, ANDed; None when none of them is set."""
        found = [q for key, q in self.where.items() if key in keys]
        return functools.reduce(operator.and_, found) if found else None

    def filter(self, queryset, walk: bool = False):
        """The queryset narrowed by every condition; `walk`: for a page read off the sort
        index (the list's and the API's page ids), not for counts or statistics."""
        for key, condition in self.where.items():
            if walk:
                condition = self.walk_where.get(key, condition)
            queryset = queryset.filter(condition)
        return queryset

    @property
    def sort_key(self) -> str:
        return self.cleaned.get("sort", DEFAULT_SORT).lstrip("-")

    @property
    def sort_descending(self) -> bool:
        return self.cleaned.get("sort", DEFAULT_SORT).startswith("-")

    @property
    def sort_field(self) -> str:
        return SORTABLE[self.sort_key]

    def ordering(self) -> list:
        """Sort field then id in the same direction, empty values last (paging.keyset_ordering)."""
        field = "id" if self.sort_key == "id" else self.sort_field
        return keyset_ordering(field, self.sort_descending, field in NEVER_EMPTY_SORTS)

    # Parsing ------------------------------------------------------------------------

    def _get(self, key) -> str:
        value = self.raw.get(key, "")
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        # NUL cannot be stored or compared by PostgreSQL; it is never meaningful in a filter.
        return str(value).replace("\x00", "").strip()

    def _values(self, key) -> list[str]:
        raw = self._get(key)
        return [v.strip() for v in raw.split(",") if v.strip()] if raw else []

    def _error(self, key, message):
        self.errors[key] = message

    def _parse(self):
        self._parse_choices()
        self._parse_ids()
        self._parse_labels()
        self._parse_text()
        self._parse_bools()
        self._parse_dates()
        self._parse_ranges()
        self._parse_sort()

    def _choices(self, key, allowed, to_q):
        values = self._values(key)
        if not values:
            return
        unknown = [v for v in values if v not in allowed]
        if unknown:
            self._error(
                key,
                _("Unknown value “%(value)s” for %(param)s.") % {"value": unknown[0], "param": key},
            )
            return
        self.cleaned[key] = values
        self.where[key] = to_q(values)

    def _parse_choices(self):
        def simple_q(values):
            if connection.vendor == "sqlite":
                # The codes themselves: SQLite reads (status, started_at) indexes for a list of
                # values but stops at the status for a range (65 ms -> 0.1 ms for the newest
                # hour of closed conversations at 1,000,000). PostgreSQL keeps the ranges: its
                # list pages took the same time either way, but the statistics page for
                # "closed, last 30 days" at 10,000,000 went from 290 to 890 ms with the codes.
                codes = [
                    int(code)
                    for code in lifecycle.Status
                    if any(lifecycle.simple_status(code) == name for name in values)
                ]
                return Q(status__in=codes)
            q = Q()
            for name in values:
                low, high = lifecycle.SIMPLE_RANGES[name]
                q |= Q(status__gte=low, status__lte=high)
            return q

        self._choices("status", lifecycle.SIMPLE_RANGES, simple_q)
        self._choices(
            "status_detail",
            lifecycle.STATUS_BY_KEY,
            lambda v: Q(status__in=[int(lifecycle.STATUS_BY_KEY[k]) for k in v]),
        )
        self._choices("channel", CHANNELS, lambda v: Q(channel__in=v))
        self._choices("type", (lifecycle.INCOMING, lifecycle.OUTGOING), lambda v: Q(type__in=v))
        self._choices(
            "crm_type",
            CRM_TYPES,
            lambda v: Q(
                Exists(_crm_links().filter(conversation=OuterRef("pk"), entity_type__in=v))
            ),
        )

        def rating_q(values):
            q = Q()
            mapping = {"like": 1, "dislike": -1}
            for v in values:
                q |= Q(client_rating__isnull=True) if v == "none" else Q(client_rating=mapping[v])
            return q

        self._choices("client_rating", ("like", "dislike", "none"), rating_q)

        def stars_q(values):
            q = Q()
            for v in values:
                q |= (
                    Q(supervisor_rating__isnull=True)
                    if v == "none"
                    else Q(supervisor_rating=int(v))
                )
            return q

        self._choices("supervisor_rating", ("1", "2", "3", "4", "5", "none"), stars_q)

    def _int_list(self, key, allow_none=False) -> list | None:
        values = self._values(key)
        if not values:
            return None
        result = []
        for v in values:
            if allow_none and v == "none":
                result.append(None)
            elif (number := parse_id(v)) is not None and number <= MAX_INT:
                result.append(number)
            else:
                self._error(
                    key,
                    _("“%(value)s” is not a valid id for %(param)s.") % {"value": v, "param": key},
                )
                return None
        return result

    def _parse_ids(self):
        for key, field in (
            ("line", "line_id"),
            ("connection", "connection_id"),
            ("client_id", "client_id"),
        ):
            ids = self._int_list(key)
            if ids is not None:
                self.cleaned[key] = ids
                self.where[key] = Q(**{f"{field}__in": ids})
        ids = self._int_list("responsible", allow_none=True)
        if ids is not None:
            self.cleaned["responsible"] = ids
            q = Q(responsible_id__in=[i for i in ids if i is not None])
            if None in ids:
                q |= Q(responsible_id__isnull=True)
            self.where["responsible"] = q
        raw_id = self._get("id").lstrip("#")
        if raw_id:
            number = parse_id(raw_id)
            if number is not None:
                self.cleaned["id"] = number
                self.where["id"] = Q(pk=number)
            else:
                self._error("id", _("The conversation ID must be a number."))

    def _parse_labels(self):
        """Tags through their links (indexed by tag, then the list's order); the close reason is
        one column, so "all of" two different reasons matches nothing."""
        for mode in ("", "_all", "_none"):
            key = f"tag{mode}"
            ids = self._int_list(key)
            if ids is not None:
                self.cleaned[key] = ids
                tagged = [Q(pk__in=_tag_links(ids))] if mode != "_all" else []
                if mode == "_all":
                    tagged = [Q(pk__in=_tag_links([i])) for i in sorted(set(ids))]
                q = functools.reduce(operator.and_, tagged)
                self.where[key] = ~q if mode == "_none" else q
            key = f"close_reason{mode}"
            ids = self._int_list(key)
            if ids is not None:
                self.cleaned[key] = ids
                if mode == "":
                    self.where[key] = Q(close_reason_id__in=ids)
                elif mode == "_all":
                    self.where[key] = functools.reduce(
                        operator.and_, (Q(close_reason_id=i) for i in sorted(set(ids)))
                    )
                else:
                    self.where[key] = ~Q(close_reason_id__in=ids) | Q(close_reason_id__isnull=True)

    def _parse_text(self):
        client = self._get("client")
        if client:
            self.cleaned["client"] = client
            self.where["client"], walk, self.known_large = client_name_q(client)
            if walk is not None:
                self.walk_where["client"] = walk
        contact = self._get("contact")
        if contact:
            self.cleaned["contact"] = contact
            if looks_like_email(contact):
                self.where["contact"] = Q(client__email_normalized=normalize_email(contact))
            else:
                candidates = phone_candidates(contact)
                if not candidates:
                    self._error("contact", _("Enter a phone number or an e-mail address."))
                else:
                    self.where["contact"] = Q(client__phone_normalized__in=candidates)
        source = self._get("source_url")
        if source:
            self.cleaned["source_url"] = source
            self.where["source_url"] = Q(source_url__icontains=source)
        q = self._get("q")
        if q:
            self.cleaned["q"] = q
            self.where["q"] = free_text_q(q)

    def _parse_bools(self):
        for key in BOOL_PARAMS:
            raw = self._get(key).lower()
            if not raw:
                continue
            if raw not in ("true", "false", "1", "0", "yes", "no"):
                self._error(key, _("%(param)s must be true or false.") % {"param": key})
                continue
            value = raw in ("true", "1", "yes")
            self.cleaned[key] = value
            if key == "agent_replied":
                self.where[key] = Q(first_reply_at__isnull=not value)
            elif key == "overdue":
                # Past its due instant now (whether or not the timers recorded the breach yet).
                late = Q(due_at__lte=self.now)
                self.where[key] = late if value else ~late | Q(due_at__isnull=True)
            elif key == "has_crm":
                self.where[key] = Q(crm_entity_type="") if not value else ~Q(crm_entity_type="")
            else:
                self.where[key] = Q(**{key: value})

    def _parse_date(self, key, end: bool) -> dt.datetime | None:
        raw = self._get(key)
        if not raw:
            return None
        try:
            moment = parse_datetime(raw) if "T" in raw or " " in raw else None
            if moment is not None:
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment, self.tz)
                return moment
            day = parse_date(raw)
        except ValueError:
            day = None
        if day is None:
            self._error(
                key,
                _("“%(value)s” is not a valid date for %(param)s (use YYYY-MM-DD).")
                % {"value": raw, "param": key},
            )
            return None
        if end:
            if day >= dt.date.max:
                day = None
            else:
                day += dt.timedelta(days=1)
        if day is None or day.year < 2 or day.year > 9998:
            self._error(
                key, _("“%(value)s” is out of range for %(param)s.") % {"value": raw, "param": key}
            )
            return None
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)

    def _parse_dates(self):
        for prefix, field in (("started", "started_at"), ("closed", "closed_at")):
            start = self._parse_date(f"{prefix}_from", end=False)
            end_raw = self._get(f"{prefix}_to")
            end = self._parse_date(f"{prefix}_to", end=True)
            if start is not None:
                self.cleaned[f"{prefix}_from"] = start
                self.where[f"{prefix}_from"] = Q(**{f"{field}__gte": start})
            if end is not None:
                self.cleaned[f"{prefix}_to"] = end
                inclusive = "T" in end_raw or " " in end_raw
                self.where[f"{prefix}_to"] = Q(
                    **{f"{field}__lte" if inclusive else f"{field}__lt": end}
                )
            # A day in `_to` ends where the next day begins (exclusive), a datetime is inclusive.
            day_end = bool(end_raw) and not ("T" in end_raw or " " in end_raw)
            if start is not None and end is not None and (start >= end if day_end else start > end):
                self._error(
                    f"{prefix}_to",
                    _("%(param)s is before %(other)s.")
                    % {"param": f"{prefix}_to", "other": f"{prefix}_from"},
                )

    def _int(self, key) -> int | None:
        raw = self._get(key)
        if not raw:
            return None
        number = parse_id(raw)
        if number is None or number > MAX_INT:
            self._error(
                key,
                _("%(param)s must be a whole number of seconds or a count, 0 or more.")
                % {"param": key},
            )
            return None
        return number

    def _parse_ranges(self):
        for key in RANGE_KEYS:
            low, high = self._int(f"{key}_min"), self._int(f"{key}_max")
            if low is not None:
                self.cleaned[f"{key}_min"] = low
                self.where[f"{key}_min"] = Q(**{f"{key}__gte": low})
            if high is not None:
                self.cleaned[f"{key}_max"] = high
                self.where[f"{key}_max"] = Q(**{f"{key}__lte": high})
            if low is not None and high is not None and low > high:
                self._error(
                    f"{key}_max",
                    _("%(param)s is below %(other)s.")
                    % {"param": f"{key}_max", "other": f"{key}_min"},
                )
        waiting = self._int("waiting_min")
        if waiting is not None:
            self.cleaned["waiting_min"] = waiting
            self.where["waiting_min"] = Q(
                waiting_since__lt=self.now - dt.timedelta(seconds=waiting)
            )

    def _parse_sort(self):
        raw = self._get("sort")
        if not raw:
            return
        if raw.removeprefix("-") not in SORTABLE:  # one "-" for descending; "--id" is no column
            self._error("sort", _("Cannot sort by “%(value)s”.") % {"value": raw})
            return
        self.cleaned["sort"] = raw


def _tag_links(ids):
    from .models import ConversationTag

    return ConversationTag.objects.filter(tag_id__in=ids).values("conversation_id")


def _crm_links():
    from .models import ConversationCrmLink

    return ConversationCrmLink.objects.all()


NAMED_CLIENTS_LISTED = 1000


def client_name_q(text: str) -> tuple[Q, Q | None, bool]:
    """Conversations whose client's name contains `text`, the form of that condition for a
    page walked in sort order when it differs (None: the same), and whether more than
    NAMED_CLIENTS_LISTED clients carry the name.

    One capped probe measures how common the fragment is (planners misjudge it). Few matching
    clients: their ids, and the conversations come through the client index. Many: on
    PostgreSQL the join, which a newest-first page walks until it has its rows (18 ms at
    10,000,000 conversations, where joining and sorting the 200,000 conversations of the
    matching clients took 2.4 s; the trigram index keeps its count and statistics bearable);
    on SQLite the matching clients as a subquery, read once (its count 51 ms and a statistics
    scan 0.1 s at 1,000,000, against 122 ms and 1.3 s through the join), but the join for a
    page: SQLite read every matching client, then all their conversations, and sorted them
    before the first row (198 ms for "garcía" at 1,000,000, 12,160 of 606,578 clients), where
    the join walks the sort index and stops at the page (2 ms; issue 23 item 2). On SQLite the
    matching clients come from the names' trigram index (convodesk/search_index.py) for
    fragments of 3 characters or more: "garcía"'s 12,160 clients in 4 ms where the LIKE scan
    of every client took 38 ms, and the page's count with it (BENCHMARKS.md).
    """
    from django.db import connection

    from convodesk import search_index

    from .models import Client

    # Accents and case do not matter: "luis perez" finds "Luis Pérez" (Client.name_search).
    folded = fold_name(text)
    if not folded:
        return Q(client__name__icontains=text), None, False
    table = Client._meta.db_table
    indexed = None
    if search_index.usable(table, [folded]):
        indexed = RawSQL(search_index.matching_sql(table), [search_index.phrase(folded)])
        matching = Client.objects.filter(pk__in=indexed).values_list("id", flat=True)
    else:
        matching = Client.objects.filter(name_search__contains=folded).values_list("id", flat=True)
    found = list(matching[: NAMED_CLIENTS_LISTED + 1])
    if len(found) <= NAMED_CLIENTS_LISTED:
        return Q(client_id__in=found), None, False
    joined = Q(client__name_search__contains=folded)
    if connection.vendor == "postgresql":
        return joined, None, True
    return Q(client_id__in=indexed if indexed is not None else matching), joined, True


def _line_countries() -> list[str]:
    from convodesk.lines.models import Line

    return sorted(set(Line.objects.values_list("default_country", flat=True))) or ["ES"]


def phone_candidates(raw: str) -> list[str]:
    """Every stored form the typed number can have: E.164 with each line's country, or bare digits."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 3:
        return []
    forms = {digits, normalize_phone(raw)}
    for country in _line_countries():
        forms.add(normalize_phone(raw, country))
    return sorted(f for f in forms if f)


def free_text_q(text: str) -> Q:
    """Client and employee names, contact data, CRM titles, source URL, the ID, and closed transcripts."""
    from .models import Message

    folded = fold_name(text)
    name = Q(client__name_search__contains=folded) if folded else Q(client__name__icontains=text)
    q = (
        name
        | Q(client__email_normalized__icontains=text.lower())
        | Q(responsible__username__icontains=text)
        | Q(responsible__display_name__icontains=text)
        | Q(crm_title__icontains=text)
        | Q(source_url__icontains=text)
    )
    candidates = phone_candidates(text) if re.fullmatch(r"[\d\s()+\-.]{5,}", text) else []
    if candidates:
        q |= Q(client__phone_normalized__in=candidates)
    number = parse_id(text.lstrip("#"))
    if number is not None:
        q |= Q(pk=number)
    transcript = Message.objects.filter(conversation=OuterRef("pk"), text__icontains=text)
    q |= Q(status__gte=lifecycle.OPEN_BELOW) & Q(Exists(transcript))
    return q


def scope_tz(user) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(getattr(user, "time_zone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
