"""Outbound events in the seed product's shape: POSTed form-encoded (PHP brackets), each with
`auth[application_token]` so the handler can tell them from forged ones.

- OnImConnectorMessageAdd: an employee's or automatic reply in a conversation of a custom
  connector (events go to the handlers of that event, all or the connector's own). It is the
  reply's outbound delivery: `connectors.delivery` queues, retries with back-off and marks the
  message sent or not delivered, exactly as for a signed webhook (apps.py registers it for
  api connections; others keep their signed webhook).
- OnOpenLineSessionFinish: a conversation closed (an after-commit subscriber in hooks). One EventDelivery
  per handler, attempted after commit and retried with delivery.py's back-off by the timers
  loop (`deliver_due`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from convodesk import outbound
from convodesk.connectors import delivery

from .models import ConnectorLine, EventDelivery, EventHandler

log = logging.getLogger("convodesk.bitrix24.events")

USER_AGENT = "Convodesk-Bitrix24-Events/1"


def php_encode(data, prefix: str = "") -> list[tuple[str, str]]:
    """{"data": {"MESSAGES": [{"im": {"chat_id": 5}}]}} → data[MESSAGES][0][im][chat_id]=5."""
    pairs = []
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict | list):
            pairs += php_encode(value, name)
        elif value is None:
            pairs.append((name, ""))
        elif isinstance(value, bool):
            pairs.append((name, "1" if value else "0"))
        else:
            pairs.append((name, str(value)))
    return pairs


def form_body(data: dict) -> bytes:
    """Brackets kept as they are, names and values percent-encoded (PHP's http_build_query)."""
    return "&".join(
        f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in php_encode(data)
    ).encode()


def _auth(handler: EventHandler) -> dict:
    base = settings.CONVODESK.get("PUBLIC_URL") or ""
    parts = urlsplit(base)
    domain = parts.netloc or "localhost"
    return {
        "domain": domain,
        "client_endpoint": f"{parts.scheme or 'https'}://{domain}/rest/",
        "member_id": "convodesk",
        "application_token": handler.application_token,
    }


def event_payload(handler: EventHandler, data: dict) -> dict:
    return {
        "event": handler.event.upper(),
        "event_handler_id": handler.pk,
        "data": data,
        "ts": int(time.time()),
        "auth": _auth(handler),
    }


def post(handler: EventHandler, body: bytes) -> None:
    """One POST; DeliveryFailed (permanent for most 4xx) when the handler does not take it."""
    request = urllib.request.Request(
        handler.handler_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT},
    )
    timeout = settings.CONVODESK.get("WEBHOOK_TIMEOUT_SECONDS", 10)
    try:
        with outbound.urlopen(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429)
        raise delivery.DeliveryFailed(f"HTTP {exc.code} from the handler", permanent) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise delivery.DeliveryFailed(
            f"handler unreachable: {reason}", outbound.refused(exc)
        ) from None


# OnImConnectorMessageAdd: replies on a connector's line -----------------------------------------


def _connector_line(connection):
    return (
        ConnectorLine.objects.select_related("connector")
        .filter(connection_id=connection.pk, active=True)
        .first()
    )


def _handlers(event: str, connector_id: int | None):
    rows = EventHandler.objects.filter(event=event, active=True)
    return rows.filter(Q(connector__isnull=True) | Q(connector_id=connector_id)).order_by("pk")


def api_delivers(connection) -> bool:
    if not (connection.config or {}).get("connector"):
        return bool((connection.config or {}).get("webhook_url"))  # the signed webhook
    row = _connector_line(connection)
    if row is None:
        return bool((connection.config or {}).get("webhook_url"))  # the signed webhook
    return _handlers(EventHandler.Event.MESSAGE_ADD, row.connector_id).exists()


def message_data(row: ConnectorLine, message) -> dict:
    conversation = message.conversation
    return {
        "CONNECTOR": row.connector.code,
        "LINE": conversation.line_id,
        "MESSAGES": [
            {
                "im": {"chat_id": conversation.pk, "message_id": message.pk},
                "message": {
                    "user_id": message.author_id or 0,
                    "text": message.text,
                    "files": [
                        {"url": a.get("url", ""), "name": a.get("name", "")}
                        for a in message.attachments or []
                    ],
                },
                "chat": {"id": conversation.identity.external_id},
            }
        ],
    }


