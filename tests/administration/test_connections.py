"""Settings → Connections: each kind set up from the screens writes through the connection service
(the one the API uses): secrets encrypted and never shown back, the remote side's refusal beside
the field, every change in the audit log with secrets masked; the delivery log's Retry now and the
skipped inbound items."""

import json
import re

import pytest

from convodesk import crypto
from convodesk.audit.models import AuditEntry
from convodesk.connectors import delivery, skipped, telegram
from convodesk.conversations import services
from convodesk.conversations.models import Message
from convodesk.lines.models import Connection
from tests import factories as f
from tests.channels.fake_telegram import update

NEW = "/settings/connections/new/{}/"


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


def html_of(response) -> str:
    return response.content.decode()


def error_beside(html: str, field: str) -> str:
    """The error text shown under a field of the connection form ("" if none)."""
    at = html.find(f'data-field="{field}"')
    assert at >= 0, f"no field {field} on the page"
    following = html.find("data-field=", at + 1)
    block = html[at : following if following > 0 else len(html)]
    match = re.search(r'class="field-error"[^>]*>(.*?)</div>', block, re.S)
    return match.group(1).strip() if match else ""


def mail_form(imap_server, smtp_server, org, user, password="pw", **extra):
    return {
        "name": "Support mailbox",
        "line": org.line.pk,
        "active": "on",
        "address": "Help@Shop.example",
        "imap_host": "127.0.0.1",
        "imap_port": imap_server.port,
        "imap_security": "none",
        "imap_user": user,
        "imap_password": password,
        "imap_folder": "INBOX",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_security": "none",
        "smtp_user": "",
        "smtp_password": "",
        **extra,
    }


# Website chat ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_website_chat_created_on_the_screen_lists_its_origins_and_shows_the_saved_key_snippet(
    admin_client, org
):
    response = admin_client.post(
        NEW.format("livechat"),
        {
            "name": "Shop chat",
            "line": org.line.pk,
            "active": "on",
            "allowed_origins": ["https://Shop.Example.com:443/", "", "http://localhost:8080"],
            "title": "Ask us",
            "color": "#117733",
            "ask_email": "on",
            "max_length": "500",
        },
    )
    conn = Connection.objects.get(name="Shop chat")
    assert response.status_code == 302 and response.url == f"/settings/connections/{conn.pk}/"
    assert conn.kind == "livechat" and conn.line == org.line and conn.active
    assert conn.allowed_origins == ["https://shop.example.com", "http://localhost:8080"]
    assert conn.config == {
        "title": "Ask us",
        "color": "#117733",
        "ask_name": False,
        "ask_email": True,
        "ask_phone": False,
        "max_length": 500,
        "greeting": "",
        "position": "right",
        "language": "",
    }
    html = html_of(admin_client.get(response.url))
    snippet = f"&lt;script src=&quot;http://testserver/widget/{conn.public_key}.js&quot; async&gt;"
    assert snippet in html  # the key that was saved, which the widget answers for
    assert admin_client.get(f"/widget/{conn.public_key}.js").status_code == 200
    assert f'href="/widget/demo/?key={conn.public_key}"' in html
    assert 'value="https://shop.example.com"' in html and 'value="http://localhost:8080"' in html
    entry = AuditEntry.objects.get(object_type="connection", object_id=str(conn.pk))
    assert entry.action == "create" and entry.actor == org.admin
    assert entry.after["allowed_origins"] == conn.allowed_origins


@pytest.mark.django_db
def test_a_bad_origin_is_refused_beside_the_list_and_nothing_is_saved(admin_client, org):
    response = admin_client.post(
        NEW.format("livechat"),
        {
            "name": "Shop chat",
            "line": org.line.pk,
            "allowed_origins": ["https://shop.example.com/page?x=1"],
            "color": "#2f5bea",
            "max_length": "2000",
        },
    )
    html = html_of(response)
    assert response.status_code == 200
    assert "is not an origin" in error_beside(html, "allowed_origins")
    assert not Connection.objects.filter(name="Shop chat").exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_the_demo_page_previews_the_connection_its_key_names(client, org):
    first = f.connection(org.line, "livechat", name="First chat")
    second = f.connection(org.line, "livechat", name="Second chat")
    assert first.public_key in html_of(client.get("/widget/demo/"))
    html = html_of(client.get(f"/widget/demo/?key={second.public_key}"))
    assert f"/widget/{second.public_key}.js" in html and first.public_key not in html
    assert client.get("/widget/demo/?key=nope").status_code == 404


