"""Telegram at its edges (issue 15): an impossible `date` never costs a message or stops the
bot, and a Bot API round trip that breaks in http.client (an address it refuses, an answer cut
short) is a clean TelegramError, never a 500, and never shows or logs the bot token."""

from __future__ import annotations

import json
import logging
import urllib.parse

import pytest

from convodesk.connectors import telegram
from convodesk.conversations.models import Conversation, Message
from convodesk.lines.models import Connection
from tests import factories as f
from tests.api.conftest import Api, assert_error, token_for

from .fake_telegram import FakeBotApi, update


def post_update(client, conn, payload):
    return client.post(
        f"/connectors/telegram/{conn.pk}/webhook/",
        data=json.dumps(payload),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": conn.secret},
    )


IMPOSSIBLE_DATES = [10**20, -(10**20), 2**63, -1, 0, 1.5e9, "1700000000", None, True, [1]]


@pytest.mark.parametrize("date", IMPOSSIBLE_DATES, ids=repr)
def test_an_update_with_an_impossible_date_is_taken_at_the_time_it_arrives(client, tg, date):
    payload = update(1, "Sent at the end of time")
    payload["message"]["date"] = date
    response = post_update(client, tg, payload)
    assert response.status_code == 200 and response.json() == {"ok": True}
    message = Message.objects.get()
    assert message.text == "Sent at the end of time" and message.channel_sent_at is None
    # The chat goes on: the next update is taken as usual, with its own date.
    assert post_update(client, tg, update(2, "And now")).status_code == 200
    assert Message.objects.get(text="And now").channel_sent_at.timestamp() == 1700000002


def test_polling_takes_an_update_with_an_impossible_date_and_moves_on(tg, bot_api):
    tg.config = {**tg.config, "mode": "polling"}
    tg.save()
    broken = update(10, "from the far future", user_id=1)
    broken["message"]["date"] = 10**20
    bot_api.updates = [broken, update(11, "next", user_id=2)]
    assert telegram.poll_once(tg, timeout=0) == 2
    assert Connection.objects.get(pk=tg.pk).config["poll_offset"] == 12
    assert sorted(Message.objects.values_list("text", flat=True)) == [
        "from the far future",
        "next",
    ]


class BrokenBotApi(FakeBotApi):
    """The fake Bot API whose answers, and file downloads, are cut short: it announces more
    bytes than it sends and closes (http.client raises IncompleteRead)."""

    def _handler(self):
        api = self
        base = super()._handler()

        class Handler(base):
            def _send(self, status, body):
                data = json.dumps(body).encode()
                if api.cut_answers:
                    data = data[:10]
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(1000 if api.cut_answers else len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = urllib.parse.urlparse(self.path).path
                if not path.startswith(f"/file/bot{api.token}/"):
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(b"only a part")

        return Handler

    cut_answers = True


@pytest.fixture
def broken_api(settings):
    api = BrokenBotApi().start()
    settings.CONVODESK = {**settings.CONVODESK, "TELEGRAM_API_BASE": api.base_url}
    yield api
    api.stop()


def _bot(org, token):
    conn = f.connection(org.line, "telegram", name="Bot", config={"mode": "polling"})
    telegram.set_bot_token(conn, token)
    conn.save()
    return conn


def _assert_no_token(token, *texts):
    for text in texts:
        assert token not in text, text
        assert urllib.parse.quote(token, safe="") not in text, text


def test_a_bot_api_answer_cut_short_is_a_telegram_error_without_the_token(org, broken_api, caplog):
    conn = _bot(org, broken_api.token)
    with caplog.at_level(logging.DEBUG), pytest.raises(telegram.TelegramError) as failed:
        telegram.call(conn, "getMe")
    assert "unreachable" in failed.value.description
    _assert_no_token(broken_api.token, failed.value.description, str(failed.value), caplog.text)


def test_an_address_http_client_refuses_is_a_telegram_error_without_the_token(
    org, bot_api, settings, caplog
):
    """A space in the configured Bot API address: http.client's InvalidURL quotes the whole
    address, the token with it."""
    settings.CONVODESK = {**settings.CONVODESK, "TELEGRAM_API_BASE": bot_api.base_url + "/a b"}
    conn = _bot(org, bot_api.token)
    with caplog.at_level(logging.DEBUG), pytest.raises(telegram.TelegramError) as failed:
        telegram.call(conn, "getMe")
    assert "unreachable" in failed.value.description and "***" in failed.value.description
    _assert_no_token(bot_api.token, failed.value.description, caplog.text)


@pytest.mark.parametrize(
    "token", ["12 34:abc", "123:short", "123:" + "a" * 30 + "/../x", "x:" + "a" * 30]
)
def test_a_stored_token_not_in_telegrams_format_never_reaches_an_address(org, bot_api, token):
    conn = _bot(org, token)
    with pytest.raises(telegram.TelegramError, match="not a Telegram bot token"):
        telegram.call(conn, "getMe")
    assert bot_api.calls == []


def test_the_bot_token_format():
    assert telegram.valid_bot_token("110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")
    assert telegram.valid_bot_token("1:" + "a_B-9" * 4)
    for bad in (
        "12 34:abc",
        "1:" + "a" * 19,
        "1:" + "a" * 101,
        "1" * 21 + ":" + "a" * 30,
        ":" + "a" * 30,
        "1:" + "a" * 29 + "\n",
        "1:" + "a" * 29 + "é",
        None,
        123,
    ):
        assert not telegram.valid_bot_token(bad), bad


def test_the_errors_never_carry_the_token_in_any_spelling():
    token = "123:abc/def ghi\nxyz_0123456789"
    for text in (
        f"GET /bot{token}/getMe",
        f"url={urllib.parse.quote(token, safe='')}",
        f"'/bot{token!r}'",
    ):
        assert "abc" not in telegram.scrub(text, token), text


@pytest.mark.django_db
def test_a_telegram_file_cut_short_is_a_502_that_never_shows_the_token(
    client, org, broken_api, caplog
):
    broken_api.cut_answers = False  # getFile answers; the download itself is cut short
    conn = _bot(org, broken_api.token)
    doc = {"file_id": "doc1", "file_unique_id": "d1", "file_name": "a.pdf", "file_size": 5000}
    received = telegram.handle_update(conn, update(1, text=None, document=doc))
    client.force_login(org.admin)
    conv = received.conversation.pk
    url = f"/contact-center/conversations/{conv}/attachments/{received.message.pk}/0/"
    with caplog.at_level(logging.DEBUG):
        response = client.get(url)
    assert response.status_code == 502
    _assert_no_token(broken_api.token, response.content.decode(), caplog.text)
    assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_a_bot_token_not_in_telegrams_format_is_a_422_naming_it(org, bot_api):
    api = Api(token_for(org.admin))
    for token in ("12 34:abc", "123:short", "123:" + "a" * 30 + "/../getMe"):
        error = assert_error(
            api.post(
                f"/lines/{org.line.pk}/connections",
                {"kind": "telegram", "name": "Bot", "config": {"bot_token": token}},
            ),
            422,
        )
        assert "not a Telegram bot token" in error["details"]["config.bot_token"], error
        assert token not in json.dumps(error)
    assert not Connection.objects.filter(kind="telegram").exists()
    assert bot_api.calls == []
