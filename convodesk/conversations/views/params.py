"""The list's URL state: the filter grammar (filters.py) plus the few things only the screen adds.

Form fields post several values as repeated keys (`status=waiting&status=closed`), metric ranges
may be typed in minutes, and a started/closed date range may be a relative preset ("this week").
`normalize` turns all of that into the one grammar of SPEC "Filter parameters", so the URL the
browser keeps is the same one the API, the export and the statistics page read.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from convodesk import display

from ..filters import FILTER_PARAMS, RANGE_KEYS
from ..normalize import (
    clean_text,  # noqa: F401 - used by the list views
    parse_id,
)

PER_PAGE_CHOICES = (25, 50, 100, 200)
DEFAULT_PER_PAGE = 50
DATE_RANGES = {
    "today": _("Today"),
    "yesterday": _("Yesterday"),
    "this_week": _("This week"),
    "last_7": _("Last 7 days"),
    "last_30": _("Last 30 days"),
    "this_month": _("This month"),
}
UNIT_KEYS = [*RANGE_KEYS, "waiting"]


def range_dates(name: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    if name == "today":
        return today, today
    if name == "yesterday":
        day = today - dt.timedelta(days=1)
        return day, day
    if name == "this_week":
        return today - dt.timedelta(days=today.weekday()), today
    if name == "last_7":
        return today - dt.timedelta(days=6), today
    if name == "last_30":
        return today - dt.timedelta(days=29), today
    if name == "this_month":
        return today.replace(day=1), today
    return None


def _join(query: QueryDict, key: str) -> str:
    values = [v.strip() for v in query.getlist(key) if v and v.strip()]
    return ",".join(values)


def _scaled(raw: str, unit: str) -> str:
    """Minutes typed in the form become the grammar's seconds; anything odd is left for the filter to refuse."""
    minutes = parse_id(raw) if unit == "min" else None
    return str(minutes * 60) if minutes is not None else raw


def normalize(query: QueryDict, today: dt.date | None = None) -> dict[str, str]:
    """The filter parameters plus the screen's own ones, each one string, empty ones dropped."""
    today = today or timezone.localdate()
    query = display.iso_dates(query)  # the date fields show the language's form (convodesk.display)
    params: dict[str, str] = {}
    for key in sorted(FILTER_PARAMS):
        value = _join(query, key)
        if value:
            params[key] = value
    for prefix in UNIT_KEYS:
        unit = query.get(f"{prefix}_unit", "s")
        for bound in ("min", "max"):
            key = f"{prefix}_{bound}"
            if key in params:
                params[key] = _scaled(params[key], unit)
    for prefix in ("started", "closed"):
        name = query.get(f"{prefix}_range", "")
        dates = range_dates(name, today)
        if dates is not None:
            params[f"{prefix}_from"], params[f"{prefix}_to"] = (d.isoformat() for d in dates)
            params[f"{prefix}_range"] = name
    per_page = parse_id(query.get("per_page", ""))
    if per_page in PER_PAGE_CHOICES and per_page != DEFAULT_PER_PAGE:
        params["per_page"] = str(per_page)
    return params


def filter_only(params: dict[str, str]) -> dict[str, str]:
    """What a preset stores and a tab compares: the filter, without sort or page size."""
    return {k: v for k, v in params.items() if k not in ("sort", "per_page")}


def encode(params: dict[str, str], **changes) -> str:
    merged = {**params, **changes}
    return urlencode([(k, v) for k, v in sorted(merged.items()) if v not in (None, "")])


def per_page_of(query: QueryDict) -> int:
    per_page = parse_id(query.get("per_page", ""))
    return per_page if per_page in PER_PAGE_CHOICES else DEFAULT_PER_PAGE


def page_of(query: QueryDict) -> int:
    page = parse_id(query.get("page", ""))
    return page if page is not None and 1 <= page <= 10**6 else 1


def seconds_and_unit(value: str) -> tuple[str, str]:
    """How a stored range is shown back in the form: whole minutes in minutes, the rest in seconds."""
    seconds = parse_id(value)
    if seconds is not None and seconds >= 60 and seconds % 60 == 0:
        return str(seconds // 60), "min"
    return value, "s"
