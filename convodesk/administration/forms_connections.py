"""The connection forms of the settings, one per kind. They only collect what was typed: the
connection service (connectors/setup.py) checks it, encrypts secrets, asks Telegram or the mail
servers, writes and records the change. Its refusals, keyed like "config.imap.password", are put
back beside the field they name (`place_errors`)."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from convodesk import crypto
from convodesk.connectors import livechat, setup
from convodesk.lines.models import Connection, Line

SECURITY = [
    ("ssl", _("SSL/TLS")),
    ("starttls", _("STARTTLS")),
    ("none", _("None (local testing only)")),
]
SECRET_HELP = _("Stored encrypted and never shown again; leave empty to keep the current one.")


class OriginListWidget(forms.Widget):
    """One text box per origin (a script adds and removes rows); posted as repeated values."""

    template_name = "administration/connections/origin_list.html"

    def value_from_datadict(self, data, files, name):
        return [v for v in data.getlist(name) if v.strip()] if hasattr(data, "getlist") else []

    def value_omitted_from_data(self, data, files, name):
        return False

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["rows"] = list(value or [])
        return context


class OriginListField(forms.Field):
    widget = OriginListWidget

    def to_python(self, value):
        return list(value or [])

    def validate(self, value):
        super().validate(value)
        try:
            setup.normalise_origins(value, field="allowed_origins")
        except setup.ConnectionInvalid as exc:
            raise forms.ValidationError(exc.errors["allowed_origins"]) from None

    def clean(self, value):
        value = super().clean(value)
        return setup.normalise_origins(value, field="allowed_origins")


class ConnectionForm(forms.Form):
    """What every kind has: a name, the open channel it feeds, whether it is active."""

    kind: str = ""
    name = forms.CharField(label=_("Name"), max_length=200)
    line = forms.ModelChoiceField(
        label=_("Open channel"),
        queryset=Line.objects.order_by("name"),
        help_text=_("Conversations from this connection go to this open channel's queue."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, connection: Connection | None = None, **kwargs):
        self.connection = connection
        if connection is not None:
            kwargs.setdefault("initial", {}).update(self.initial_from(connection))
        super().__init__(*args, **kwargs)
        if connection is not None:
            del self.fields["line"]  # a connection stays with its open channel

    def initial_from(self, connection: Connection) -> dict:
        return {"name": connection.name, "active": connection.active}

    def changes(self) -> dict:
        """The settings typed in, as the merge patch the service takes."""
        return {}

    def place_errors(self, errors: dict[str, str]) -> None:
        """Put the service's refusals beside the fields they name."""
        for key, message in errors.items():
            field = self.field_of(key)
            self.add_error(field if field in self.fields else None, message)

    def field_of(self, key: str) -> str:
        return key.removeprefix("config.").replace(".", "_")


