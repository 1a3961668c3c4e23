"""The REST connector: an external system posts its clients' messages; thin by DESIGN rule 6.

It validates the payload and calls `services.receive_client_message`, which is idempotent by
(connection, external message id), so a retried POST never duplicates a message.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from convodesk.conversations import services
from convodesk.lines.models import Connection

from .clean import clean, clean_data

log = logging.getLogger("convodesk.connectors.rest")

MAX_ATTACHMENTS = 20


@dataclass(frozen=True)
class IncomingClient:
    external_id: str
    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class IncomingMessage:
    external_message_id: str
    client: IncomingClient
    text: str
    attachments: list
    sent_at: dt.datetime | None = None
    source_url: str = ""


def receive(connection: Connection, incoming: IncomingMessage) -> services.Received:
    """Every string is cleaned (`clean.clean`) before it reaches the services."""
    received = services.receive_client_message(
        connection,
        client_external_id=clean(incoming.client.external_id),
        client_name=clean(incoming.client.name),
        phone=clean(incoming.client.phone),
        email=clean(incoming.client.email),
        text=clean(incoming.text),
        external_message_id=clean(incoming.external_message_id),
        attachments=clean_data(incoming.attachments[:MAX_ATTACHMENTS]),
        sent_at=incoming.sent_at,
        source_url=clean(incoming.source_url),
    )
    if not received.created:
        log.info(
            "connection %s: message %s already stored", connection.pk, incoming.external_message_id
        )
    return received
