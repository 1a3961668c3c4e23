"""Outbound delivery of employee and automatic messages to the client's channel, with retries.

`after_message` (conversations/hooks.py) calls `queue()` inside the service's transaction: the
message is marked `pending` and a task is enqueued after commit. Each task run is one attempt
(`attempt()`): success marks the message `sent`; a failure stores the error, counts the attempt
and sets `next_attempt_at` with exponential back-off (10 s, 20 s, 40 s, … capped at one hour);
after MAX_ATTEMPTS, or on a permanent refusal (most 4xx), the message is `failed`.

Retries — the mechanism chosen: a failed attempt re-enqueues the task with
`.using(run_after=next_attempt_at)` when the task backend can defer (django-tasks-db can).
Backends that cannot (the immediate backend the test suite uses) leave the message pending with
its `next_attempt_at`; `deliver_due(now)` attempts every due message and is the safety net the
timers loop may call (also after a worker crash). Both take `now`, so tests control time. An
attempt is claimed with a conditional UPDATE, so two runners never send the same attempt.

Deliveries to one conversation keep their order: a message is claimed only while no earlier
message of its conversation is still pending (one conditional UPDATE, so the check and the claim
cannot be split by another runner). A reply written while an earlier one waits for its retries
waits with it; when the earlier one ends (sent or finally failed), the next is enqueued at once.

Webhooks are signed like Stripe's: `X-Convodesk-Signature: t=<unix time>,v1=<hex HMAC-SHA256
of "<t>.<body>" under the connection secret>`. The receiver recomputes it and refuses a
timestamp older than a few minutes, so a captured request cannot be replayed later
(`verify_signature` is the reference; README shows the same in a few lines).

Channels add their way out with `register(kind, func, enabled=...)`: `func(message)` sends and
returns the channel's message id (or ""), raising `DeliveryFailed` to report a failure.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from convodesk import crypto, outbound
from convodesk.conversations import uploads
from convodesk.conversations.models import Message

log = logging.getLogger("convodesk.delivery")

MAX_ATTEMPTS = 8
BASE_DELAY = dt.timedelta(seconds=10)
MAX_DELAY = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)  # how long a claimed attempt is protected from a second runner
DELIVERED_AUTHORS = (Message.Author.EMPLOYEE, Message.Author.BOT)
SIGNATURE_HEADER = "X-Convodesk-Signature"
SIGNATURE_TOLERANCE = 300  # seconds a receiver should accept a signature's timestamp for


class DeliveryFailed(Exception):
    def __init__(self, message: str, permanent: bool = False, retry_after: int | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after  # seconds the channel asked us to wait (Telegram's 429)


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))


# The registry of ways out ----------------------------------------------------------------


def _has_webhook(connection) -> bool:
    return bool((connection.config or {}).get("webhook_url"))


def webhook_body(message: Message) -> bytes:
    conversation = message.conversation
    payload = {
        "event": "message.created",
        "connection_id": conversation.connection_id,
        "conversation_id": conversation.pk,
        "client": {"id": conversation.client_id, "external_id": conversation.identity.external_id},
        "message": {
            "id": message.pk,
            "author_kind": message.author_kind,
            "author": None
            if message.author is None
            else {"id": message.author.pk, "name": message.author.name},
            "text": message.text,
            "attachments": _sent_attachments(message),
            "created_at": message.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _sent_attachments(message: Message) -> list[dict]:
    """Links stay as they are; a file from the composer becomes a signed link that expires
    (connectors.files), never the product's storage name."""
    from . import files

    sent = files.outgoing(message)
    links = [
        item
        for item in message.attachments or []
        if isinstance(item, dict) and not uploads.is_upload(item)
    ]
    return links + sent


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Convodesk-Signature value: the timestamp and the HMAC of "<timestamp>.<body>"."""
    return f"t={timestamp},v1={crypto.sign(secret, str(timestamp).encode() + b'.' + body)}"


def verify_signature(
    secret: str, body: bytes, header: str, now: float | None = None, tolerance=SIGNATURE_TOLERANCE
) -> bool:
    """What a receiver does: the HMAC matches and the timestamp is within the tolerance."""
    fields = dict(item.split("=", 1) for item in (header or "").split(",") if "=" in item.strip())
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def deliver_webhook(message: Message) -> str:
    """POST the message as signed JSON to the api connection's webhook URL."""
    connection = message.conversation.connection
    url = (connection.config or {}).get("webhook_url")
    if not url:
        raise DeliveryFailed("no webhook_url configured", permanent=True)
    body = webhook_body(message)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Convodesk-Webhook/1",
            SIGNATURE_HEADER: signature(connection.secret, body, int(time.time())),
            "X-Convodesk-Message": str(message.pk),
            "X-Convodesk-Attempt": str(message.delivery_attempts + 1),
        },
    )
    timeout = settings.CONVODESK.get("WEBHOOK_TIMEOUT_SECONDS", 10)
    try:
        with outbound.urlopen(request, timeout=timeout) as response:
            response.read(65536)
            return ""
    except urllib.error.HTTPError as exc:
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429)
        raise DeliveryFailed(f"HTTP {exc.code} from the webhook", permanent=permanent) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryFailed(f"webhook unreachable: {reason}", outbound.refused(exc)) from None


