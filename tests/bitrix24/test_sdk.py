"""The seed product's official Python client (b24pysdk, pinned), unmodified, drives Convodesk
over HTTPS on loopback: only its domain changes (and, for a private certificate,
REQUESTS_CA_BUNDLE), as for a team moving its scripts over."""

from __future__ import annotations

import pytest
import requests
from asgiref.sync import async_to_sync
from b24pysdk import BitrixWebhook, Client  # a test dependency: missing, this module fails
from b24pysdk.errors import BitrixAPIError
from channels.layers import get_channel_layer

from convodesk.accounts.defaults import install_default_roles as _install
from convodesk.accounts.models import Role
from convodesk.bitrix24.models import WebhookCode
from convodesk.conversations import services
from convodesk.conversations.models import Conversation, Message
from convodesk.crm.models import Lead
from tests import factories as f
from tests.api.conftest import token_for
from tests.certificates import self_signed

from .tls import TlsUvicorn


@pytest.fixture
def server(transactional_db, tmp_path, monkeypatch):
    _install(Role)
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()
    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with TlsUvicorn(cert, key) as s:
        yield s


def sdk(server, user) -> Client:
    _code, plain = WebhookCode.issue(user, "sdk")
    token = BitrixWebhook(domain=server.domain, webhook_token=f"{user.pk}/{plain}")
    return Client(token, max_retries=1)


@pytest.fixture
def team(server):
    admin = f.employee("sdkadmin", superuser=True)
    op1 = f.employee("sdkop1", roles=["Manager"])
    op2 = f.employee("sdkop2", roles=["Manager"])
    line = f.line("Support", members=[op1, op2])
    conn = f.connection(line, "api")
    return admin, op1, op2, line, conn


def test_the_sessions_of_an_open_line_come_in_three_pages_with_as_list(server, team):
    admin, _op1, _op2, line, conn = team
    other = f.connection(f.line("Elsewhere"), "api")
    for i in range(120):
        f.client_message(conn, client=f"c{i}", text=f"question {i}")
    f.client_message(other, client="not-this-line", text="other line")
    client = sdk(server, admin)
    first = client.imopenlines.v2.session.list(config_id=line.pk)
    assert len(first.result["sessions"]) == 50
    assert (first.response.total, first.response.next) == (120, 50)
    sessions = client.imopenlines.v2.session.list(config_id=line.pk).as_list().result
    ids = [s["id"] for s in sessions]
    assert len(ids) == 120 and len(set(ids)) == 120
    assert set(ids) == set(Conversation.objects.filter(line=line).values_list("pk", flat=True))
    assert {s["configId"] for s in sessions} == {line.pk}
    assert {s["status"] for s in sessions} == {"new"}


def test_an_operator_reads_answers_replies_transfers_and_finishes(server, team):
    _admin, op1, op2, _line, conn = team
    conv_id = f.client_message(conn, client="ann", text="My order is late").conversation.pk
    as_op1, as_op2 = sdk(server, op1), sdk(server, op2)

    history = as_op1.imopenlines.session.history.get(chat_id=conv_id, session_id=conv_id).result
    texts = [m["text"] for m in history["message"].values()]
    assert "My order is late" in texts and history["chatId"] == conv_id

    assert as_op1.imopenlines.operator.answer(chat_id=conv_id).result is True
    message_id = as_op1.im.message.add(dialog_id=f"chat{conv_id}", message="Checking now").result
    reply = Message.objects.get(pk=message_id)
    assert reply.text == "Checking now" and reply.author_id == op1.pk
    conv = Conversation.objects.get(pk=conv_id)
    assert conv.responsible_id == op1.pk and conv.first_reply_at is not None

    assert as_op1.imopenlines.operator.transfer(chat_id=conv_id, transfer_id=op2.pk).result is True
    conv.refresh_from_db()
    assert conv.transfer_count == 1
    assert as_op2.imopenlines.operator.answer(chat_id=conv_id).result is True
    assert as_op2.imopenlines.operator.finish(chat_id=conv_id).result is True
    conv.refresh_from_db()
    assert conv.responsible_id == op2.pk and not conv.is_open
    kinds = list(conv.events.values_list("kind", flat=True))
    assert {"taken", "employee_message", "transferred", "closed"} <= set(kinds)
    session = as_op2.imopenlines.v2.session.list().result["sessions"][0]
    assert session["id"] == conv_id and session["status"] == "closed"
    assert session["closeReason"] == "operator" and session["queueTransfers"] == 1


