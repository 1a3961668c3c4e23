"""Webhooks, Bitrix24 event handlers and mailboxes never make the server call into its own network.

Whoever sets a connection's webhook, an event handler's address or a mailbox's IMAP and SMTP
servers chooses where the server connects. By default those requests go to public addresses only: loopback, private networks,
link-local (a cloud's metadata service), shared and reserved ranges are refused when the address
is set and again at each connection, after the name is resolved. An administrator may allow
networks (OUTBOUND_ALLOW_NETWORKS); the tests' receivers on 127.0.0.1 run under that allowance.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import threading

import pytest

from convodesk import crypto, outbound
from convodesk.bitrix24 import codes
from convodesk.bitrix24.models import EventHandler
from convodesk.connectors import delivery, mail, setup, telegram
from convodesk.conversations import services
from convodesk.conversations.models import Message
from convodesk.fielderrors import FieldErrors
from tests import factories as f
from tests.api import conftest as api_fixtures
from tests.api.conftest import Api, assert_error, token_for
from tests.ops import procs

receiver, immediate_tasks = api_fixtures.receiver, api_fixtures.immediate_tasks


@pytest.fixture
def default_policy(settings):
    """An installation's default: no network allowed besides the public ones."""
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_ALLOW_NETWORKS": []}


@pytest.mark.nodb
@pytest.mark.parametrize(
    ("address", "reachable"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:169.254.169.254", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2001:4860:4860::8888", True),
    ],
)
def test_only_public_addresses_are_reachable_by_default(settings, address, reachable):
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_ALLOW_NETWORKS": []}
    assert outbound.public(address) is reachable


@pytest.mark.nodb
def test_an_allowed_network_is_reachable_and_only_it(settings):
    settings.CONVODESK = {
        **settings.CONVODESK,
        "OUTBOUND_ALLOW_NETWORKS": ["10.20.0.0/16", "192.168.1.5/32"],
    }
    assert outbound.public("10.20.3.4") and outbound.public("192.168.1.5")
    assert not outbound.public("10.21.0.1") and not outbound.public("192.168.1.6")
    assert not outbound.public("127.0.0.1")


@pytest.mark.django_db
def test_a_webhook_on_the_servers_own_network_is_refused_when_set(org, default_policy):
    api = Api(token_for(org.admin))
    for url in (
        "http://127.0.0.1:6379/",
        "http://localhost:5432/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/hook",
        "http://10.0.0.5/hook",
    ):
        status, body = api.post(
            f"/lines/{org.line.pk}/connections",
            {"kind": "api", "name": "Hook", "config": {"webhook_url": url}},
        )
        assert status == 422, (url, body)
        assert "OUTBOUND_ALLOW_NETWORKS" in str(body), body
    with pytest.raises(FieldErrors) as refused:
        codes.create_handler(org.admin, "OnOpenLineSessionFinish", "http://127.0.0.1:9/h")
    assert "handler_url" in refused.value.errors
    assert not EventHandler.objects.exists()


@pytest.mark.django_db
def test_a_stored_webhook_that_leads_inside_does_not_block_other_edits(org, default_policy):
    """Stored under an earlier rule: the connection can still be renamed or switched off (its
    deliveries are refused at each connection); setting that address anew is refused."""
    org.conn.config = {"webhook_url": "http://127.0.0.1:9/hook"}
    org.conn.save()
    setup.update_connection(org.conn, name="Renamed", config={}, active=False)
    org.conn.refresh_from_db()
    assert (org.conn.name, org.conn.active) == ("Renamed", False)
    with pytest.raises(FieldErrors) as refused:
        setup.update_connection(org.conn, config={"webhook_url": "http://10.0.0.5/hook"})
    assert "config.webhook_url" in refused.value.errors


