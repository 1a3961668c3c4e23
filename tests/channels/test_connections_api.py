"""Each channel kind connected through POST /api/v1/lines/{id}/connections works end to end:
secrets stored encrypted and never shown back, Telegram registered, the mailbox log-in tried."""

import email
import email.policy
import itertools
import json

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from convodesk import crypto
from convodesk.connectors import delivery, mail
from convodesk.conversations import outbox, services
from convodesk.conversations.models import Conversation
from convodesk.lines.models import Connection
from tests import factories as f
from tests.api import conftest as api_fixtures
from tests.api.conftest import Api, assert_error, token_for
from tests.workspace.sockets import receive_until, widget

from .fake_telegram import update
from .mailservers import free_port
from .test_email import client_mail

# The fixtures these tests share with the API's, the widget's and the e-mail connector's.
receiver, immediate_tasks = api_fixtures.receiver, api_fixtures.immediate_tasks

_boxes = itertools.count(201)  # test_email.py uses box1…; these mailboxes are this file's own


@pytest.fixture
def admin_api(org):
    return Api(token_for(org.admin))


def connect(admin_api, org, kind, config, **extra):
    return admin_api.post(
        f"/lines/{org.line.pk}/connections",
        {"kind": kind, "name": f"{kind} via API", "config": config, **extra},
    )


def mail_config(imap_server, smtp_server, user, password="pw", smtp_user=""):
    return {
        "address": "Help@Shop.example",
        "imap": {
            "host": "127.0.0.1",
            "port": imap_server.port,
            "security": "none",
            "user": user,
            "password": password,
        },
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "security": "none",
            "user": smtp_user,
            "password": "",
        },
    }


@pytest.mark.django_db
def test_a_telegram_bot_connected_through_the_api_receives_and_answers(
    client, org, admin_api, bot_api
):
    status, body = connect(admin_api, org, "telegram", {"bot_token": bot_api.token})
    assert status == 201, body
    conn = Connection.objects.get(pk=body["id"])
    assert body["config"]["bot_token"] == "***" and bot_api.token not in json.dumps(body)
    assert conn.config["bot_token"] != bot_api.token
    assert crypto.decrypt(conn.config["bot_token"]) == bot_api.token
    assert body["config"]["bot"]["username"] == "test_bot"
    [hook] = bot_api.calls_of("setWebhook")
    assert hook["url"] == f"https://cc.example.com/connectors/telegram/{conn.pk}/webhook/"
    assert hook["secret_token"] == body["secret"]

    response = client.post(
        hook["url"].removeprefix("https://cc.example.com"),
        data=json.dumps(update(1, "Hola")),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": body["secret"]},
    )
    assert response.status_code == 200
    conv = Conversation.objects.get(connection=conn)
    now = timezone.now()
    services.take(conv.pk, f.act(org.op1), now=now)
    services.reply(conv.pk, f.act(org.op1), "¡Hola Iván!", now=now)
    delivery.deliver_due(now)
    assert bot_api.calls_of("sendMessage") == [{"chat_id": "777", "text": "¡Hola Iván!"}]


def post_update(client, conn, number, secret):
    return client.post(
        f"/connectors/telegram/{conn.pk}/webhook/",
        data=json.dumps(update(number, "Hola")),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )


@pytest.mark.django_db
def test_rotating_a_telegram_secret_registers_the_webhook_with_the_new_one(
    client, org, admin_api, bot_api
):
    """Adversarial pass: rotation used to leave Telegram sending the old secret, so every later
    update was refused and the channel stopped."""
    status, body = connect(admin_api, org, "telegram", {"bot_token": bot_api.token})
    assert status == 201, body
    conn = Connection.objects.get(pk=body["id"])
    old = body["secret"]
    status, rotated = admin_api.post(f"/lines/{org.line.pk}/connections/{conn.pk}/rotate-secret")
    assert status == 200, rotated
    hooks = bot_api.calls_of("setWebhook")
    assert len(hooks) == 2 and hooks[-1]["secret_token"] == rotated["secret"] != old
    assert post_update(client, conn, 1, rotated["secret"]).status_code == 200
    assert post_update(client, conn, 2, old).status_code == 403


