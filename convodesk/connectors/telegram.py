"""Telegram: bot webhook (or getUpdates polling) in, Bot API sendMessage out.

Thin by design (DESIGN rule 6): parse and validate an `Update`, resolve the client identity
(the Telegram user id), and call the services. The Bot API base URL is a setting
(`CONVODESK["TELEGRAM_API_BASE"]`) so the tests run a local server that speaks its shapes.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from convodesk import crypto, outbound
from convodesk.conversations import attachments as attachments_
from convodesk.conversations import services, uploads
from convodesk.conversations.models import ClientIdentity, Conversation, Message
from convodesk.lines.models import Connection

from . import skipped, tasks
from .clean import clean_data
from .delivery import DeliveryFailed

log = logging.getLogger("convodesk.telegram")

TEXT_LIMIT = 4096
ALLOWED_UPDATES = ["message", "edited_message"]
MEDIA_KINDS = ("document", "audio", "video", "voice", "video_note", "animation", "sticker")


class TelegramError(Exception):
    def __init__(self, description: str, code: int = 0, retry_after: int | None = None):
        super().__init__(description)
        self.description, self.code, self.retry_after = description, code, retry_after


BAD_TOKEN_MESSAGE = _lazy(
    "This is not a Telegram bot token: it looks like 123456789:AAH… (the bot's number, a colon, "
    "then at least 20 letters, digits, _ or -), as @BotFather gives it."
)


class BadUpdate(ValueError):
    """The payload is not a Telegram Update we can read."""


# Settings on the connection -----------------------------------------------------------


# What @BotFather hands out: the bot's id, a colon, then the secret part. It goes into every
# Bot API address, so nothing else (a space, a slash, a control character) may reach one.
BOT_TOKEN_RE = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")


def valid_bot_token(token) -> bool:
    """Whether `token` has the shape of a Telegram bot token (123456789:AAH…)."""
    return isinstance(token, str) and BOT_TOKEN_RE.fullmatch(token) is not None


def scrub(text, token: str) -> str:
    """`text` with the bot token taken out. urllib and http.client quote the address in their
    errors (InvalidURL, an unknown URL type), and the address carries the token: no error shown
    to an employee, stored on a delivery or written to a log may hold it."""
    text = str(text)
    if token:
        forms = {token, urllib.parse.quote(token, safe=""), urllib.parse.quote(token)}
        forms.add(repr(token)[1:-1])
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
    return text


def _unreachable(exc: BaseException, token: str) -> TelegramError:
    reason = scrub(getattr(exc, "reason", None) or str(exc) or type(exc).__name__, token)
    return TelegramError(str(_("Telegram is unreachable: %(reason)s") % {"reason": reason}))


# Errors a Bot API round trip can raise besides an HTTP error status: no connection (URLError,
# OSError), an address urllib or http.client refuses (ValueError, InvalidURL), an answer cut
# short or malformed (IncompleteRead, BadStatusLine, any HTTPException), JSON that is not.
TRANSPORT_ERRORS = (
    urllib.error.URLError,
    http.client.HTTPException,
    OSError,
    ValueError,
    RecursionError,
)


def set_bot_token(connection: Connection, token: str) -> None:
    connection.config = {**(connection.config or {}), "bot_token": crypto.encrypt(token.strip())}


def bot_token(connection: Connection) -> str:
    return crypto.decrypt((connection.config or {}).get("bot_token", ""))


def webhook_url(connection: Connection, base: str | None = None) -> str:
    """Where Telegram posts this connection's updates: PUBLIC_URL (or `base`) + the webhook route."""
    base = (base or settings.CONVODESK.get("PUBLIC_URL", "")).rstrip("/")
    return base + reverse("connectors:telegram_webhook", args=[connection.pk])


def webhook_secret(connection: Connection) -> str:
    """The X-Telegram-Bot-Api-Secret-Token value: the connection's own secret."""
    return connection.secret


