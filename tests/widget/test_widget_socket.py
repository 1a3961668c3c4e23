"""/ws/widget/<key>/: the client's side of a live chat, over the real routing."""

import secrets

from asgiref.sync import async_to_sync

from convodesk.connectors import livechat
from convodesk.conversations import outbox, services
from convodesk.conversations.models import Conversation, Message
from tests import factories as f
from tests.workspace.sockets import db, drain, operator, receive_until, session_cookie, widget


def run(coro_fn):
    async_to_sync(coro_fn)()


def token():
    return secrets.token_urlsafe(32)


async def hello(comm, tok, last=None):
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "token": tok, "last": last})
    return await receive_until(comm, lambda m: m["type"] == "ready")


def livechat_org(org, **conn):
    return f.connection(org.line, "livechat", **conn)


def test_an_unknown_key_gets_a_clear_refusal(tdb):
    async def scenario():
        comm = widget("no-such-key")
        await comm.connect()
        refusal = await receive_until(comm, lambda m: True)
        assert refusal["type"] == "error" and refusal["code"] == "unknown_key" and refusal["fatal"]
        closed = await receive_until(comm, lambda m: True)
        assert closed == {"type": "__closed__", "code": 4404}

    run(scenario)


def test_an_origin_not_in_the_allowed_list_is_refused(tdb, org):
    conn = livechat_org(org, allowed_origins=["https://shop.example.com"])

    async def scenario():
        bad = widget(conn.public_key, origin="https://evil.example.net")
        await bad.connect()
        refusal = await receive_until(bad, lambda m: True)
        assert refusal["code"] == "origin"
        good = widget(conn.public_key, origin="https://shop.example.com")
        ready = await hello(good, token())
        assert ready["messages"] == []
        await good.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_a_client_message_starts_a_conversation_and_the_operator_reply_comes_back_live(tdb, org):
    conn = livechat_org(org)
    tok = token()

    async def scenario():
        comm = widget(conn.public_key)
        await hello(comm, tok)
        await comm.send_json_to(
            {
                "type": "message",
                "id": "abcdef123456",
                "text": "Do you ship to Madrid?",
                "url": "https://shop.example.com/bikes/7",
                "name": "Ana",
                "email": "ana@example.com",
            }
        )
        echo = await receive_until(comm, lambda m: m["type"] == "message")
        assert echo["author"] == "client" and echo["client_id"] == "abcdef123456"
        conv = await db(
            lambda: Conversation.objects.select_related("client").get(identity__connection=conn)
        )()
        assert conv.source_url == "https://shop.example.com/bikes/7"
        assert conv.client.name == "Ana" and conv.client.email == "ana@example.com"
        assert conv.identity_id and tok not in (await db(lambda: conv.identity.external_id)())

        await db(lambda: services.take(conv.pk, f.act(org.op1)))()
        state = await receive_until(comm, lambda m: m["type"] == "state" and m.get("operator"))
        assert state["operator"] == org.op1.name
        message = await db(lambda: services.reply(conv.pk, f.act(org.op1), "Yes, in two days."))()
        reply = await receive_until(
            comm, lambda m: m["type"] == "message" and m["author"] == "employee"
        )
        assert reply["text"] == "Yes, in two days." and reply["name"] == org.op1.name
        await db(message.refresh_from_db)()
        assert message.delivery_state == Message.Delivery.SENT
        await comm.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_typing_goes_both_ways_between_the_widget_and_the_operator_who_has_it_open(tdb, org):
    conn = livechat_org(org)
    cookie = session_cookie(org.op1)

    async def scenario():
        client = widget(conn.public_key)
        await hello(client, token())
        await client.send_json_to({"type": "message", "id": "m0000001", "text": "hi"})
        await receive_until(client, lambda m: m["type"] == "message")
        conv = await db(lambda: Conversation.objects.get(identity__connection=conn))()
        op = operator(cookie)
        assert (await op.connect())[0]
        await op.send_json_to({"type": "open", "conversation": conv.pk})
        await drain(op, 0.3)
        await op.send_json_to({"type": "typing", "conversation": conv.pk})
        typing = await receive_until(client, lambda m: m["type"] == "typing")
        assert typing["name"] == org.op1.name
        await client.send_json_to({"type": "typing"})
        seen = await receive_until(op, lambda m: m["type"] == "typing")
        assert seen["conversation"] == conv.pk
        await client.disconnect()
        await op.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_one_widget_client_never_receives_another_clients_messages(tdb, org):
    conn = livechat_org(org)

    async def scenario():
        alice, bob = widget(conn.public_key), widget(conn.public_key)
        await hello(alice, token())
        await hello(bob, token())
        await alice.send_json_to({"type": "message", "id": "alice0001", "text": "alice secret"})
        await bob.send_json_to({"type": "message", "id": "bob000001", "text": "bob secret"})
        await receive_until(alice, lambda m: m["type"] == "message")
        await receive_until(bob, lambda m: m["type"] == "message")
        # Alice's conversation first: two sockets' messages may be stored in either order.
        convs = await db(
            lambda: sorted(
                Conversation.objects.filter(connection=conn),
                key=lambda c: c.messages.order_by("id").first().text != "alice secret",
            )
        )()
        assert len(convs) == 2
        for conv in convs:
            await db(lambda c=conv: services.reply(c.pk, f.act(org.op1), f"reply to #{c.pk}"))()
        got_alice = await drain(alice, 0.8)
        got_bob = await drain(bob, 0.8)
        alice_texts = {m.get("text") for m in got_alice}
        bob_texts = {m.get("text") for m in got_bob}
        assert "bob secret" not in alice_texts and "alice secret" not in bob_texts
        assert (
            f"reply to #{convs[0].pk}" in alice_texts
            and f"reply to #{convs[1].pk}" not in alice_texts
        )
        assert (
            f"reply to #{convs[1].pk}" in bob_texts and f"reply to #{convs[0].pk}" not in bob_texts
        )
        await alice.disconnect()
        await bob.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_the_history_is_there_on_the_next_visit_and_the_client_rates_after_the_close(tdb, org):
    conn = livechat_org(org)
    tok = token()

    async def scenario():
        first = widget(conn.public_key)
        await hello(first, tok)
        await first.send_json_to(
            {"type": "message", "id": "visit0001", "text": "<img src=x onerror=alert(1)>"}
        )
        await receive_until(first, lambda m: m["type"] == "message")
        await first.disconnect()
        conv = await db(lambda: Conversation.objects.get(identity__connection=conn))()
        await db(lambda: services.reply(conv.pk, f.act(org.op1), "Hello!"))()
        await db(lambda: services.close(conv.pk, f.act(org.op1)))()

        again = widget(conn.public_key)
        ready = await hello(again, tok)
        assert [m["text"] for m in ready["messages"]] == ["<img src=x onerror=alert(1)>", "Hello!"]
        assert ready["state"]["closed"] and ready["state"]["can_rate"]
        await again.send_json_to({"type": "rate", "like": True})
        state = await receive_until(again, lambda m: m["type"] == "state" and m.get("rating"))
        assert state["rating"] == "like" and not state["can_rate"]
        await again.send_json_to({"type": "rate", "like": False})
        refusal = await receive_until(again, lambda m: m["type"] == "error")
        assert refusal["code"] == "cannot_rate"
        await db(conv.refresh_from_db)()
        assert conv.client_rating == 1
        stranger = widget(conn.public_key)
        assert (await hello(stranger, token()))["messages"] == []
        for comm in (again, stranger):
            await comm.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_too_long_messages_floods_and_unreadable_tokens_are_refused(tdb, org):
    conn = livechat_org(org, config={"max_length": 50, "per_token": 3, "window_seconds": 60})
    livechat.limiter.levels.clear()

    async def scenario():
        bad = widget(conn.public_key)
        await bad.connect()
        await bad.send_json_to({"type": "hello", "token": "1"})
        assert (await receive_until(bad, lambda m: True))["code"] == "bad_token"

        comm = widget(conn.public_key)
        await hello(comm, token())
        await comm.send_json_to({"type": "message", "text": "x" * 51})
        assert (await receive_until(comm, lambda m: m["type"] == "error"))["code"] == "too_long"
        await comm.send_to(text_data="{" * 10_000)
        assert (await receive_until(comm, lambda m: m["type"] == "error"))["code"] == "too_long"
        await comm.send_to(text_data="not json")
        assert (await receive_until(comm, lambda m: m["type"] == "error"))["code"] == "bad_request"
        for i in range(3):
            await comm.send_json_to({"type": "message", "text": f"m{i}"})
        await comm.send_json_to({"type": "message", "text": "one too many"})
        assert (await receive_until(comm, lambda m: m["type"] == "error"))["code"] == "rate_limited"
        await comm.disconnect()
        await outbox.stop_hub()

    run(scenario)
    assert Message.objects.filter(conversation__connection=conn).count() == 3


