"""Socket origins match scheme, host and port exactly (issue 15, item 9)."""

import secrets

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from convodesk.conversations import outbox
from convodesk.routing import websocket_application
from tests import factories as f
from tests.workspace.sockets import receive_until, session_cookie

APP = websocket_application()


def run(coro_fn):
    async_to_sync(coro_fn)()


def widget(key, origin, host="testserver"):
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(APP, f"/ws/widget/{key}/", headers=headers)


def operator(cookie, origin, host="testserver"):
    headers = [(b"host", host.encode()), (b"cookie", f"sessionid={cookie}".encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(APP, "/ws/operator/", headers=headers)


async def widget_admitted(key, origin, host="testserver") -> bool:
    comm = widget(key, origin, host)
    connected, _code = await comm.connect()
    assert connected  # the widget accepts, then explains a refusal before closing
    await comm.send_json_to({"type": "hello", "token": secrets.token_urlsafe(32)})
    first = await receive_until(comm, lambda m: True)
    if first["type"] == "error":
        assert first["code"] == "origin"
        await receive_until(comm, lambda m: m["type"] == "__closed__")
        return False
    assert first["type"] == "ready"
    await comm.disconnect()
    return True


def test_a_widget_admits_a_listed_origin_only_on_its_exact_scheme_host_and_port(tdb, org):
    conn = f.connection(org.line, "livechat", allowed_origins=["https://shop.example.com:8443"])

    async def scenario():
        assert await widget_admitted(conn.public_key, "https://shop.example.com:8443")
        assert await widget_admitted(conn.public_key, "HTTPS://Shop.Example.com:8443")
        for other in (
            "https://shop.example.com",  # another port
            "https://shop.example.com:9443",
            "http://shop.example.com:8443",  # the other scheme
            "https://evil.shop.example.com:8443",
            "null",
        ):
            assert not await widget_admitted(conn.public_key, other), other
        await outbox.stop_hub()

    run(scenario)


def test_another_port_on_the_products_own_host_is_another_site(tdb, org):
    conn = f.connection(org.line, "livechat", allowed_origins=["https://shop.example.com"])

    async def scenario():
        # The product's own page (the demo) is admitted...
        assert await widget_admitted(conn.public_key, "http://testserver")
        # ...but not a page served on another port of the same host.
        assert not await widget_admitted(conn.public_key, "http://testserver:8081")
        assert not await widget_admitted(conn.public_key, "http://localhost:8081")
        await outbox.stop_hub()

    run(scenario)


def test_a_new_widget_accepts_only_the_installations_own_origin(tdb, org, settings):
    conn = f.connection(org.line, "livechat")  # nothing listed yet
    settings.CONVODESK = {**settings.CONVODESK, "PUBLIC_URL": "https://chat.example.org/"}

    async def scenario():
        assert await widget_admitted(conn.public_key, "https://chat.example.org")
        assert await widget_admitted(conn.public_key, "http://testserver")  # the socket's host
        assert not await widget_admitted(conn.public_key, "https://any-shop.example.com")
        assert not await widget_admitted(conn.public_key, "http://chat.example.org")
        assert not await widget_admitted(conn.public_key, None)  # no Origin header at all
        await outbox.stop_hub()

    run(scenario)


def test_a_host_outside_allowed_hosts_is_not_the_installations_own_origin(tdb, org):
    conn = f.connection(org.line, "livechat")

    async def scenario():
        # DNS rebinding: the page and the Host header both name the attacker's domain.
        assert not await widget_admitted(conn.public_key, "http://evil.example", "evil.example")
        await outbox.stop_hub()

    run(scenario)


def test_the_operator_socket_accepts_only_the_products_exact_origin(tdb, org, settings):
    cookie = session_cookie(org.op1)
    settings.CSRF_TRUSTED_ORIGINS = ["https://desk.example.org"]

    async def scenario():
        for origin, admitted in [
            ("http://testserver", True),
            ("https://desk.example.org", True),
            ("http://testserver:8080", False),  # same host, another port
            ("https://testserver", False),  # same host, another scheme
            ("https://desk.example.org:444", False),
            ("https://evil.example", False),
            (None, False),
        ]:
            comm = operator(cookie, origin)
            connected, _code = await comm.connect()
            assert connected is admitted, origin
            await comm.disconnect()
        await outbox.stop_hub()

    run(scenario)