# The Bot API --------------------------------------------------------------------------


def multipart(params: dict, field: str, name: str, content: bytes, content_type: str):
    """(body, content type) of a form upload: how the Bot API takes a file (sendDocument)."""
    boundary = secrets.token_hex(16)
    quoted = "".join(c for c in name if c not in '"\\\r\n') or "file"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in params.items()
    ]
    parts.append(
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="{field}"; filename="{quoted}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def call(
    connection: Connection,
    method: str,
    params: dict | None = None,
    timeout: float = 30,
    upload: tuple[bytes, str] | None = None,
) -> object:
    """One Bot API method; `upload` is a ready (body, content type) from `multipart`."""
    token = bot_token(connection)
    if not token:
        raise TelegramError(str(_("The connection has no bot token.")))
    if not valid_bot_token(token):
        raise TelegramError(str(BAD_TOKEN_MESSAGE))
    base = settings.CONVODESK["TELEGRAM_API_BASE"].rstrip("/")
    body, content_type = upload or (json.dumps(params or {}).encode(), "application/json")
    try:
        request = urllib.request.Request(
            f"{base}/bot{token}/{method}",
            data=body,
            method="POST",
            headers={"Content-Type": content_type},
        )
        with outbound.operator_urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except TRANSPORT_ERRORS:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        parameters = payload.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        raise TelegramError(
            scrub(payload.get("description") or f"HTTP {exc.code}", token), exc.code, retry_after
        ) from None
    except TRANSPORT_ERRORS as exc:
        raise _unreachable(exc, token) from None
    if not isinstance(payload, dict):
        payload = {"description": str(_("Telegram gave an answer that is not a Bot API one."))}
    if not payload.get("ok"):
        raise TelegramError(
            scrub(payload.get("description") or _("Telegram refused the request."), token),
            payload.get("error_code", 0),
        )
    return payload.get("result")


def setup(connection: Connection, public_url: str | None = None) -> dict:
    """Check the token (getMe) and register the webhook (setWebhook) unless the connection polls."""
    me = call(connection, "getMe", timeout=15)
    config = {**(connection.config or {}), "bot": bot_profile(connection, me)}
    if config.get("mode", "webhook") == "webhook":
        base = (public_url or settings.CONVODESK.get("PUBLIC_URL", "")).rstrip("/")
        if not base:
            raise TelegramError(
                str(_("Set PUBLIC_URL (the address Telegram can reach) or choose polling mode."))
            )
        call(
            connection,
            "setWebhook",
            {
                "url": webhook_url(connection, base),
                "secret_token": webhook_secret(connection),
                "allowed_updates": ALLOWED_UPDATES,
            },
            timeout=15,
        )
    else:
        call(connection, "deleteWebhook", {}, timeout=15)
    connection.config = config
    connection.save(update_fields=["config"])
    return config["bot"]


# Inbound ------------------------------------------------------------------------------


def _attachments(msg: dict) -> list[dict]:
    found = []
    if msg.get("photo"):
        largest = max(
            msg["photo"], key=lambda p: p.get("file_size") or p.get("width", 0) * p.get("height", 0)
        )
        found.append(
            {
                "type": "photo",
                **{
                    k: largest.get(k)
                    for k in ("file_id", "file_unique_id", "width", "height", "file_size")
                },
            }
        )
    for kind in MEDIA_KINDS:
        item = msg.get(kind)
        if isinstance(item, dict):
            found.append(
                {
                    "type": kind,
                    **{
                        k: item.get(k)
                        for k in (
                            "file_id",
                            "file_unique_id",
                            "file_name",
                            "mime_type",
                            "file_size",
                        )
                    },
                }
            )
    return found


def _describe(msg: dict) -> str:
    for key, label in (("location", "[location]"), ("contact", "[contact]"), ("poll", "[poll]")):
        if key in msg:
            return label
    return ""


