import datetime as dt
import json

import pytest
from django.utils import timezone

from convodesk.connectors import delivery, telegram
from convodesk.conversations import services
from convodesk.conversations.models import Conversation, ConversationEvent, Message
from convodesk.lines.models import Connection

from .. import factories as f
from .fake_telegram import update


def post_update(client, conn, payload, secret=None):
    return client.post(
        f"/connectors/telegram/{conn.pk}/webhook/",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": conn.secret if secret is None else secret},
    )


def test_a_webhook_update_starts_a_conversation_for_the_telegram_user(client, tg):
    response = post_update(client, tg, update(1, "Hola, ¿tenéis envío a Canarias?"))
    assert response.status_code == 200
    conv = Conversation.objects.get()
    assert conv.channel == "telegram" and conv.client.name == "Iván Petrov"
    assert conv.identity.external_id == "777" and conv.identity.username == "ivanp"
    assert conv.messages.get().text == "Hola, ¿tenéis envío a Canarias?"


def test_the_same_update_delivered_twice_is_stored_once(client, tg):
    post_update(client, tg, update(5, "Hello"))
    post_update(client, tg, update(5, "Hello"))
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1


def test_a_wrong_secret_token_is_refused_and_nothing_is_written(client, tg):
    response = post_update(client, tg, update(1), secret="not-the-secret")
    assert response.status_code == 403
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_a_malformed_update_is_a_clear_400(client, tg):
    response = client.post(
        f"/connectors/telegram/{tg.pk}/webhook/",
        data="{not json",
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": tg.secret},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_update"
    assert post_update(client, tg, {"message": {}}).status_code == 400
    assert not Message.objects.exists()


def test_group_messages_are_not_conversations(client, tg):
    payload = update(3)
    payload["message"]["chat"] = {"id": -100, "type": "group"}
    assert post_update(client, tg, payload).status_code == 200
    assert not Conversation.objects.exists()


def test_photos_and_documents_are_kept_as_attachment_metadata_with_the_caption(client, tg, bot_api):
    payload = update(
        7,
        text=None,
        caption="This arrived broken",
        photo=[
            {
                "file_id": "small",
                "file_unique_id": "s",
                "width": 90,
                "height": 90,
                "file_size": 100,
            },
            {
                "file_id": "big",
                "file_unique_id": "b",
                "width": 800,
                "height": 600,
                "file_size": 9000,
            },
        ],
    )
    post_update(client, tg, payload)
    message = Message.objects.get()
    assert message.text == "This arrived broken"
    assert message.attachments[0]["type"] == "photo" and message.attachments[0]["file_id"] == "big"
    assert telegram.file_url(tg, "big").endswith(f"/file/bot{bot_api.token}/photos/file_1.jpg")


def test_an_edited_message_becomes_a_system_note(client, tg):
    post_update(client, tg, update(1, "Order 481"))
    edited = update(2, "Order 4812", message_id=1)
    edited["edited_message"] = {**edited.pop("message"), "edit_date": 1700000100}
    post_update(client, tg, edited)
    post_update(client, tg, edited)
    conv = Conversation.objects.get()
    notes = conv.messages.filter(author_kind="system")
    assert [n.text for n in notes] == ["The client edited a message: Order 4812"]
    assert conv.message_count == 1  # a note is not a client message


def test_start_payload_is_remembered_on_the_identity(client, tg):
    post_update(client, tg, update(1, "/start promo-black-friday"))
    assert Conversation.objects.get().identity.data["start_payload"] == "promo-black-friday"


def test_an_operator_reply_is_sent_with_sendmessage_to_the_clients_chat(client, tg, org, bot_api):
    post_update(client, tg, update(1, "Hi"))
    conv = Conversation.objects.get()
    now = timezone.now()
    services.take(conv.pk, f.act(org.op1), now=now)
    message = services.reply(conv.pk, f.act(org.op1), "Hello Iván!", now=now)
    delivery.deliver_due(now)
    sent = bot_api.calls_of("sendMessage")
    assert sent == [{"chat_id": "777", "text": "Hello Iván!"}]
    message.refresh_from_db()
    assert message.delivery_state == "sent" and message.channel_message_id == str(
        bot_api.next_message_id
    )


def test_a_long_reply_is_split_at_telegrams_length_limit(client, tg, org, bot_api):
    post_update(client, tg, update(1, "Hi"))
    conv = Conversation.objects.get()
    now = timezone.now()
    long_text = ("word " * 1000).strip()  # 4,999 characters
    services.reply(conv.pk, f.act(org.op1), long_text, now=now)
    delivery.deliver_due(now)
    chunks = [c["text"] for c in bot_api.calls_of("sendMessage")]
    assert len(chunks) == 2 and all(len(c) <= 4096 for c in chunks)
    assert " ".join(chunks) == long_text


def test_429_is_retried_after_the_delay_telegram_asks_for(client, tg, org, bot_api):
    post_update(client, tg, update(1, "Hi"))
    conv = Conversation.objects.get()
    now = timezone.now()
    bot_api.script(
        "sendMessage",
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    message = services.reply(conv.pk, f.act(org.op1), "Hello", now=now)
    delivery.deliver_due(now)
    message.refresh_from_db()
    assert message.delivery_state == "pending" and message.next_attempt_at == now + dt.timedelta(
        seconds=7
    )
    assert delivery.deliver_due(now + dt.timedelta(seconds=6)) == 0
    assert delivery.deliver_due(now + dt.timedelta(seconds=7)) == 1
    message.refresh_from_db()
    assert message.delivery_state == "sent" and len(bot_api.calls_of("sendMessage")) == 2


def test_a_bot_blocked_by_the_client_marks_the_reply_failed_with_an_event(client, tg, org, bot_api):
    post_update(client, tg, update(1, "Hi"))
    conv = Conversation.objects.get()
    now = timezone.now()
    bot_api.script(
        "sendMessage",
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    message = services.reply(conv.pk, f.act(org.op1), "Hello", now=now)
    delivery.deliver_due(now)
    message.refresh_from_db()
    assert message.delivery_state == "failed" and "blocked" in message.delivery_error
    event = ConversationEvent.objects.get(conversation=conv, kind="delivery_failed")
    assert event.payload["message"] == message.pk


def test_polling_resumes_from_its_stored_offset_after_a_restart(tg, bot_api):
    tg.config = {**tg.config, "mode": "polling"}
    tg.save()
    bot_api.updates = [update(10, "one", user_id=1), update(11, "two", user_id=2)]
    assert telegram.poll_once(tg, timeout=0) == 2
    assert bot_api.calls_of("getUpdates")[-1]["offset"] == 0
    restarted = Connection.objects.get(pk=tg.pk)  # a new process reads the stored offset
    bot_api.updates.append(update(12, "three", user_id=3))
    assert telegram.poll_once(restarted, timeout=0) == 1
    assert bot_api.calls_of("getUpdates")[-1]["offset"] == 12
    assert Conversation.objects.count() == 3


def test_saving_the_connection_checks_the_bot_and_registers_the_webhook(tg, bot_api):
    bot = telegram.setup(tg)
    assert bot["username"] == "test_bot"
    hook = bot_api.calls_of("setWebhook")[0]
    assert hook["url"] == f"https://cc.example.com/connectors/telegram/{tg.pk}/webhook/"
    assert hook["secret_token"] == tg.secret
    assert Connection.objects.get(pk=tg.pk).config["bot"]["first_name"] == "Test Bot"


def test_a_bad_token_is_reported_by_telegrams_own_words(tg, bot_api):
    bot_api.script("getMe", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(telegram.TelegramError, match="Unauthorized"):
        telegram.setup(tg)


def test_the_bot_token_is_stored_encrypted(tg, bot_api):
    raw = Connection.objects.filter(pk=tg.pk).values_list("config", flat=True).get()
    assert bot_api.token not in json.dumps(raw)
    assert telegram.bot_token(Connection.objects.get(pk=tg.pk)) == bot_api.token


@pytest.mark.nodb
def test_split_text_keeps_short_texts_whole_and_never_exceeds_the_limit():
    assert telegram.split_text("hi") == ["hi"]
    assert all(len(c) <= 10 for c in telegram.split_text("x" * 35, limit=10))
    assert "".join(telegram.split_text("x" * 35, limit=10)) == "x" * 35


def test_the_admin_form_shows_telegrams_refusal_of_a_bad_token(client, org, bot_api):
    client.force_login(org.admin)
    bot_api.script("getMe", 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    response = client.post(
        "/admin/lines/connection/add/",
        {
            "line": org.line.pk,
            "kind": "telegram",
            "name": "Bot",
            "active": "on",
            "allowed_origins": "[]",
            "bot_token": "123:bad-token-bad-token-bad",
            "telegram_mode": "webhook",
        },
    )
    assert (
        response.status_code == 200 and "Telegram says: Unauthorized" in response.content.decode()
    )
    assert not Connection.objects.filter(kind="telegram").exists()


def test_the_admin_form_registers_the_webhook_and_never_shows_the_token_back(client, org, bot_api):
    client.force_login(org.admin)
    response = client.post(
        "/admin/lines/connection/add/",
        {
            "line": org.line.pk,
            "kind": "telegram",
            "name": "Bot",
            "active": "on",
            "allowed_origins": "[]",
            "bot_token": bot_api.token,
            "telegram_mode": "webhook",
        },
    )
    assert response.status_code == 302
    conn = Connection.objects.get(kind="telegram")
    assert conn.config["bot"]["username"] == "test_bot"
    assert bot_api.calls_of("setWebhook")[0]["secret_token"] == conn.secret
    page = client.get(f"/admin/lines/connection/{conn.pk}/change/").content.decode()
    assert bot_api.token not in page and conn.secret not in page
