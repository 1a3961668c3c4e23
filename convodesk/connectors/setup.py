"""Creating and changing connections: the one path for the admin form, settings screens and API.

`prepare()` turns the settings a person typed into the stored form: checked per channel kind,
secrets (any key naming a token, password or secret) encrypted, and the outside world asked
whether they work — Telegram's `getMe` for a bot token, a real IMAP and SMTP log-in for a
mailbox — so a wrong value is refused with the server's own words, naming the field.
`commit()` saves and registers what needs the saved row (Telegram's webhook URL carries the
connection id); if Telegram refuses, the change is undone. Nothing is stored half-done.

Settings are given as a JSON merge patch (RFC 7386) over the current ones: a key set to null is
removed, nested objects (`imap`, `smtp`) merge, and a secret sent back masked (`"***"`) keeps
the stored one, so what GET shows can be PATCHed back unchanged.
"""

from __future__ import annotations

import imaplib
import os
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils.translation import gettext as _

from convodesk import crypto, outbound
from convodesk.audit import log as audit
from convodesk.audit.models import AuditEntry
from convodesk.fielderrors import FieldErrors
from convodesk.lines.models import Connection, Line

from . import mail, telegram

MASK, is_secret_key, mask_secrets = crypto.MASK, crypto.is_secret_key, crypto.mask_secrets
SECURITY = ("ssl", "starttls", "none")
# Settings the product writes itself; accepted back unchanged from a GET, never taken from input.
READ_ONLY = {
    "telegram": {"bot", "poll_offset", "last_update_at"},
    "email": {"state"},
    "api": {"connector"},  # the Bitrix24 custom connector whose line this connection is
}
MAIL_KEYS = {
    "imap": {"host", "port", "security", "user", "password", "folder", "ca_file"},
    "smtp": {"host", "port", "security", "user", "password", "ca_file"},
}
MAX_ORIGINS = 100


class ConnectionInvalid(FieldErrors):
    """The settings are refused; `errors` maps each field ("config.imap.password") to why."""


# Secrets ------------------------------------------------------------------------------


