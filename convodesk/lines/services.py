"""Creating and changing open channels: the one writer for the settings screens and the API.

Each function validates everything first (`LineInvalid` names each bad field), then writes the
line, its members in order, and an audit entry in one transaction, so a refused change leaves
nothing behind and every accepted one is recorded with who made it.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.utils.translation import gettext as _

from convodesk import timezones
from convodesk.accounts.models import User
from convodesk.audit import log
from convodesk.audit.models import AuditEntry
from convodesk.conversations.normalize import clean_text, parse_id
from convodesk.fielderrors import FieldErrors

from .models import Line, LineMember

MAX_NUMBER = 10**6
MAX_TEXT = 5000
MAX_RANGES_PER_DAY = 12
MAX_HOLIDAYS = 500
WEEKDAYS = tuple(str(d) for d in range(7))  # 0 = Monday, as datetime.weekday()
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
NUMBERS = {
    # field: smallest value allowed
    "queue_timeout_seconds": 1,
    "max_open_per_employee": 0,
    "auto_close_minutes": 0,
    "full_close_minutes": 0,
    "reopen_window_minutes": 0,
}
# Reply-time targets (SLA) in seconds: empty (None) means no target.
TARGETS = ("sla_first_seconds", "sla_next_seconds")
TEXTS = ("closing_text", "greeting_text", "out_of_hours_text")
FLAGS = (
    "ask_rating",
    "crm_bind_open_deal",
    "close_reason_required",
    "active",
    "sla_first_business",
    "sla_next_business",
    "sla_mail",
)
CHOICES = {"distribution": Line.Distribution, "crm_binding": Line.CrmBinding}
FIELDS = (
    "name",
    *CHOICES,
    *NUMBERS,
    *TARGETS,
    *TEXTS,
    *FLAGS,
    "time_zone",
    "working_hours",
    "holidays",
)


class LineInvalid(FieldErrors):
    """The change is refused; `errors` maps each field to why."""


# Validation ---------------------------------------------------------------------------


def _number(value, smallest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(_("Enter a whole number."))
    text = str(value).strip()
    number = parse_id(text.removeprefix("-"))
    if number is None:
        raise ValueError(_("Enter a whole number."))
    if text.startswith("-"):
        number = -number
    if number < smallest:
        if smallest == 0:
            raise ValueError(_("Must be zero or more."))
        raise ValueError(_("Must be at least %(n)s.") % {"n": smallest})
    if number > MAX_NUMBER:
        raise ValueError(_("Must be at most %(n)s.") % {"n": MAX_NUMBER})
    return number


def _end_ok(value) -> bool:
    return isinstance(value, str) and (bool(HHMM.match(value)) or value == "24:00")


def clean_working_hours(value) -> dict[str, list[list[str]]]:
    """{weekday "0".."6": [["HH:MM", "HH:MM"], ...]}: each start before its end, sorted, no
    overlaps; days without ranges are left out (no ranges at all means always open)."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValueError(_("Give the working hours per weekday (0 = Monday … 6 = Sunday)."))
    cleaned = {}
    for day, ranges in value.items():
        day = str(day)
        if day not in WEEKDAYS:
            raise ValueError(
                _("“%(day)s” is not a weekday (0 = Monday … 6 = Sunday).") % {"day": day}
            )
        if not isinstance(ranges, list) or len(ranges) > MAX_RANGES_PER_DAY:
            raise ValueError(
                _("Give each weekday a list of ranges (at most %(n)s).") % {"n": MAX_RANGES_PER_DAY}
            )
        pairs = []
        for pair in ranges:
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not (isinstance(pair[0], str) and HHMM.match(pair[0]))
                or not _end_ok(pair[1])
            ):
                raise ValueError(_("Write times as HH:MM, from 00:00 to 24:00."))
            if not pair[0] < pair[1]:
                raise ValueError(
                    _("%(start)s–%(end)s: a range must start before it ends.")
                    % {"start": pair[0], "end": pair[1]}
                )
            pairs.append([pair[0], pair[1]])
        pairs.sort()
        for before, after in zip(pairs, pairs[1:], strict=False):
            if after[0] < before[1]:
                raise ValueError(
                    _("%(a)s and %(b)s overlap.") % {"a": "–".join(before), "b": "–".join(after)}
                )
        if pairs:
            cleaned[day] = pairs
    return {day: cleaned[day] for day in sorted(cleaned)}


