"""The outside peers the channel tests talk to, as fixtures: a real Dovecot (IMAP), an SMTP
recorder and a Bot-API-shaped server, all on 127.0.0.1; tests/conftest.py loads them as a
plugin, so every test module may ask for them."""

import os
import shutil

import pytest

from tests import factories as f

from .fake_telegram import FakeBotApi
from .mailservers import DOVECOT, Dovecot, SmtpRecorder


@pytest.fixture(scope="module")
def imap_server():
    if not os.path.exists(DOVECOT) or shutil.which("doveadm") is None:
        message = "Dovecot is not installed (apt-get install dovecot-imapd; .ci/run installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp_server():
    server = SmtpRecorder().start()
    yield server
    server.stop()


@pytest.fixture
def bot_api(settings):
    """The fake Bot API, and PUBLIC_URL set so that webhook registration has an address."""
    api = FakeBotApi().start()
    settings.CONVODESK = {
        **settings.CONVODESK,
        "TELEGRAM_API_BASE": api.base_url,
        "PUBLIC_URL": "https://cc.example.com",
    }
    yield api
    api.stop()


@pytest.fixture
def tg(org, bot_api):
    """A Telegram connection of the organisation's line, with the fake API's bot token."""
    from convodesk.connectors import telegram

    conn = f.connection(org.line, "telegram", name="Support bot")
    telegram.set_bot_token(conn, bot_api.token)
    conn.save()
    return conn
