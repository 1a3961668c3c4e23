"""A newcomer's whole journey through the API only: provision, receive, take, reply (delivered to a
real webhook, retried after a failure), close, and read the four metrics back."""

import datetime as dt
import io
import json
import math
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from convodesk.connectors import delivery
from tests import factories as f

from .conftest import Api, token_for


def parse(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def seconds(later: str, earlier: str) -> int:
    return math.floor((parse(later) - parse(earlier)).total_seconds())


def command_token(username: str) -> str:
    out = io.StringIO()
    call_command("api_token", "create", username, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


@pytest.mark.django_db(transaction=True)
def test_a_conversation_from_first_message_to_close_through_the_api(receiver, immediate_tasks):
    admin = Api(token_for(f.employee("root", superuser=True)))

    status, dep = admin.post("/departments", {"name": "Front desk"})
    assert status == 201
    operators = []
    for name in ("ana", "ben"):
        status, body = admin.post(
            "/employees", {"username": name, "name": name.title(), "departments": [dep["id"]]}
        )
        assert status == 201, body
        operators.append(body)
    status, line = admin.post(
        "/lines", {"name": "Web shop", "members": [o["id"] for o in operators]}
    )
    assert status == 201, line
    status, conn = admin.post(
        f"/lines/{line['id']}/connections",
        {"kind": "api", "name": "Shop backend", "config": {"webhook_url": receiver.url}},
    )
    assert status == 201, conn
    ana, ben = Api(command_token("ana")), Api(command_token("ben"))
    shop = Api(conn["secret"])

    before_start = timezone.now()
    status, received = shop.post(
        f"/connectors/{conn['id']}/messages",
        {
            "external_message_id": "order-77-msg-1",
            "client": {"external_id": "cust-77", "name": "Dana"},
            "text": "Where is my order 77?",
        },
    )
    after_start = timezone.now()
    assert status == 201
    conv_id = received["conversation_id"]
    assert ben.get(f"/conversations/{conv_id}")[1]["status_detail"] == "new"  # offered to both

    time.sleep(1.1)
    before_take = timezone.now()
    status, item = ana.post(f"/conversations/{conv_id}/take")
    after_take = timezone.now()
    assert status == 200 and item["responsible"]["id"] == operators[0]["id"]
    assert ben.get(f"/conversations/{conv_id}")[0] == 404  # taken by Ana: no longer Ben's to see

    receiver.statuses = [500]  # the shop's endpoint fails once
    time.sleep(1.1)
    before_reply = timezone.now()
    status, reply = ana.post(f"/conversations/{conv_id}/messages", {"text": "It ships today."})
    after_reply = timezone.now()
    assert status == 201
    messages = ana.get(f"/conversations/{conv_id}/messages")[1]["items"]
    assert messages[-1]["delivery_state"] == "pending" and messages[-1]["delivery_attempts"] == 1
    assert "500" in messages[-1]["delivery_error"]
    assert delivery.deliver_due(now=timezone.now() + delivery.backoff(1)) == 1
    messages = ana.get(f"/conversations/{conv_id}/messages")[1]["items"]
    assert messages[-1]["delivery_state"] == "sent" and messages[-1]["delivery_attempts"] == 2
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        assert delivery.verify_signature(
            conn["secret"], request["body"], request["headers"]["X-Convodesk-Signature"]
        )
        assert json.loads(request["body"])["message"]["text"] == "It ships today."

    time.sleep(1.1)
    before_close = timezone.now()
    status, closed = ana.post(f"/conversations/{conv_id}/close")
    after_close = timezone.now()
    assert status == 200 and closed["status"] == "closed" and closed["closed_by"] == "employee"

    status, final = ana.get(f"/conversations/{conv_id}")
    assert status == 200
    started = final["started_at"]
    assert before_start <= parse(started) <= after_start
    assert before_take <= parse(final["taken_at"]) <= after_take
    assert before_reply <= parse(final["first_reply_at"]) <= after_reply
    assert before_close <= parse(final["agent_closed_at"]) <= after_close
    assert final["agent_response_time"] == seconds(final["taken_at"], started) >= 1
    assert final["first_answer_wait"] == seconds(final["first_reply_at"], started) >= 2
    assert (
        final["duration"]
        == seconds(final["last_message_at"], started)
        == final["first_answer_wait"]
    )
    assert final["time_to_agent_close"] == seconds(final["agent_closed_at"], started) >= 3
    assert math.floor((before_take - after_start).total_seconds()) <= final["agent_response_time"]
    assert final["agent_response_time"] <= math.ceil((after_take - before_start).total_seconds())
    assert final["message_count"] == 2

    events = ana.get(f"/conversations/{conv_id}/events")[1]["items"]
    assert [
        e["kind"] for e in events if e["kind"] in ("created", "taken", "employee_message", "closed")
    ] == ["created", "taken", "employee_message", "closed"]