@pytest.mark.django_db
def test_a_rotation_telegram_refuses_keeps_the_old_secret(client, org, admin_api, bot_api):
    status, body = connect(admin_api, org, "telegram", {"bot_token": bot_api.token})
    conn = Connection.objects.get(pk=body["id"])
    bot_api.script("setWebhook", 400, {"ok": False, "error_code": 400, "description": "Nope"})
    status, refused = admin_api.post(f"/lines/{org.line.pk}/connections/{conn.pk}/rotate-secret")
    assert status == 422 and "Nope" in json.dumps(refused)
    assert post_update(client, conn, 1, body["secret"]).status_code == 200


@pytest.mark.django_db
def test_a_bot_token_telegram_refuses_is_a_422_naming_it_and_nothing_is_stored(
    org, admin_api, bot_api
):
    bot_api.script("getMe", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    error = assert_error(
        connect(admin_api, org, "telegram", {"bot_token": "123:bad-token-bad-token-bad"}), 422
    )
    assert error["details"] == {"config.bot_token": "Telegram says: Unauthorized"}
    error = assert_error(connect(admin_api, org, "telegram", {"mode": "webhook"}), 422)
    assert "config.bot_token" in error["details"]
    assert not Connection.objects.filter(kind="telegram").exists()


@pytest.mark.django_db
def test_a_webhook_telegram_refuses_undoes_the_new_connection(org, admin_api, bot_api):
    bot_api.script(
        "setWebhook",
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook"},
    )
    error = assert_error(connect(admin_api, org, "telegram", {"bot_token": bot_api.token}), 422)
    assert "bad webhook" in error["details"]["config.mode"]
    assert not Connection.objects.filter(kind="telegram").exists()


@pytest.mark.django_db
def test_a_mailbox_connected_through_the_api_fetches_mail_and_replies(
    org, admin_api, imap_server, smtp_server
):
    user = f"box{next(_boxes)}"
    smtp_server.messages.clear()
    status, body = connect(admin_api, org, "email", mail_config(imap_server, smtp_server, user))
    assert status == 201, body
    assert body["config"]["imap"]["password"] == "***" and body["config"]["address"] == (
        "help@shop.example"
    )
    conn = Connection.objects.get(pk=body["id"])
    assert conn.config["imap"]["password"] != "pw"
    assert crypto.decrypt(conn.config["imap"]["password"]) == "pw"

    imap_server.append(user, "pw", client_mail())
    assert mail.fetch(conn).stored == 1
    conv = Conversation.objects.get(connection=conn)
    now = timezone.now()
    services.take(conv.pk, f.act(org.op1), now=now)
    services.reply(conv.pk, f.act(org.op1), "It ships tomorrow.", now=now)
    assert delivery.deliver_due(now) == 1
    [sent] = smtp_server.messages
    parsed = email.message_from_bytes(sent.content, policy=email.policy.default)
    assert parsed["To"] == conv.identity.external_id and "It ships tomorrow." in str(
        parsed.get_body(("plain",)).get_content()
    )


@pytest.mark.django_db
def test_a_mailbox_the_servers_refuse_is_a_422_with_their_words_naming_the_field(
    org, admin_api, imap_server, smtp_server
):
    user = f"box{next(_boxes)}"
    config = mail_config(imap_server, smtp_server, user, password="wrong")
    error = assert_error(connect(admin_api, org, "email", config), 422)
    assert error["details"]["config.imap.password"].startswith("The IMAP server says:")
    assert "authentication failed" in error["details"]["config.imap.password"].lower()

    # The recorder offers no SMTP log-in: a user given for it is refused with its words.
    config = mail_config(imap_server, smtp_server, user, smtp_user="support")
    error = assert_error(connect(admin_api, org, "email", config), 422)
    assert set(error["details"]) == {"config.smtp.user"}
    assert "AUTH" in error["details"]["config.smtp.user"]

    config = mail_config(imap_server, smtp_server, user)
    config["imap"]["port"] = 99999
    error = assert_error(connect(admin_api, org, "email", config), 422)
    assert set(error["details"]) == {"config.imap.port"}
    assert not Connection.objects.filter(kind="email").exists()


@pytest.mark.django_db
def test_an_api_connection_created_through_the_api_takes_messages_and_signs_its_webhook(
    org, admin_api, receiver, immediate_tasks, django_capture_on_commit_callbacks
):
    status, body = connect(admin_api, org, "api", {"webhook_url": receiver.url})
    assert status == 201, body
    shop = Api(body["secret"])
    status, received = shop.post(
        f"/connectors/{body['id']}/messages",
        {"external_message_id": "m-1", "client": {"external_id": "c-1"}, "text": "Hi"},
    )
    assert status == 201, received
    conv = Conversation.objects.get(connection_id=body["id"])
    with django_capture_on_commit_callbacks(execute=True):
        services.take(conv.pk, f.act(org.op1))
        services.reply(conv.pk, f.act(org.op1), "Hello back")
    [request] = receiver.requests
    header = request["headers"]["X-Convodesk-Signature"]
    assert delivery.verify_signature(body["secret"], request["body"], header)
    assert json.loads(request["body"])["message"]["text"] == "Hello back"


def test_a_live_chat_created_through_the_api_opens_on_its_listed_origin_only(tdb, org):
    admin_api = Api(token_for(org.admin))
    status, body = connect(
        admin_api,
        org,
        "livechat",
        {"title": "Shop help"},
        allowed_origins=["HTTPS://Shop.Example.com:443/"],
    )
    assert status == 201, body
    assert body["allowed_origins"] == ["https://shop.example.com"]

    async def scenario():
        refused = widget(body["public_key"], origin="https://shop.example.com:8443")
        await refused.connect()
        assert (await receive_until(refused, lambda m: True))["code"] == "origin"
        good = widget(body["public_key"], origin="https://shop.example.com")
        connected, _ = await good.connect()
        assert connected
        await good.send_json_to({"type": "hello", "token": "t" * 40, "last": None})
        assert (await receive_until(good, lambda m: m["type"] == "ready"))["messages"] == []
        await good.disconnect()
        await outbox.stop_hub()

    async_to_sync(scenario)()


@pytest.mark.django_db
def test_allowed_origins_given_through_the_api_must_be_exact_origins(org, admin_api):
    for bad in ("*", "shop.example.com", "https://shop.example.com/path", "ftp://x.example"):
        error = assert_error(
            connect(admin_api, org, "livechat", {}, allowed_origins=[bad]), 422, "validation_error"
        )
        assert "allowed_origins" in error["details"], bad
    status, body = connect(admin_api, org, "livechat", {})
    assert status == 201 and body["allowed_origins"] == []
    path = f"/lines/{org.line.pk}/connections/{body['id']}"
    status, body = admin_api.patch(
        path, {"allowed_origins": ["http://localhost:8000", "http://LOCALHOST:8000"]}
    )
    assert status == 200 and body["allowed_origins"] == ["http://localhost:8000"]
    assert (
        "allowed_origins"
        in assert_error(admin_api.patch(path, {"allowed_origins": ["http://localhost:0x"]}), 422)[
            "details"
        ]
    )
    assert Connection.objects.get(pk=body["id"]).allowed_origins == ["http://localhost:8000"]


@pytest.mark.django_db
def test_secrets_are_masked_at_any_depth_and_a_patch_keeps_what_it_does_not_change(
    org, admin_api, imap_server, smtp_server
):
    user = f"box{next(_boxes)}"
    status, created = connect(admin_api, org, "email", mail_config(imap_server, smtp_server, user))
    assert status == 201, created
    path = f"/lines/{org.line.pk}/connections/{created['id']}"
    listed = admin_api.get(f"/lines/{org.line.pk}/connections")[1]
    for shown in (created, admin_api.get(path)[1], *listed):
        assert "pw" not in json.dumps(shown["config"]).replace("password", "")
    assert admin_api.get(path)[1]["config"]["imap"]["password"] == "***"

    # What GET shows, sent back, changes nothing; a nested change merges into the rest.
    shown = admin_api.get(path)[1]
    status, body = admin_api.patch(path, {"config": shown["config"]})
    assert status == 200, body
    status, body = admin_api.patch(path, {"config": {"imap": {"folder": "Support"}}})
    assert status == 200 and body["config"]["imap"]["password"] == "***"
    conn = Connection.objects.get(pk=created["id"])
    assert conn.config["imap"]["folder"] == "Support"
    assert crypto.decrypt(conn.config["imap"]["password"]) == "pw"

    error = assert_error(admin_api.patch(path, {"config": {"imap": {"password": "nope"}}}), 422)
    assert "config.imap.password" in error["details"]
    assert crypto.decrypt(Connection.objects.get(pk=created["id"]).config["imap"]["password"]) == (
        "pw"
    )
    error = assert_error(admin_api.patch(path, {"config": {"fax": "+34 1"}}), 422)
    assert error["details"] == {"config.fax": "Unknown setting."}


@pytest.mark.django_db
def test_the_admin_form_tries_the_mailbox_log_in_and_shows_the_servers_refusal(
    client, org, imap_server, smtp_server
):
    client.force_login(org.admin)
    form = {
        "line": org.line.pk,
        "kind": "email",
        "name": "Mail",
        "active": "on",
        "allowed_origins": "[]",
        "address": "help@shop.example",
        "imap_host": "127.0.0.1",
        "imap_port": imap_server.port,
        "imap_security": "none",
        "imap_user": f"box{next(_boxes)}",
        "imap_password": "wrong",
        "imap_folder": "INBOX",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_security": "none",
    }
    response = client.post("/admin/lines/connection/add/", form)
    assert response.status_code == 200 and "The IMAP server says:" in response.content.decode()
    assert not Connection.objects.filter(kind="email").exists()
    response = client.post("/admin/lines/connection/add/", {**form, "imap_password": "pw"})
    assert response.status_code == 302
    conn = Connection.objects.get(kind="email")
    assert crypto.decrypt(conn.config["imap"]["password"]) == "pw"
    assert conn.config["imap"]["port"] == imap_server.port


@pytest.mark.django_db
def test_a_mail_server_that_cannot_be_reached_is_a_422_naming_the_host_never_a_500(org, admin_api):
    closed = free_port()
    config = {
        "address": "help@shop.example",
        "imap": {"host": "127.0.0.1", "port": closed, "security": "none", "user": "u"},
        "smtp": {"host": "é" * 300, "port": closed, "security": "none"},  # no IDNA name
    }
    error = assert_error(connect(admin_api, org, "email", config), 422)
    assert set(error["details"]) == {"config.imap.host", "config.smtp.host"}
    assert error["details"]["config.imap.host"].startswith("Cannot reach the IMAP server:")
    assert not Connection.objects.filter(kind="email").exists()


def test_a_stored_mailbox_password_is_never_sent_to_a_changed_server():
    """Second adversarial pass: pointing the stored settings at another host made the log-in
    check send the stored password there, to whoever may edit settings."""
    from convodesk.connectors import setup

    current = {
        "address": "help@shop.example",
        "imap": {"host": "imap.shop.example", "user": "help", "password": crypto.encrypt("pw")},
        "smtp": {"host": "smtp.shop.example", "user": "help", "password": crypto.encrypt("pw2")},
    }
    for side, change in (
        ("imap", {"host": "127.0.0.1", "port": 1}),
        ("imap", {"user": "someone-else"}),
        ("smtp", {"security": "none"}),
    ):
        with pytest.raises(setup.ConnectionInvalid) as refused:
            setup.prepare("email", {side: change}, current=current, probe=True)
        assert set(refused.value.errors) == {f"config.{side}.password"}  # refused before a log-in
        assert setup.test_mailbox({side: change}, current=current).errors == refused.value.errors
    config = setup.prepare(
        "email", {"imap": {"host": "imap2.shop.example", "password": "pw"}}, current, probe=False
    )
    assert crypto.decrypt(config["imap"]["password"]) == "pw"


@pytest.mark.django_db
def test_a_webhook_url_python_cannot_split_is_a_422(org, admin_api):
    status, body = connect(admin_api, org, "api", {"webhook_url": "http://[::1"})
    assert status == 422 and "config.webhook_url" in body["error"]["details"], body


@pytest.mark.parametrize("password", [12, True, ["x"], {"a": 1}])
def test_a_mailbox_password_that_is_not_text_is_refused_naming_it(password):
    """Third adversarial pass: a number as the password reached the log-in and was a 500."""
    from convodesk.connectors import setup

    current = {
        "address": "help@shop.example",
        "imap": {"host": "imap.shop.example", "user": "help", "password": crypto.encrypt("pw")},
        "smtp": {"host": "smtp.shop.example"},
    }
    with pytest.raises(setup.ConnectionInvalid) as refused:
        setup.prepare("email", {"imap": {"port": 8146, "password": password}}, current, probe=True)
    assert "config.imap.password" in refused.value.errors