class LivechatForm(ConnectionForm):
    kind = Connection.Kind.LIVECHAT
    allowed_origins = OriginListField(
        label=_("Websites that may show the chat"),
        required=False,
        help_text=_(
            "One origin per row, such as https://shop.example.com (scheme, host and port, no "
            "path). This installation's own address is always allowed."
        ),
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=200,
        required=False,
        help_text=_("The chat window's heading; empty shows the open channel's name."),
    )
    color = forms.RegexField(
        label=_("Colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        initial=livechat.DEFAULTS["color"],
        error_messages={"invalid": _("Enter a colour as #rrggbb.")},
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    greeting = forms.CharField(
        label=_("Greeting"),
        max_length=200,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The first line in the chat window; empty shows the product's own greeting."),
    )
    position = forms.ChoiceField(
        label=_("Button position"),
        choices=[("right", _("Bottom right")), ("left", _("Bottom left"))],
        initial="right",
        required=False,
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("As the visitor's browser asks"))] + list(settings.LANGUAGES),
        required=False,
    )
    ask_name = forms.BooleanField(label=_("Ask for the name"), required=False)
    ask_email = forms.BooleanField(label=_("Ask for the e-mail address"), required=False)
    ask_phone = forms.BooleanField(label=_("Ask for the phone number"), required=False)
    max_length = forms.IntegerField(
        label=_("Longest message (characters)"),
        min_value=1,
        max_value=100000,
        initial=livechat.DEFAULTS["max_length"],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.connection is None:
            for name in ("ask_name", "ask_email", "ask_phone"):
                self.fields[name].initial = livechat.DEFAULTS[name]

    def initial_from(self, connection):
        config = connection.config or {}
        data = super().initial_from(connection)
        data["allowed_origins"] = list(connection.allowed_origins or [])
        for key in (
            "title",
            "color",
            "greeting",
            "position",
            "language",
            "ask_name",
            "ask_email",
            "ask_phone",
            "max_length",
        ):
            data[key] = config.get(key, livechat.DEFAULTS[key])
        return data

    def changes(self):
        data = self.cleaned_data
        return {
            "title": data.get("title") or "",
            "color": data.get("color") or livechat.DEFAULTS["color"],
            "greeting": data.get("greeting") or "",
            "position": data.get("position") or "right",
            "language": data.get("language") or "",
            "ask_name": bool(data.get("ask_name")),
            "ask_email": bool(data.get("ask_email")),
            "ask_phone": bool(data.get("ask_phone")),
            "max_length": data.get("max_length") or livechat.DEFAULTS["max_length"],
        }


class TelegramForm(ConnectionForm):
    kind = Connection.Kind.TELEGRAM
    bot_token = forms.CharField(
        label=_("Bot token"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text=_("From @BotFather, like 123456:ABC-DEF…"),
    )
    mode = forms.ChoiceField(
        label=_("How updates arrive"),
        choices=[
            ("webhook", _("Webhook: Telegram calls this installation (needs PUBLIC_URL)")),
            ("polling", _("Polling: this installation asks Telegram (the telegram_poll worker)")),
        ],
        initial="webhook",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.connection is not None:
            self.fields["bot_token"].help_text = SECRET_HELP

    def initial_from(self, connection):
        data = super().initial_from(connection)
        data["mode"] = (connection.config or {}).get("mode", "webhook")
        return data

    def clean(self):
        data = super().clean()
        if self.connection is None and not data.get("bot_token"):
            self.add_error("bot_token", _("Paste the bot token BotFather gave you."))
        return data

    def changes(self):
        changes = {"mode": self.cleaned_data.get("mode") or "webhook"}
        if self.cleaned_data.get("bot_token"):
            changes["bot_token"] = self.cleaned_data["bot_token"]
        return changes


class EmailForm(ConnectionForm):
    kind = Connection.Kind.EMAIL
    address = forms.EmailField(
        label=_("Support address"),
        help_text=_("Clients write to it; replies are sent from it."),
    )
    imap_host = forms.CharField(label=_("IMAP server"), max_length=255)
    imap_port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(label=_("Security"), choices=SECURITY, initial="ssl")
    imap_user = forms.CharField(label=_("User"), max_length=255)
    imap_password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    imap_folder = forms.CharField(
        label=_("Folder"),
        max_length=255,
        initial="INBOX",
        help_text=_("Test the connection to choose from the server's folders."),
    )
    smtp_host = forms.CharField(label=_("SMTP server"), max_length=255)
    smtp_port = forms.IntegerField(label=_("Port"), min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(label=_("Security"), choices=SECURITY, initial="starttls")
    smtp_user = forms.CharField(
        label=_("User"),
        max_length=255,
        required=False,
        help_text=_("Empty: the server takes mail without a log-in."),
    )
    smtp_password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, folders=None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.connection is not None:
            for side in ("imap", "smtp"):
                self.fields[f"{side}_password"].help_text = SECRET_HELP
        else:
            self.fields["imap_password"].required = True
        self.set_folders(folders)

    def set_folders(self, folders) -> None:
        """After a test: the folder becomes a choice among those the server listed."""
        if not folders:
            return
        current = self["imap_folder"].value() or "INBOX"
        names = list(folders) + ([current] if current not in folders else [])
        self.fields["imap_folder"].widget = forms.Select(choices=[(n, n) for n in names])
        self.fields["imap_folder"].help_text = _("The folders the IMAP server lists.")

    def initial_from(self, connection):
        config = connection.config or {}
        data = super().initial_from(connection)
        data["address"] = config.get("address", "")
        for side in ("imap", "smtp"):
            for key in ("host", "port", "security", "user", "folder"):
                value = (config.get(side) or {}).get(key)
                if value is not None:
                    data[f"{side}_{key}"] = value
        return data

    def changes(self):
        data = self.cleaned_data
        changes = {"address": data.get("address") or ""}
        for side in ("imap", "smtp"):
            part = {
                "host": (data.get(f"{side}_host") or "").strip(),
                "port": data.get(f"{side}_port"),
                "security": data.get(f"{side}_security") or None,
                "user": data.get(f"{side}_user") or "",
            }
            if side == "imap":
                part["folder"] = data.get("imap_folder") or "INBOX"
            if data.get(f"{side}_password"):
                part["password"] = data[f"{side}_password"]
            changes[side] = part
        return changes


class ApiForm(ConnectionForm):
    kind = Connection.Kind.API
    webhook_url = forms.CharField(
        label=_("Webhook URL"),
        max_length=2000,
        required=False,
        help_text=_(
            "Your system's address: each reply is POSTed there as signed JSON. Empty: replies "
            "are only read through the API."
        ),
    )

    def initial_from(self, connection):
        data = super().initial_from(connection)
        data["webhook_url"] = crypto.mask_url((connection.config or {}).get("webhook_url", ""))
        return data

    def changes(self):
        url = (self.cleaned_data.get("webhook_url") or "").strip()
        return {"webhook_url": url or None}


FORMS = {
    Connection.Kind.LIVECHAT: LivechatForm,
    Connection.Kind.TELEGRAM: TelegramForm,
    Connection.Kind.EMAIL: EmailForm,
    Connection.Kind.API: ApiForm,
}
