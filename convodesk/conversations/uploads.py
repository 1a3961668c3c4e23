"""Files an employee attaches in the composer: checked against the limits in settings, named
safely, kept through Django's storage API (local disk by default, any S3-compatible store with
`django-storages` set as the default storage), and served by the attachment view like the files
the channels bring in (`attachments.open_file`).

The limits are `CONVODESK["ATTACHMENT_MAX_BYTES"]` and `CONVODESK["ATTACHMENT_TYPES"]` (file
extensions and the type the product stores and sends them as; `ATTACHMENT_EXTENSIONS` narrows
the default list from the environment). The type is decided from the extension on this list,
never from what the browser claims.
"""

from __future__ import annotations

import os
import secrets
import unicodedata

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

UPLOAD_DIR = "uploads"
MAX_FILES = 10
MAX_NAME = 120
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "csv": "text/csv",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "zip": "application/zip",
    # What clients send from their phones: voice notes (Telegram's are Ogg Opus without a
    # name), audio and short videos.
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "opus": "audio/opus",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "wav": "audio/wav",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
}


class UploadRefused(Exception):
    """A file the product will not take; the message says why, for the person who chose it."""

    TOO_LARGE, TYPE, EMPTY, TOO_MANY = "too_large", "unsupported_type", "empty", "too_many"

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.message, self.reason = message, reason


def max_bytes() -> int:
    return int(settings.CONVODESK.get("ATTACHMENT_MAX_BYTES") or DEFAULT_MAX_BYTES)


def allowed_types() -> dict[str, str]:
    """Extension -> the type it is stored and sent as. `ATTACHMENT_TYPES` replaces the map;
    `ATTACHMENT_EXTENSIONS` (the environment's list) narrows the default one."""
    types = dict(settings.CONVODESK.get("ATTACHMENT_TYPES") or DEFAULT_TYPES)
    only = settings.CONVODESK.get("ATTACHMENT_EXTENSIONS") or []
    if only:
        types = {ext: kind for ext, kind in types.items() if ext in only}
    return types


def accept_attribute() -> str:
    """The picker's `accept`: the same list the server checks."""
    return ",".join(f".{ext}" for ext in sorted(allowed_types()))


def safe_name(name: str) -> str:
    """The name to show and send: the last path part only, without control or format
    characters, without leading dots, at most MAX_NAME characters with the extension kept."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp") else c
        for c in name
        if not unicodedata.category(c).startswith("C") or c == " "
    )
    name = " ".join(name.split()).strip(" .")
    if not name:
        return "file"
    if len(name) > MAX_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: MAX_NAME - len(ext)] + ext
    return name


def extension(name: str) -> str:
    return os.path.splitext(name)[1].lower().lstrip(".")


def check_name(name: str, declared_type: str = "") -> tuple[str, str]:
    """(safe name, content type) by the name's extension on the accepted list, or UploadRefused.
    A name without an extension (a channel's voice note, a sticker) takes the first accepted
    extension of the type the channel declared, so the same list decides."""
    name = safe_name(name)
    types = allowed_types()
    if not extension(name) and declared_type:
        ext = next((e for e, kind in sorted(types.items()) if kind == declared_type), "")
        name = f"{name}.{ext}" if ext else name
    content_type = types.get(extension(name))
    if content_type is None:
        raise UploadRefused(
            _("“%(name)s”: this type of file is not accepted (accepted: %(types)s).")
            % {"name": name, "types": ", ".join(sorted(types))},
            UploadRefused.TYPE,
        )
    return name, content_type


def check_size(name: str, size: int) -> None:
    if size > max_bytes():
        raise UploadRefused(
            _("“%(name)s” is too large: at most %(size)s per file.")
            % {"name": name, "size": filesizeformat(max_bytes())},
            UploadRefused.TOO_LARGE,
        )
    if size == 0:
        raise UploadRefused(_("“%(name)s” is empty.") % {"name": name}, UploadRefused.EMPTY)


def check(upload) -> tuple[str, str]:
    """(safe name, content type) of an uploaded file, or UploadRefused saying why."""
    name, content_type = check_name(getattr(upload, "name", ""))
    check_size(name, upload.size)
    return name, content_type


def keep_inbound(folder: str, name: str, content: bytes, declared_type: str = "") -> dict:
    """A file a channel brought in (an e-mail part, a Telegram file), under the composer's
    limits, kept in the default storage: {"stored", "name", "content_type", "size"}, or
    UploadRefused saying why. The stored name is a keyed hash of the bytes: not guessable, and
    a second run (a re-fetched mail, a retried task) reuses the same file."""
    name, content_type = check_name(name, declared_type)
    check_size(name, len(content))
    digest = salted_hmac(f"convodesk.{folder}", content, algorithm="sha256").hexdigest()
    stored = f"{folder}/{digest[:2]}/{digest}"
    if not default_storage.exists(stored):
        stored = default_storage.save(stored, ContentFile(content))
    return {"stored": stored, "name": name, "content_type": content_type, "size": len(content)}


def store_all(files) -> list[dict]:
    """Check every file first, then store them; the attachment items for the message."""
    files = list(files)
    if len(files) > MAX_FILES:
        raise UploadRefused(
            _("At most %(count)s files per message.") % {"count": MAX_FILES}, UploadRefused.TOO_MANY
        )
    checked = [(upload, *check(upload)) for upload in files]
    items = []
    for upload, name, content_type in checked:
        token = secrets.token_hex(16)
        stored = default_storage.save(f"{UPLOAD_DIR}/{token[:2]}/{token}", upload)
        items.append(
            {"stored": stored, "name": name, "content_type": content_type, "size": upload.size}
        )
    return items


def store_bytes(name: str, content: bytes) -> dict:
    """The same for bytes the product has in hand (the demo, tests)."""
    upload = ContentFile(content, name=name)
    return store_all([upload])[0]


def discard(items) -> None:
    """Remove the stored files of a message that was refused after all."""
    for item in items or []:
        stored = item.get("stored") if isinstance(item, dict) else None
        if isinstance(stored, str) and stored.startswith(UPLOAD_DIR + "/"):
            default_storage.delete(stored)


def is_upload(item) -> bool:
    stored = item.get("stored") if isinstance(item, dict) else None
    return isinstance(stored, str) and stored.startswith(UPLOAD_DIR + "/") and ".." not in stored


def open_stored(item):
    return default_storage.open(item["stored"], "rb")


def read(item) -> bytes:
    with open_stored(item) as stored:
        return stored.read()
