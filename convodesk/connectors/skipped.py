"""Passing over a message that cannot be stored: log it, keep a record, let the channel go on."""

from __future__ import annotations

import logging

from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError

from .clean import clean, visible
from .models import SkippedMessage

log = logging.getLogger("convodesk.connectors")

# Errors that come from the message's own content (PostgreSQL refusing a value, a decoding
# failure, a parser tripping over an odd structure): retrying would fail the same way forever,
# so the message is recorded and passed over. Anything else (the database or the CRM being
# away) stops the round instead and the position stays, so the message is tried again later.
MESSAGE_FAULTS = (DataError, IntegrityError, ValueError, LookupError, TypeError, AttributeError)


def database_away(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


def is_message_fault(exc: BaseException) -> bool:
    """Whether passing the message over is right: the error comes from its content."""
    return isinstance(exc, MESSAGE_FAULTS) and not database_away(exc)


def record(
    connection, external_id, exc: BaseException | str, payload=None
) -> SkippedMessage | None:
    """Log and record one skipped message. Never raises: a failure to record is only logged."""
    reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    log.error(
        "connection %s: message %s skipped, it cannot be stored: %s",
        getattr(connection, "pk", connection),
        visible(external_id or "?", 200),
        visible(reason, 500),
    )
    try:
        return SkippedMessage.objects.create(
            connection_id=getattr(connection, "pk", connection),
            external_id=clean(external_id or "")[:500],
            reason=visible(reason, 2000),
            payload=visible(payload if payload is not None else "", 4000),
        )
    except DatabaseError:
        log.exception("could not record the skipped message")
        return None
