"""Files employees send to clients who have no account here (the widget, a REST integration):
a signed link that expires (`django.core.signing`), naming one attachment of one reply.

The link carries the message id and the attachment's index, signed with SECRET_KEY and a salt
of its own; it stops working after `CONVODESK["ATTACHMENT_LINK_MAX_AGE"]` seconds (7 days by
default). It only ever opens a file an employee sent to the client: never a private note's,
never a client's own upload, never a file of another message.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from convodesk.conversations import uploads
from convodesk.conversations.models import Message

SALT = "convodesk.attachment-link"
DEFAULT_MAX_AGE = 7 * 24 * 3600
SENT_TO_CLIENTS = (Message.Author.EMPLOYEE, Message.Author.BOT)


def max_age() -> int:
    return int(settings.CONVODESK.get("ATTACHMENT_LINK_MAX_AGE") or DEFAULT_MAX_AGE)


def path(message: Message, index: int) -> str:
    token = signing.TimestampSigner(salt=SALT).sign(f"{message.pk}.{index}")
    return reverse("connectors:file", args=[token])


def absolute(relative: str, base: str = "") -> str:
    base = (base or settings.CONVODESK.get("PUBLIC_URL") or "").rstrip("/")
    return base + relative


def outgoing(message: Message, base: str = "") -> list[dict]:
    """The files of a reply, each with its signed link, for a channel that sends links."""
    if message.author_kind not in SENT_TO_CLIENTS:
        return []
    return [
        {
            "name": item.get("name") or "file",
            "content_type": item.get("content_type") or "application/octet-stream",
            "size": item.get("size"),
            "url": absolute(path(message, index), base),
        }
        for index, item in enumerate(message.attachments or [])
        if uploads.is_upload(item)
    ]


def _item(token: str) -> tuple[Message, dict]:
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=max_age())
        message_id, index = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        raise Http404(_("This link is not valid or has expired.")) from None
    message = Message.objects.filter(pk=message_id, author_kind__in=SENT_TO_CLIENTS).first()
    items = (message.attachments or []) if message is not None else []
    item = items[index] if 0 <= index < len(items) else None
    if not uploads.is_upload(item):
        raise Http404(_("This link is not valid or has expired."))
    return message, item


@require_safe
def download(request, token: str):
    _message, item = _item(token)
    try:
        content = uploads.open_stored(item)
    except (OSError, ValueError):
        raise Http404(_("This file is no longer available.")) from None
    response = FileResponse(
        content,
        as_attachment=True,
        filename=item.get("name") or "file",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Access-Control-Allow-Origin"] = "*"
    return response
