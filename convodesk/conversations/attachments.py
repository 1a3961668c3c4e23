"""Attachments: the one check every ingestion path and every template goes through.

A message's attachments are a JSON list of small dicts in one of three shapes: a link posted by
an API connector or an employee (`url`, `name`, ...), a Telegram file (`file_id`, ...; `stored`
once fetched) and an e-mail part whose bytes the product stored itself (`stored`). A channel's
file the product would not keep (too large, a type not accepted) carries `refused`: the reason. Only http(s) links are ever kept
or rendered as links; files the product fetches itself are served by the product
(`views/files.py`), behind the visibility rule, and never by a third-party address.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from . import uploads

MAX_ATTACHMENTS = 20
MAX_URL_LENGTH = 2000
MAX_FETCHED_FILE = 20 * 1024 * 1024  # the Bot API's own download limit
MAX_TEXT = 1000
# The keys a stored attachment may carry; anything else is dropped on the way in.
KEYS = (
    "url",
    "name",
    "content_type",
    "size",
    "type",
    "file_id",
    "file_unique_id",
    "file_name",
    "mime_type",
    "file_size",
    "width",
    "height",
    "stored",
    "refused",
)
PRODUCT_KEYS = ("stored", "refused")
_validate_url = URLValidator(schemes=["http", "https"])


class AttachmentError(ValidationError):
    """An attachment the product refuses; `field` names it the way the API names fields
    (`attachments.0.url`)."""

    def __init__(self, field: str, message: str):
        super().__init__({field: [message]})
        self.field, self.message_text = field, message


def safe_url(value) -> str:
    """The URL when it is an absolute http(s) address (surrounding spaces removed), else "".

    Browsers drop tabs and newlines anywhere in a URL and trim control characters around it, so
    "java\\tscript:" and " JavaScript:" would run; any whitespace or control character inside
    the address refuses it outright rather than guessing what a browser would make of it.
    """
    if not isinstance(value, str):
        return ""
    url = value.strip(" \t\r\n\f\v\x00")
    if not url or len(url) > MAX_URL_LENGTH:
        return ""
    if any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F for c in url):
        return ""
    try:
        _validate_url(url)
    except ValidationError:
        return ""
    return url


def safe_href(value) -> str:
    """What a template may put in href: an http(s) address or a path on this site, else ""."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        if not any(ord(c) < 0x21 or 0x7F <= ord(c) <= 0x9F for c in value):
            return value
        return ""
    return safe_url(value)


def check_url(value, field: str = "url") -> str:
    url = safe_url(value)
    if not url:
        raise AttachmentError(field, _("Only http:// and https:// links are accepted."))
    return url


def clean_one(item, field: str = "attachments.0") -> dict:
    if not isinstance(item, dict):
        raise AttachmentError(field, _("An attachment must be an object."))
    cleaned = {}
    for key in KEYS:
        value = item.get(key)
        if key == "url":
            if value not in (None, ""):
                cleaned["url"] = check_url(value, f"{field}.url")
        elif isinstance(value, str):
            cleaned[key] = value[:MAX_TEXT]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            cleaned[key] = value
    if not cleaned:
        raise AttachmentError(field, _("The attachment is empty."))
    return cleaned


def from_outside(items):
    """Attachments posted through the API: never a `stored` name or a `refused` reason, which
    only the product's own connectors and composer set (a name is a file in its storage)."""
    if not isinstance(items, list | tuple):
        return items
    return [
        {k: v for k, v in item.items() if k not in PRODUCT_KEYS} if isinstance(item, dict) else item
        for item in items
    ]


def clean(items, field: str = "attachments") -> list[dict]:
    """The attachments to store; AttachmentError (a ValidationError) names the bad one."""
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        raise AttachmentError(field, _("Attachments must be a list."))
    if len(items) > MAX_ATTACHMENTS:
        raise AttachmentError(
            field, _("At most %(count)s attachments are accepted.") % {"count": MAX_ATTACHMENTS}
        )
    return [clean_one(item, f"{field}.{i}") for i, item in enumerate(items)]


def history_link(message, index: int) -> str:
    return reverse("conversations:attachment", args=[message.conversation_id, message.pk, index])


def for_display(message, link=history_link) -> list[dict]:
    """What the history shows for each attachment: a label, a link (or none) and the type.

    Files the product holds or fetches (e-mail parts, Telegram files) link to the product's own
    URL (`link(message, index)`: the history's by default, the API's for the API) and are
    `served`; a posted link is shown as a link only when it is http(s); anything else is plain
    text.
    """
    shown = []
    for index, item in enumerate(message.attachments or []):
        if not isinstance(item, dict):
            continue
        url = safe_url(item.get("url"))
        label = item.get("name") or item.get("file_name") or url or item.get("url") or ""
        if not isinstance(label, str) or not label:
            label = str(item.get("type") or _("attachment"))
        served = servable(message, item)
        href = link(message, index) if served else url
        shown.append(
            {
                "label": label,
                "href": href,
                "served": served,
                "mime_type": item.get("mime_type") or item.get("content_type") or "",
                "size": item.get("file_size") or item.get("size"),
                "refused": refused(item),
            }
        )
    return shown


def refused(item: dict) -> str:
    """Why the product did not keep a file a channel brought in (too large, a type not
    accepted), or ""."""
    reason = item.get("refused")
    return reason if isinstance(reason, str) else ""


def waiting(item) -> bool:
    """A Telegram file not fetched yet: neither stored nor refused."""
    return (
        isinstance(item, dict)
        and isinstance(item.get("file_id"), str)
        and bool(item["file_id"])
        and not item.get("stored")
        and not refused(item)
    )


def servable(message, item: dict) -> bool:
    """Whether the product serves this attachment itself: only what its own connectors stored
    (or, for Telegram, are still to fetch), and the files employees attached in the composer
    (`uploads`); never a file it refused."""
    if message.author_kind != "client":
        return message.author_kind in ("employee", "note") and uploads.is_upload(item)
    if not message.connection_id or refused(item):
        return False
    kind = message.connection.kind
    if kind == "email":
        return isinstance(item.get("stored"), str) and bool(item["stored"])
    if kind == "telegram":
        return (isinstance(item.get("stored"), str) and bool(item["stored"])) or waiting(item)
    return False


class NotServable(Exception):
    """No such attachment, or not one the product serves itself."""


class FetchFailed(Exception):
    """The channel would not hand the file over (unreachable, gone, too large)."""


def open_file(message, index: int):
    """(a binary file object, file name) of attachment `index` of a message, from the storage.

    A client's Telegram file is stored by a task once its message arrives; one still waiting
    (Telegram was away) is fetched by the reader's view first (`telegram.fetch_on_opening`)."""
    items = message.attachments or []
    item = items[index] if 0 <= index < len(items) else None
    if not isinstance(item, dict) or not servable(message, item) or not item.get("stored"):
        raise NotServable
    name = item.get("file_name") or item.get("name")
    from django.core.files.storage import default_storage

    try:
        return default_storage.open(item["stored"], "rb"), name or "attachment"
    except (OSError, ValueError) as exc:  # removed from storage, or a name it refuses
        raise NotServable from exc


def download(content, filename: str) -> FileResponse:
    """The answer that hands a served file over (the history's link and the API's): always as
    an attachment of no particular type, never sniffed, never cached by a shared cache."""
    response = FileResponse(
        content, as_attachment=True, filename=filename, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