def external_id_of(update) -> str:
    """The id a stored message of this update gets (chat:message), for logs and skip records."""
    msg = {}
    if isinstance(update, dict):
        msg = update.get("edited_message") or update.get("message") or {}
    if isinstance(msg, dict) and isinstance(msg.get("chat"), dict):
        return f"{msg['chat'].get('id')}:{msg.get('message_id')}"
    return f"update:{update.get('update_id') if isinstance(update, dict) else '?'}"


@transaction.atomic
def handle_update(connection: Connection, update: dict, now: dt.datetime | None = None):
    """Turn one Update into a client message (or a system note for an edit); returns the Received
    result, or None for updates the contact center does not take (groups, channel posts, bots).
    One transaction: an update that fails leaves nothing behind. Every string is cleaned first."""
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise BadUpdate("an Update needs an integer update_id")
    update = clean_data(update)
    note_update(connection, now)
    edited = "edited_message" in update
    msg = update.get("edited_message") if edited else update.get("message")
    if msg is None:
        return None
    if (
        not isinstance(msg, dict)
        or not isinstance(msg.get("chat"), dict)
        or not isinstance(msg.get("message_id"), int)
    ):
        raise BadUpdate("the message has no chat or message_id")
    sender = msg.get("from") or {}
    if (
        msg["chat"].get("type") != "private"
        or sender.get("is_bot")
        or not isinstance(sender.get("id"), int)
    ):
        return None
    client_id = str(sender["id"])
    name = (
        " ".join(p for p in (sender.get("first_name"), sender.get("last_name")) if p)
        or sender.get("username")
        or client_id
    )
    text = msg.get("text") or msg.get("caption") or _describe(msg)
    attachments = _attachments(msg)
    if edited:
        return _edited(connection, client_id, msg, text, now)
    sent_at = _sent_at(msg.get("date"))
    received = services.receive_client_message(
        connection,
        client_external_id=client_id,
        client_name=name,
        text=text,
        attachments=attachments,
        external_message_id=f"{msg['chat']['id']}:{msg['message_id']}",
        sent_at=sent_at,
        now=now,
    )
    _remember_identity(received.conversation.identity_id, sender, text)
    if received.created and any(attachments_.waiting(i) for i in received.message.attachments):
        # Fetched by a task once the message is committed: no download while this holds the
        # transaction, and a webhook that answers Telegram at once.
        message_id = received.message.pk
        transaction.on_commit(lambda: tasks.keep_telegram_files.enqueue(message_id))
    return received


