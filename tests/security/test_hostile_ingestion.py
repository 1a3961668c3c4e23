"""The hostile-input corpus through every ingestion path (issue 15, "Bad bytes never stop a channel").

Each path gets every entry of `tests.security.hostile`, then a normal message. It must answer
without a 5xx, store nothing with NUL/C0 controls or lone surrogates, move its position on, and
take the normal message after the hostile ones.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import secrets
import urllib.parse
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DataError, models
from django.test import Client

from convodesk.connectors import livechat, mail, skipped, telegram
from convodesk.connectors.clean import clean, clean_data
from convodesk.connectors.models import EmailHeaders, SkippedMessage
from convodesk.conversations import outbox, services
from convodesk.conversations.models import Conversation, Message
from convodesk.lines.models import Connection
from tests import factories as f
from tests.channels.fake_telegram import update
from tests.workspace.sockets import receive_until, widget

from .hostile import HOSTILE_NAMES, HOSTILE_TEXTS, INVALID_UTF8, assert_storable, is_clean

NORMAL = "A normal message after the hostile ones"


def assert_everything_stored_is_clean():
    """Every text and JSON column of every row the ingestion paths write (conversations, clients,
    identities, messages, events, CRM records, mail headers, skipped records)."""
    for label in ("conversations", "crm", "connectors"):
        for model in apps.get_app_config(label).get_models():
            fields = [
                field.name
                for field in model._meta.concrete_fields
                if isinstance(field, models.CharField | models.TextField | models.JSONField)
            ]
            if not fields:
                continue
            for row in model.objects.values("pk", *fields):
                for name in fields:
                    assert_storable(row[name], f"{model.__name__} {row['pk']}.{name}")


@pytest.fixture
def poison(monkeypatch):
    """The database refuses any message whose text is "poison": a message that still cannot be
    stored after cleaning (what a NUL did on PostgreSQL before the cleaning)."""
    real = services.receive_client_message

    def refuse(connection, **kwargs):
        if kwargs["text"] == "poison":
            raise DataError("simulated: the database refuses this row")
        return real(connection, **kwargs)

    monkeypatch.setattr(services, "receive_client_message", refuse)


def mail_ok(text: str) -> bool:
    return Message.objects.filter(text=text).exists()


# The cleaning function -----------------------------------------------------------------


@pytest.mark.parametrize("name,text", HOSTILE_TEXTS, ids=[n for n, _t in HOSTILE_TEXTS])
def test_cleaning_leaves_no_control_character_and_keeps_legitimate_text(name, text):
    cleaned = clean(text)
    assert is_clean(cleaned)
    for keep in ("\u202e", "\u200b", "\u200d", "\ufeff", "👨‍👩‍👧‍👦", "\t", "\n", "\x7f", "\x85"):
        assert cleaned.count(keep) == text.count(keep), (name, keep)
    assert clean(cleaned) == cleaned


@pytest.mark.parametrize("name,raw", INVALID_UTF8, ids=[n for n, _r in INVALID_UTF8])
def test_cleaning_turns_invalid_utf8_into_replacement_characters(name, raw):
    cleaned = clean(raw)
    assert is_clean(cleaned)
    assert cleaned.encode("utf-8")  # encodable
    assert_storable(clean_data({"k\x00": [raw, {"n": "a\x00b"}, 3, None]}))


# REST connector (real HTTP through the Django test client) ------------------------------


def rest_post(conn, body=None, raw: bytes | None = None, secret=None):
    return Client().post(
        f"/api/v1/connectors/{conn.pk}/messages",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {conn.secret if secret is None else secret}",
    )


def rest_message(message_id, text, name="Ana", client="cust-1", file_name="report.pdf"):
    return {
        "external_message_id": message_id,
        "client": {"external_id": client, "name": name, "email": "ana@example.com"},
        "text": text,
        "attachments": [{"url": "https://files.example.com/a.pdf", "name": file_name}],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("name,text", HOSTILE_TEXTS, ids=[n for n, _t in HOSTILE_TEXTS])
def test_rest_connector_takes_hostile_text_without_a_server_error_and_keeps_working(
    org, name, text
):
    response = rest_post(
        org.conn,
        rest_message(f"hostile-{name}", text, name=text[:255], file_name=text[:255]),
    )
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
    assert_everything_stored_is_clean()
    after = rest_post(org.conn, rest_message(f"normal-{name}", NORMAL))
    assert after.status_code == 201, after.content[:300]
    assert mail_ok(NORMAL)


@pytest.mark.django_db
def test_rest_connector_stores_control_characters_cleaned(org):
    response = rest_post(
        org.conn,
        rest_message("m\x01-1", "hel\x07lo\x1b[0m\tthere", name="A\x08na", file_name="a\x1f.pdf"),
    )
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.text == "hello[0m\tthere" and message.external_id == "m-1"
    assert message.conversation.client.name == "Ana"
    assert message.attachments[0]["name"] == "a.pdf"


@pytest.mark.django_db
def test_rest_connector_stores_a_nul_cleaned_out_and_keeps_working(org):
    """`\\u0000` is valid JSON: the API cleans it out like every channel does, it is not a 400."""
    response = rest_post(org.conn, rest_message("m-nul", "hel\x00lo", name="A\x00na"))
    assert response.status_code == 201, response.content
    message = Message.objects.get()
    assert message.text == "hello" and message.conversation.client.name == "Ana"
    assert_everything_stored_is_clean()
    assert rest_post(org.conn, rest_message("m-2", NORMAL)).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("name,raw", INVALID_UTF8, ids=[n for n, _r in INVALID_UTF8])
def test_rest_connector_answers_invalid_utf8_bodies_without_a_server_error(org, name, raw):
    body = b'{"external_message_id": "bad-' + name.encode() + b'", "client": {"external_id": '
    body += b'"c-1"}, "text": "' + raw + b'"}'
    response = rest_post(org.conn, raw=body)
    assert response.status_code < 500, response.content[:300]
    assert_everything_stored_is_clean()
    assert rest_post(org.conn, rest_message(f"normal-{name}", NORMAL)).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("value", [" ", "   \t\n", "\x01", " \x02\x1f "])
def test_a_whitespace_only_external_message_id_is_a_422_naming_the_field(org, value):
    response = rest_post(org.conn, rest_message(value, "Hello"))
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "external_message_id" in error["details"]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_rest_message_that_cannot_be_stored_is_recorded_as_skipped(org, poison):
    response = rest_post(org.conn, rest_message("poison", "poison"))
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_stored"
    skipped = SkippedMessage.objects.get()
    assert skipped.connection == org.conn and skipped.external_id == "poison"
    assert "DataError" in skipped.reason and "poison" in skipped.payload
    assert rest_post(org.conn, rest_message("next", NORMAL)).status_code == 201


# Webhooks: no oracle for which connection ids exist --------------------------------------


@pytest.mark.django_db
def test_the_connector_webhook_answers_a_missing_and_a_wrong_secret_connection_alike(org):
    missing = SimpleNamespace(pk=org.conn.pk + 1000)
    wrong = rest_post(org.conn, rest_message("x", "Hello"), secret="not-the-secret")
    absent = rest_post(missing, rest_message("x", "Hello"), secret="not-the-secret")
    assert wrong.status_code == absent.status_code == 401
    assert wrong.json() == absent.json()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_telegram_webhook_answers_a_missing_and_a_wrong_secret_connection_alike(org):
    conn = f.connection(org.line, "telegram")
    inactive = f.connection(org.line, "telegram", active=False)
    answers = [
        post_update(conn.pk, update(1), "not-the-secret"),
        post_update(conn.pk + 1000, update(1), "not-the-secret"),
        post_update(inactive.pk, update(1), inactive.secret),
        post_update(org.conn.pk, update(1), org.conn.secret),  # not a Telegram connection
    ]
    assert {a.status_code for a in answers} == {403}
    assert len({a.content for a in answers}) == 1
    assert not Message.objects.exists()


# Telegram: webhook and polling against the fake Bot API ------------------------------------


def post_update(connection_id, payload, secret):
    return Client().post(
        f"/connectors/telegram/{connection_id}/webhook/",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )


def hostile_update(update_id: int, text: str, user_id: int) -> dict:
    payload = update(update_id, text, user_id=user_id)
    sender = payload["message"]["from"]
    sender.update(first_name=text[:64], last_name=text[-64:], username=text[:32])
    payload["message"]["document"] = {
        "file_id": "f\x00id",
        "file_unique_id": "u1",
        "file_name": text[:255],
        "mime_type": "application/pdf\x00",
        "file_size": 10,
    }
    return payload


def test_telegram_webhook_takes_the_whole_corpus_and_keeps_working(client, tg):
    for number, (name, text) in enumerate(HOSTILE_TEXTS, start=1):
        response = post_update(tg.pk, hostile_update(number, text, 1000 + number), tg.secret)
        assert response.status_code == 200, (name, response.content[:300])
    assert_everything_stored_is_clean()
    assert Message.objects.count() == len(HOSTILE_TEXTS)
    edited = update(500, "edit\x00ed", user_id=1001)
    edited["edited_message"] = edited.pop("message")
    assert post_update(tg.pk, edited, tg.secret).status_code == 200
    assert post_update(tg.pk, update(999, NORMAL), tg.secret).status_code == 200
    assert mail_ok(NORMAL)
    assert_everything_stored_is_clean()


def test_a_telegram_update_that_cannot_be_stored_is_skipped_and_answered_200(tg, poison):
    response = post_update(tg.pk, update(7, "poison"), tg.secret)
    assert response.status_code == 200
    skipped = SkippedMessage.objects.get()
    assert skipped.connection_id == tg.pk and skipped.external_id == "777:7"
    assert post_update(tg.pk, update(8, NORMAL), tg.secret).status_code == 200
    assert mail_ok(NORMAL)


def test_telegram_polling_takes_the_whole_corpus_and_moves_its_offset_on(tg, bot_api):
    tg.config = {**tg.config, "mode": "polling"}
    tg.save()
    bot_api.updates = [
        hostile_update(number, text, 2000 + number)
        for number, (_name, text) in enumerate(HOSTILE_TEXTS, start=1)
    ]
    bot_api.updates.append(update(101, NORMAL))
    out, err = io.StringIO(), io.StringIO()
    call_command("telegram_poll", "--once", f"--connection={tg.pk}", stdout=out, stderr=err)
    tg.refresh_from_db()
    assert tg.config["poll_offset"] == 102
    assert mail_ok(NORMAL)
    assert Message.objects.count() == len(HOSTILE_TEXTS) + 1
    assert_everything_stored_is_clean()


def test_a_polled_update_that_cannot_be_stored_is_skipped_and_the_offset_moves_on(
    tg, bot_api, poison
):
    tg.config = {**tg.config, "mode": "polling"}
    tg.save()
    bot_api.updates = [
        update(1, "poison"),
        {"update_id": 2, "message": "not a message"},
        update(3, NORMAL),
    ]
    out, err = io.StringIO(), io.StringIO()
    call_command("telegram_poll", "--once", f"--connection={tg.pk}", stdout=out, stderr=err)
    tg.refresh_from_db()
    assert tg.config["poll_offset"] == 4
    assert mail_ok(NORMAL)
    assert SkippedMessage.objects.get().external_id == "777:1"
    # The next round starts after them: nothing is asked twice, nothing doubles.
    call_command("telegram_poll", "--once", f"--connection={tg.pk}", stdout=out, stderr=err)
    assert Message.objects.count() == 1 and SkippedMessage.objects.count() == 1


# Widget socket (channels' WebsocketCommunicator over the real routing) ---------------------


@pytest.fixture(autouse=True)
def _widget_limiter_cleared():
    livechat.limiter.levels.clear()  # other tests' messages from the same address


def test_the_widget_socket_takes_the_whole_corpus_and_keeps_working(tdb, org):
    conn = f.connection(
        org.line,
        "livechat",
        config={"max_length": 200_000, "per_token": 10_000, "per_ip": 10_000},
    )
    names = dict(HOSTILE_NAMES)

    async def one_visitor(text: str, name: str):
        comm = widget(conn.public_key)
        connected, _ = await comm.connect()
        assert connected
        await comm.send_json_to({"type": "hello", "token": secrets.token_urlsafe(32)})
        await receive_until(comm, lambda m: m["type"] == "ready")
        await comm.send_json_to(
            {
                "type": "message",
                "id": secrets.token_hex(8),
                "text": text,
                "name": name,
                "email": f"{name[:20]}@example.com",
                "phone": name[:40],
                "url": "javascript:alert(1)",
            }
        )
        answer = await receive_until(comm, lambda m: m["type"] in ("message", "error"))
        assert not answer.get("fatal"), answer
        await comm.send_to(bytes_data=b"\xff\xfe\x00 not text")
        error = await receive_until(comm, lambda m: m["type"] == "error")
        assert not error.get("fatal")
        await comm.send_json_to({"type": "message", "id": secrets.token_hex(8), "text": NORMAL})
        echo = await receive_until(
            comm, lambda m: m["type"] == "message" and m["text"] == NORMAL, timeout=5
        )
        assert echo["author"] == "client"
        await comm.disconnect()

    async def scenario():
        for index, (name, text) in enumerate(HOSTILE_TEXTS):
            hostile_name = names.get(name, list(names.values())[index % len(names)])
            await one_visitor(text, hostile_name)
        await outbox.stop_hub()

    async_to_sync(scenario)()
    assert Message.objects.filter(text=NORMAL).count() == len(HOSTILE_TEXTS)
    assert not Conversation.objects.exclude(source_url="").exists()
    assert_everything_stored_is_clean()


def test_a_widget_message_that_cannot_be_stored_answers_an_error_and_the_socket_lives(
    tdb, org, poison
):
    conn = f.connection(org.line, "livechat")

    async def scenario():
        comm = widget(conn.public_key)
        await comm.connect()
        await comm.send_json_to({"type": "hello", "token": secrets.token_urlsafe(32)})
        await receive_until(comm, lambda m: m["type"] == "ready")
        await comm.send_json_to({"type": "message", "id": "poison-123", "text": "poison"})
        error = await receive_until(comm, lambda m: m["type"] == "error")
        assert error["code"] == "not_stored" and not error.get("fatal")
        await comm.send_json_to({"type": "message", "id": "normal-123", "text": NORMAL})
        await receive_until(comm, lambda m: m["type"] == "message" and m["text"] == NORMAL)
        await comm.disconnect()
        await outbox.stop_hub()

    async_to_sync(scenario)()
    assert SkippedMessage.objects.get().connection_id == conn.pk


# E-mail: IMAP against the real Dovecot ---------------------------------------------------

_boxes = itertools.count(1)


def mailbox_connection(org, imap_server, port=None, name="Support mail"):
    user = f"box{next(_boxes)}"
    conn = f.connection(org.line, "email", name=name)
    mail.configure(
        conn,
        address="support@shop.example",
        imap={
            "host": "127.0.0.1",
            "port": port or imap_server.port,
            "security": "none",
            "user": user,
            "password": "pw",
        },
        smtp={},
    )
    conn.save()
    return conn, user


def encoded_word(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    return b"=?utf-8?b?" + base64.b64encode(raw) + b"?="


def hostile_mail(number: int, text: str) -> bytes:
    """Subject, sender name, body and attachment name all carry `text`, encoded the ways a mail
    carries arbitrary characters (RFC 2047 words, base64 body, RFC 2231 file name)."""
    body = base64.encodebytes(text.encode("utf-8", "surrogatepass"))
    file_name = urllib.parse.quote(text[:200].encode("utf-8", "surrogatepass"))
    return (
        b"From: " + encoded_word(text[:200]) + b" <client" + str(number).encode() + b"@ex.com>\r\n"
        b"To: support@shop.example\r\n"
        b"Subject: " + encoded_word(text[:300]) + b"\r\n"
        b"Message-ID: <hostile-" + str(number).encode() + b"@ex.com>\r\n"
        b"In-Reply-To: " + encoded_word("<a\x00b@ex.com>") + b"\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
        b"--BOUNDARY\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n"
        b"--BOUNDARY\r\n"
        b"Content-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''" + file_name.encode() + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"%PDF-1.4\x00") + b"\r\n"
        b"--BOUNDARY--\r\n"
    )


def invalid_utf8_mail(number: int, raw: bytes) -> bytes:
    return (
        b"From: Bad " + raw + b" <bad" + str(number).encode() + b"@ex.com>\r\n"
        b"To: support@shop.example\r\n"
        b"Subject: broken " + raw + b"\r\n"
        b"Message-ID: <bad-" + str(number).encode() + b"@ex.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        b"body " + raw.replace(b"\x00", b"\\0") + b" end\r\n"
    )


def plain_mail(message_id: str, text: str) -> bytes:
    return mail.as_mime(
        "Ana <ana@example.com>", "support@shop.example", "Order", text, message_id=message_id
    )


def test_imap_fetch_takes_the_whole_corpus_and_moves_last_uid_on(org, imap_server):
    conn, user = mailbox_connection(org, imap_server)
    mails = [hostile_mail(n, text) for n, (_name, text) in enumerate(HOSTILE_TEXTS, start=1)]
    mails += [invalid_utf8_mail(n, raw) for n, (_name, raw) in enumerate(INVALID_UTF8, start=1)]
    mails.append(plain_mail("<normal@ex.com>", NORMAL))
    for raw in mails:
        imap_server.append(user, "pw", raw)

    result = mail.fetch(Connection.objects.get(pk=conn.pk))

    conn.refresh_from_db()
    assert conn.config["state"]["last_uid"] == len(mails)
    assert mail_ok(NORMAL)
    assert result.stored == len(mails) and result.skipped == 0
    assert_everything_stored_is_clean()
    assert EmailHeaders.objects.filter(subject="beforeafter").exists()  # the NUL is cleaned away
    # A second round asks only for what is new.
    again = mail.fetch(Connection.objects.get(pk=conn.pk))
    assert again.stored == again.skipped == 0


def test_a_mail_that_cannot_be_stored_is_skipped_and_last_uid_moves_on(org, imap_server, poison):
    conn, user = mailbox_connection(org, imap_server)
    imap_server.append(user, "pw", plain_mail("<poison@ex.com>", "poison"))
    imap_server.append(user, "pw", plain_mail("<normal@ex.com>", NORMAL))

    result = mail.fetch(Connection.objects.get(pk=conn.pk))

    conn.refresh_from_db()
    assert conn.config["state"]["last_uid"] == 2
    assert mail_ok(NORMAL) and result.stored == 1 and result.skipped == 1
    skipped = SkippedMessage.objects.get(connection=conn)
    assert skipped.external_id == "<poison@ex.com>" and "DataError" in skipped.reason
    assert "Message-ID: <poison@ex.com>" in skipped.payload


def test_email_fetch_goes_on_with_the_other_mailboxes_and_reports_each(org, imap_server):
    broken, _user = mailbox_connection(org, imap_server, port=1, name="Broken box")
    working, user = mailbox_connection(org, imap_server, name="Working box")
    imap_server.append(user, "pw", plain_mail("<w1@ex.com>", NORMAL))
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("email_fetch", stdout=out, stderr=err)

    assert mail_ok(NORMAL)
    assert "Working box: 1 stored" in out.getvalue()
    assert "Broken box" in err.getvalue()
    assert "1 of 2" in str(failed.value)
    working.refresh_from_db()
    assert working.config["state"]["last_uid"] == 1
    broken.refresh_from_db()
    assert "state" not in broken.config


def test_telegram_poll_goes_on_with_the_other_bots_and_reports_each(org, tg, bot_api):
    broken = f.connection(org.line, "telegram", name="Broken bot", config={"mode": "polling"})
    telegram.set_bot_token(broken, "999:WRONG")
    broken.save()
    tg.config = {**tg.config, "mode": "polling"}
    tg.save()
    bot_api.updates = [update(1, NORMAL)]
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("telegram_poll", "--once", stdout=out, stderr=err)

    assert mail_ok(NORMAL)
    assert "Support bot: 1 update(s)" in out.getvalue()
    assert "Broken bot: failed" in err.getvalue() and "1 of 2" in str(failed.value)


@pytest.mark.django_db
def test_skipped_messages_are_listed_for_administrators_with_the_bad_bytes_written_out(client, org):
    skipped.record(org.conn, "m\x00-1", DataError("NUL in text"), b"text \x00 \xff end")
    row = SkippedMessage.objects.get()
    assert row.external_id == "m-1" and "DataError: NUL in text" in row.reason
    assert row.payload == "text \\x00 \\xff end"
    client.force_login(org.admin)
    listing = client.get("/admin/connectors/skippedmessage/")
    assert listing.status_code == 200 and b"m-1" in listing.content
    assert client.get(f"/admin/connectors/skippedmessage/{row.pk}/change/").status_code == 200
    client.force_login(org.op1)
    assert client.get("/admin/connectors/skippedmessage/").status_code == 302


def test_a_widget_message_from_a_page_address_python_cannot_split_is_kept(tdb, org):
    """Third adversarial pass: `"url": "http://[::1"` raised in the socket and the visitor's
    text was dropped as not stored; the address is only dropped now."""
    conn = f.connection(org.line, "livechat")

    async def scenario():
        comm = widget(conn.public_key)
        assert (await comm.connect())[0]
        await comm.send_json_to({"type": "hello", "token": secrets.token_urlsafe(32)})
        await receive_until(comm, lambda m: m["type"] == "ready")
        await comm.send_json_to(
            {"type": "message", "id": "badurl0001", "text": NORMAL, "url": "http://[::1"}
        )
        echo = await receive_until(comm, lambda m: m["type"] in ("message", "error"))
        assert echo["type"] == "message" and echo["text"] == NORMAL, echo
        await comm.disconnect()
        await outbox.stop_hub()

    async_to_sync(scenario)()
    assert Message.objects.get(conversation__connection=conn).text == NORMAL