def clean_holidays(value) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise ValueError(_("Give a list of dates (at most %(n)s).") % {"n": MAX_HOLIDAYS})
    dates = set()
    for item in value:
        try:
            if not isinstance(item, str) or len(item.strip()) != 10:
                raise ValueError
            dates.add(dt.date.fromisoformat(item.strip()).isoformat())
        except ValueError:
            raise ValueError(
                _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": str(item)[:40]}
            ) from None
    return sorted(dates)


def _clean_field(name: str, value):
    if name == "name":
        value = clean_text(value) if isinstance(value, str) else ""
        if not value:
            raise ValueError(_("Give the open channel a name."))
        if len(value) > 200:
            raise ValueError(_("At most 200 characters."))
        return value
    if name in CHOICES:
        if value not in CHOICES[name].values:
            raise ValueError(_("Choose one of the options."))
        return value
    if name in NUMBERS:
        return _number(value, NUMBERS[name])
    if name in TARGETS:
        return None if value in (None, "") else _number(value, 1)
    if name in TEXTS:
        if not isinstance(value, str):
            raise ValueError(_("Enter a text."))
        if len(value) > MAX_TEXT:
            raise ValueError(_("At most %(n)s characters.") % {"n": MAX_TEXT})
        return clean_text(value)
    if name in FLAGS:
        if not isinstance(value, bool):
            raise ValueError(_("Enter true or false."))
        return value
    if name == "time_zone":
        if not isinstance(value, str) or not timezones.is_valid(value):
            raise ValueError(_("Unknown time zone: choose an IANA name such as Europe/Madrid."))
        return value
    if name == "working_hours":
        return clean_working_hours(value)
    if name == "holidays":
        return clean_holidays(value)
    raise ValueError(_("Unknown field."))


def clean(changes: dict) -> dict:
    """Validate and normalise the given fields; raise LineInvalid naming every bad one."""
    errors, cleaned = {}, {}
    for name, value in changes.items():
        if name not in FIELDS:
            errors[name] = _("Unknown field.")
            continue
        try:
            cleaned[name] = _clean_field(name, value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise LineInvalid(errors)
    return cleaned


def clean_members(ids) -> list[int]:
    """Employee ids in offering order, each once; every id an employee (not an integration)."""
    if not isinstance(ids, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise LineInvalid({"members": _("Give a list of employee ids.")})
    ids = list(dict.fromkeys(ids))
    found = set(
        User.objects.filter(
            pk__in=[i for i in ids if 0 < i < 2**62], is_integration=False
        ).values_list("pk", flat=True)
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise LineInvalid(
            {"members": _("Unknown employees: %(ids)s.") % {"ids": ", ".join(map(str, missing))}}
        )
    return ids


# Writing ------------------------------------------------------------------------------


def member_ids(line: Line) -> list[int]:
    return list(
        LineMember.objects.filter(line=line)
        .order_by("position", "id")
        .values_list("user_id", flat=True)
    )


def _state(line: Line) -> dict:
    data = log.snapshot(line, fields=FIELDS)
    data["members"] = member_ids(line)
    return data


def _write_members(line: Line, ids: list[int]) -> None:
    LineMember.objects.filter(line=line).exclude(user_id__in=ids).delete()
    for position, user_id in enumerate(ids):
        LineMember.objects.update_or_create(
            line=line, user_id=user_id, defaults={"position": position}
        )


def create_line(actor, *, members=(), **fields) -> Line:
    data = clean(fields)
    if "name" not in data:
        raise LineInvalid({"name": _("Give the open channel a name.")})
    ids = clean_members(list(members))
    with transaction.atomic():
        line = Line.objects.create(**data)
        _write_members(line, ids)
        log.record(actor, AuditEntry.Action.CREATE, line, {}, _state(line))
    return line


def update_line(actor, line: Line, *, members=None, **fields) -> Line:
    """Change the given fields (and the members, when given). Switching `active` off is
    recorded as a deactivation; a change that changes nothing records nothing."""
    data = clean(fields)
    ids = clean_members(list(members)) if members is not None else None
    with transaction.atomic():
        line = Line.objects.select_for_update().get(pk=line.pk)
        before = _state(line)
        for name, value in data.items():
            setattr(line, name, value)
        line.save()
        if ids is not None:
            _write_members(line, ids)
        after = _state(line)
        if after != before:
            action = (
                AuditEntry.Action.DEACTIVATE
                if before["active"] and not after["active"]
                else AuditEntry.Action.UPDATE
            )
            log.record(actor, action, line, before, after)
    return line


def deactivate_line(actor, line: Line) -> Line:
    """No new conversations start on its connections (services.receive_client_message refuses
    them); conversations already in it carry on. See the confirm screen for the whole story."""
    return update_line(actor, line, active=False)