# The dates a message may claim; outside them (10**20 overflows a datetime) it is unknown.
EARLIEST_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST_DATE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _sent_at(value) -> dt.datetime | None:
    """When the client sent the message, from the Update's Unix `date`; None (the message is
    taken at the time it arrives) for a date no message can have: not an integer, out of range.
    A bad date never costs the message, and never a 500 that Telegram would retry for hours."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not EARLIEST_DATE.timestamp() <= value < LATEST_DATE.timestamp():
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC)


NOTE_EVERY = dt.timedelta(seconds=60)


def note_update(connection: Connection, now: dt.datetime | None = None) -> None:
    """Keep when the bot last received an update (`config.last_update_at`, shown in the settings),
    at most once a minute so a busy bot does not rewrite its connection on every message."""
    now = now or timezone.now()
    seen = parse_datetime(str((connection.config or {}).get("last_update_at") or ""))
    if seen is not None and now - NOTE_EVERY < seen <= now:
        return
    stamp = now.isoformat()
    fresh = Connection.objects.filter(pk=connection.pk).values_list("config", flat=True).first()
    Connection.objects.filter(pk=connection.pk).update(
        config={**(fresh or {}), "last_update_at": stamp}
    )
    connection.config = {**(connection.config or {}), "last_update_at": stamp}


def _remember_identity(identity_id: int, sender: dict, text: str) -> None:
    identity = ClientIdentity.objects.get(pk=identity_id)
    data = {
        **identity.data,
        "telegram_user": {k: sender.get(k) for k in ("id", "username", "language_code")},
    }
    if text.startswith("/start "):
        data["start_payload"] = text[len("/start ") :].strip()[:200]
    changes = {"data": data, "username": sender.get("username") or identity.username}
    if identity.data != data or identity.username != changes["username"]:
        ClientIdentity.objects.filter(pk=identity_id).update(**changes)


def _edited(connection, client_id, msg, text, now):
    conversation = (
        Conversation.objects.filter(connection=connection, identity__external_id=client_id)
        .order_by("-started_at", "-id")
        .first()
    )
    if conversation is None:
        return None
    external = f"edit:{msg['chat']['id']}:{msg['message_id']}:{msg.get('edit_date', 0)}"
    return services.add_system_note(
        conversation.pk,
        _("The client edited a message: %(text)s") % {"text": text},
        external_id=external,
        connection=connection,
        now=now,
    )


def file_url(connection: Connection, file_id: str) -> str:
    """Where to download an attachment (getFile); the URL carries the bot token, so it is fetched
    server-side only."""
    result = call(connection, "getFile", {"file_id": file_id})
    path = result.get("file_path") if isinstance(result, dict) else None
    if not isinstance(path, str) or not path:
        raise TelegramError(str(_("Telegram gave no file path for this file.")))
    base = settings.CONVODESK["TELEGRAM_API_BASE"].rstrip("/")
    return f"{base}/file/bot{bot_token(connection)}/{path}"


def download(connection: Connection, file_id: str, max_bytes: int) -> bytes:
    """A client's file, fetched server-side (the address carries the bot token, so it never
    reaches a browser); TelegramError when it is missing, unreachable or larger than max_bytes."""
    url = file_url(connection, file_id)
    try:
        with outbound.operator_urlopen(url, timeout=30) as response:
            content = response.read(max_bytes + 1)
            if len(content) <= max_bytes and response.length:
                # A read with a size stops quietly at a closed connection: a file cut short
                # must not be served as if it were whole.
                raise http.client.IncompleteRead(content, response.length)
    except TRANSPORT_ERRORS as exc:
        raise _unreachable(exc, bot_token(connection)) from None
    if len(content) > max_bytes:
        raise TelegramError(str(_("The file is too large to download.")), 413)
    return content


# Inbound files -------------------------------------------------------------------------


def _file_name(item: dict) -> tuple[str, str]:
    """(name, declared type) of a client's file: a photo is always a JPEG (Telegram re-encodes
    it); a file without a name (a voice note, a sticker) is named after its kind."""
    if item.get("type") == "photo":
        return f"photo-{item.get('file_unique_id') or 'file'}.jpg", "image/jpeg"
    fallback = f"{item.get('type') or 'file'}-{item.get('file_unique_id') or 'file'}"
    return str(item.get("file_name") or fallback), str(item.get("mime_type") or "")


def keep_file(connection: Connection, item: dict) -> dict:
    """Fetch one client's file and keep it in the default storage under the composer's limits
    (`uploads.keep_inbound`): the fields to merge into the attachment, `stored` or `refused`.
    The type and the size Telegram announced are checked before anything is downloaded.
    TelegramError when Telegram is away (the file stays waiting, to be fetched again)."""
    try:
        name, declared = _file_name(item)
        name, _kind = uploads.check_name(name, declared)
        announced = item.get("file_size")
        if isinstance(announced, int) and not isinstance(announced, bool) and announced > 0:
            uploads.check_size(name, announced)
        limit = min(uploads.max_bytes(), attachments_.MAX_FETCHED_FILE)
        try:
            content = download(connection, item["file_id"], limit)
        except TelegramError as exc:
            if exc.code in (400, 404, 413):  # too big for the Bot API, gone, over our cap
                raise uploads.UploadRefused(exc.description) from None
            raise
        kept = uploads.keep_inbound("telegram-files", name, content, declared)
    except uploads.UploadRefused as exc:
        return {"refused": exc.message}
    return {"stored": kept["stored"], "name": kept["name"], "size": kept["size"]}


def keep_files(message_id: int, fail: bool = False) -> list:
    """Fetch and store every file of a client's Telegram message still waiting; returns its
    attachments as they are now. The downloads run outside any transaction; the results are
    recorded by the services in one short one. Idempotent: a stored or refused file is left
    alone. A file Telegram could not hand over stays waiting (logged; raised with `fail`)."""
    message = (
        Message.objects.select_related("connection")
        .filter(
            pk=message_id,
            author_kind=Message.Author.CLIENT,
            connection__kind=Connection.Kind.TELEGRAM,
        )
        .first()
    )
    if message is None:
        return []
    kept = {}
    for index, item in enumerate(message.attachments or []):
        if not attachments_.waiting(item):
            continue
        try:
            kept[index] = keep_file(message.connection, item)
        except TelegramError as exc:
            log.warning("telegram message %s: file %s not fetched: %s", message_id, index, exc)
            if fail:
                raise
    if not kept:
        return list(message.attachments or [])
    return services.keep_attachment_files(message_id, kept)


def fetch_on_opening(message, index: int):
    """Someone opens attachment `index` of a client's message: a Telegram file still waiting
    (the task could not reach Telegram) is fetched and stored now, as the task would have.
    Returns the message with its attachments as they are now; FetchFailed when Telegram cannot
    hand the file over, or the product refuses it (the reason)."""
    items = message.attachments or []
    item = items[index] if 0 <= index < len(items) else None
    if not attachments_.waiting(item) or not attachments_.servable(message, item):
        return message
    try:
        message.attachments = keep_files(message.pk, fail=True)
    except TelegramError as exc:
        raise attachments_.FetchFailed(exc.description) from None
    item = message.attachments[index] if index < len(message.attachments) else {}
    if attachments_.refused(item):
        raise attachments_.FetchFailed(attachments_.refused(item))
    return message


BOT_PICTURE_BYTES = 1_000_000
BOT_PICTURE_DIR = "telegram-bots"
IMAGE_SIGNATURES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


def image_type(content: bytes) -> str | None:
    """image/jpeg or image/png by the file's first bytes; None for anything else."""
    for signature, kind in IMAGE_SIGNATURES.items():
        if content.startswith(signature):
            return kind
    return None