def deliver_api_message(message) -> str:
    """The delivery of a reply on an api connection: the event for a connector's line, the
    signed webhook for any other."""
    row = _connector_line(message.conversation.connection)
    if row is None:
        return delivery.deliver_webhook(message)
    handlers = list(_handlers(EventHandler.Event.MESSAGE_ADD, row.connector_id))
    if not handlers:
        raise delivery.DeliveryFailed("no OnImConnectorMessageAdd handler", permanent=True)
    data = message_data(row, message)
    for handler in handlers:
        post(handler, form_body(event_payload(handler, data)))
    return ""


# OnOpenLineSessionFinish ---------------------------------------------------------------------


def session_data(conversation) -> dict:
    row = _connector_line(conversation.connection)
    source = row.connector.code if row else conversation.channel
    return {
        "DATA": [
            {
                "connector": {
                    "connector_id": source,
                    "line_id": conversation.line_id,
                    "chat_id": conversation.pk,
                    "user_id": conversation.identity.external_id,
                },
                "chat": {"id": conversation.pk},
                "line": {"id": conversation.line_id, "name": conversation.line.name},
                "session": {
                    "id": conversation.pk,
                    "status": conversation.status,
                    "closed_at": int(conversation.closed_at.timestamp())
                    if conversation.closed_at
                    else None,
                },
            }
        ]
    }


def sessions_finished(committed) -> None:
    """An after-commit subscriber (conversations/hooks.py): each conversation the committed
    transaction closed (`committed.closed`, from the batch's own events) queues its
    OnOpenLineSessionFinish for each handler. No query when nothing closed."""
    from convodesk.conversations.models import Conversation

    closed = committed.closed
    if not closed:
        return
    conversations = Conversation.objects.select_related("connection").in_bulk(
        [conversation_id for conversation_id, _at in closed]
    )
    ids = []
    with transaction.atomic():
        for conversation_id, at in closed:
            conversation = conversations[conversation_id]
            row = _connector_line(conversation.connection)
            handlers = list(
                _handlers(EventHandler.Event.SESSION_FINISH, row.connector_id if row else None)
            )
            if row is None:  # a handler for one connector hears only its conversations
                handlers = [h for h in handlers if h.connector_id is None]
            if not handlers:
                continue
            data = session_data(conversation)
            ids += [
                EventDelivery.objects.create(
                    handler=h,
                    conversation=conversation,
                    body=form_body(event_payload(h, data)).decode(),
                    next_attempt_at=at,
                ).pk
                for h in handlers
            ]
    transaction.on_commit(lambda: [_enqueue(pk) for pk in ids])


def _enqueue(delivery_id: int) -> None:
    from .tasks import deliver_event

    try:
        deliver_event.enqueue(delivery_id)
    except Exception:  # noqa: BLE001 - it stays pending; deliver_due() sends it
        log.exception("could not enqueue event delivery %s", delivery_id)


def attempt(delivery_id: int, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    claimed = EventDelivery.objects.filter(
        pk=delivery_id, state=EventDelivery.State.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + delivery.LEASE)
    if not claimed:
        return ""
    row = EventDelivery.objects.select_related("handler").get(pk=delivery_id)
    try:
        post(row.handler, row.body.encode())
    except delivery.DeliveryFailed as exc:
        attempts = row.attempts + 1
        final = exc.permanent or attempts >= delivery.MAX_ATTEMPTS
        EventDelivery.objects.filter(pk=row.pk).update(
            attempts=F("attempts") + 1,
            error=str(exc)[:2000],
            state=EventDelivery.State.FAILED if final else EventDelivery.State.PENDING,
            next_attempt_at=None if final else now + delivery.backoff(attempts),
        )
        if final:
            log.warning("event delivery %s failed after %s attempts: %s", row.pk, attempts, exc)
        return EventDelivery.State.FAILED if final else EventDelivery.State.PENDING
    EventDelivery.objects.filter(pk=row.pk).update(
        attempts=F("attempts") + 1, state=EventDelivery.State.SENT, error="", next_attempt_at=None
    )
    return EventDelivery.State.SENT


def deliver_due(now: dt.datetime | None = None, batch: int = 200) -> int:
    """The retries that are due (the timers loop calls this)."""
    now = now or timezone.now()
    due = EventDelivery.objects.filter(
        state=EventDelivery.State.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    ids = list(due.values_list("pk", flat=True)[:batch])
    return sum(1 for pk in ids if attempt(pk, now) == EventDelivery.State.SENT)
