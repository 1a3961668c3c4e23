"""E-mail: IMAP in (by UID, UIDVALIDITY respected), SMTP out with proper threading headers.

The client identity is the sender's address (case-insensitive), so a reply lands in the
client's open conversation, reopens the last one within the line's reopen window, or starts
a new one, all through `services.receive_client_message`. Idempotent by Message-ID.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import imaplib
import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage as MimeMessage
from email.message import Message as PlainMessage
from html.parser import HTMLParser

from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend
from django.db import transaction
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from convodesk import crypto, outbound
from convodesk.conversations import services, uploads
from convodesk.conversations.models import Message
from convodesk.lines.models import Connection

from . import skipped
from .clean import clean, clean_data
from .delivery import DeliveryFailed
from .models import EmailHeaders

log = logging.getLogger("convodesk.email")

QUOTE_HEADER_RE = re.compile(
    r"^(On .{3,200} wrote:|El .{3,200} escribió:|-{2,} ?Original Message ?-{2,}|-{2,} ?Mensaje original ?-{2,}|"
    r"From: .+@.+)\s*$",
    re.IGNORECASE,
)
AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}


# Settings on the connection -----------------------------------------------------------


def configure(connection: Connection, *, address: str, imap: dict, smtp: dict) -> None:
    """Store the mailbox settings; passwords are kept encrypted and never shown back."""
    config = dict(connection.config or {})
    config["address"] = address.strip().lower()
    for key, values in (("imap", imap), ("smtp", smtp)):
        values = dict(values)
        password = values.pop("password", None)
        stored = dict(config.get(key, {}))
        stored.update(values)
        if password is not None:
            stored["password"] = crypto.encrypt(password)
        config[key] = stored
    connection.config = config


def _secret(settings_part: dict) -> str:
    return crypto.decrypt(settings_part.get("password", ""))


def _tls_context(part: dict) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=part.get("ca_file") or None)


# Parsing ------------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """HTML to text: blocks become lines; a table's rows become lines and its cells are kept
    apart by " | " (an order table reads "Item | Qty | Price", not "ItemQtyPrice")."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "blockquote"}
    CELLS = {"td", "th"}
    SEPARATOR = " | "

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._cells: list[int] = []  # per open table: the cells seen in its current row

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag == "table":
            self._cells.append(0)
        elif tag == "tr":
            if self._cells:
                self._cells[-1] = 0
            self.parts.append("\n")
        elif tag in self.CELLS:
            if self._cells:
                if self._cells[-1]:
                    self.parts.append(self.SEPARATOR)
                self._cells[-1] += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag == "table":
            if self._cells:
                self._cells.pop()
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    text = "".join(parser.parts)
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.splitlines()]
    lines = ["" if re.fullmatch(r"[|\s]*", line) else line for line in lines]  # empty rows
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_quoted(text: str) -> str:
    """Keep what the client wrote now: drop the quoted previous messages below it."""
    kept = []
    for line in text.splitlines():
        if QUOTE_HEADER_RE.match(line.strip()):
            break
        kept.append(line)
    while kept and (kept[-1].startswith(">") or not kept[-1].strip()):
        kept.pop()
    result = "\n".join(line for line in kept if not line.startswith(">")).strip()
    return result or text.strip()


@dataclass
class Parsed:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    text: str
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    attachments: list[dict] = field(default_factory=list)
    automatic: bool = False
    # The bytes of each attachment part, in the order of `attachments`; stored by `ingest`.
    contents: list[bytes] = field(default_factory=list, repr=False)


class BadMail(ValueError):
    pass


def is_automatic(msg) -> bool:
    """Auto-replies, bounces and list mail never open conversations (RFC 3834, RFC 3464)."""
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        return True
    if (msg.get("Precedence") or "").strip().lower() in AUTOMATIC_PRECEDENCE:
        return True
    if (
        msg.get_content_type() == "multipart/report"
        or msg.get("X-Autoreply")
        or msg.get("X-Autorespond")
    ):
        return True
    sender = email.utils.parseaddr(str(msg.get("From") or ""))[1].lower()
    return sender.split("@")[0] in ("mailer-daemon", "postmaster")