@pytest.mark.django_db
def test_the_django_admins_add_form_shows_no_public_key_other_than_the_saved_one(client, org):
    client.force_login(org.admin)
    add_form = html_of(client.get("/admin/lines/connection/add/"))
    shown = re.findall(r'<div class="readonly">([A-Za-z0-9_-]{40,64})</div>', add_form)
    form = {"line": org.line.pk, "kind": "livechat", "name": "Admin chat", "active": "on"}
    form.update({"allowed_origins": "[]", "telegram_mode": "webhook", "imap_folder": "INBOX"})
    assert client.post("/admin/lines/connection/add/", form).status_code == 302
    saved = Connection.objects.get(name="Admin chat").public_key
    assert all(key == saved for key in shown), "the Add form showed a key that is not saved"
    conn = Connection.objects.get(name="Admin chat")
    assert saved in html_of(client.get(f"/admin/lines/connection/{conn.pk}/change/"))


# Telegram ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_telegram_bot_set_up_on_the_screen_is_checked_registered_and_its_token_never_shown(
    admin_client, org, bot_api
):
    form = {"name": "Bot", "line": org.line.pk, "active": "on", "mode": "webhook"}
    checked = admin_client.post(
        NEW.format("telegram"), {**form, "bot_token": bot_api.token, "action": "check"}
    )
    assert "Test Bot" in html_of(checked) and "@test_bot" in html_of(checked)
    assert not Connection.objects.filter(kind="telegram").exists()  # a check saves nothing
    assert bot_api.token not in html_of(checked)

    response = admin_client.post(NEW.format("telegram"), {**form, "bot_token": bot_api.token})
    conn = Connection.objects.get(kind="telegram")
    assert response.status_code == 302
    assert crypto.decrypt(conn.config["bot_token"]) == bot_api.token
    assert conn.config["bot"]["username"] == "test_bot"
    [hook] = bot_api.calls_of("setWebhook")
    assert hook["url"] == f"https://cc.example.com/connectors/telegram/{conn.pk}/webhook/"
    page = html_of(admin_client.get(response.url))
    assert bot_api.token not in page and conn.config["bot_token"] not in page
    assert "@test_bot" in page and "Nothing received yet" in page
    entry = AuditEntry.objects.get(object_type="connection", action="create")
    assert entry.after["config"]["bot_token"] == crypto.MASK
    assert bot_api.token not in json.dumps(entry.after)


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@pytest.mark.django_db
def test_checking_a_token_shows_the_bots_picture_served_by_the_product(
    admin_client, org, bot_api, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    bot_api.profile_photos = [
        [
            {"file_id": "small", "width": 160, "height": 160},
            {"file_id": "big", "width": 640, "height": 640},
        ]
    ]
    bot_api.files = {"photos/file_1.jpg": PNG}
    form = {"name": "Bot", "line": org.line.pk, "active": "on", "mode": "webhook"}
    checked = html_of(
        admin_client.post(
            NEW.format("telegram"), {**form, "bot_token": bot_api.token, "action": "check"}
        )
    )
    [src] = re.findall(r'<img class="bot-picture" src="([^"]+)"', checked)
    assert bot_api.calls_of("getFile") == [{"file_id": "small"}]
    assert bot_api.token not in checked and "api.telegram" not in src
    picture = admin_client.get(src)
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert picture.content == PNG
    # Saved, the connection keeps it; an operator may not fetch it; a made-up name is a 404.
    admin_client.post(NEW.format("telegram"), {**form, "bot_token": bot_api.token})
    conn = Connection.objects.get(kind="telegram")
    assert src.rstrip("/").endswith(conn.config["bot"]["photo"])
    assert src in html_of(admin_client.get(f"/settings/connections/{conn.pk}/"))
    admin_client.force_login(org.op1)
    assert admin_client.get(src).status_code == 403
    admin_client.force_login(org.admin)
    assert (
        admin_client.get("/settings/connections/bot-pictures/" + "0" * 64 + "/").status_code == 404
    )
    assert admin_client.get("/settings/connections/bot-pictures/..%2Fx/").status_code == 404


@pytest.mark.django_db
def test_a_bot_without_a_picture_or_with_one_that_is_not_an_image_shows_none(
    admin_client, org, bot_api
):
    form = {"name": "Bot", "line": org.line.pk, "active": "on", "mode": "webhook"}
    for photos, files in (
        ([], {}),
        ([[{"file_id": "x", "width": 160}]], {"photos/file_1.jpg": b"<svg/>"}),
    ):
        bot_api.profile_photos, bot_api.files = photos, files
        checked = html_of(
            admin_client.post(
                NEW.format("telegram"), {**form, "bot_token": bot_api.token, "action": "check"}
            )
        )
        assert "Test Bot" in checked and "bot-picture" not in checked


@pytest.mark.django_db
def test_a_token_telegram_rejects_is_shown_in_telegrams_words_beside_the_token(
    admin_client, org, bot_api
):
    bot_api.script("getMe", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    response = admin_client.post(
        NEW.format("telegram"),
        {
            "name": "Bot",
            "line": org.line.pk,
            "mode": "polling",
            "bot_token": "1:wrong-token-wrong-token",
        },
    )
    assert "Telegram says: Unauthorized" in error_beside(html_of(response), "bot_token")
    assert not Connection.objects.filter(kind="telegram").exists()


@pytest.mark.django_db
def test_webhook_mode_without_public_url_says_so_beside_the_choice(admin_client, org, settings):
    settings.CONVODESK = {**settings.CONVODESK, "PUBLIC_URL": ""}
    page = html_of(admin_client.get(NEW.format("telegram")))
    assert "PUBLIC_URL is not set" in page
    response = admin_client.post(
        NEW.format("telegram"),
        {"name": "Bot", "line": org.line.pk, "mode": "webhook", "bot_token": "1:abc"},
    )
    assert "Set PUBLIC_URL" in error_beside(html_of(response), "mode")


@pytest.mark.django_db
def test_the_telegram_page_shows_when_the_last_update_arrived(admin_client, org, bot_api):
    conn = f.connection(org.line, "telegram", name="Bot", config={"mode": "polling"})
    telegram.set_bot_token(conn, bot_api.token)
    conn.save()
    telegram.handle_update(conn, update(1, "Hi there"))
    conn.refresh_from_db()
    assert conn.config["last_update_at"]
    page = html_of(admin_client.get(f"/settings/connections/{conn.pk}/"))
    assert "Nothing received yet" not in page and "ago" in page


# E-mail ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_test_connection_shows_each_servers_answer_and_fills_the_folders(
    admin_client, org, imap_server, smtp_server
):
    wrong = admin_client.post(
        NEW.format("email"),
        {**mail_form(imap_server, smtp_server, org, "box281", "wrong"), "action": "test"},
    )
    html = html_of(wrong)
    assert "The IMAP server says:" in error_beside(html, "imap_password")
    assert "AUTHENTICATIONFAILED" in html or "Authentication failed" in html
    assert 'id="mail-test"' in html and "check-fail" in html
    right = admin_client.post(
        NEW.format("email"),
        {**mail_form(imap_server, smtp_server, org, "box281"), "action": "test"},
    )
    html = html_of(right)
    assert error_beside(html, "imap_password") == ""
    assert html.count("check-ok") == 2 and "Dovecot" in html  # the IMAP server's own greeting
    assert re.search(
        r'<select name="imap_folder"[^>]*>.*<option value="INBOX" selected', html, re.S
    )
    assert not Connection.objects.filter(kind="email").exists()  # a test saves nothing


@pytest.mark.django_db
def test_a_mailbox_saved_from_the_screen_keeps_its_password_encrypted_and_unshown(
    admin_client, org, imap_server, smtp_server
):
    response = admin_client.post(
        NEW.format("email"), mail_form(imap_server, smtp_server, org, "box282")
    )
    conn = Connection.objects.get(kind="email")
    assert response.status_code == 302
    assert conn.config["address"] == "help@shop.example"
    assert crypto.decrypt(conn.config["imap"]["password"]) == "pw"
    page = html_of(admin_client.get(response.url))
    assert conn.config["imap"]["password"] not in page and 'value="pw"' not in page

    # Saved again with the password left empty: the stored one is kept (and still logs in).
    edit = mail_form(imap_server, smtp_server, org, "box282", password="", name="Mailbox 2")
    assert admin_client.post(response.url, edit).status_code == 302
    conn.refresh_from_db()
    assert conn.name == "Mailbox 2" and crypto.decrypt(conn.config["imap"]["password"]) == "pw"
    update_entry = AuditEntry.objects.get(object_id=str(conn.pk), action="update")
    assert update_entry.actor == org.admin
    assert update_entry.before["name"] == "Support mailbox"
    assert update_entry.after["config"]["imap"]["password"] == crypto.MASK
    assert "pw" not in json.dumps(update_entry.before["config"]["imap"]["password"])


@pytest.mark.django_db
def test_a_wrong_mailbox_password_on_save_is_refused_beside_the_field(
    admin_client, org, imap_server, smtp_server
):
    response = admin_client.post(
        NEW.format("email"), mail_form(imap_server, smtp_server, org, "box283", "nope")
    )
    assert "The IMAP server says:" in error_beside(html_of(response), "imap_password")
    assert not Connection.objects.filter(kind="email").exists()


# API ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_connection_shows_its_secret_once_and_rotating_makes_a_new_one(admin_client, org):
    response = admin_client.post(
        NEW.format("api"),
        {
            "name": "Shop",
            "line": org.line.pk,
            "active": "on",
            "webhook_url": "https://shop.example/hook",
        },
    )
    conn = Connection.objects.get(name="Shop")
    first = html_of(admin_client.get(response.url))
    secret = re.search(r'id="secret-value" type="text" readonly value="([^"]+)"', first).group(1)
    assert crypto.hash_token(secret) == conn.secret_hash
    assert f"/api/v1/connectors/{conn.pk}/messages" in first  # the example request
    assert secret not in html_of(admin_client.get(response.url))  # shown once

    rotated = admin_client.post(f"/settings/connections/{conn.pk}/rotate-secret/")
    assert rotated.status_code == 302
    page = html_of(admin_client.get(rotated.url))
    new = re.search(r'id="secret-value" type="text" readonly value="([^"]+)"', page).group(1)
    conn.refresh_from_db()
    assert new != secret and crypto.hash_token(new) == conn.secret_hash
    entry = AuditEntry.objects.get(object_id=str(conn.pk), action="rotate_secret")
    assert entry.actor == org.admin and new not in json.dumps([entry.before, entry.after])
    assert admin_client.get(f"/settings/connections/{conn.pk}/rotate-secret/").status_code == 405


@pytest.mark.django_db
def test_a_bad_webhook_url_is_refused_beside_the_field(admin_client, org):
    conn = f.connection(org.line, "api", name="Shop")
    response = admin_client.post(
        f"/settings/connections/{conn.pk}/",
        {"name": "Shop", "active": "on", "webhook_url": "javascript:alert(1)"},
    )
    assert error_beside(html_of(response), "webhook_url") == "Enter an http(s) URL."
    conn.refresh_from_db()
    assert conn.config == {} and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_the_api_records_its_connection_changes_in_the_audit_log(org):
    from tests.api.conftest import Api, token_for

    api = Api(token_for(org.admin))
    status, body = api.post(
        f"/lines/{org.line.pk}/connections",
        {"kind": "api", "name": "Via API", "config": {"webhook_url": "https://a.example/h"}},
    )
    assert status == 201
    status, _ = api.patch(f"/lines/{org.line.pk}/connections/{body['id']}", {"name": "Renamed"})
    assert status == 200
    api.post(f"/lines/{org.line.pk}/connections/{body['id']}/rotate-secret", {})
    actions = list(
        AuditEntry.objects.filter(object_id=str(body["id"]))
        .order_by("id")
        .values_list("action", "actor")
    )
    assert actions == [
        ("create", org.admin.pk),
        ("update", org.admin.pk),
        ("rotate_secret", org.admin.pk),
    ]
    assert body["secret"] not in json.dumps(list(AuditEntry.objects.values("before", "after")))


# Delivery log and skipped items --------------------------------------------------------


@pytest.mark.django_db
def test_retry_now_attempts_a_failed_delivery_again_at_once(
    admin_client, org, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {
        "default": {
            **settings.TASKS["default"],
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        }
    }
    conn = org.conn
    conn.config = {"webhook_url": "http://127.0.0.1:9/nothing-listens"}
    conn.save()
    conv = f.client_message(conn, "c-1", "Hello").conversation
    services.take(conv.pk, f.act(org.op1))
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(conv.pk, f.act(org.op1), "An answer")
    message = conv.messages.get(author_kind="employee")
    Message.objects.filter(pk=message.pk).update(delivery_state="failed", next_attempt_at=None)
    page = html_of(admin_client.get(f"/settings/connections/{conn.pk}/"))
    assert "webhook unreachable" in page and "Retry now" in page

    calls = []
    delivery.DELIVERERS["api"], original = (
        (lambda m: calls.append(m.pk) or ""),
        delivery.DELIVERERS["api"],
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                f"/settings/connections/{conn.pk}/deliveries/{message.pk}/retry/"
            )
    finally:
        delivery.DELIVERERS["api"] = original
    assert response.status_code == 302 and calls == [message.pk]
    message.refresh_from_db()
    assert message.delivery_state == "sent" and message.delivery_error == ""
    # A client's message is not waiting for any delivery: nothing to retry.
    client_message = conv.messages.get(author_kind="client")
    admin_client.post(f"/settings/connections/{conn.pk}/deliveries/{client_message.pk}/retry/")
    client_message.refresh_from_db()
    assert client_message.delivery_state == ""


@pytest.mark.django_db
def test_skipped_inbound_items_are_listed_on_their_connection(admin_client, org):
    other = f.connection(org.line, "api", name="Other")
    skipped.record(org.conn, "msg-77", ValueError("A string literal cannot contain NUL"), "{}")
    skipped.record(other, "msg-88", ValueError("elsewhere"), "{}")
    page = html_of(admin_client.get(f"/settings/connections/{org.conn.pk}/"))
    assert "msg-77" in page and "cannot contain NUL" in page and "msg-88" not in page


@pytest.mark.django_db
def test_the_list_shows_each_connection_with_its_state(admin_client, org, bot_api):
    bot = f.connection(
        org.line, "telegram", name="Bot", config={"bot": {"username": "shop_bot"}}, active=False
    )
    page = html_of(admin_client.get("/settings/connections/"))
    assert org.conn.name in page and f"/settings/connections/{bot.pk}/" in page
    assert "@shop_bot" in page and "Inactive" in page and org.line.name in page
    kinds = html_of(admin_client.get("/settings/connections/new/"))
    for kind in ("livechat", "telegram", "email", "api"):
        assert f'href="/settings/connections/new/{kind}/"' in kinds
    assert admin_client.get("/settings/connections/new/fax/").status_code == 404


@pytest.mark.django_db
def test_operators_cannot_open_the_connections(client, org):
    client.force_login(org.op1)
    assert client.get("/settings/connections/").status_code == 403
    assert client.post(f"/settings/connections/{org.conn.pk}/rotate-secret/").status_code == 403
