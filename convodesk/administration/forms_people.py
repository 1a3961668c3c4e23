"""Forms of the people screens: employees, departments, roles. They only read the request; the
checks and the write are `convodesk.accounts.services`' (the same the API uses), whose refusals
are put back beside the fields they name (`add_service_errors`)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from convodesk.accounts.models import PERMISSIONS, Department, Level, Role
from convodesk.accounts.services import department_tree
from convodesk.conversations.normalize import parse_id


def add_service_errors(form: forms.Form, errors: dict[str, str], aliases=None) -> None:
    """Each refusal beside its field; one naming no field of the form goes on top of it."""
    aliases = aliases or {}
    for key, message in errors.items():
        field = aliases.get(key, key)
        if field.startswith("levels."):
            field = field.split(".", 1)[1]
        form.add_error(field if field in form.fields else None, message)


def department_choices(paths=False):
    """Departments as a tree, parents first: indented (for a select) or as paths such as
    "Sales › East" (for a row of check boxes)."""
    if not paths:
        return [(dep.pk, "\u2003" * depth + dep.name) for dep, depth in department_tree()]
    names, out = {}, []
    for dep, _depth in department_tree():
        names[dep.pk] = (
            f"{names[dep.parent_id]} › {dep.name}" if dep.parent_id in names else dep.name
        )
        out.append((dep.pk, names[dep.pk]))
    return out


LANGUAGE_CHOICES = [("", _("As the browser asks"))] + [
    (code, name) for code, name in settings.LANGUAGES
]


class EmployeeForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    departments = forms.TypedMultipleChoiceField(
        label=_("Departments"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    roles = forms.TypedMultipleChoiceField(
        label=_("Roles"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    invite = forms.BooleanField(
        label=_("Invite them to choose their own password"),
        required=False,
        help_text=_("Instead of a password: a link that works once, for three days."),
    )
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False)
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        initial="UTC",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
        help_text=_("An IANA name, such as Europe/Madrid or America/Mexico_City."),
    )

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["departments"].choices = department_choices(paths=True)
        self.fields["roles"].choices = [(r.pk, r.name) for r in Role.objects.order_by("name")]
        if editing:
            del self.fields["invite"]
            del self.fields["username"]
            self.fields["password"].label = _("New password")
            self.fields["password"].help_text = _("Leave empty to keep the current one.")
        else:
            self.fields["password"].help_text = _(
                "The employee logs in with it. Leave empty to create the account without a "
                "log-in; set one later here."
            )

    def clean(self):
        data = super().clean()
        if data.get("invite") and data.get("password"):
            self.add_error("invite", _("Choose a password or an invitation, not both."))
        return data


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    parent = forms.TypedChoiceField(label=_("Inside"), coerce=int, empty_value=None, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", _("— top level —"))] + department_choices()


LEVELS = [Level.NONE, Level.OWN, Level.DEPARTMENT, Level.ALL]


class RoleForm(forms.Form):
    """The matrix: one radio group per permission. Every level is accepted here so that one a
    permission does not have reaches the service and is refused beside its row."""

    name = forms.CharField(label=_("Name"), max_length=100)
    departments = forms.TypedMultipleChoiceField(
        label=_("Given to every employee of"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for permission, (label, _levels) in PERMISSIONS.items():
            self.fields[permission] = forms.TypedChoiceField(
                label=label, choices=[(lv.value, lv.label) for lv in LEVELS], coerce=int
            )
        self.fields["departments"].choices = department_choices(paths=True)

    def levels(self) -> dict[str, int]:
        return {p: self.cleaned_data[p] for p in PERMISSIONS if p in self.cleaned_data}

    def rows(self):
        """For the template: per permission, its label, errors and one cell per level."""
        out = []
        for permission, (label, allowed) in PERMISSIONS.items():
            field = self[permission]
            current = field.value()
            current = parse_id(str(current)) if current is not None else None
            cells = [
                {
                    "value": lv.value,
                    "label": lv.label,
                    "allowed": lv in allowed,
                    "checked": current == lv.value,
                    "id": f"id_{permission}_{lv.value}",
                }
                for lv in LEVELS
            ]
            out.append({"name": permission, "label": label, "errors": field.errors, "cells": cells})
        return out


def role_initial(role: Role | None) -> dict:
    if role is None:
        return {p: levels[0].value for p, (_label, levels) in PERMISSIONS.items()}
    initial = {"name": role.name, **{p: int(v) for p, v in role.levels().items()}}
    initial["departments"] = list(role.department_grants.values_list("department_id", flat=True))
    return initial


__all__ = ["Department", "DepartmentForm", "EmployeeForm", "RoleForm", "add_service_errors"]
