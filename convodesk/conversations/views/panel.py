"""The filter panel's fields: which ones show by default, which come through *Add field*.

This describes only the form; what a parameter means lives in filters.py (DESIGN rule 4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape as html_escape

from django.contrib.auth import get_user_model
from django.template.loader import get_template
from django.utils import translation
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from convodesk import display
from convodesk.lines.models import Line

from .. import lifecycle
from ..columns import (
    BUSINESS_METRIC_KEYS,
    BUSINESS_REPLY_TIME_KEYS,
    CHANNEL_LABELS,
    COLUMNS,
    METRIC_KEYS,
    REPLY_TIME_KEYS,
    TYPE_LABELS,
)
from ..filters import CRM_TYPES
from .params import DATE_RANGES, range_dates, seconds_and_unit

YES_NO = [("true", _("Yes")), ("false", _("No"))]
_FIELD_HTML: dict[tuple, str] = {}


def _field_template():
    return get_template("conversations/_filter_field.html")


@dataclass
class Field:
    key: str
    label: object
    kind: str  # multi, text, daterange, range, duration, bool, single, waiting
    params: tuple = ()
    options: list = field(default_factory=list)
    default: bool = False
    values: dict = field(default_factory=dict)
    error: str = ""
    cache_key: tuple | None = None  # set by build_fields for a field with no value and no error

    @property
    def active(self) -> bool:
        return self.default or any(v for v in self.values.values()) or bool(self.error)

    @property
    def selected(self) -> set[str]:
        raw = self.values.get(self.key, "")
        return {v for v in raw.split(",") if v}

    @property
    def choices(self) -> list[tuple[str, object, bool]]:
        """(value, label, chosen), so the template does not test membership per option."""
        chosen = self.selected
        return [(value, label, value in chosen) for value, label in self.options]

    @property
    def choices_html(self) -> str:
        """The multi-select's checkboxes in one string: the employees' list alone is hundreds
        of options, on every filtered list page (the template loop cost more than the rows)."""
        name = html_escape(str(self.params[0]))
        return mark_safe(
            "".join(
                f'<label class="check"><input type="checkbox" name="{name}" '
                f'value="{html_escape(str(value))}"{" checked" if chosen else ""}> '
                f"{conditional_escape(label)}</label>"
                for value, label, chosen in self.choices
            )
        )

    @property
    def html(self) -> str:
        """The field's markup (_filter_field.html). A field nobody filled in reads the same on
        every page in one language on one day, with the same options: rendered once (a filtered
        list page carries ~50 fields, most of them hidden until *Add field*)."""
        if self.cache_key is None:
            return _field_template().render({"f": self})
        html = _FIELD_HTML.get(self.cache_key)
        if html is None:
            if len(_FIELD_HTML) >= 500:  # new options, days and languages: start again
                _FIELD_HTML.clear()
            html = _FIELD_HTML[self.cache_key] = _field_template().render({"f": self})
        return html

    @property
    def summary(self) -> str:
        chosen = self.selected
        labels = [str(label) for value, label in self.options if value in chosen]
        if not labels:
            return ""
        return labels[0] if len(labels) == 1 else f"{labels[0]} +{len(labels) - 1}"


PARAM_LABELS = {
    "status": _("Status"),
    "status_detail": _("Status (detailed)"),
    "channel": _("Channel"),
    "line": _("Open channel"),
    "responsible": _("Responsible employee"),
    "connection": _("Connection"),
    "crm_type": _("CRM record type"),
    "client_rating": _("Client rating"),
    "supervisor_rating": _("Supervisor rating"),
    "client_id": _("Client"),
    "client": _("Client"),
    "contact": _("Client contact"),
    "q": _("Search"),
    "source_url": _("Source page"),
    "agent_replied": _("Agent replied"),
    "spam": _("Spam"),
    "pinned": _("Pinned"),
    "business_hours": _("Business hours"),
    "returning": _("Returning"),
    "has_crm": _("Has CRM record"),
    "tag": _("Tags: any of"),
    "tag_all": _("Tags: all of"),
    "tag_none": _("Tags: none of"),
    "close_reason": _("Close reason: any of"),
    "close_reason_all": _("Close reason: all of"),
    "close_reason_none": _("Close reason: none of"),
    "started_from": _("Started from"),
    "started_to": _("Started to"),
    "closed_from": _("Closed from"),
    "closed_to": _("Closed to"),
    "id": _("Conversation ID"),
    "type": _("Type"),
    "waiting_min": _("Waiting more than"),
    "sort": _("Sort"),
}


def param_label(key: str) -> str:
    if key in PARAM_LABELS:
        return str(PARAM_LABELS[key])
    for suffix, word in (("_min", _("from")), ("_max", _("to"))):
        base = key.removesuffix(suffix)
        if base != key and base in COLUMNS:
            return f"{COLUMNS[base].label} ({word})"
    return key


def _employees():
    """(id, User.name) of every active employee, read as values (hundreds of users)."""
    users = get_user_model().objects.filter(is_active=True, is_integration=False)
    rows = users.order_by("display_name", "username").values_list(
        "pk", "display_name", "first_name", "last_name", "username"
    )
    # User.name: the display name, else AbstractUser.get_full_name(), else the username
    return [
        (str(pk), shown or f"{first} {last}".strip() or username)
        for pk, shown, first, last, username in rows
    ]


def _label_fields() -> list[Field]:
    """Tags and close reasons: any of, all of, none of (issue 19 item 3). Both option lists in
    one query (the panel is read on every list page)."""
    from django.db.models import CharField, Value

    from convodesk.lines.models import CloseReason

    from ..models import Tag

    kind = Value("", output_field=CharField())
    tags = Tag.objects.order_by().values_list(
        Value("t", output_field=CharField()), "pk", "name", kind
    )
    reasons = CloseReason.objects.order_by().values_list(
        Value("r", output_field=CharField()), "pk", "name", "line__name"
    )
    found = tags.union(reasons, all=True)
    rows = sorted(found, key=lambda r: (r[0], r[3].lower(), r[2].lower(), r[1]))
    tags = [(str(pk), name) for what, pk, name, _line in rows if what == "t"]
    reasons = [(str(pk), f"{name} ({line})") for what, pk, name, line in rows if what == "r"]
    fields = []
    for key, options in (("tag", tags), ("close_reason", reasons)):
        for mode in ("", "_all", "_none"):
            name = f"{key}{mode}"
            fields.append(Field(name, PARAM_LABELS[name], "multi", (name,), options))
    return fields


def build_fields(params: dict, errors: dict, today: dt.date) -> list[Field]:
    lines = [
        (str(pk), name) for pk, name in Line.objects.order_by("name").values_list("pk", "name")
    ]
    ranges = [
        ("", _("Any time")),
        *[(k, v) for k, v in DATE_RANGES.items()],
        ("custom", _("Custom")),
    ]
    range_hints = {k: range_dates(k, today) for k in DATE_RANGES}
    fields = [
        Field("line", _("Open channel"), "multi", ("line",), lines, default=True),
        Field(
            "started",
            _("Started"),
            "daterange",
            ("started_from", "started_to", "started_range"),
            ranges,
            default=True,
        ),
        Field(
            "responsible",
            _("Responsible employee"),
            "multi",
            ("responsible",),
            [("none", _("Not assigned")), *_employees()],
            default=True,
        ),
        Field(
            "channel",
            _("Channel"),
            "multi",
            ("channel",),
            [(k, v) for k, v in CHANNEL_LABELS.items()],
            default=True,
        ),
        Field("id", _("Conversation ID"), "text", ("id",), default=True),
        Field(
            "status",
            _("Status"),
            "multi",
            ("status",),
            [(k, v) for k, v in lifecycle.SIMPLE_LABELS.items()],
            default=True,
        ),
        # Added with *Add field*:
        Field("client", _("Client name"), "text", ("client",)),
        Field("contact", _("Client phone or e-mail"), "text", ("contact",)),
        Field("client_id", _("Client ID"), "text", ("client_id",)),
        Field("type", _("Type"), "single", ("type",), [(k, v) for k, v in TYPE_LABELS.items()]),
        Field(
            "closed", _("Closed"), "daterange", ("closed_from", "closed_to", "closed_range"), ranges
        ),
        Field(
            "status_detail",
            _("Status (detailed)"),
            "multi",
            ("status_detail",),
            [(lifecycle.STATUS_KEYS[s], lifecycle.STATUS_LABELS[s]) for s in lifecycle.Status],
        ),
        Field("has_crm", _("Has CRM record"), "bool", ("has_crm",), YES_NO),
        Field(
            "crm_type",
            _("CRM record type"),
            "multi",
            ("crm_type",),
            [(k, _(k.title())) for k in CRM_TYPES],
        ),
        Field("message_count", _("Messages"), "range", ("message_count_min", "message_count_max")),
        Field(
            "client_rating",
            _("Client rating"),
            "multi",
            ("client_rating",),
            [("like", _("Like")), ("dislike", _("Dislike")), ("none", _("Not rated"))],
        ),
        Field(
            "supervisor_rating",
            _("Supervisor rating"),
            "multi",
            ("supervisor_rating",),
            [*[(str(i), "★" * i) for i in range(1, 6)], ("none", _("Not rated"))],
        ),
        Field("spam", _("Spam"), "bool", ("spam",), YES_NO),
        Field("pinned", _("Pinned"), "bool", ("pinned",), YES_NO),
        Field("business_hours", _("Business hours"), "bool", ("business_hours",), YES_NO),
        Field("source_url", _("Source page"), "text", ("source_url",)),
        Field("returning", _("Returning client"), "bool", ("returning",), YES_NO),
        Field("agent_replied", _("Agent replied"), "bool", ("agent_replied",), YES_NO),
        Field("overdue", _("Overdue"), "bool", ("overdue",), YES_NO),
        Field("waiting", _("Waiting more than"), "waiting", ("waiting_min",)),
        Field(
            "transfer_count", _("Transfers"), "range", ("transfer_count_min", "transfer_count_max")
        ),
        *_label_fields(),
    ]
    for key in METRIC_KEYS + REPLY_TIME_KEYS + BUSINESS_METRIC_KEYS + BUSINESS_REPLY_TIME_KEYS:
        fields.append(Field(key, COLUMNS[key].label, "duration", (f"{key}_min", f"{key}_max")))
    language = translation.get_language()
    for f in fields:
        f.values = {p: params.get(p, "") for p in f.params}
        if f.kind in ("multi", "single", "bool"):
            f.values[f.key] = params.get(f.params[0], "")
        f.error = " ".join(str(errors[p]) for p in f.params if p in errors)
        if not f.error and not any(f.values.values()):
            options = tuple((value, str(label)) for value, label in f.options)
            f.cache_key = (language, today, f.key, str(f.label), f.default, options)
        if f.kind == "daterange":
            f.hints = {k: (display.day(a), display.day(b)) for k, (a, b) in range_hints.items()}
            prefix = f.key
            f.range = params.get(f"{prefix}_range") or (
                "custom" if params.get(f"{prefix}_from") or params.get(f"{prefix}_to") else ""
            )
        if f.kind in ("duration", "waiting"):
            raw = [params.get(p, "") for p in f.params]
            filled = [v for v in raw if v]
            f.unit = (
                "min" if filled and all(seconds_and_unit(v)[1] == "min" for v in filled) else "s"
            )
            f.display = [
                (p, seconds_and_unit(v)[0] if f.unit == "min" and v else v)
                for p, v in zip(f.params, raw, strict=True)
            ]
    return fields