def _encrypt_given(value):
    """Encrypt each secret in the input; a masked or absent secret is dropped (keeps the stored)."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if is_secret_key(key):
            if item == MASK:
                continue
            if isinstance(item, str):
                item = crypto.encrypt(item.strip()) if item.strip() else ""
        else:
            item = _encrypt_given(item)
        out[key] = item
    return out


def merge_patch(current: dict, patch: dict) -> dict:
    """RFC 7386: objects merge, null removes, anything else replaces."""
    result = dict(current)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_patch(result[key], value)
        else:
            result[key] = value
    return result


def rotate_secrets(connection: Connection, rotate) -> int:
    """Apply `rotate(token) -> token` to every encrypted value a connection keeps (its own
    secret, and each secret in its settings at any depth); returns how many were rotated."""
    count = 0

    def walk(value):
        nonlocal count
        if isinstance(value, dict):
            for key, item in value.items():
                if is_secret_key(key) and isinstance(item, str) and item:
                    value[key] = rotate(item)
                    count += 1
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    if connection.secret_encrypted:
        connection.secret_encrypted = rotate(connection.secret_encrypted)
        count += 1
    walk(connection.config)
    return count


def encrypt_clear_secrets(config):
    """The settings with every secret that no key reads encrypted; returns (config, count).

    Before the connection service, `POST /lines/{id}/connections` stored bot tokens and mailbox
    passwords as given; a stored value is clear text exactly when it is not a token we can read.
    """
    count = 0

    def walk(value):
        nonlocal count
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if is_secret_key(key) and isinstance(item, str) and item.strip():
                    if not crypto.decrypt(item):
                        item = crypto.encrypt(item.strip())
                        count += 1
                    out[key] = item
                else:
                    out[key] = walk(item)
            return out
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(config or {}), count


# Origins ------------------------------------------------------------------------------


def normalise_origin(value: str) -> str:
    """The exact origin `scheme://host[:port]` (lower case, default port dropped, IDN as
    punycode) that a browser sends in its Origin header; ValueError for anything else."""
    if not isinstance(value, str) or not value.strip() or len(value) > 300:
        raise ValueError(_("Enter an origin such as https://shop.example.com."))
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(_("“%(value)s” is not a valid origin.") % {"value": text}) from None
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(
            _("“%(value)s” is not an origin: use http:// or https:// and a host name.")
            % {"value": text}
        )
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            _("“%(value)s” is not an origin: give only the scheme, host and port.")
            % {"value": text}
        )
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    else:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise ValueError(_("“%(value)s” has an invalid host name.") % {"value": text}) from None
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def normalise_origins(values, field: str = "allowed_origins") -> list[str]:
    if not isinstance(values, list):
        raise ConnectionInvalid({field: _("Give a list of origins.")})
    if len(values) > MAX_ORIGINS:
        raise ConnectionInvalid({field: _("At most %(n)s origins.") % {"n": MAX_ORIGINS}})
    found = []
    for value in values:
        try:
            origin = normalise_origin(value)
        except ValueError as exc:
            raise ConnectionInvalid({field: str(exc)}) from None
        if origin not in found:
            found.append(origin)
    return found


# Checks per kind ----------------------------------------------------------------------


def _unknown(config: dict, known: set, prefix: str = "config") -> dict:
    return {f"{prefix}.{k}": _("Unknown setting.") for k in config if k not in known}


def _check_livechat(config: dict, errors: dict) -> None:
    from . import livechat  # livechat imports origins, which imports normalise_origin from here

    errors.update(_unknown(config, set(livechat.DEFAULTS)))
    for key, default in livechat.DEFAULTS.items():
        value = config.get(key)
        if value is None:
            continue
        field = f"config.{key}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                errors[field] = _("Enter true or false.")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100000:
                errors[field] = _("Enter a whole number from 1 to 100000.")
        elif not isinstance(value, str) or len(value) > 200:
            errors[field] = _("Enter text of at most 200 characters.")
    color = config.get("color")
    if isinstance(color, str) and not (
        len(color) == 7
        and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        errors["config.color"] = _("Enter a colour as #rrggbb.")
    if config.get("position") is not None and config["position"] not in livechat.POSITIONS:
        errors["config.position"] = _("Choose right or left.")
    language = config.get("language")
    if language is not None and language not in ("", *dict(settings.LANGUAGES)):
        errors["config.language"] = _("Unknown language.")


def _check_api(config: dict, errors: dict, current: dict) -> None:
    """The webhook's form, and where it leads when it is new (`outbound`): a stored one is
    checked again at each delivery, so an edit of something else is never refused for it."""
    errors.update(_unknown(config, {"webhook_url"} | READ_ONLY["api"]))
    url = config.get("webhook_url")
    if url not in (None, ""):
        try:
            parts = urlsplit(url) if isinstance(url, str) and len(url) <= 2000 else None
            if parts is not None:
                parts.port  # noqa: B018 - raises on an invalid port
        except ValueError:  # "http://[::1" and the like
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            errors["config.webhook_url"] = _("Enter an http(s) URL.")
        elif url != current.get("webhook_url") and (refused := outbound.check_destination(url)):
            errors["config.webhook_url"] = refused


def _check_telegram(config: dict, errors: dict, probe: bool) -> None:
    errors.update(_unknown(config, {"bot_token", "mode"} | READ_ONLY["telegram"]))
    mode = config.get("mode", "webhook")
    if mode not in ("webhook", "polling"):
        errors["config.mode"] = _("Choose webhook or polling.")
    elif mode == "webhook" and not settings.CONVODESK.get("PUBLIC_URL"):
        errors["config.mode"] = _(
            "Set PUBLIC_URL (the address Telegram can reach) or choose polling mode."
        )
    token = config.get("bot_token")
    if not isinstance(token, str) or not crypto.decrypt(token):
        errors["config.bot_token"] = _("A Telegram connection needs its bot token.")
    elif not telegram.valid_bot_token(crypto.decrypt(token)):
        errors["config.bot_token"] = str(telegram.BAD_TOKEN_MESSAGE)
    if errors or not probe:
        return
    try:
        me = telegram.call(Connection(kind="telegram", config=config), "getMe", timeout=15)
    except telegram.TelegramError as exc:
        errors["config.bot_token"] = _("Telegram says: %(error)s") % {"error": exc.description}
    else:
        config["bot"] = telegram.bot_profile(Connection(kind="telegram", config=config), me)


def _check_mail_part(side: str, part, errors: dict, need_user: bool, current: dict) -> None:
    """One server's settings; a host that is new is also checked against `outbound` (a stored
    one is checked again at each connection, so an edit of something else is never refused)."""
    prefix = f"config.{side}"
    if not isinstance(part, dict):
        errors[prefix] = _("Give the %(side)s settings as an object.") % {"side": side.upper()}
        return
    errors.update(_unknown(part, MAIL_KEYS[side], prefix))
    host = part.get("host")
    if not isinstance(host, str) or not host.strip():
        errors[f"{prefix}.host"] = _("Enter the %(side)s host.") % {"side": side.upper()}
    else:
        stored = current.get(side)
        stored = stored.get("host") if isinstance(stored, dict) else None
        if host != stored and (refused := outbound.check_host(host.strip())):
            errors[f"{prefix}.host"] = refused
    port = part.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int)):
        errors[f"{prefix}.port"] = _("Enter a port from 1 to 65535.")
    elif port is not None and not 1 <= port <= 65535:
        errors[f"{prefix}.port"] = _("Enter a port from 1 to 65535.")
    if part.get("security", "ssl") not in SECURITY:
        errors[f"{prefix}.security"] = _("Choose ssl, starttls or none.")
    for key in ("user", "folder", "ca_file", "password"):
        if part.get(key) is not None and not isinstance(part[key], str):
            errors[f"{prefix}.{key}"] = _("Enter text.")
    if need_user and not part.get("user"):
        errors[f"{prefix}.user"] = _("Enter the mailbox user.")
    if (
        isinstance(part.get("ca_file"), str)
        and part["ca_file"]
        and not _allowed_ca_file(part["ca_file"])
    ):
        errors[f"{prefix}.ca_file"] = _(
            "Put the CA file in one of these folders and give its full path: %(folders)s."
        ) % {"folders": ", ".join(settings.CONVODESK["MAIL_CA_DIRS"])}


def _allowed_ca_file(path: str) -> bool:
    """Inside one of MAIL_CA_DIRS once links and `..` are resolved, whether or not it exists:
    the answer must not tell which files the server has."""
    if not os.path.isabs(path) or "\x00" in path:
        return False
    real = os.path.realpath(path)
    for folder in settings.CONVODESK["MAIL_CA_DIRS"]:
        root = os.path.realpath(folder)
        if os.path.commonpath([real, root]) == root and real != root:
            return True
    return False


def _imap_login(part: dict) -> tuple[str, list[str]]:
    """Log in as the fetch does; the server's greeting and the folders it lists."""
    client = mail._imap(part)  # the same connection the fetch makes
    try:
        answer = _decode(client.welcome)
        folders = []
        try:
            status, lines = client.list()
        except (imaplib.IMAP4.error, OSError):
            status, lines = "NO", []
        if status == "OK":
            folders = sorted({name for name in map(_folder_name, lines or []) if name})
        return answer, folders
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def _decode(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


def _folder_name(line) -> str:
    """The mailbox name of one LIST answer line: `(\\HasNoChildren) "/" "INBOX"` -> INBOX."""
    if isinstance(line, tuple):  # a literal: (b'(flags) "/" {5}', b'INBOX')
        return _decode(line[-1])
    text = _decode(line)
    if ")" not in text or "\\noselect" in text.split(")", 1)[0].lower():
        return ""
    rest = text.split(")", 1)[1].strip()
    parts = rest.split(" ", 1)  # the delimiter ("/", or NIL), then the name
    if len(parts) != 2:
        return ""
    name = parts[1].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return name


def _smtp_login(part: dict) -> str:
    """Log in as the delivery does; the server's last answer (its log-in reply, or its EHLO)."""
    host, port = part["host"], int(part.get("port") or 587)
    security = part.get("security", "starttls")  # mail.deliver's default
    context = mail._tls_context(part)  # the fetch's and the delivery's own
    if security == "ssl":
        client = outbound.SMTP_SSL(host, port, timeout=30, context=context)
    else:
        client = outbound.SMTP(host, port, timeout=30)
    try:
        code, answer = client.ehlo()
        if security == "starttls":
            client.starttls(context=context)
            code, answer = client.ehlo()
        if part.get("user"):
            code, answer = client.login(part["user"], crypto.decrypt(part.get("password") or ""))
        return f"{code} {_decode(answer).splitlines()[0] if answer else ''}".strip()
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass


def _check_email(config: dict, errors: dict, probe: bool, current: dict) -> None:
    errors.update(_unknown(config, {"address", "imap", "smtp"} | READ_ONLY["email"]))
    address = config.get("address")
    try:
        if not isinstance(address, str):
            raise ValidationError("")
        EmailValidator()(address)
    except ValidationError:
        errors["config.address"] = _("Enter the support e-mail address.")
    else:
        config["address"] = address.strip().lower()
    _check_mail_part("imap", config.get("imap"), errors, need_user=True, current=current)
    _check_mail_part("smtp", config.get("smtp"), errors, need_user=False, current=current)
    if errors or not probe:
        return
    errors.update(probe_mailbox(config).errors)


class MailboxAnswers:
    """What each mail server answered to a log-in: `answers` per side ("imap", "smtp"), the
    IMAP folders it lists, and `errors` keyed by field like every other check."""

    def __init__(self):
        self.answers: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.folders: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.errors


def probe_mailbox(config: dict) -> MailboxAnswers:
    """Log in to the IMAP and the SMTP server of checked e-mail settings (the same sessions the
    fetch and the delivery open); each side's answer or error, and the IMAP folder list."""
    result = MailboxAnswers()
    try:
        result.answers["imap"], result.folders = _imap_login(config["imap"])
    except imaplib.IMAP4.error as exc:
        result.errors["config.imap.password"] = _("The IMAP server says: %(error)s") % {
            "error": _server_words(exc)
        }
    except (OSError, ValueError) as exc:  # ValueError: a host or user no socket can take
        result.errors["config.imap.host"] = _("Cannot reach the IMAP server: %(error)s") % {
            "error": exc
        }
    try:
        result.answers["smtp"] = _smtp_login(config["smtp"])
    except smtplib.SMTPAuthenticationError as exc:
        result.errors["config.smtp.password"] = _("The SMTP server says: %(error)s") % {
            "error": _server_words(exc)
        }
    except smtplib.SMTPNotSupportedError as exc:
        result.errors["config.smtp.user"] = _("The SMTP server says: %(error)s") % {
            "error": _server_words(exc)
        }
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        result.errors["config.smtp.host"] = _("Cannot reach the SMTP server: %(error)s") % {
            "error": _server_words(exc)
        }
    return result


def test_mailbox(changes: dict, current: dict | None = None) -> MailboxAnswers:
    """The *Test connection* of the e-mail settings: checked like a save (field errors first),
    then both log-ins tried; nothing is stored."""
    try:
        config = prepare("email", changes, current=current, probe=False)
    except ConnectionInvalid as exc:
        result = MailboxAnswers()
        result.errors = exc.errors
        return result
    return probe_mailbox(config)


def _server_words(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        return text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    if not isinstance(exc, imaplib.IMAP4.error | smtplib.SMTPException):
        return str(exc)
    text = str(exc.args[0]) if exc.args else str(exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return text or exc.__class__.__name__


# Each kind's check of the settings after the change: (config, errors, probe, current).
CHECKS = {
    "livechat": lambda config, errors, probe, current: _check_livechat(config, errors),
    "api": lambda config, errors, probe, current: _check_api(config, errors, current),
    "telegram": lambda config, errors, probe, current: _check_telegram(config, errors, probe),
    "email": lambda config, errors, probe, current: _check_email(config, errors, probe, current),
}


# The service --------------------------------------------------------------------------


# Where a stored mailbox password is sent: changing any of these sends it somewhere else.
MAIL_SERVER_KEYS = ("host", "port", "security", "user", "ca_file")


def _forget_moved_passwords(current: dict, given: dict, config: dict, errors: dict) -> None:
    """A stored password goes only to the server it was given for: a change of host, port,
    security, user or CA file without the password typed again is refused, before any log-in
    is tried (otherwise whoever may edit settings could point the check at their own server
    and read the password there)."""
    for side in ("imap", "smtp"):
        before, after = current.get(side), config.get(side)
        if (
            not isinstance(before, dict)
            or not isinstance(after, dict)
            or not before.get("password")
        ):
            continue
        typed = given.get(side) if isinstance(given.get(side), dict) else {}
        if isinstance(typed.get("password"), str) and typed["password"]:
            continue
        if any(after.get(key) != before.get(key) for key in MAIL_SERVER_KEYS):
            after.pop("password", None)
            errors[f"config.{side}.password"] = _(
                "Enter the password again: the server or user changed, and a stored password "
                "is only sent to the server it was given for."
            )


def prepare(kind: str, changes: dict | None, current: dict | None = None, probe: bool = True):
    """The stored settings after applying `changes` to `current`, checked for `kind` (and, with
    `probe`, tried against Telegram or the mail servers); raises ConnectionInvalid."""
    if kind not in CHECKS:
        raise ConnectionInvalid({"kind": _("Unknown channel kind.")})
    if changes is not None and not isinstance(changes, dict):
        raise ConnectionInvalid({"config": _("Give the settings as an object.")})
    current = dict(current or {})
    given = _encrypt_given(changes or {})
    for key, value in list(given.items()):
        # A URL sent back as it was shown (its credentials masked) keeps the stored one.
        if isinstance(value, str) and MASK in value and value == crypto.mask_url(current.get(key)):
            del given[key]
    for key in READ_ONLY.get(kind, ()):
        given.pop(key, None)  # sent back from a GET: the product keeps its own value
    config = merge_patch(current, given)
    errors: dict[str, str] = {}
    if kind == Connection.Kind.EMAIL:
        _forget_moved_passwords(current, given, config, errors)
        if errors:
            raise ConnectionInvalid(errors)
    CHECKS[kind](config, errors, probe, current)
    if errors:
        raise ConnectionInvalid(errors)
    return config


def register(connection: Connection) -> None:
    """What needs the saved row: Telegram's webhook (or its removal, in polling mode)."""
    if connection.kind == Connection.Kind.TELEGRAM and connection.active:
        try:
            telegram.setup(connection)
        except telegram.TelegramError as exc:
            raise ConnectionInvalid(
                {
                    "config.mode": _("Telegram refused the webhook: %(error)s")
                    % {"error": exc.description}
                }
            ) from None


AUDITED = ["line", "kind", "name", "config", "active", "allowed_origins", "public_key"]


def _snapshot(connection: Connection) -> dict:
    return audit.snapshot(connection, fields=AUDITED)


def create_connection(
    line: Line,
    kind: str,
    name: str,
    config: dict | None = None,
    *,
    active: bool = True,
    allowed_origins: list | None = None,
    actor=None,
) -> tuple[Connection, str]:
    """A new connection and its secret (shown once); ConnectionInvalid if anything is refused.
    Recorded in the audit log as `actor`'s, with its secrets masked."""
    origins = normalise_origins(allowed_origins or [])
    stored = prepare(kind, config or {})
    with transaction.atomic():
        connection = Connection(
            line=line,
            kind=kind,
            name=name,
            config=stored,
            active=active,
            allowed_origins=origins,
        )
        secret = connection.rotate_secret()
        connection.save()
        try:
            register(connection)
        except ConnectionInvalid:
            connection.delete()
            raise
        audit.record(actor, AuditEntry.Action.CREATE, connection, {}, _snapshot(connection))
    return connection, secret


def update_connection(
    connection: Connection,
    *,
    name: str | None = None,
    config: dict | None = None,
    active: bool | None = None,
    allowed_origins: list | None = None,
    actor=None,
) -> Connection:
    """Change what is given; settings are a merge patch checked like new ones. Recorded in the
    audit log (before and after, secrets masked) when anything changed."""
    fields = ["name", "config", "active", "allowed_origins"]
    before = {f: getattr(connection, f) for f in fields}
    snapshot_before = _snapshot(connection)
    if allowed_origins is not None:
        connection.allowed_origins = normalise_origins(allowed_origins)
    if config is not None:
        connection.config = prepare(connection.kind, config, current=connection.config)
    if name:
        connection.name = name
    if active is not None:
        connection.active = active
    try:
        with transaction.atomic():
            connection.save()
            if config is not None or (active and not before["active"]):
                register(connection)
            after = _snapshot(connection)
            if after != snapshot_before:
                audit.record(actor, AuditEntry.Action.UPDATE, connection, snapshot_before, after)
    except ConnectionInvalid:
        for field, value in before.items():
            setattr(connection, field, value)
        raise
    return connection


def rotate_secret(connection: Connection, *, actor=None) -> str:
    """A new secret for the connection (signs webhooks, authenticates ingestion), returned to be
    shown once; the old one stops working at once. Recorded without either value.

    A Telegram bot authenticates its webhook calls with this secret, so the webhook is
    registered again with the new one; when Telegram refuses, ConnectionInvalid is raised and
    the old secret stays (otherwise every update would be refused from then on)."""
    previous = (connection.secret_encrypted, connection.secret_hash, connection.config)
    try:
        with transaction.atomic():
            secret = connection.rotate_secret()
            connection.save(update_fields=["secret_encrypted", "secret_hash"])
            if connection.kind == Connection.Kind.TELEGRAM:
                register(connection)
                connection.save(update_fields=["config"])
            audit.record(actor, AuditEntry.Action.ROTATE_SECRET, connection, {}, {})
    except ConnectionInvalid:
        connection.secret_encrypted, connection.secret_hash, connection.config = previous
        raise
    return secret
