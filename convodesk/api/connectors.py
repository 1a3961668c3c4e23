"""Ingestion for custom channels (the `api` connector), authenticated by the connection's own secret."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema
from pydantic import field_validator

from convodesk.connectors import rest, skipped
from convodesk.connectors.clean import clean
from convodesk.conversations import attachments
from convodesk.conversations.services import LineInactive

from .auth import ConnectionSecretAuth, connection_for
from .errors import ApiError, Status, also, invalid
from .schemas import Input, IsoDateTimeIn

router = Router(tags=["connectors"])

log = logging.getLogger("convodesk.api.connectors")


class ClientIn(Input):
    external_id: str = Field(
        ..., min_length=1, max_length=255, description="The client's id in your system"
    )
    name: str = Field("", max_length=255)
    phone: str = Field("", max_length=64)
    email: str = Field("", max_length=254)


class Attachment(Input):
    url: str = Field(..., min_length=1, max_length=2000, description="An http:// or https:// link")
    name: str = Field("", max_length=255)
    content_type: str = Field("", max_length=255)
    size: int | None = Field(None, ge=0)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        url = attachments.safe_url(value)
        if not url:
            raise ValueError(_("Only http:// and https:// links are accepted."))
        return url


class MessageIn(Input):
    external_message_id: str = Field(
        ...,
        min_length=1,
        max_length=255,
        description="Your message id; posting it again is answered 200, not duplicated",
    )
    client: ClientIn
    text: str = Field("", max_length=20000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    sent_at: IsoDateTimeIn | None = Field(
        None, description="Your timestamp, kept for display; metrics use receipt"
    )
    source_url: str = Field("", max_length=1000)


class Ingested(Schema):
    conversation_id: int
    message_id: int
    created: bool


@router.post(
    "/connectors/{connection_id}/messages",
    auth=ConnectionSecretAuth(),
    response={200: Ingested, 201: Ingested},
    openapi_extra=also(409, 503),
    summary="Post a client's message (Authorization: Bearer <connection secret>)",
)
def post_message(request, connection_id: int, payload: MessageIn):
    connection = connection_for(connection_id, request.auth)
    if connection.kind != "api":
        raise invalid({"connection_id": _("Only api connections accept messages here.")})
    blank = {
        name: _("This field cannot be blank.")
        for name, value in (
            ("external_message_id", payload.external_message_id),
            ("client.external_id", payload.client.external_id),
        )
        if not clean(value).strip()
    }
    if blank:
        raise invalid(blank)
    if not clean(payload.text).strip() and not payload.attachments:
        raise invalid({"text": _("A message needs text or an attachment.")})
    sent_at = payload.sent_at
    if sent_at is not None and sent_at.tzinfo is None:
        sent_at = sent_at.replace(tzinfo=dt.UTC)
    incoming = rest.IncomingMessage(
        external_message_id=payload.external_message_id,
        client=rest.IncomingClient(**payload.client.dict()),
        text=payload.text,
        attachments=[a.dict() for a in payload.attachments],
        sent_at=sent_at,
        source_url=payload.source_url,
    )
    try:
        received = rest.receive(connection, incoming)
    except LineInactive:
        raise  # 409 line_inactive: the sender should know, and nothing is recorded as skipped
    except Exception as exc:  # the transaction rolled back: nothing of this message was written
        if skipped.is_message_fault(exc):  # retrying would not help: record it for an admin
            skipped.record(connection, payload.external_message_id, exc, payload.model_dump_json())
            raise ApiError(
                422,
                "not_stored",
                _("This message cannot be stored; nothing was written and it was recorded."),
            ) from exc
        log.exception(
            "connection %s: message %s not stored", connection.pk, payload.external_message_id
        )
        raise ApiError(
            503,
            "ingestion_failed",
            _("The message could not be stored and nothing was written; retry it later."),
        ) from exc
    body = {
        "conversation_id": received.conversation.pk,
        "message_id": received.message.pk,
        "created": received.created,
    }
    return Status(201 if received.created else 200, body)
