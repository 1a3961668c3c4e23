"""The widget socket never carries a private note, live or in the history of the next visit; a
reply's file arrives as a signed link the client can open without an account."""

import secrets

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from convodesk.conversations import outbox, services, uploads
from convodesk.conversations.models import Conversation
from tests import factories as f
from tests.workspace.sockets import db, drain, receive_until, widget

PDF = b"%PDF-1.4 price list"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


async def hello(comm, tok):
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "token": tok, "last": None})
    return await receive_until(comm, lambda m: m["type"] == "ready")


def test_the_widget_gets_the_reply_and_its_file_but_never_the_note(tdb, org):
    conn = f.connection(org.line, "livechat")
    tok = secrets.token_urlsafe(32)
    got = {}

    async def scenario():
        comm = widget(conn.public_key)
        await hello(comm, tok)
        await comm.send_json_to({"type": "message", "id": "note00001", "text": "Prices?"})
        await receive_until(comm, lambda m: m["type"] == "message")
        conv = await db(lambda: Conversation.objects.get(identity__connection=conn))()
        await db(lambda: services.take(conv.pk, f.act(org.op1)))()
        await db(
            lambda: services.add_private_note(conv.pk, f.act(org.op1), "Secret: VIP discount")
        )()
        item = await db(lambda: uploads.store_bytes("prices.pdf", PDF))()
        await db(lambda: services.reply(conv.pk, f.act(org.op1), "Here", attachments=[item]))()
        reply = await receive_until(
            comm, lambda m: m["type"] == "message" and m["author"] == "employee"
        )
        rest = await drain(comm)
        got["live"] = [m for m in [reply, *rest] if m["type"] == "message"]
        await comm.disconnect()
        again = widget(conn.public_key)
        got["history"] = (await hello(again, tok))["messages"]
        await again.disconnect()
        await outbox.stop_hub()

    async_to_sync(scenario)()
    for frames in (got["live"], got["history"]):
        assert "Secret: VIP discount" not in repr(frames)
        assert all(m["author"] in ("client", "employee") for m in frames)
    assert [m["text"] for m in got["history"]] == ["Prices?", "Here"]
    [file] = got["live"][0]["files"]
    assert file["name"] == "prices.pdf" and file["url"].startswith("/connectors/files/")
    assert "uploads/" not in repr(got["live"])  # never the storage name
    response = Client().get(file["url"])  # no session: the signature is the key
    assert response.status_code == 200 and b"".join(response.streaming_content) == PDF
    assert "prices.pdf" in response["Content-Disposition"]
    assert Client().get(file["url"][:-3] + "xx/").status_code == 404