def test_a_custom_connector_posts_client_messages_that_appear_in_our_list(server, team):
    admin, op1, _op2, line, _conn = team
    as_admin = sdk(server, admin)
    assert as_admin.imconnector.register(
        bitrix_id="shopchat",
        name="Shop chat",
        icon={},
        placement_handler="https://shop.example/settings",
    ).result
    assert as_admin.imconnector.activate(connector="shopchat", line=line.pk, active=True).result
    status = as_admin.imconnector.status(connector="shopchat", line=line.pk).result
    assert status["STATUS"] is True and status["CONFIGURED"] is True
    messages = [
        {
            "user": {"id": "u-42", "name": "Ann", "last_name": "Lee", "phone": "+34 600 123 456"},
            "message": {"id": "m-1", "date": 1780000000, "text": "Hello shop"},
            "chat": {"id": "shop-chat-42"},
        }
    ]
    sent = as_admin.imconnector.send.messages(connector="shopchat", line=line.pk, messages=messages)
    assert sent.result["SUCCESS"] is True
    conv_id = sent.result["DATA"]["RESULT"][0]["session"]["ID"]
    again = as_admin.imconnector.send.messages(
        connector="shopchat", line=line.pk, messages=messages
    )
    assert again.result["DATA"]["RESULT"][0]["session"]["ID"] == conv_id  # idempotent
    assert Message.objects.filter(conversation_id=conv_id, author_kind="client").count() == 1
    # The client's requests are lazy: .result sends them.
    assert sdk(server, op1).im.message.add(dialog_id=f"chat{conv_id}", message="Hi Ann").result
    messages[0]["message"] = {"id": "m-2", "date": 1780000060, "text": "Thanks"}
    second = as_admin.imconnector.send.messages(
        connector="shopchat", line=line.pk, messages=messages
    )
    assert second.result["DATA"]["RESULT"][0]["session"]["ID"] == conv_id

    listed = requests.get(
        f"https://{server.domain}/api/v1/conversations",
        headers={"Authorization": f"Bearer {token_for(admin)}"},
        timeout=10,
    ).json()["items"]
    row = next(item for item in listed if item["id"] == conv_id)
    assert row["client"]["name"] == "Ann Lee"
    assert row["message_count"] == 3
    assert row["first_answer_wait"] is not None and row["agent_response_time"] is not None
    assert row["status"] == "waiting"  # the client wrote after the answer
    assert row["line"]["id"] == line.pk


def test_a_lead_is_found_by_phone(server, team):
    admin, _op1, _op2, line, conn = team
    received = f.client_message(conn, client="bob", text="Price?", phone="+34 611 222 333")
    lead = Lead.objects.get(pk=received.conversation.crm_entity_id)
    client = sdk(server, admin)
    found = client.crm.duplicate.findbycomm(type="PHONE", values=["+34611222333"]).value
    assert found.lead_ids == [lead.pk]
    rows = client.crm.lead.list(
        select=["ID", "TITLE", "PHONE"], filter={"PHONE": "+34 611 222 333"}
    ).result
    assert [r["ID"] for r in rows] == [str(lead.pk)]
    got = client.crm.lead.get(bitrix_id=lead.pk).result
    assert got["PHONE"][0]["VALUE"] == "+34 611 222 333" and got["STATUS_ID"] == "NEW"


def test_a_batch_of_five_commands_with_a_result_reference(server, team):
    admin, _op1, _op2, line, conn = team
    f.client_message(conn, client="cara", text="Hi", phone="+34 622 333 444")
    client = sdk(server, admin)
    token = client._bitrix_token
    answer = token.call_batch(
        {
            "found": ("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+34622333444"]}),
            "lead": ("crm.lead.Get", {"id": "$result[found][LEAD][0]"}),
            "lines": ("imopenlines.config.list.get", {}),
            "me": ("user.current", {}),
            "sessions": ("imopenlines.v2.Session.list", {"configId": line.pk}),
        },
        halt=True,
    )
    result = answer["result"]
    assert result["result_error"] == []
    assert result["result"]["lead"]["ID"] == str(result["result"]["found"]["LEAD"][0])
    assert result["result"]["lead"]["PHONE"][0]["VALUE"] == "+34 622 333 444"
    assert [row["LINE_NAME"] for row in result["result"]["lines"]] == ["Support"]
    assert result["result"]["me"]["ID"] == str(admin.pk)
    assert result["result_total"]["sessions"] == 1
    assert set(result["result_time"]) == {"found", "lead", "lines", "me", "sessions"}
    typed = client.call_batch(
        {"me": client.user.current(), "lines": client.imopenlines.config.list.get()}
    ).result
    assert set(typed.result) == {"me", "lines"}


def test_a_hidden_conversation_answers_as_one_that_does_not_exist(server, team):
    _admin, op1, op2, _line, conn = team
    conv_id = f.client_message(conn, client="dan", text="secret").conversation.pk
    services.take(conv_id, f.act(op2))
    as_op1 = sdk(server, op1)
    answers = []
    for chat_id in (conv_id, 999999):
        with pytest.raises(BitrixAPIError) as caught:
            as_op1.imopenlines.session.history.get(chat_id=chat_id).call()
        error = caught.value
        answers.append((error.status_code, error.error, error.error_description))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (400, "CHAT_ID")
    for chat_id in (conv_id, 999999):
        with pytest.raises(BitrixAPIError) as caught:
            as_op1.imopenlines.operator.answer(chat_id=chat_id).call()
        assert (caught.value.status_code, caught.value.error) == (400, "CHAT_ID")


def test_the_rate_limit_reaches_the_client_as_query_limit_exceeded(server, team, settings):
    from b24pysdk.errors import BitrixAPIQueryLimitExceeded

    from convodesk.bitrix24 import transport

    transport.bucket.levels.clear()
    settings.BITRIX24_RATE_LIMIT = (2, 0.001)
    token = sdk(server, team[0])._bitrix_token
    assert token.call_method("server.time", {})["result"]
    assert token.call_method("server.time", {})["result"]
    with pytest.raises(BitrixAPIQueryLimitExceeded) as caught:
        token.call_method("server.time", {})
    assert caught.value.status_code == 503 and caught.value.error == "QUERY_LIMIT_EXCEEDED"
