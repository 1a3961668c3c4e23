"""Outbound events in the seed product's shape: OnImConnectorMessageAdd for replies in a custom
connector's conversations (the reply's delivery, with its retries), OnOpenLineSessionFinish when a
conversation closes; both form-encoded with auth[application_token]."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from convodesk.bitrix24 import codes, events
from convodesk.bitrix24.models import EventDelivery, EventHandler
from convodesk.connectors import delivery
from convodesk.conversations import services
from convodesk.conversations.models import Message
from tests import factories as f
from tests.api.conftest import WebhookReceiver


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture
def shop(desk, settings):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    rest = desk.rest(desk.admin)
    rest.call("imconnector.register", {"ID": "shopchat", "NAME": "Shop chat"})
    rest.call(
        "imconnector.activate", {"CONNECTOR": "shopchat", "LINE": desk.line.pk, "ACTIVE": "Y"}
    )
    sent = rest.call(
        "imconnector.send.messages",
        {
            "CONNECTOR": "shopchat",
            "LINE": desk.line.pk,
            "MESSAGES": [
                {
                    "user": {"id": "u-7", "name": "Ann"},
                    "message": {"id": "m-1", "text": "Where is my parcel?"},
                    "chat": {"id": "ext-chat-7"},
                }
            ],
        },
    )
    desk.conv_id = sent["result"]["DATA"]["RESULT"][0]["session"]["ID"]
    desk.shop_rest = rest
    return desk


def form(request) -> dict:
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    return {k: v[0] for k, v in parse_qs(request["body"].decode(), keep_blank_values=True).items()}


def test_a_reply_in_a_connector_conversation_is_posted_as_on_im_connector_message_add(
    shop, receiver, django_capture_on_commit_callbacks
):
    handler, token = codes.create_handler(shop.admin, "OnImConnectorMessageAdd", receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(shop.conv_id, f.act(shop.op1), "It ships today")
    [request] = receiver.requests
    body = form(request)
    assert body["event"] == "ONIMCONNECTORMESSAGEADD"
    assert body["event_handler_id"] == str(handler.pk)
    assert body["auth[application_token]"] == token
    assert body["data[CONNECTOR]"] == "shopchat" and body["data[LINE]"] == str(shop.line.pk)
    assert body["data[MESSAGES][0][im][chat_id]"] == str(shop.conv_id)
    assert body["data[MESSAGES][0][im][message_id]"] == str(message.pk)
    assert body["data[MESSAGES][0][message][text]"] == "It ships today"
    assert body["data[MESSAGES][0][message][user_id]"] == str(shop.op1.pk)
    assert body["data[MESSAGES][0][chat][id]"] == "ext-chat-7"
    assert Message.objects.get(pk=message.pk).delivery_state == "sent"
    confirmed = shop.shop_rest.call(
        "imconnector.send.status.delivery",
        {
            "CONNECTOR": "shopchat",
            "LINE": shop.line.pk,
            "MESSAGES": [
                {
                    "im": {"chat_id": shop.conv_id, "message_id": message.pk},
                    "message": {"id": ["ext-99"]},
                    "chat": {"id": "ext-chat-7"},
                }
            ],
        },
    )
    assert confirmed["result"]["SUCCESS"] is True
    assert Message.objects.get(pk=message.pk).channel_message_id == "ext-99"


def test_a_failing_handler_is_retried_by_the_delivery_machinery(
    shop, receiver, django_capture_on_commit_callbacks
):
    codes.create_handler(shop.admin, "OnImConnectorMessageAdd", receiver.url)
    receiver.statuses = [503]
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(shop.conv_id, f.act(shop.op1), "Retry me")
    row = Message.objects.get(pk=message.pk)
    assert row.delivery_state == "pending" and row.delivery_attempts == 1
    assert "HTTP 503" in row.delivery_error
    assert delivery.deliver_due(now=timezone.now() + dt.timedelta(minutes=1)) == 1
    assert Message.objects.get(pk=message.pk).delivery_state == "sent"
    assert len(receiver.requests) == 2


def test_without_a_handler_a_connector_reply_is_not_queued_and_other_api_connections_keep_their_webhook(
    shop, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(shop.conv_id, f.act(shop.op1), "Nobody listens")
    assert Message.objects.get(pk=message.pk).delivery_state == ""
    plain = f.connection(shop.line, "api", config={"webhook_url": receiver.url})
    codes.create_handler(shop.admin, "OnImConnectorMessageAdd", receiver.url)
    conv = f.client_message(plain, client="json-client", text="Hi").conversation
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(conv.pk, f.act(shop.op1), "Signed JSON")
    [request] = receiver.requests
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"])["message"]["text"] == "Signed JSON"
    assert "X-Convodesk-Signature" in request["headers"]


def test_a_closed_conversation_is_posted_as_on_open_line_session_finish(
    shop, receiver, django_capture_on_commit_callbacks
):
    handler, token = codes.create_handler(shop.admin, "OnOpenLineSessionFinish", receiver.url)
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        services.take(shop.conv_id, f.act(shop.op1))
        services.close(shop.conv_id, f.act(shop.op1))
    row = EventDelivery.objects.get(handler=handler)
    assert row.state == "pending" and row.attempts == 1
    assert events.deliver_due(now=timezone.now() + dt.timedelta(minutes=1)) == 1
    assert len(receiver.requests) == 2
    body = form(receiver.requests[-1])
    assert body["event"] == "ONOPENLINESESSIONFINISH"
    assert body["auth[application_token]"] == token
    assert body["data[DATA][0][chat][id]"] == str(shop.conv_id)
    assert body["data[DATA][0][connector][connector_id]"] == "shopchat"
    assert body["data[DATA][0][connector][line_id]"] == str(shop.line.pk)
    assert body["data[DATA][0][line][name]"] == "Support"
    assert EventDelivery.objects.get(pk=row.pk).state == "sent"


def test_a_handler_of_one_connector_hears_only_its_conversations(
    shop, receiver, django_capture_on_commit_callbacks
):
    from convodesk.bitrix24.models import Connector

    only_shop = Connector.objects.get(code="shopchat")
    codes.create_handler(shop.admin, "OnOpenLineSessionFinish", receiver.url, only_shop)
    other = f.client_message(shop.conn, client="plain", text="Hi").conversation.pk
    with django_capture_on_commit_callbacks(execute=True):
        services.close(other, f.act(shop.admin))
    assert receiver.requests == []
    with django_capture_on_commit_callbacks(execute=True):
        services.close(shop.conv_id, f.act(shop.admin))
    assert len(receiver.requests) == 1


def test_a_handler_url_must_be_http(shop):
    from convodesk.fielderrors import FieldErrors

    for bad in ("ftp://x", "javascript:alert(1)", "", "http://"):
        with pytest.raises(FieldErrors):
            codes.create_handler(shop.admin, "OnOpenLineSessionFinish", bad)
    assert not EventHandler.objects.exists()
