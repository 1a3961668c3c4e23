"""Replies to api clients are POSTed, signed, to the connection's webhook, with retries and back-off."""

import datetime as dt
import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
from django_tasks import default_task_backend

from convodesk.connectors import delivery
from convodesk.conversations import services
from convodesk.conversations.models import Message
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooked(org, receiver):
    org.conn.config = {"webhook_url": receiver.url}
    org.conn.save()
    return org


def reply(org, django_capture_on_commit_callbacks, text="Hello from us", when=None):
    conv = f.client_message(org.conn, "client-w", "Hi", when=when or f.at(0)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(
            conv.pk, f.act(org.op1), text, now=(when or f.at(0)) + dt.timedelta(seconds=5)
        )
    return Message.objects.get(pk=message.pk)


def test_an_employee_reply_is_posted_signed_with_a_timestamp_and_the_connection_secret(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    before = int(time.time())
    message = reply(hooked, django_capture_on_commit_callbacks)
    assert (
        message.delivery_state == "sent"
        and message.delivery_attempts == 1
        and message.next_attempt_at is None
    )
    [request] = receiver.requests
    fields = dict(p.split("=", 1) for p in request["headers"]["X-Convodesk-Signature"].split(","))
    assert set(fields) == {"t", "v1"} and before <= int(fields["t"]) <= time.time()
    signed = fields["t"].encode() + b"." + request["body"]
    assert fields["v1"] == hmac.new(hooked.conn.secret.encode(), signed, hashlib.sha256).hexdigest()
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["message"]["text"] == "Hello from us" and body["message"]["id"] == message.pk
    assert (
        body["client"]["external_id"] == "client-w"
        and body["conversation_id"] == message.conversation_id
    )


def test_client_messages_and_connections_without_webhook_are_not_delivered(
    org, immediate_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        received = f.client_message(org.conn, "client-n")
        message = services.reply(received.conversation.pk, f.act(org.op1), "answer")
    assert Message.objects.get(pk=received.message.pk).delivery_state == ""
    assert Message.objects.get(pk=message.pk).delivery_state == ""


def test_a_failing_receiver_is_retried_with_exponential_back_off(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 503]
    message = reply(hooked, django_capture_on_commit_callbacks, when=f.at(0))
    assert message.delivery_state == "pending" and message.delivery_attempts == 1
    assert "HTTP 500" in message.delivery_error
    first_failure = message.next_attempt_at
    # Not due yet: nothing is sent.
    assert delivery.deliver_due(now=first_failure - dt.timedelta(seconds=1)) == 0
    assert len(receiver.requests) == 1
    assert delivery.deliver_due(now=first_failure) == 0  # the 503
    message.refresh_from_db()
    assert message.delivery_attempts == 2 and "HTTP 503" in message.delivery_error
    assert message.next_attempt_at - first_failure == delivery.backoff(2) == 2 * delivery.backoff(1)
    assert delivery.deliver_due(now=message.next_attempt_at) == 1
    message.refresh_from_db()
    assert (
        message.delivery_state == "sent"
        and message.delivery_attempts == 3
        and message.delivery_error == ""
    )
    bodies = {r["body"] for r in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1  # the same signed body each time


def test_a_permanent_refusal_or_too_many_attempts_marks_it_failed(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    receiver.statuses = [410]
    message = reply(hooked, django_capture_on_commit_callbacks)
    assert message.delivery_state == "failed" and "410" in message.delivery_error

    receiver.statuses = [500] * delivery.MAX_ATTEMPTS
    conv = message.conversation
    with django_capture_on_commit_callbacks(execute=True):
        second = services.reply(conv.pk, f.act(hooked.op1), "again", now=f.at(60))
    second.refresh_from_db()
    now = second.next_attempt_at
    for _ in range(delivery.MAX_ATTEMPTS):
        now += delivery.MAX_DELAY
        delivery.deliver_due(now=now)
    second.refresh_from_db()
    assert second.delivery_state == "failed" and second.delivery_attempts == delivery.MAX_ATTEMPTS
    assert second.next_attempt_at is None


def test_an_unreachable_webhook_is_retried(
    org, immediate_tasks, django_capture_on_commit_callbacks
):
    org.conn.config = {"webhook_url": "http://127.0.0.1:9/closed-port"}
    org.conn.save()
    message = reply(org, django_capture_on_commit_callbacks)
    assert message.delivery_state == "pending" and "unreachable" in message.delivery_error


def test_a_backend_that_defers_gets_the_retry_enqueued_with_run_after(
    hooked, receiver, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        }
    }
    receiver.statuses = [500]
    message = reply(hooked, django_capture_on_commit_callbacks)
    [first] = default_task_backend.results
    assert first.args == [message.pk] and first.task.run_after is None
    assert delivery.attempt(message.pk, now=message.next_attempt_at) == "pending"
    message.refresh_from_db()
    retry = default_task_backend.results[-1]
    assert retry.task.run_after == message.next_attempt_at and retry.args == [message.pk]


def test_an_attempt_is_claimed_once(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    message = reply(hooked, django_capture_on_commit_callbacks)
    due = message.next_attempt_at
    assert delivery.attempt(message.pk, now=due) == "sent"
    assert delivery.attempt(message.pk, now=due) == "sent"  # already sent: no second POST
    assert len(receiver.requests) == 2


def test_other_channels_register_their_way_out(
    org, monkeypatch, immediate_tasks, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(delivery, "DELIVERERS", dict(delivery.DELIVERERS))
    monkeypatch.setattr(delivery, "ENABLED", dict(delivery.ENABLED))
    delivery.register("telegram", lambda m: sent.append(m.text) or "tg-42")
    conn = f.connection(org.line, "telegram")
    conv = f.client_message(conn, "tg-client").conversation
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(conv.pk, f.act(org.op1), "via telegram")
    message.refresh_from_db()
    assert (
        sent == ["via telegram"]
        and message.delivery_state == "sent"
        and message.channel_message_id == "tg-42"
    )


def test_a_signature_is_refused_when_old_tampered_or_made_with_another_secret(hooked):
    body, now = b'{"event":"message.created"}', 1_800_000_000
    header = delivery.signature(hooked.conn.secret, body, now)
    assert delivery.verify_signature(hooked.conn.secret, body, header, now=now + 299)
    assert not delivery.verify_signature(hooked.conn.secret, body, header, now=now + 301)
    assert not delivery.verify_signature(hooked.conn.secret, body + b" ", header, now=now)
    assert not delivery.verify_signature("another-secret", body, header, now=now)
    replayed = header.replace(f"t={now}", f"t={now + 600}")  # a fresh time on an old signature
    assert not delivery.verify_signature(hooked.conn.secret, body, replayed, now=now + 600)
    assert not delivery.verify_signature(hooked.conn.secret, body, "garbage", now=now)


def test_a_later_reply_waits_for_the_earlier_ones_retries_so_the_receiver_sees_them_in_order(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    first = reply(hooked, django_capture_on_commit_callbacks, text="one", when=f.at(0))
    assert first.delivery_state == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        second = services.reply(first.conversation_id, f.act(hooked.op1), "two", now=f.at(6))
    second.refresh_from_db()
    assert second.delivery_state == "pending" and second.delivery_attempts == 0
    assert [json.loads(r["body"])["message"]["text"] for r in receiver.requests] == ["one"]
    # Other conversations are not held up by this one.
    elsewhere = f.client_message(hooked.conn, "client-x", "Hi", when=f.at(7)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        other = services.reply(elsewhere.pk, f.act(hooked.op1), "elsewhere", now=f.at(8))
    other.refresh_from_db()
    assert other.delivery_state == "sent"

    delivery.deliver_due(now=first.next_attempt_at)  # "one" succeeds, then "two" goes
    texts = [json.loads(r["body"])["message"]["text"] for r in receiver.requests]
    assert texts == ["one", "elsewhere", "one", "two"]
    second.refresh_from_db()
    assert second.delivery_state == "sent" and second.delivery_attempts == 1


def test_a_later_reply_goes_once_the_earlier_one_has_finally_failed(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 410]
    first = reply(hooked, django_capture_on_commit_callbacks, text="one")
    with django_capture_on_commit_callbacks(execute=True):
        second = services.reply(first.conversation_id, f.act(hooked.op1), "two", now=f.at(6))
    delivery.deliver_due(now=first.next_attempt_at)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.delivery_state == "failed" and second.delivery_state == "sent"
    texts = [json.loads(r["body"])["message"]["text"] for r in receiver.requests]
    assert texts == ["one", "one", "two"]


def test_the_readme_verification_accepts_a_delivered_webhook_and_refuses_a_stale_one(
    hooked, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [snippet] = [b for b in readme.split("```python\n")[1:] if "def verify(" in b]
    scope = {}
    exec(snippet.split("```")[0], scope)  # noqa: S102 - the README's own example
    reply(hooked, django_capture_on_commit_callbacks)
    [request] = receiver.requests
    header = request["headers"]["X-Convodesk-Signature"]
    assert scope["verify"](hooked.conn.secret, request["body"], header)
    stale = delivery.signature(hooked.conn.secret, request["body"], int(time.time()) - 301)
    assert not scope["verify"](hooked.conn.secret, request["body"], stale)
