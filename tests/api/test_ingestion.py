"""The REST connector: clients' messages posted with the connection's secret; idempotent."""

import json
import threading
import urllib.request

import pytest
from django.conf import settings
from django.db import connection as db_connection

from convodesk.conversations.models import Conversation, Message
from tests import factories as f

from .conftest import Api, assert_error

IS_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


def payload(message_id="m-1", client="cust-1", text="Hello, I need help", **extra):
    return {
        "external_message_id": message_id,
        "client": {"external_id": client, "name": "Ana", "phone": "+34 600 000 001"},
        "text": text,
        **extra,
    }


@pytest.mark.django_db
def test_a_client_message_creates_a_conversation_and_answers_201(org):
    status, body = Api(org.conn.secret).post(
        f"/connectors/{org.conn.pk}/messages", payload(sent_at="2026-11-02T08:59:58Z")
    )
    assert status == 201 and body["created"] is True
    conv = Conversation.objects.get(pk=body["conversation_id"])
    message = Message.objects.get(pk=body["message_id"])
    assert conv.channel == "api" and conv.client.name == "Ana" and conv.client.phone_normalized
    assert message.text == "Hello, I need help" and message.external_id == "m-1"
    assert message.channel_sent_at.isoformat().startswith("2026-11-02T08:59:58")
    assert conv.started_at == message.created_at  # receipt time, not sent_at


@pytest.mark.django_db
def test_the_same_external_id_again_answers_200_with_the_same_ids(org):
    api = Api(org.conn.secret)
    first = api.post(f"/connectors/{org.conn.pk}/messages", payload())
    again = api.post(f"/connectors/{org.conn.pk}/messages", payload())
    assert first[0] == 201 and again[0] == 200
    assert again[1] == {**first[1], "created": False}
    assert Message.objects.filter(external_id="m-1").count() == 1


@pytest.mark.django_db
def test_a_second_message_continues_the_open_conversation(org):
    api = Api(org.conn.secret)
    first = api.post(f"/connectors/{org.conn.pk}/messages", payload())[1]
    second = api.post(f"/connectors/{org.conn.pk}/messages", payload("m-2", text="Anyone?"))[1]
    assert second["conversation_id"] == first["conversation_id"] and second["created"] is True


@pytest.mark.django_db
def test_ingestion_validation_names_the_field(org):
    api = Api(org.conn.secret)
    path = f"/connectors/{org.conn.pk}/messages"
    assert (
        "external_message_id"
        in assert_error(api.post(path, {"client": {"external_id": "x"}, "text": "t"}), 422)[
            "details"
        ]
    )
    assert "client.external_id" in assert_error(api.post(path, payload(client="")), 422)["details"]
    assert "text" in assert_error(api.post(path, payload(text="  ")), 422)["details"]
    assert "sent_at" in assert_error(api.post(path, payload(sent_at="yesterday")), 422)["details"]
    assert "text" in assert_error(api.post(path, payload(text="\u0000 \u0001")), 422)["details"]
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_ingestion_needs_this_connections_secret(org):
    other = f.connection(org.line, "api")
    path = f"/connectors/{org.conn.pk}/messages"
    assert_error(Api().post(path, payload()), 401)
    assert_error(Api(other.secret).post(path, payload()), 401)
    # a missing connection answers like a wrong secret: no oracle for which ids exist
    assert_error(Api(org.conn.secret).post("/connectors/987654/messages", payload()), 401)
    org.conn.active = False
    org.conn.save()
    assert_error(Api(org.conn.secret).post(path, payload()), 403, "connection_inactive")


@pytest.mark.django_db
def test_only_api_connections_take_messages_here(org):
    chat = f.connection(org.line, "livechat")
    error = assert_error(Api(chat.secret).post(f"/connectors/{chat.pk}/messages", payload()), 422)
    assert "connection_id" in error["details"]


@pytest.mark.skipif(
    IS_SQLITE, reason="20 concurrent writers need PostgreSQL (SQLite serialises all writes)"
)
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_of_one_message_store_it_once(live_server):
    line = f.line("Concurrency", members=[f.employee("conc-op")])
    conn = f.connection(line, "api")
    url = f"{live_server.url}/api/v1/connectors/{conn.pk}/messages"
    body = json.dumps(payload("same-id", client="racer")).encode()
    barrier = threading.Barrier(20)
    results = []

    def post():
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {conn.secret}"},
        )
        barrier.wait()
        with urllib.request.urlopen(request, timeout=30) as response:
            results.append((response.status, json.loads(response.read())))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db_connection.close()
    assert len(results) == 20
    assert sorted(status for status, _ in results).count(201) == 1
    assert {(b["conversation_id"], b["message_id"]) for _, b in results} == {
        (results[0][1]["conversation_id"], results[0][1]["message_id"])
    }
    assert Message.objects.filter(connection=conn, external_id="same-id").count() == 1
    assert Conversation.objects.filter(connection=conn).count() == 1


@pytest.mark.django_db
def test_a_failure_inside_the_crm_binding_answers_a_clear_503_and_writes_nothing(org, monkeypatch):
    from convodesk.crm import binding

    def broken(conversation, **kwargs):
        raise RuntimeError("CRM is down")

    monkeypatch.setattr(binding, "decide_new_conversation", broken)
    status, body = Api(org.conn.secret).post(f"/connectors/{org.conn.pk}/messages", payload())
    assert status == 503 and body["error"]["code"] == "ingestion_failed"
    assert "nothing was written" in body["error"]["message"]
    assert not Conversation.objects.exists() and not Message.objects.exists()