DELIVERERS: dict[str, Callable[[Message], str]] = {"api": deliver_webhook}
ENABLED: dict[str, Callable] = {"api": _has_webhook}


def register(kind: str, func: Callable[[Message], str], enabled: Callable | None = None) -> None:
    """Add a channel's way out (e.g. "telegram", "email"); `enabled(connection)` defaults to always."""
    DELIVERERS[kind] = func
    if enabled is not None:
        ENABLED[kind] = enabled
    else:
        ENABLED.pop(kind, None)


def delivers(connection) -> bool:
    if connection is None or connection.kind not in DELIVERERS:
        return False
    check = ENABLED.get(connection.kind)
    return check(connection) if check else True


# Queueing and attempts ------------------------------------------------------------------


def queue(conversation, message: Message) -> bool:
    """Mark an employee's or automatic message for delivery and enqueue it after commit."""
    if message.author_kind not in DELIVERED_AUTHORS or not delivers(conversation.connection):
        return False
    due = message.created_at or timezone.now()
    Message.objects.filter(pk=message.pk).update(
        delivery_state=Message.Delivery.PENDING, next_attempt_at=due, delivery_error=""
    )
    message.delivery_state, message.next_attempt_at = Message.Delivery.PENDING, due
    message_id = message.pk
    transaction.on_commit(lambda: enqueue(message_id))
    return True


def _backend_defers() -> bool:
    from django_tasks import default_task_backend

    return bool(getattr(default_task_backend, "supports_defer", False))


def enqueue(message_id: int, run_after: dt.datetime | None = None) -> None:
    from .tasks import deliver_message

    task = deliver_message
    if run_after is not None:
        if not _backend_defers():
            return  # deliver_due() picks it up when it is due
        task = task.using(run_after=run_after)
    try:
        task.enqueue(message_id)
    except Exception:  # noqa: BLE001 - the message stays pending; deliver_due() retries it
        log.exception("could not enqueue delivery of message %s", message_id)


def attempt(message_id: int, now: dt.datetime | None = None) -> str:
    """One delivery attempt if the message is due; returns its delivery state afterwards."""
    now = now or timezone.now()
    claimed = (
        Message.objects.filter(
            pk=message_id, delivery_state=Message.Delivery.PENDING, next_attempt_at__lte=now
        )
        .exclude(_waits_for_an_earlier_one())
        .update(next_attempt_at=now + LEASE)
    )
    if not claimed:
        state = (
            Message.objects.filter(pk=message_id).values_list("delivery_state", flat=True).first()
        )
        return state or ""
    message = Message.objects.select_related(
        "conversation__connection", "conversation__identity", "author"
    ).get(pk=message_id)
    func = DELIVERERS.get(message.conversation.connection.kind)
    try:
        if func is None:
            raise DeliveryFailed("no way to deliver on this channel", permanent=True)
        channel_message_id = func(message) or ""
    except DeliveryFailed as exc:
        error, permanent, retry_after = str(exc), exc.permanent, exc.retry_after
    except Exception as exc:  # noqa: BLE001 - a channel's bug must not lose the message
        log.exception("delivery of message %s failed", message_id)
        error, permanent, retry_after = f"{exc.__class__.__name__}: {exc}", False, None
    else:
        Message.objects.filter(pk=message_id).update(
            delivery_state=Message.Delivery.SENT,
            delivery_attempts=F("delivery_attempts") + 1,
            delivery_error="",
            next_attempt_at=None,
            channel_message_id=channel_message_id[:255],
        )
        _next_in_conversation(message)
        return Message.Delivery.SENT
    attempts = message.delivery_attempts + 1
    if permanent or attempts >= MAX_ATTEMPTS:
        Message.objects.filter(pk=message_id).update(
            delivery_state=Message.Delivery.FAILED,
            delivery_attempts=attempts,
            delivery_error=error[:2000],
            next_attempt_at=None,
        )
        log.warning("message %s not delivered after %s attempts: %s", message_id, attempts, error)
        from convodesk.conversations import services

        services.record_delivery_failure(message, error, now)
        _next_in_conversation(message)
        return Message.Delivery.FAILED
    wait = backoff(attempts)
    if retry_after:
        wait = dt.timedelta(seconds=int(retry_after))
    next_at = now + wait
    Message.objects.filter(pk=message_id).update(
        delivery_attempts=attempts, delivery_error=error[:2000], next_attempt_at=next_at
    )
    enqueue(message_id, run_after=next_at)
    return Message.Delivery.PENDING


def _waits_for_an_earlier_one() -> Exists:
    return Exists(
        Message.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            delivery_state=Message.Delivery.PENDING,
            id__lt=OuterRef("id"),
        )
    )


def _next_in_conversation(message: Message) -> None:
    """The earlier message is done: the next one waiting behind it goes now."""
    following = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            delivery_state=Message.Delivery.PENDING,
            id__gt=message.pk,
        )
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if following is not None:
        enqueue(following)


def deliver_due(now: dt.datetime | None = None, batch: int = 200) -> int:
    """Attempt every pending message whose next attempt is due; returns how many were sent."""
    now = now or timezone.now()
    due = (
        Message.objects.filter(delivery_state=Message.Delivery.PENDING, next_attempt_at__lte=now)
        .exclude(_waits_for_an_earlier_one())
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:batch]
    )
    return sum(1 for message_id in list(due) if attempt(message_id, now) == Message.Delivery.SENT)
