"""Shapes shared by the conversation and event endpoints (SPEC "Value shapes": ids, names, UTC dates)."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from convodesk.conversations import attachments
from convodesk.conversations.lifecycle import STATUS_KEYS, Status


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def status_name(code: int | None) -> str | None:
    if code is None:
        return None
    try:
        return STATUS_KEYS[Status(code)]
    except ValueError:
        return str(code)


def person(user) -> dict | None:
    return None if user is None else {"id": user.pk, "name": user.name}


def _api_file_link(message, index: int) -> str:
    return reverse("api-v1:message_file", args=[message.conversation_id, message.pk, index])


def attachments_out(message) -> list[dict]:
    """Each attachment as the API shows it: a posted link keeps its `url`; a file the product
    keeps (a client's Telegram or e-mail file, an employee's upload) has a `download` path under
    the API; a file the product refused says why. Storage names stay inside."""
    if not message.attachments:
        return []
    return [
        {
            "name": shown["label"],
            "content_type": shown["mime_type"] or None,
            "size": shown["size"] if isinstance(shown["size"], int | float) else None,
            "url": None if shown["served"] else (shown["href"] or None),
            "download": shown["href"] if shown["served"] else None,
            "refused": shown["refused"] or None,
        }
        for shown in attachments.for_display(message, link=_api_file_link)
    ]


def message_out(message) -> dict:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "author_kind": message.author_kind,
        "author": person(message.author),
        "text": message.text,
        "attachments": attachments_out(message),
        "created_at": iso(message.created_at),
        "channel_sent_at": iso(message.channel_sent_at),
        "external_id": message.external_id,
        "delivery_state": message.delivery_state or None,
        "delivery_attempts": message.delivery_attempts,
        "delivery_error": message.delivery_error or None,
        "next_attempt_at": iso(message.next_attempt_at),
    }


def event_out(event) -> dict:
    return {
        "id": event.pk,
        "conversation_id": event.conversation_id,
        "kind": event.kind,
        "actor_kind": event.actor_kind,
        "actor": person(event.actor),
        "from_status": status_name(event.from_status),
        "to_status": status_name(event.to_status),
        "at": iso(event.at),
        "payload": event.payload or {},
    }