def parse(raw: bytes) -> Parsed:
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        name, sender = email.utils.parseaddr(clean(str(msg.get("From") or "")))
    except Exception as exc:  # noqa: BLE001 - any parser failure is a malformed mail
        raise BadMail(f"unreadable message: {exc}") from exc
    if "@" not in sender:
        raise BadMail("the message has no sender address")
    message_id = clean(str(msg.get("Message-ID") or "")).strip()
    if not message_id:
        raise BadMail("the message has no Message-ID")
    plain, html, attachments, contents = None, None, [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (disposition == "inline" and part.get_filename()):
            payload = part.get_payload(decode=True) or b""
            attachments.append(
                {
                    "type": "file",
                    "file_name": part.get_filename() or "attachment",
                    "mime_type": part.get_content_type(),
                    "file_size": len(payload),
                }
            )
            contents.append(payload)
            continue
        try:
            content = part.get_content()
        except (LookupError, UnicodeError, KeyError):
            content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
        if part.get_content_type() == "text/plain" and plain is None:
            plain = content
        elif part.get_content_type() == "text/html" and html is None:
            html = content
    text = plain if plain is not None else html_to_text(html or "")
    references = clean(str(msg.get("References") or "")).split()
    return Parsed(
        message_id=message_id[:500],
        sender=clean(sender).strip().lower(),
        sender_name=clean(name).strip(),
        subject=clean(str(msg.get("Subject") or "")).strip()[:500],
        text=trim_quoted(clean(text or "")),
        in_reply_to=clean(str(msg.get("In-Reply-To") or "")).strip()[:500],
        references=references,
        attachments=clean_data(attachments),
        contents=contents,
        automatic=is_automatic(msg),
    )


def store_parts(parsed: Parsed) -> list[dict]:
    """Keep each attachment part's bytes in the default storage (never served directly) and
    note where; the product serves them behind the visibility rule. The same limits as the
    composer's files (`uploads.keep_inbound`): a part of a type not accepted, or too large, is
    kept as metadata with the reason it was refused, shown in the transcript."""
    stored = []
    for index, item in enumerate(parsed.attachments):
        content = parsed.contents[index] if index < len(parsed.contents) else None
        if content is None:
            stored.append(item)
            continue
        try:
            kept = uploads.keep_inbound(
                "mail-parts", item.get("file_name") or "", content, item.get("mime_type") or ""
            )
        except uploads.UploadRefused as exc:
            stored.append({**item, "refused": exc.message})
            continue
        stored.append({**item, "stored": kept["stored"]})
    return stored


def ingest(connection: Connection, parsed: Parsed, now=None):
    """Store one parsed mail as a client message; None when it is automatic mail."""
    if parsed.automatic:
        log.info(
            "email %s: ignored automatic mail %s from %s",
            connection.pk,
            parsed.message_id,
            parsed.sender,
        )
        return None
    body = parsed.text or parsed.subject or "(empty message)"
    # Stored before the transaction: an S3-compatible storage is a network round trip per part.
    attachments = store_parts(parsed)
    with transaction.atomic():
        received = services.receive_client_message(
            connection,
            client_external_id=parsed.sender,
            client_name=parsed.sender_name or parsed.sender,
            email=parsed.sender,
            text=body,
            external_message_id=parsed.message_id,
            attachments=attachments,
            now=now,
        )
        if received.created:
            EmailHeaders.objects.create(
                message=received.message,
                header_id=parsed.message_id,
                subject=parsed.subject,
                in_reply_to=parsed.in_reply_to,
                references=" ".join(parsed.references)[:5000],
            )
    return received


# IMAP ---------------------------------------------------------------------------------


@dataclass
class FetchResult:
    stored: int = 0
    ignored: int = 0
    skipped: int = 0
    resynced: bool = False


def _imap(part: dict) -> imaplib.IMAP4:
    host, port = part["host"], int(part.get("port") or 0)
    security = part.get("security", "ssl")
    if security == "ssl":
        client = outbound.IMAP4_SSL(host, port or 993, ssl_context=_tls_context(part), timeout=30)
    else:
        client = outbound.IMAP4(host, port or 143, timeout=30)
        if security == "starttls":
            client.starttls(ssl_context=_tls_context(part))
    client.login(part["user"], _secret(part))
    return client


def fetch(connection: Connection, now=None) -> FetchResult:
    """Fetch new mail by UID. When UIDVALIDITY changes the UIDs mean nothing any more: start
    over from the first message; Message-ID idempotency keeps what was stored from doubling."""
    config = connection.config or {}
    part = config.get("imap") or {}
    if not part.get("host"):
        raise ValueError(_("The connection has no IMAP settings."))
    state = dict(config.get("state") or {})
    result = FetchResult()
    client = _imap(part)
    try:
        status, _data = client.select(part.get("folder") or "INBOX", readonly=True)
        if status != "OK":
            raise ValueError(f"cannot open folder {part.get('folder') or 'INBOX'}")
        uidvalidity = int(client.response("UIDVALIDITY")[1][0])
        if state.get("uidvalidity") != uidvalidity:
            result.resynced = "uidvalidity" in state
            state = {"uidvalidity": uidvalidity, "last_uid": 0}
        last = int(state.get("last_uid", 0))
        _status, found = client.uid("SEARCH", None, f"UID {last + 1}:*")
        uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > last)
        for uid in uids:
            _status, data = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            parsed = None
            try:
                if raw is None:
                    raise BadMail("empty fetch")
                parsed = parse(raw)
                outcome = ingest(connection, parsed, now=now)
                if outcome is None:
                    result.ignored += 1
                elif outcome.created:
                    result.stored += 1
            except BadMail as exc:
                log.warning("email %s: skipped UID %s: %s", connection.pk, uid, exc)
                result.skipped += 1
            except Exception as exc:
                if not skipped.is_message_fault(exc):
                    raise  # the database is away: last_uid stays, this mail comes again
                # One mail that cannot be stored must not stop the mailbox: record, pass over.
                external_id = parsed.message_id if parsed is not None else f"UID {uid}"
                skipped.record(connection, external_id, exc, raw)
                result.skipped += 1
            state["last_uid"] = uid
            _save_state(connection, state)
        _save_state(connection, state)
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return result