def bot_profile(connection: Connection, me: dict) -> dict:
    """What the settings show of a bot, from getMe's answer: its id, names and picture."""
    bot = {k: me.get(k) for k in ("id", "username", "first_name")}
    if isinstance(me.get("id"), int):
        bot["photo"] = bot_picture(connection, me["id"])
    return bot


def bot_picture(connection: Connection, bot_id: int) -> str | None:
    """The bot's profile picture, fetched server-side (the download address carries the token)
    and kept in the default storage under a keyed hash of its bytes; that hash, or None when the
    bot has no picture or Telegram does not give it (a missing picture never fails a check)."""
    try:
        result = call(connection, "getUserProfilePhotos", {"user_id": bot_id, "limit": 1})
        photos = result.get("photos") if isinstance(result, dict) else None
        sizes = [p for p in (photos or [[]])[0] if isinstance(p, dict) and p.get("file_id")]
        if not sizes:
            return None
        # The size closest to 160 px: sharp at the settings' 40–80 px, and small.
        best = min(sizes, key=lambda p: abs(int(p.get("width") or 0) - 160))
        content = download(connection, str(best["file_id"]), BOT_PICTURE_BYTES)
    except (TelegramError, TypeError, ValueError):
        return None
    if image_type(content) is None:
        return None
    digest = salted_hmac("convodesk.bot-picture", content, algorithm="sha256").hexdigest()
    name = f"{BOT_PICTURE_DIR}/{digest}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(content))
    return digest


