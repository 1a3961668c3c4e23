"""The open channel form: reads what the screen posts (members in order, the weekly grid, the
holidays) into the shape `lines.services` takes, and puts the service's refusals beside the
fields. It validates nothing the service does not: one set of rules for screens and API."""

from __future__ import annotations

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from convodesk import timezones
from convodesk.accounts.models import User
from convodesk.conversations.normalize import parse_id
from convodesk.lines import services
from convodesk.lines.models import Line

NUMBER_FIELDS = tuple(services.NUMBERS)
SERVICE_FIELDS = (
    "name",
    "distribution",
    *NUMBER_FIELDS,
    "closing_text",
    "ask_rating",
    "greeting_text",
    "out_of_hours_text",
    "crm_binding",
    "crm_bind_open_deal",
    "close_reason_required",
    "time_zone",
)


# Reply-time targets: typed in minutes on the screen, stored in seconds.
SLA_MINUTES = {"sla_first_minutes": "sla_first_seconds", "sla_next_minutes": "sla_next_seconds"}
SLA_FLAGS = ("sla_first_business", "sla_next_business", "sla_mail")


def time_zone_choices():
    return timezones.choices()


def _number(label, help_text=""):
    """Read as text: the service checks it (ASCII digits only; Django's IntegerField would
    read "٣" as 3)."""
    return forms.CharField(
        label=label,
        help_text=help_text,
        max_length=20,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
    )


class LineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    distribution = forms.ChoiceField(label=_("Distribution"), choices=Line.Distribution.choices)
    queue_timeout_seconds = _number(
        _("Queue time-out (seconds)"),
        _("How long an offer waits for an answer before the next employee gets it."),
    )
    max_open_per_employee = _number(
        _("Limit per employee"), _("Open conversations one employee holds at most; 0 = no limit.")
    )
    auto_close_minutes = _number(
        _("Auto-close after (minutes)"), _("Of client silence after an employee's reply.")
    )
    closing_text = forms.CharField(
        label=_("Closing text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Sent to the client when the conversation is closed."),
    )
    ask_rating = forms.BooleanField(label=_("Ask the client for a rating"), required=False)
    full_close_minutes = _number(
        _("Full-close delay (minutes)"),
        _("With a closing text or rating, how long the client may still answer."),
    )
    reopen_window_minutes = _number(
        _("Reopen window (minutes)"),
        _("A client who writes again within it reopens the conversation; 0 = always a new one."),
    )
    greeting_text = forms.CharField(
        label=_("Greeting"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Sent when a client starts a conversation within working hours."),
    )
    out_of_hours_text = forms.CharField(
        label=_("Out-of-hours text"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Sent instead of the greeting outside working hours and on holidays."),
    )
    crm_binding = forms.ChoiceField(
        label=_("When no CRM contact matches"), choices=Line.CrmBinding.choices
    )
    crm_bind_open_deal = forms.BooleanField(
        label=_("Bind the conversation to the contact's open deal"), required=False
    )
    time_zone = forms.CharField(label=_("Time zone"), widget=forms.Select())
    close_reason_required = forms.BooleanField(
        label=_("Require a close reason"),
        required=False,
        help_text=_("Employees choose one of the close reasons below to close a conversation."),
    )
    sla_first_minutes = forms.CharField(
        label=_("First-answer target (minutes)"),
        required=False,
        max_length=20,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
        help_text=_("How long a new client may wait for the first answer; empty = no target."),
    )
    sla_first_business = forms.BooleanField(
        label=_("Count the first-answer target in business hours"), required=False
    )
    sla_next_minutes = forms.CharField(
        label=_("Next-reply target (minutes)"),
        required=False,
        max_length=20,
        widget=forms.NumberInput(attrs={"class": "num-input"}),
        help_text=_("How long a client who wrote again may wait for a reply; empty = no target."),
    )
    sla_next_business = forms.BooleanField(
        label=_("Count the next-reply target in business hours"), required=False
    )
    sla_mail = forms.BooleanField(
        label=_("E-mail the supervisors when a target is missed"), required=False
    )

    def __init__(self, data=None, *, line: Line | None = None):
        self.line = line or Line()
        initial = {name: getattr(self.line, name) for name in SERVICE_FIELDS}
        for name in SLA_MINUTES:
            seconds = getattr(self.line, SLA_MINUTES[name])
            initial[name] = "" if seconds is None else str(seconds // 60)
        for name in SLA_FLAGS:
            initial[name] = getattr(self.line, name)
        super().__init__(data, initial=initial)
        self.fields["time_zone"].widget.choices = time_zone_choices()
        self.extra_errors: dict[str, str] = {}

    # What the screen posts besides the plain fields ------------------------------------

    def member_ids(self) -> list[int]:
        if self.data:
            ids = (parse_id(value) for value in self.data.getlist("members"))
            return list(dict.fromkeys(i for i in ids if i is not None))
        return services.member_ids(self.line) if self.line.pk else []

    def working_hours(self) -> dict:
        if not self.data:
            return self.line.working_hours or {}
        hours = {}
        for day in services.WEEKDAYS:
            starts = self.data.getlist(f"hours_{day}_start")
            ends = self.data.getlist(f"hours_{day}_end")
            pairs = [[s.strip(), e.strip()] for s, e in zip(starts, ends, strict=False)]
            pairs = [p for p in pairs if p[0] or p[1]]
            if pairs:
                hours[day] = pairs
        return hours

    def holidays(self) -> list:
        if not self.data:
            return list(self.line.holidays or [])
        return [d.strip() for d in self.data.getlist("holidays") if d.strip()]

    def changes(self) -> dict:
        """Everything the service takes; call after is_valid()."""
        data = {name: self.cleaned_data[name] for name in SERVICE_FIELDS}
        data["working_hours"] = self.working_hours()
        data["holidays"] = self.holidays()
        data["members"] = self.member_ids()
        for name, field in SLA_MINUTES.items():
            text = (self.cleaned_data.get(name) or "").strip()
            minutes = parse_id(text) if text else None
            # Text the form cannot read goes to the service as is, which names the error.
            data[field] = None if not text else (minutes * 60 if minutes is not None else text)
        for name in SLA_FLAGS:
            data[name] = bool(self.cleaned_data.get(name))
        return data

    def close_reason_changes(self) -> tuple[dict[int, tuple[str, bool]], list[str]]:
        """What the close reasons part posts: {id: (name, archived)} and the names to add."""
        existing = {}
        for key in self.data:
            if key.startswith("reason_") and not key.endswith("_archived"):
                pk = parse_id(key.removeprefix("reason_"))
                if pk is not None:
                    existing[pk] = (self.data.get(key, ""), bool(self.data.get(f"{key}_archived")))
        new = [n for n in self.data.get("new_reasons", "").splitlines() if n.strip()]
        return existing, new

    def close_reason_rows(self) -> list[tuple[int, str, bool, str]]:
        """(id, name, archived, error) of each close reason, as posted when it was."""
        if not self.line.pk:
            return []
        rows = list(self.line.close_reasons.values_list("pk", "name", "archived"))
        posted = self.close_reason_changes()[0] if self.data else {}
        return [
            (pk, *posted.get(pk, (name, archived)), self.extra_errors.get(f"reason_{pk}", ""))
            for pk, name, archived in rows
        ]

    def refuse(self, errors: dict[str, str]) -> None:
        """Put the service's refusals beside their fields."""
        for name, message in errors.items():
            name = {field: form_name for form_name, field in SLA_MINUTES.items()}.get(name, name)
            if name in self.fields:
                self.add_error(name, message)
            else:
                self.extra_errors[name] = message

    # What the template shows ----------------------------------------------------------

    def members(self) -> list[User]:
        ids = self.member_ids()
        users = User.objects.in_bulk(ids)
        return [users[i] for i in ids if i in users]

    def hour_rows(self) -> list[tuple[str, str, list]]:
        hours = self.working_hours()
        return [(day, WEEKDAYS[int(day)], hours.get(day, [])) for day in services.WEEKDAYS]

    def general_fields(self):
        return [self[name] for name in ("name",)]

    def distribution_fields(self):
        return [self[n] for n in ("distribution", "queue_timeout_seconds", "max_open_per_employee")]

    def closing_fields(self):
        return [
            self[n]
            for n in (
                "auto_close_minutes",
                "closing_text",
                "ask_rating",
                "full_close_minutes",
                "reopen_window_minutes",
                "close_reason_required",
            )
        ]

    def text_fields(self):
        return [self[n] for n in ("greeting_text", "out_of_hours_text")]

    def sla_fields(self):
        return [self[n] for n in (*SLA_MINUTES, *SLA_FLAGS)]

    def crm_fields(self):
        return [self[n] for n in ("crm_binding", "crm_bind_open_deal")]