def _save_state(connection: Connection, state: dict) -> None:
    connection.config = {**(connection.config or {}), "state": state}
    Connection.objects.filter(pk=connection.pk).update(config=connection.config)


# SMTP ---------------------------------------------------------------------------------


def _subject(message: Message) -> str:
    conversation = message.conversation
    first = (
        EmailHeaders.objects.filter(
            message__conversation=conversation, message__author_kind="client"
        )
        .order_by("message__created_at", "message_id")
        .values_list("subject", flat=True)
        .first()
    )
    base = re.sub(r"\s*\[#\d+\]\s*", " ", first or conversation.line.name).strip()
    if first and not base.lower().startswith(("re:", "aw:", "sv:")):
        base = f"Re: {base}"
    return f"{base} [#{conversation.pk}]"


class _Reply(EmailMessage):
    """Django's message with the Subject folded knowing its header name.

    Django encodes a non-ASCII subject without the name "Subject: " in front, and the old email
    policy then breaks the header before its first word: readers show a subject that starts with
    a space. The same text as a Header that knows its name folds after the first word."""

    def message(self, *args, **kwargs):
        msg = super().message(*args, **kwargs)
        del msg["Subject"]
        text = str(self.subject)
        charset = "us-ascii" if text.isascii() else "utf-8"
        subject = Header(text, charset, header_name="Subject")
        PlainMessage.__setitem__(msg, "Subject", subject)  # past Django's re-encoding
        return msg


class _SMTPBackend(EmailBackend):
    """Django's SMTP backend, connecting only where `outbound` allows, and trusting the
    mailbox's own certificate authority (`ca_file`) as the *Test connection* log-in does."""

    def __init__(self, part: dict, **kwargs):
        super().__init__(**kwargs)
        self.part = part

    @property
    def connection_class(self):
        return outbound.SMTP_SSL if self.use_ssl else outbound.SMTP

    @cached_property
    def ssl_context(self):
        return _tls_context(self.part)


def smtp_backend(part: dict) -> _SMTPBackend:
    """The connection a reply is sent through, from the mailbox's SMTP settings."""
    security = part.get("security", "starttls")
    return _SMTPBackend(
        part,
        host=part["host"],
        port=int(part.get("port") or 587),
        username=part.get("user") or "",
        password=_secret(part),
        use_tls=security == "starttls",
        use_ssl=security == "ssl",
        timeout=30,
        fail_silently=False,
    )


def deliver(message: Message) -> str:
    """Send an employee's reply by SMTP with Message-ID, In-Reply-To and References."""
    conversation = message.conversation
    connection = conversation.connection
    config = connection.config or {}
    part = config.get("smtp") or {}
    address = config.get("address")
    if not part.get("host") or not address:
        raise DeliveryFailed("the connection has no SMTP settings", permanent=True)
    thread = list(
        EmailHeaders.objects.filter(message__conversation=conversation)
        .order_by("message__created_at", "message_id")
        .values_list("header_id", "message__author_kind")
    )
    client_ids = [h for h, kind in thread if kind == "client"]
    references = [h for h, _kind in thread][-20:]
    domain = address.split("@", 1)[1]
    header_id = email.utils.make_msgid(idstring=f"cd{message.pk}", domain=domain)
    # An RFC 5322 date with its real offset (Django's default says "-0000": zone unknown).
    headers = {
        "Message-ID": header_id,
        "Date": email.utils.format_datetime(timezone.now()),
        "Auto-Submitted": "no",
    }
    if client_ids:
        headers["In-Reply-To"] = client_ids[-1]
    if references:
        headers["References"] = " ".join(references)
    smtp = smtp_backend(part)
    sender_name = message.author.name if message.author else conversation.line.name
    mail = _Reply(
        subject=_subject(message),
        body=message.text,
        from_email=email.utils.formataddr((sender_name, address)),
        to=[conversation.identity.external_id],
        headers=headers,
        connection=smtp,
    )
    for item in message.attachments or []:
        if uploads.is_upload(item):  # a file from the composer: a MIME part of its own
            mail.attach(item.get("name") or "file", uploads.read(item), item.get("content_type"))
    try:
        mail.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(
            f"the mail server refused the recipient: {exc.recipients}", permanent=True
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP: {exc}", permanent=outbound.refused(exc)) from None
    EmailHeaders.objects.update_or_create(
        message=message,
        defaults={
            "header_id": header_id,
            "subject": mail.subject,
            "in_reply_to": headers.get("In-Reply-To", ""),
            "references": headers.get("References", ""),
        },
    )
    return header_id


def as_mime(parsed_from: str, to: str, subject: str, body: str, **headers) -> bytes:
    """Build a mail (used by tests and by the README's example)."""
    msg = MimeMessage()
    msg["From"], msg["To"], msg["Subject"] = parsed_from, to, subject
    msg["Message-ID"] = headers.pop("message_id", email.utils.make_msgid())
    msg["Date"] = email.utils.format_datetime(timezone.now())
    for key, value in headers.items():
        msg[key.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()