def poll_once(connection: Connection, timeout: int = 25) -> int:
    """One getUpdates round from the stored offset; the offset is saved after each update, so a
    restart resumes where it stopped and a retried update is idempotent anyway."""
    return handle_updates(connection, get_updates(connection, timeout))


def get_updates(connection: Connection, timeout: int = 25) -> list:
    """The updates after the stored offset (a long poll: waits up to `timeout` seconds)."""
    offset = int((connection.config or {}).get("poll_offset", 0))
    return call(
        connection,
        "getUpdates",
        {"offset": offset, "timeout": timeout, "allowed_updates": ALLOWED_UPDATES},
        timeout=timeout + 10,
    )


def handle_updates(connection: Connection, updates) -> int:
    """Store each update, then move the offset past it; returns how many were handled."""
    handled = 0
    for update in updates or []:
        try:
            handle_update(connection, update)
        except BadUpdate as exc:
            log.warning(
                "telegram %s: skipped update %s: %s", connection.pk, update.get("update_id"), exc
            )
        except Exception as exc:
            if not skipped.is_message_fault(exc):
                raise  # the database is away: keep the offset, this update comes again
            skipped.record(connection, external_id_of(update), exc, json.dumps(update))
        connection.config = {**connection.config, "poll_offset": int(update["update_id"]) + 1}
        Connection.objects.filter(pk=connection.pk).update(config=connection.config)
        handled += 1
    return handled


# Outbound -----------------------------------------------------------------------------


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split at the last line break or space before the limit, never inside a word if avoidable."""
    chunks, rest = [], text
    while len(rest) > limit:
        cut = max(rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        cut = cut if cut > limit // 2 else limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def send_file(connection: Connection, chat_id: str, item: dict) -> dict:
    """A file from the composer: a picture as sendPhoto (Telegram shows it inline), anything
    else as sendDocument, uploaded from the product's storage."""
    photo = item.get("content_type") in ("image/jpeg", "image/png")
    method, field = ("sendPhoto", "photo") if photo else ("sendDocument", "document")
    upload = multipart(
        {"chat_id": chat_id},
        field,
        item.get("name") or "file",
        uploads.read(item),
        item.get("content_type") or "application/octet-stream",
    )
    return call(connection, method, upload=upload, timeout=120)


def deliver(message) -> str:
    """sendMessage to the client's private chat; 429 waits `retry_after`, 403 (blocked) is final.

    A long text goes out in chunks. Each chunk sent is recorded on the message at once (its
    Telegram id in `channel_message_id`), so a retry after a 429 on chunk 2, or after a crash,
    starts from the first chunk not yet sent: the client never reads a chunk twice."""
    conversation = message.conversation
    connection = conversation.connection
    chat_id = conversation.identity.external_id
    files = [item for item in message.attachments or [] if uploads.is_upload(item)]
    chunks = split_text(message.text) if message.text or not files else []
    parts = [(None, chunk) for chunk in chunks] + [(item, "") for item in files]
    sent_ids = [i for i in (message.channel_message_id or "").split(",") if i][: len(parts)]
    try:
        for item, chunk in parts[len(sent_ids) :]:
            if item is None:
                result = call(connection, "sendMessage", {"chat_id": chat_id, "text": chunk})
            else:
                result = send_file(connection, chat_id, item)
            sent_ids.append(str(result.get("message_id") or "?"))
            Message.objects.filter(pk=message.pk).update(channel_message_id=",".join(sent_ids))
    except TelegramError as exc:
        if exc.code == 429:
            raise DeliveryFailed(
                f"Telegram asks to wait {exc.retry_after} s", retry_after=exc.retry_after
            ) from None
        permanent = exc.code in (400, 403)
        raise DeliveryFailed(f"Telegram: {exc.description}", permanent=permanent) from None
    return ",".join(sent_ids)
