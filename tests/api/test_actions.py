"""Operator actions through the API act as the token's employee, through the services."""

import pytest

from convodesk.accounts.models import Role
from convodesk.conversations import services
from convodesk.conversations.models import Conversation
from tests import factories as f

from .conftest import Api, assert_error, token_for

pytestmark = pytest.mark.django_db


def new_conv(org, client="client-x", when=0):
    return f.client_message(org.conn, client, "Help", when=f.at(when)).conversation


def test_take_reply_transfer_and_close_through_the_api(org, api_as):
    conv = new_conv(org)
    op1 = api_as(org.op1)
    status, item = op1.post(f"/conversations/{conv.pk}/take")
    assert (
        status == 200
        and item["status_detail"] == "taken"
        and item["responsible"]["id"] == org.op1.pk
    )
    status, message = op1.post(
        f"/conversations/{conv.pk}/messages", {"text": "Hello, how can I help?"}
    )
    assert (
        status == 201
        and message["author_kind"] == "employee"
        and message["text"] == "Hello, how can I help?"
    )
    status, item = op1.post(
        f"/conversations/{conv.pk}/transfer", {"employee": org.op2.pk, "comment": "yours"}
    )
    assert status == 200 and item["transfer_count"] == 1 and item["responsible"]["id"] == org.op2.pk
    op2 = api_as(org.op2)
    assert op2.post(f"/conversations/{conv.pk}/take")[0] == 200
    status, item = op2.post(f"/conversations/{conv.pk}/close")
    assert status == 200 and item["status_detail"] == "closed" and item["closed_by"] == "employee"
    assert item["time_to_agent_close"] is not None


def test_an_illegal_transition_is_409_with_its_code(org, api_as):
    conv = new_conv(org)
    api = api_as(org.admin)
    assert api.post(f"/conversations/{conv.pk}/close")[0] == 200
    error = assert_error(api.post(f"/conversations/{conv.pk}/close"), 409)
    assert error["code"] == "closed"
    assert_error(api.post(f"/conversations/{conv.pk}/messages", {"text": "late"}), 409)


def test_a_hidden_conversation_is_404_on_every_write_path(org, api_as):
    conv = new_conv(org)
    services.take(conv.pk, f.act(org.op1))
    op3 = api_as(org.op3)
    paths = {
        "take": None,
        "skip": None,
        "close": None,
        "spam": None,
        "messages": {"text": "hi"},
        "transfer": {"employee": org.op3.pk},
        "rating": {"rating": 5},
    }
    for action, body in paths.items():
        hidden = assert_error(
            op3.post(f"/conversations/{conv.pk}/{action}", body), 404, "not_found"
        )
        missing = assert_error(op3.post(f"/conversations/987654/{action}", body), 404, "not_found")
        assert hidden == missing, action
    assert Conversation.objects.get(pk=conv.pk).responsible_id == org.op1.pk


def test_an_action_the_role_forbids_on_a_visible_conversation_is_403(org, api_as):
    conv = new_conv(org)
    services.take(conv.pk, f.act(org.op1))
    assert_error(
        api_as(org.op1).post(f"/conversations/{conv.pk}/rating", {"rating": 4}), 403, "forbidden"
    )
    status, item = api_as(org.supervisor).post(
        f"/conversations/{conv.pk}/rating", {"rating": 4, "comment": "ok"}
    )
    assert status == 200 and item["supervisor_rating"] == 4 and item["supervisor_comment"] == "ok"


def test_an_integration_cannot_take_and_its_messages_are_automatic(org):
    conv = new_conv(org)
    api = Api(token_for(f.integration("bot", "Chief executive")))
    assert_error(api.post(f"/conversations/{conv.pk}/take"), 403, "forbidden")
    status, message = api.post(f"/conversations/{conv.pk}/messages", {"text": "Automatic hello"})
    assert status == 201 and message["author_kind"] == "bot"
    assert Conversation.objects.get(pk=conv.pk).first_reply_at is None
    status, item = api.post(f"/conversations/{conv.pk}/close")
    assert status == 200 and item["closed_by"] == "system" and item["time_to_agent_close"] is None


