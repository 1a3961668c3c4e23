"""The one way a date, a time or a number is shown to an employee (issue 22, item 1).

Every screen (the list, bulk results, the CRM lists, statistics and their charts, the date fields
of the filters) goes through these functions or the `display` template filters built on them,
in the active language (the formats of `convodesk/formats/<language>/formats.py`) and the
employee's time zone (activated per request by UserTimezoneMiddleware).

The grid formats hundreds of dates per page: each language's format is turned once into a
strftime pattern, which costs a tenth of Django's `date` filter per value.
"""

from __future__ import annotations

import datetime as dt

from django.utils import formats, timezone, translation
from django.utils.dateformat import format as django_date_format

EMPTY = "–"

# The Django format characters the formats modules use, as strftime directives.
_STRFTIME = {"Y": "%Y", "y": "%y", "m": "%m", "d": "%d", "H": "%H", "i": "%M", "s": "%S"}
_PATTERNS: dict[tuple[str | None, str], str | None] = {}


def _pattern(name: str) -> str | None:
    """The active language's `name` format as a strftime pattern, or None when it needs Django."""
    key = (translation.get_language(), name)
    if key not in _PATTERNS:
        django_format = formats.get_format(name)
        out = []
        for char in django_format:
            if char.isalpha():
                if char not in _STRFTIME:
                    out = None
                    break
                out.append(_STRFTIME[char])
            else:
                out.append(char.replace("%", "%%"))
        _PATTERNS[key] = "".join(out) if out is not None else None
    return _PATTERNS[key]


def _format(value, name: str) -> str:
    pattern = _pattern(name)
    if pattern is None:
        return django_date_format(value, formats.get_format(name))
    return value.strftime(pattern)


def local(value: dt.datetime) -> dt.datetime:
    """An aware datetime in the active (employee's) time zone; a naive one is taken as local."""
    if timezone.is_naive(value):
        return value
    return timezone.localtime(value)


def when(value: dt.datetime | None) -> str:
    """A date and time: 2026-12-04 18:13 (English), 04/12/2026 18:13 (Spanish)."""
    if value is None or value == "":
        return EMPTY
    if not isinstance(value, dt.datetime):
        return day(value)
    return _format(local(value), "SHORT_DATETIME_FORMAT")


def when_function():
    """`when` with the active language's pattern and the active time zone looked up once: what a
    page that shows hundreds of dates calls (the list grid), with the same result as `when`."""
    pattern = _pattern("SHORT_DATETIME_FORMAT")
    if pattern is None:
        return when
    zone = timezone.get_current_timezone()

    def when_here(value: dt.datetime | None) -> str:
        if type(value) is not dt.datetime or value.utcoffset() is None:
            return when(value)  # empty, a date or a naive datetime: the general path
        return value.astimezone(zone).strftime(pattern)

    return when_here


def day(value: dt.date | dt.datetime | None) -> str:
    """A date: 2026-12-04 (English), 04/12/2026 (Spanish); a datetime is taken on its local day."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, dt.datetime):
        value = local(value)
    return _format(value, "SHORT_DATE_FORMAT")


def month_day(value: dt.date | dt.datetime) -> str:
    """A day without its year, for chart axes: 12-04 (English), 04/12 (Spanish)."""
    return _format(value, "MONTH_DAY_FORMAT")


def year_month(value: dt.date | dt.datetime) -> str:
    """A month: 2026-12 (English), 12/2026 (Spanish)."""
    return _format(value, "YEAR_MONTH_FORMAT")


def hour(value: dt.datetime) -> str:
    """A day and an hour, for hourly chart axes: 12-04 18:00 (English), 04/12 18:00 (Spanish)."""
    return f"{month_day(value)} {value:%H}:00"


def number(value, decimals: int | None = None) -> str:
    """A count or a figure, grouped as the language groups thousands: 1,313 / 1 313 (Spanish)."""
    if value is None or value == "":
        return EMPTY
    if decimals is None and isinstance(value, float) and not value.is_integer():
        decimals = 1
    if decimals is None:
        value = int(value)
    return formats.number_format(value, decimal_pos=decimals, force_grouping=True)


def money(amount, currency: str) -> str:
    """An amount with its currency, two decimals, grouped: 4,800.00 EUR / 4 800,00 EUR."""
    if amount is None or amount == "":
        return EMPTY
    return f"{formats.number_format(amount, decimal_pos=2, force_grouping=True)} {currency}"


def money_sums(sums: dict) -> str:
    """Totals in several currencies, each on its own (never added across currencies)."""
    return " · ".join(money(amount, currency) for currency, amount in sorted(sums.items()))


def parse_day(text: str) -> dt.date | None:
    """A date typed in a date field: ISO (what links and the API carry) or any language's form."""
    text = (text or "").strip()
    if not text:
        return None
    candidates = ["%Y-%m-%d", *formats.get_format("DATE_INPUT_FORMATS")]
    for code, _name in _languages():
        with translation.override(code):
            candidates += formats.get_format("DATE_INPUT_FORMATS")
    for pattern in dict.fromkeys(candidates):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


DATE_PARAMS = ("started_from", "started_to", "closed_from", "closed_to")


def iso_day(value: str) -> str:
    """A date typed in a screen's date field, as the filter grammar takes it (ISO). Anything that
    is not such a date (an ISO date or datetime, a mistake) is left for the filter to read or refuse."""
    text = (value or "").strip()
    if not text or "T" in text or " " in text or parse_date_iso(text):
        return value
    parsed = parse_day(text)
    return parsed.isoformat() if parsed is not None else value


def iso_dates(query):
    """The screen's query with its date fields in ISO: what the list and statistics hand to the
    one filter set (the API takes ISO only, as SPEC says)."""
    if not any(query.get(key) for key in DATE_PARAMS):
        return query
    query = query.copy()
    for key in DATE_PARAMS:
        if query.get(key):
            query[key] = iso_day(query[key])
    return query


def parse_date_iso(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def day_input(value: str | dt.date | None) -> str:
    """What a date field shows: the stored ISO date in the language's form; unreadable text as typed."""
    if not value:
        return ""
    if isinstance(value, dt.date):
        return day(value)
    parsed = parse_day(str(value))
    return day(parsed) if parsed is not None else str(value)


def day_placeholder() -> str:
    """The shape a date field expects, for its placeholder: YYYY-MM-DD or dd/mm/aaaa."""
    return translation.pgettext("date field placeholder", "YYYY-MM-DD")


def _languages():
    from django.conf import settings

    return settings.LANGUAGES