def test_a_hello_past_the_end_of_the_event_log_still_gets_the_replies(tdb, org):
    """Adversarial pass of issue 16: `last` beyond the log's end was echoed and kept as the
    cursor, so the widget heard nothing until the log grew past it."""
    conn = livechat_org(org)
    tok = token()

    async def scenario():
        first = widget(conn.public_key)
        await hello(first, tok)
        await first.send_json_to({"type": "message", "id": "m0000001", "text": "hi"})
        await receive_until(first, lambda m: m["type"] == "message")
        await first.disconnect()
        conv = await db(lambda: Conversation.objects.get(identity__connection=conn))()
        latest = await db(outbox.latest_id)()
        again = widget(conn.public_key)
        ready = await hello(again, tok, last=10**17)
        assert ready["last"] == latest
        await db(lambda: services.take(conv.pk, f.act(org.op1)))()
        await db(lambda: services.reply(conv.pk, f.act(org.op1), "Hello!"))()
        reply = await receive_until(
            again, lambda m: m["type"] == "message" and m["author"] == "employee"
        )
        assert reply["text"] == "Hello!"
        await again.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_an_operator_who_loses_a_conversation_stops_hearing_its_typing(tdb, org, monkeypatch):
    """Adversarial pass of issue 16: the workspace socket stayed in the conversation's group
    after its employee lost sight of the conversation, and kept getting its typing and delivery."""
    from convodesk.accounts.models import Role
    from convodesk.workspace import consumers

    monkeypatch.setattr(consumers, "PERMISSION_TTL", 0)
    conn = livechat_org(org)
    cookie = session_cookie(org.op1)
    blind = Role.objects.create(name="Blind", view_conversations=0, view_history=0)

    async def scenario():
        client = widget(conn.public_key)
        await hello(client, token())
        await client.send_json_to({"type": "message", "id": "m0000001", "text": "hi"})
        await receive_until(client, lambda m: m["type"] == "message")
        conv = await db(lambda: Conversation.objects.get(identity__connection=conn))()
        await db(lambda: services.take(conv.pk, f.act(org.op1)))()
        op = operator(cookie)
        assert (await op.connect())[0]
        await op.send_json_to({"type": "open", "conversation": conv.pk})
        await drain(op, 0.3)
        await client.send_json_to({"type": "typing"})
        assert (await receive_until(op, lambda m: m["type"] == "typing"))["conversation"] == conv.pk
        await db(lambda: org.op1.roles.set([blind]))()
        await db(lambda: services.transfer(conv.pk, f.act(org.admin), to_employee=org.op2))()
        await receive_until(op, lambda m: m["type"] == "gone" and m["conversation"] == conv.pk)
        await client.send_json_to({"type": "typing"})
        assert not [m for m in await drain(op, 0.6) if m["type"] in ("typing", "delivery")]
        await client.disconnect()
        await op.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_the_reads_of_every_echo_are_compiled_once_not_at_each_echo(tdb, org):
    """An echo follows each of the client's messages: its reads (the events after the socket's
    cursor, their messages, the client's newest conversation) are compiled on first use and
    reused (`Prepared`). A filter that Prepared cannot reuse would silently compile at every
    echo again (BENCHMARKS.md, "Stop 30": the echo's share of a web process)."""
    from convodesk.prepared import _UNUSABLE

    received = f.client_message(org.conn, "echo-client", "Hello")
    identity = received.conversation.identity_id
    events = outbox.events_after(outbox.Cursor(0), conversation__identity_id=identity)
    assert events and {e.conversation_id for e in events} == {received.conversation.pk}
    assert livechat._LATEST.first(identity).pk == received.conversation.pk
    assert [m.pk for m in livechat._MESSAGES(received.message.pk)] == [received.message.pk]
    for read in (
        outbox._EVENTS[("conversation__identity_id",)],
        livechat._LATEST,
        livechat._MESSAGES,
    ):
        assert read.compiled and _UNUSABLE not in read.compiled.values()