def test_action_bodies_are_validated(org, api_as):
    conv = new_conv(org)
    api = api_as(org.admin)
    assert (
        "text"
        in assert_error(api.post(f"/conversations/{conv.pk}/messages", {"text": ""}), 422)[
            "details"
        ]
    )
    assert (
        "rating"
        in assert_error(api.post(f"/conversations/{conv.pk}/rating", {"rating": 6}), 422)["details"]
    )
    error = assert_error(api.post(f"/conversations/{conv.pk}/transfer", {}), 422)
    assert {"employee", "line"} <= set(error["details"])
    assert (
        "employee"
        in assert_error(api.post(f"/conversations/{conv.pk}/transfer", {"employee": 424242}), 422)[
            "details"
        ]
    )
    assert (
        "line"
        in assert_error(api.post(f"/conversations/{conv.pk}/transfer", {"line": 424242}), 422)[
            "details"
        ]
    )
    assert_error(Api().post(f"/conversations/{conv.pk}/take"), 401)


def test_transfer_to_an_open_channel_requeues(org, api_as):
    other = f.line("Other", members=[org.op3])
    conv = new_conv(org)
    services.take(conv.pk, f.act(org.op1))
    status, item = api_as(org.op1).post(f"/conversations/{conv.pk}/transfer", {"line": other.pk})
    assert status == 200 and item["line"]["id"] == other.pk and item["status_detail"] == "skipped"


def test_skip_returns_an_offered_conversation_to_the_queue(org, api_as):
    line = f.line("Evenly", members=[org.op1, org.op2], distribution="evenly")
    conn = f.connection(line, "api")
    conv = f.client_message(conn, "client-s").conversation
    offered_to = Conversation.objects.get(pk=conv.pk).responsible
    status, item = api_as(offered_to).post(f"/conversations/{conv.pk}/skip")
    assert status == 200 and item["id"] == conv.pk
    assert Conversation.objects.get(pk=conv.pk).responsible_id != offered_to.pk
    error = assert_error(api_as(org.admin).post(f"/conversations/{conv.pk}/skip"), 409)
    assert error["code"] == "not_offered"


def test_spam_closes_it_as_spam(org, api_as):
    conv = new_conv(org)
    status, item = api_as(org.op1).post(f"/conversations/{conv.pk}/spam")
    assert status == 200 and item["status_detail"] == "spam" and item["spam"] is True


def test_start_an_outgoing_conversation_on_a_clients_connection(org, api_as):
    org.conn.config = {"webhook_url": "http://127.0.0.1:9/hook"}
    org.conn.save()
    conv = new_conv(org)
    services.take(conv.pk, f.act(org.op1))  # op1 must know the client to start with them
    services.close(conv.pk, f.act(org.admin))
    api = api_as(org.op1)
    body = {"client": conv.client_id, "connection": org.conn.pk, "text": "We have news"}
    status, item = api.post("/conversations", body)
    assert status == 201, item
    assert item["type"] == "outgoing" and item["responsible"]["id"] == org.op1.pk
    assert item["status_detail"] == "agent_replied"
    assert assert_error(api.post("/conversations", body), 409)["code"] == "open_exists"
    assert (
        "client"
        in assert_error(api.post("/conversations", {**body, "client": 424242}), 422)["details"]
    )
    other = f.connection(org.line, "api", config={"webhook_url": "http://127.0.0.1:9/x"})
    assert (
        "connection"
        in assert_error(api.post("/conversations", {**body, "connection": other.pk}), 422)[
            "details"
        ]
    )
    assert "text" in assert_error(api.post("/conversations", {**body, "text": ""}), 422)["details"]


def test_a_connection_without_webhook_cannot_start_conversations(org, api_as):
    conv = new_conv(org)
    services.take(conv.pk, f.act(org.op1))
    services.close(conv.pk, f.act(org.admin))
    body = {"client": conv.client_id, "connection": org.conn.pk, "text": "Hi"}
    assert assert_error(api_as(org.op1).post("/conversations", body), 409)["code"] == "no_outgoing"


def test_an_operator_with_no_view_level_only_acts_on_what_is_offered(org, api_as):
    queue_only = f.employee("queue-only", roles=[Role.objects.create(name="Queue only", act=10)])
    line = f.line("Q", members=[queue_only])
    conv = f.client_message(f.connection(line, "api"), "client-q").conversation
    api = api_as(queue_only)
    assert [i["id"] for i in api.get("/conversations")[1]["items"]] == [conv.pk]
    assert api.post(f"/conversations/{conv.pk}/take")[0] == 200