@pytest.mark.django_db
def test_a_webhook_that_now_leads_inside_is_never_called_and_fails_for_good(
    org, receiver, immediate_tasks, default_policy, django_capture_on_commit_callbacks
):
    """An address stored under another policy, or a name that resolves inside after it was set:
    the connection itself is refused, without a request, and the delivery is not retried."""
    org.conn.config = {"webhook_url": receiver.url}  # 127.0.0.1, stored as an older rule let it
    org.conn.save()
    conv = f.client_message(org.conn, "client-ssrf", "Hi", when=f.at(0)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(
            conv.pk, f.act(org.op1), "Hello", now=f.at(0) + dt.timedelta(seconds=5)
        )
    message = Message.objects.get(pk=message.pk)
    assert receiver.requests == []
    assert message.delivery_state == "failed" and message.next_attempt_at is None
    assert "OUTBOUND_ALLOW_NETWORKS" in message.delivery_error


@pytest.mark.django_db
def test_the_same_webhook_is_called_once_its_network_is_allowed(
    org, receiver, immediate_tasks, settings, django_capture_on_commit_callbacks
):
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_ALLOW_NETWORKS": ["127.0.0.1/32"]}
    org.conn.config = {"webhook_url": receiver.url}
    org.conn.save()
    conv = f.client_message(org.conn, "client-ok", "Hi", when=f.at(0)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(conv.pk, f.act(org.op1), "Hello", now=f.at(0) + dt.timedelta(seconds=5))
    assert len(receiver.requests) == 1


@pytest.mark.nodb
def test_a_refusal_is_a_permanent_delivery_failure(settings):
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_ALLOW_NETWORKS": []}
    request = delivery.urllib.request.Request("http://127.0.0.1:9/", data=b"x", method="POST")
    with pytest.raises(OSError) as error:
        outbound.opener.open(request, timeout=2)
    assert outbound.refused(error.value)


@pytest.mark.nodb
@pytest.mark.parametrize("name", ["OUTBOUND_ALLOW_NETWORKS", "METRICS_ALLOWED_NETWORKS"])
def test_a_mistyped_allowed_network_stops_the_start_with_its_name(name):
    """Both network lists are read by one parser: a typo in the /metrics list used to be an
    entry that silently never matched."""
    done = start_with(name, "10.0.0.0/8, 192.168.1.300/32")
    assert done.returncode != 0
    assert f"{name}: '192.168.1.300/32'" in done.stderr


def start_with(name: str, value: str) -> subprocess.CompletedProcess:
    """`manage.py check` in a process of its own, with the environment variable `name` set."""
    env = {**os.environ, name: value}
    env.pop("DATABASE_URL", None)
    return procs.manage(env, "check", check=False, timeout=120)


# Mailboxes ----------------------------------------------------------------------------


@pytest.fixture
def listener():
    """A TCP port on 127.0.0.1 that counts the connections it accepts (and closes them)."""

    class Listener:
        accepted = 0

    server = socket.create_server(("127.0.0.1", 0))
    Listener.port = server.getsockname()[1]

    def accept():
        while True:
            try:
                peer, _address = server.accept()
            except OSError:
                return
            Listener.accepted += 1
            peer.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield Listener
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept() above; close() alone does not
    server.close()
    thread.join(timeout=5)


@pytest.mark.django_db
def test_a_mail_server_on_the_servers_own_network_is_refused_when_set(org, default_policy):
    """The IMAP and SMTP hosts are checked before any log-in is tried: a check would otherwise
    tell whoever may edit settings which internal ports answer, and send them the password."""
    api = Api(token_for(org.admin))
    error = assert_error(
        api.post(
            f"/lines/{org.line.pk}/connections",
            {
                "kind": "email",
                "name": "Mail",
                "config": {
                    "address": "support@shop.example",
                    "imap": {"host": "127.0.0.1", "port": 6379, "user": "u", "password": "pw"},
                    "smtp": {"host": "localhost", "port": 5432, "security": "none"},
                },
            },
        ),
        422,
    )
    assert set(error["details"]) == {"config.imap.host", "config.smtp.host"}, error
    assert all("OUTBOUND_ALLOW_NETWORKS" in text for text in error["details"].values())
    assert not org.line.connections.filter(kind="email").exists()


@pytest.mark.nodb
@pytest.mark.parametrize(
    "client",
    [outbound.IMAP4, outbound.IMAP4_SSL, outbound.SMTP, outbound.SMTP_SSL],
    ids=lambda c: c.__name__,
)
def test_the_mail_clients_never_connect_inside(settings, listener, client):
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_ALLOW_NETWORKS": []}
    with pytest.raises(OSError) as error:
        client("127.0.0.1", listener.port, timeout=5)
    assert outbound.refused(error.value)
    assert listener.accepted == 0


@pytest.mark.django_db
def test_a_mailbox_that_now_leads_inside_is_not_read_and_its_replies_fail_for_good(
    org, listener, immediate_tasks, default_policy, django_capture_on_commit_callbacks
):
    """Servers stored under another policy, or names that resolve inside after they were set:
    the fetch is refused and the reply fails without a retry, and neither connects."""
    conn = f.connection(org.line, "email", name="Old mailbox")
    server = {"host": "127.0.0.1", "port": listener.port, "security": "none"}
    mail.configure(
        conn,
        address="support@shop.example",
        imap={**server, "user": "box", "password": "pw"},
        smtp={**server, "user": "", "password": ""},
    )
    conn.save()
    with pytest.raises(OSError) as error:
        mail.fetch(conn)
    assert outbound.refused(error.value)

    conv = f.client_message(conn, "ana@example.net", "Hi", when=f.at(0)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(
            conv.pk, f.act(org.op1), "Hello", now=f.at(0) + dt.timedelta(seconds=5)
        )
    message = Message.objects.get(pk=message.pk)
    assert message.delivery_state == "failed" and message.next_attempt_at is None
    assert "OUTBOUND_ALLOW_NETWORKS" in message.delivery_error
    assert listener.accepted == 0


@pytest.mark.django_db
def test_a_stored_mailbox_that_leads_inside_does_not_block_other_edits(org, default_policy):
    current = {
        "address": "support@shop.example",
        "imap": {"host": "127.0.0.1", "port": 143, "security": "none", "user": "box"},
        "smtp": {"host": "127.0.0.1", "port": 25, "security": "none"},
    }
    config = setup.prepare("email", {"imap": {"folder": "Support"}}, current, probe=False)
    assert config["imap"]["folder"] == "Support"
    with pytest.raises(FieldErrors) as refused:
        setup.prepare("email", {"smtp": {"host": "10.0.0.5"}}, current, probe=False)
    assert set(refused.value.errors) == {"config.smtp.host"}


# Through an HTTP proxy ----------------------------------------------------------------


@pytest.fixture
def proxy(settings):
    """A forward proxy on 127.0.0.1 (OUTBOUND_PROXY) that records the URL of each request and
    answers it itself, so a public destination needs no network."""
    import http.server

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.path)  # the absolute URL a client sends to a proxy
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_CONNECT(self):  # noqa: N802 - an https request's tunnel: recorded, not opened
            seen.append(f"CONNECT {self.path}")
            self.send_response(502)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOUND_PROXY": url}
    yield seen
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _reply_through(org, url, django_capture_on_commit_callbacks) -> Message:
    org.conn.config = {"webhook_url": url}
    org.conn.save()
    conv = f.client_message(org.conn, "client-proxy", "Hi", when=f.at(0)).conversation
    with django_capture_on_commit_callbacks(execute=True):
        message = services.reply(
            conv.pk, f.act(org.op1), "Hello", now=f.at(0) + dt.timedelta(seconds=5)
        )
    return Message.objects.get(pk=message.pk)


@pytest.mark.django_db
def test_webhooks_go_through_the_proxy_the_operator_set_even_on_a_private_address(
    org, default_policy, proxy, immediate_tasks, django_capture_on_commit_callbacks
):
    """The proxy is the operator's own choice (OUTBOUND_PROXY) and is on 127.0.0.1 here, which
    the default policy refuses as a destination; the webhook itself is public."""
    message = _reply_through(org, "http://93.184.216.34/hook", django_capture_on_commit_callbacks)
    assert proxy == ["http://93.184.216.34/hook"]
    assert message.delivery_state == "sent", message.delivery_error


@pytest.mark.django_db
def test_an_https_webhook_asks_the_proxy_for_a_tunnel(
    org, default_policy, proxy, immediate_tasks, django_capture_on_commit_callbacks
):
    """The proxy here refuses the tunnel: a failure to retry, not a refusal of ours."""
    message = _reply_through(org, "https://93.184.216.34/hook", django_capture_on_commit_callbacks)
    assert proxy == ["CONNECT 93.184.216.34:443"]
    assert message.delivery_state == "pending" and message.next_attempt_at is not None
    assert "Tunnel connection failed: 502" in message.delivery_error


@pytest.mark.django_db
def test_through_the_proxy_a_destination_inside_is_still_refused(
    org, default_policy, proxy, immediate_tasks, django_capture_on_commit_callbacks
):
    message = _reply_through(org, "http://127.0.0.1:9/hook", django_capture_on_commit_callbacks)
    assert proxy == []
    assert message.delivery_state == "failed" and message.next_attempt_at is None
    assert "OUTBOUND_ALLOW_NETWORKS" in message.delivery_error


@pytest.mark.nodb
def test_a_mistyped_proxy_stops_the_start_with_its_name():
    done = start_with("OUTBOUND_PROXY", "proxy.corp:3128")
    assert done.returncode != 0
    assert "OUTBOUND_PROXY: give the proxy as http://host:port" in done.stderr


@pytest.mark.django_db
def test_the_telegram_bot_api_goes_through_the_proxy_too(org, bot_api, proxy):
    """The Bot API's address is the operator's (TELEGRAM_API_BASE), so it is not checked; a
    network that needs a proxy needs it for Telegram as well. This proxy answers by itself, with
    what is not a Bot API answer."""
    conn = f.connection(org.line, "telegram", name="Bot")
    conn.config = {"bot_token": crypto.encrypt(bot_api.token), "mode": "polling"}
    with pytest.raises(telegram.TelegramError):
        telegram.call(conn, "getMe", timeout=5)
    assert len(proxy) == 1 and proxy[0].startswith(f"{bot_api.base_url}/bot")
    assert proxy[0].endswith("/getMe")
