"""The connection form of the admin: channel settings as fields, secrets write-only."""

from django import forms
from django.utils.translation import gettext_lazy as _

from convodesk.lines.models import Connection

from . import mail, telegram

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

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        config = dict(self.instance.config or {})
        if kind == Connection.Kind.TELEGRAM:
            config["mode"] = data.get("telegram_mode") or "webhook"
            probe = Connection(kind=kind, config=dict(config))
            if data.get("bot_token"):
                telegram.set_bot_token(probe, data["bot_token"])
            if not telegram.bot_token(probe):
                self.add_error("bot_token", _("A Telegram connection needs its bot token."))
            else:
                try:
                    me = telegram.call(probe, "getMe", timeout=15)
                except telegram.TelegramError as exc:
                    self.add_error(
                        "bot_token", _("Telegram says: %(error)s") % {"error": exc.description}
                    )
                else:
                    config.update(
                        probe.config, bot={k: me.get(k) for k in ("id", "username", "first_name")}
                    )
        elif kind == Connection.Kind.EMAIL:
            if not data.get("address") or not data.get("imap_host") or not data.get("smtp_host"):
                raise forms.ValidationError(
                    _("An e-mail connection needs the support address, IMAP and SMTP hosts.")
                )
            probe = Connection(config=dict(config))
            side = {
                s: {k: data.get(f"{s}_{k}") for k in ("host", "port", "security", "user")}
                for s in ("imap", "smtp")
            }
            side["imap"]["folder"] = data.get("imap_folder") or "INBOX"
            for s in ("imap", "smtp"):
                if data.get(f"{s}_password"):
                    side[s]["password"] = data[f"{s}_password"]
            mail.configure(probe, address=data["address"], imap=side["imap"], smtp=side["smtp"])
            config = probe.config
        self.instance.config = config
        return data
