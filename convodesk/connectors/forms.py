"""The connection form of the admin: channel settings as fields, secrets write-only."""

from django import forms
from django.utils.translation import gettext_lazy as _

from convodesk.lines.models import Connection

from . import setup

# The service's field names ("config.imap.host") as this form's fields.
FIELDS = {"config.mode": "telegram_mode", "config.bot": "bot_token"}
SECURITY = [("ssl", "SSL/TLS"), ("starttls", "STARTTLS"), ("none", _("None (local testing only)"))]


class ConnectionForm(forms.ModelForm):
    bot_token = forms.CharField(
        label=_("Telegram bot token"),
        required=False,
        widget=forms.PasswordInput,
        help_text=_("Stored encrypted; leave empty to keep the current one."),
    )
    telegram_mode = forms.ChoiceField(
        label=_("Telegram updates"),
        required=False,
        choices=[("webhook", _("Webhook")), ("polling", _("Polling (telegram_poll)"))],
    )
    address = forms.EmailField(label=_("Support address"), required=False)
    imap_host = forms.CharField(label=_("IMAP host"), required=False)
    imap_port = forms.IntegerField(
        label=_("IMAP port"), required=False, min_value=1, max_value=65535
    )
    imap_security = forms.ChoiceField(label=_("IMAP security"), choices=SECURITY, required=False)
    imap_user = forms.CharField(label=_("IMAP user"), required=False)
    imap_password = forms.CharField(
        label=_("IMAP password"), required=False, widget=forms.PasswordInput
    )
    imap_folder = forms.CharField(label=_("IMAP folder"), required=False, initial="INBOX")
    smtp_host = forms.CharField(label=_("SMTP host"), required=False)
    smtp_port = forms.IntegerField(
        label=_("SMTP port"), required=False, min_value=1, max_value=65535
    )
    smtp_security = forms.ChoiceField(label=_("SMTP security"), choices=SECURITY, required=False)
    smtp_user = forms.CharField(label=_("SMTP user"), required=False)
    smtp_password = forms.CharField(
        label=_("SMTP password"), required=False, widget=forms.PasswordInput
    )

    class Meta:
        model = Connection
        fields = ["line", "kind", "name", "active", "allowed_origins"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = self.instance.config or {}
        self.fields["telegram_mode"].initial = config.get("mode", "webhook")
        self.fields["address"].initial = config.get("address")
        for side in ("imap", "smtp"):
            for key in ("host", "port", "security", "user", "folder"):
                name = f"{side}_{key}"
                if name in self.fields and (config.get(side) or {}).get(key) is not None:
                    self.fields[name].initial = config[side][key]

    def clean_allowed_origins(self):
        try:
            return setup.normalise_origins(self.cleaned_data.get("allowed_origins") or [])
        except setup.ConnectionInvalid as exc:
            raise forms.ValidationError(exc.errors["allowed_origins"]) from None

    def _changes(self, data: dict) -> dict:
        """The settings typed into the form, as the merge patch the service takes."""
        kind = data.get("kind")
        if kind == Connection.Kind.TELEGRAM:
            changes = {"mode": data.get("telegram_mode") or "webhook"}
            if data.get("bot_token"):
                changes["bot_token"] = data["bot_token"]
            return changes
        if kind == Connection.Kind.EMAIL:
            changes = {"address": data.get("address") or ""}
            for side in ("imap", "smtp"):
                part = {k: data.get(f"{side}_{k}") or None for k in ("host", "security", "user")}
                part["port"] = data.get(f"{side}_port")
                if side == "imap":
                    part["folder"] = data.get("imap_folder") or "INBOX"
                if side == "smtp":
                    part["user"] = data.get("smtp_user") or ""  # empty: no SMTP log-in
                if data.get(f"{side}_password"):
                    part["password"] = data[f"{side}_password"]
                changes[side] = part
            return changes
        return {}

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        same_kind = self.instance.pk and self.instance.kind == kind
        current = self.instance.config if same_kind else {}
        try:
            self.instance.config = setup.prepare(kind, self._changes(data), current=current)
        except setup.ConnectionInvalid as exc:
            for key, message in exc.errors.items():
                field = FIELDS.get(key, key.removeprefix("config.").replace(".", "_"))
                self.add_error(field if field in self.fields else None, message)
        return data
