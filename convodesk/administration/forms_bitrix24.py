"""Forms of the Bitrix24 compatibility screen; the writes are convodesk.bitrix24.codes'."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from convodesk.accounts.models import User
from convodesk.bitrix24.models import Connector, EventHandler


class WebhookCodeForm(forms.Form):
    user = forms.TypedChoiceField(
        label=_("Acts as"),
        coerce=int,
        help_text=_("Scripts using the code see and do what this employee may, nothing more."),
    )
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        required=False,
        help_text=_("What it is for, such as “order sync”."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [
            (u.pk, u.name + (" · " + str(_("integration")) if u.is_integration else ""))
            for u in User.objects.filter(is_active=True).order_by("display_name", "username")[:2000]
        ]


class EventHandlerForm(forms.Form):
    event = forms.ChoiceField(label=_("Event"), choices=EventHandler.Event.choices)
    handler_url = forms.CharField(
        label=_("Handler URL"),
        max_length=2000,
        help_text=_("Receives the event as a form-encoded POST, as the seed product sends it."),
    )
    connector = forms.TypedChoiceField(
        label=_("Only for the connector"), coerce=int, empty_value=None, required=False
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connector"].choices = [("", _("Every conversation"))] + [
            (c.pk, f"{c.name} ({c.code})") for c in Connector.objects.order_by("code")
        ]
        if editing:
            self.fields["event"].disabled = True
