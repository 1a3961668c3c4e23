"""Forms of the quick replies and API tokens screens; the writes are the services'."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from convodesk.accounts.models import Role, User
from convodesk.lines.models import Line


class QuickReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=80)
    shortcut = forms.CharField(
        label=_("Shortcut"),
        max_length=30,
        required=False,
        help_text=_("A short word to find it by, such as hello or refund."),
    )
    text = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 5}),
        strip=False,
        help_text=_(
            "{client_name} and {employee_name} are replaced by the client's and the "
            "employee's names when the reply is inserted."
        ),
    )
    line = forms.TypedChoiceField(
        label=_("Open channel"), coerce=int, empty_value=None, required=False
    )
    owner = forms.TypedChoiceField(
        label=_("Who uses it"), coerce=int, empty_value=None, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [("", _("Every open channel"))] + [
            (line.pk, line.name) for line in Line.objects.order_by("name")
        ]
        self.fields["owner"].choices = [("", _("Shared: every employee"))] + [
            (u.pk, _("Personal: %(name)s") % {"name": u.name})
            for u in User.objects.filter(is_active=True, is_integration=False).order_by(
                "display_name", "username"
            )[:1000]
        ]


class ApiTokenForm(forms.Form):
    """A token for an integration account: an existing one, or a new one made here."""

    owner = forms.TypedChoiceField(
        label=_("Integration account"), coerce=int, empty_value=None, required=False
    )
    new_integration = forms.CharField(
        label=_("…or a new integration account named"),
        max_length=150,
        required=False,
        help_text=_("Letters, digits and @/./+/-/_, such as crm-sync."),
    )
    role = forms.TypedChoiceField(
        label=_("Role of the new account"), coerce=int, empty_value=None, required=False
    )
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        required=False,
        help_text=_("What it is for, such as “CRM sync on server 2”."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—")] + [
            (u.pk, u.name)
            for u in User.objects.filter(is_integration=True, is_active=True).order_by("username")
        ]
        self.fields["role"].choices = [(r.pk, r.name) for r in Role.objects.order_by("name")]

    def clean(self):
        data = super().clean()
        if not data.get("owner") and not (data.get("new_integration") or "").strip():
            self.add_error("owner", _("Choose an integration account or name a new one."))
        return data
