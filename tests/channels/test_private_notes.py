"""Issue 19 item 4: an employee's private note stays with the employees. It reaches no channel
(asserted on each connector's local server), changes no metric, and is marked as a note in the
workspace transcript, the history and the API."""

from __future__ import annotations

import email
import email.policy
import json

import pytest
from django.utils import timezone

from convodesk.connectors import delivery
from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Conversation, ConversationEvent, Message
from tests import factories as f
from tests.api.conftest import WebhookReceiver, token_for

from .fake_telegram import update
from .test_email import client_mail, mailbox  # noqa: F401 - fixtures

NOTE = "Internal: this client was refunded last month, check the order first"
REPLY = "Hello, happy to help!"


def take_note_then_reply(client, operator, conv):
    """The operator takes, writes a private note, then a reply, in the workspace."""
    client.force_login(operator)
    base = f"/contact-center/workspace/c/{conv.pk}/"
    assert client.post(base + "take/").status_code == 200
    page = client.post(base + "reply/", {"text": NOTE, "note": "1"})
    assert page.status_code == 200
    assert delivery.deliver_due(timezone.now()) == 0  # nothing to send
    assert client.post(base + "reply/", {"text": REPLY, "note": ""}).status_code == 200
    assert delivery.deliver_due(timezone.now()) == 1  # the reply, and only it
    note = Message.objects.get(conversation=conv, author_kind="note")
    assert note.text == NOTE and note.author == operator and note.delivery_state == ""
    return page.content.decode()


@pytest.mark.django_db
def test_a_note_never_reaches_telegram(client, org, tg, bot_api):
    response = client.post(
        f"/connectors/telegram/{tg.pk}/webhook/",
        data=json.dumps(update(1, "Is my order shipped?")),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": tg.secret},
    )
    assert response.status_code == 200
    take_note_then_reply(client, org.op1, Conversation.objects.get())
    sent = [(name, params) for name, params in bot_api.calls if name.startswith("send")]
    assert sent == [("sendMessage", {"chat_id": "777", "text": REPLY})]
    assert NOTE not in json.dumps(bot_api.calls)


@pytest.mark.django_db
def test_a_note_never_reaches_the_clients_mailbox(client, org, mailbox):  # noqa: F811
    mailbox.deliver(client_mail())
    mailbox.fetch()
    take_note_then_reply(client, org.op1, Conversation.objects.get())
    assert len(mailbox.sent) == 1
    raw = mailbox.sent[0].content
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert REPLY in sent.get_body(("plain",)).get_content()
    assert b"refunded" not in raw


@pytest.mark.django_db
def test_a_note_never_reaches_the_rest_webhook(client, org, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    receiver = WebhookReceiver()
    try:
        conn = f.connection(org.line, "api", config={"webhook_url": receiver.url})
        conv = f.client_message(conn, "crm-42", "Hi", when=timezone.now()).conversation
        take_note_then_reply(client, org.op1, conv)
        bodies = [json.loads(r["body"]) for r in receiver.requests]
    finally:
        receiver.close()
    assert [b["message"]["text"] for b in bodies] == [REPLY]
    assert all(b["message"]["author_kind"] == "employee" for b in bodies)


@pytest.mark.django_db
def test_a_note_leaves_every_metric_and_count_as_it_was(org):
    conv = f.client_message(org.conn, "c-1", "Hello?", when=f.at(0)).conversation
    services.take(conv.pk, f.act(org.op1), now=f.at(10))
    fields = [
        "status",
        "first_reply_at",
        "message_count",
        "reply_count",
        "reply_time_first",
        "first_answer_wait",
        "waiting_since",
        "agent_response_time",
        "duration",
        "last_message_at",
    ]
    before = Conversation.objects.values(*fields).get(pk=conv.pk)
    participant_before = conv.participants.values("wrote").get(employee=org.op1)
    services.add_private_note(conv.pk, f.act(org.op1), "Checking the stock", now=f.at(30))
    after = Conversation.objects.values(*fields).get(pk=conv.pk)
    assert after == before
    assert after["status"] == Status.TAKEN and after["first_reply_at"] is None
    assert conv.participants.values("wrote").get(employee=org.op1) == participant_before
    assert not conv.reply_periods.exists()
    # The real reply afterwards is the first answer, timed from the client's message.
    services.reply(conv.pk, f.act(org.op1), "In stock!", now=f.at(60))
    conv.refresh_from_db()
    assert conv.first_reply_at == f.at(60) and conv.first_answer_wait == 60
    assert conv.message_count == before["message_count"] + 1
    event = ConversationEvent.objects.get(conversation=conv, kind="private_note")
    assert event.actor == org.op1 and event.payload["message"]


@pytest.mark.django_db
def test_the_workspace_and_the_history_mark_a_note_as_private(client, org):
    conv = f.client_message(org.conn, "c-2", "Hello?", when=timezone.now()).conversation
    client.force_login(org.op1)
    base = f"/contact-center/workspace/c/{conv.pk}/"
    client.post(base + "take/")
    page = client.post(base + "reply/", {"text": NOTE, "note": "1"}).content.decode()
    assert "ws-msg-note" in page and "Private note" in page and NOTE in page
    assert "Only employees see this note." in page
    history = client.get(f"/contact-center/conversations/{conv.pk}/history/").content.decode()
    assert "msg-note" in history and "Private note" in history and NOTE in history


@pytest.mark.django_db
def test_an_empty_note_is_refused_with_a_message(client, org):
    conv = f.client_message(org.conn, "c-3", "Hello?", when=timezone.now()).conversation
    client.force_login(org.op1)
    response = client.post(
        f"/contact-center/workspace/c/{conv.pk}/reply/", {"text": " ", "note": "1"}
    )
    assert response.status_code == 409 and "The note is empty." in response.content.decode()
    assert not Message.objects.filter(author_kind="note").exists()


@pytest.mark.django_db
def test_the_api_writes_a_note_with_the_note_flag(client, org):
    conv = f.client_message(org.conn, "c-4", "Hello?", when=timezone.now()).conversation
    token = token_for(org.op1)
    response = client.post(
        f"/api/v1/conversations/{conv.pk}/messages",
        data={"text": "For the team only", "note": True},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["author_kind"] == "note" and body["delivery_state"] is None
    conv.refresh_from_db()
    assert conv.status < Status.TAKEN and conv.first_reply_at is None


def test_note_is_a_typed_field_of_the_reply_api():
    from convodesk.api.v1 import api

    schema = api.get_openapi_schema()
    reply = schema["components"]["schemas"]["ReplyIn"]["properties"]
    assert reply["note"]["type"] == "boolean" and reply["note"]["default"] is False
    kinds = schema["components"]["schemas"]["MessageOut"]["properties"]["author_kind"]["enum"]
    assert "note" in kinds
