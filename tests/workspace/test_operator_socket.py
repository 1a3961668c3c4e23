"""/ws/operator/: refused without a session, and only ever told about conversations the user sees."""

from asgiref.sync import async_to_sync

from convodesk.conversations import outbox, services
from convodesk.conversations.hooks import publishing_suspended
from tests import factories as f

from .sockets import db, drain, operator, receive_until, session_cookie


def run(coro_fn):
    async_to_sync(coro_fn)()


def test_an_anonymous_operator_socket_is_refused(tdb):
    async def scenario():
        comm = operator(None)
        connected, code = await comm.connect()
        assert not connected
        assert code == 4401

    run(scenario)


def test_a_bad_session_cookie_is_refused_like_none(tdb):
    async def scenario():
        comm = operator("not-a-session")
        connected, _code = await comm.connect()
        assert not connected

    run(scenario)


def test_an_operator_socket_never_receives_events_about_conversations_it_may_not_see(tdb, org):
    other_line = f.line("Private line", members=[org.op1])
    other_conn = f.connection(other_line, "api")
    cookie3 = session_cookie(org.op3)
    cookie1 = session_cookie(org.op1)

    async def scenario():
        op3 = operator(cookie3)
        op1 = operator(cookie1)
        assert (await op3.connect())[0] and (await op1.connect())[0]
        await receive_until(op3, lambda m: m["type"] == "hello")
        await receive_until(op1, lambda m: m["type"] == "hello")

        hidden = await db(
            lambda: f.client_message(other_conn, "secret-client", "private").conversation
        )()
        seen_by_op1 = await receive_until(op1, lambda m: m.get("conversation") == hidden.pk)
        assert seen_by_op1["type"] == "event" and seen_by_op1["kind"] == "created"
        await db(lambda: services.take(hidden.pk, f.act(org.op1)))()
        await db(lambda: services.reply(hidden.pk, f.act(org.op1), "only for op1"))()

        shared = await db(
            lambda: f.client_message(org.conn, "shared-client", "hello all").conversation
        )()
        got = await receive_until(op3, lambda m: m.get("conversation") == shared.pk)
        assert got["type"] == "event"
        rest = await drain(op3, 0.5)
        assert all(m.get("conversation") != hidden.pk for m in rest + [got])
        await op3.disconnect()
        await op1.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_a_conversation_taken_by_someone_else_is_announced_as_gone_without_details(tdb, org):
    cookie1 = session_cookie(org.op1)

    async def scenario():
        op1 = operator(cookie1)
        assert (await op1.connect())[0]
        conv = await db(lambda: f.client_message(org.conn, "c1", "hi").conversation)()
        await receive_until(
            op1, lambda m: m.get("conversation") == conv.pk and m["type"] == "event"
        )
        await db(lambda: services.take(conv.pk, f.act(org.op2)))()
        gone = await receive_until(
            op1, lambda m: m.get("conversation") == conv.pk and m["type"] != "event"
        )
        assert gone == {"type": "gone", "id": gone["id"], "conversation": conv.pk}
        await op1.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_a_reconnecting_socket_resumes_after_the_last_event_id_and_gets_nothing_twice(tdb, org):
    cookie = session_cookie(org.admin)

    async def scenario():
        first = operator(cookie)
        assert (await first.connect())[0]
        conv = await db(lambda: f.client_message(org.conn, "c1", "one").conversation)()
        created = await receive_until(first, lambda m: m.get("kind") == "created")
        await first.disconnect()
        # While disconnected, two more things happen.
        await db(lambda: services.take(conv.pk, f.act(org.op1)))()
        await db(lambda: services.reply(conv.pk, f.act(org.op1), "two"))()
        second = operator(cookie, last=created["id"])
        assert (await second.connect())[0]
        frames = [m for m in await drain(second, 0.8) if m["type"] == "event"]
        kinds = [m["kind"] for m in frames if m["conversation"] == conv.pk]
        assert "created" not in kinds
        assert "taken" in kinds and "employee_message" in kinds
        ids = [m["id"] for m in frames]
        assert ids == sorted(set(ids))
        await second.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_events_written_by_another_process_arrive_through_the_polling_hub(tdb, org, settings):
    settings.CONVODESK = {**settings.CONVODESK, "OUTBOX_POLL_SECONDS": 0.1}
    cookie = session_cookie(org.admin)

    async def scenario():
        comm = operator(cookie)
        assert (await comm.connect())[0]
        await receive_until(comm, lambda m: m["type"] == "hello")

        def silently():
            # No publish at all: as if a worker process without a shared layer wrote it.
            with publishing_suspended():
                return f.client_message(org.conn, "quiet", "from the worker").conversation

        conv = await db(silently)()
        got = await receive_until(comm, lambda m: m.get("conversation") == conv.pk, timeout=3)
        assert got["kind"] == "created"
        await comm.disconnect()
        await outbox.stop_hub()

    run(scenario)


def test_a_lowered_role_narrows_an_open_socket_within_its_refresh(tdb, org, monkeypatch):
    """Adversarial pass: a socket opened while its employee could see everything kept seeing
    everything after the role was lowered."""
    from convodesk.accounts.models import Role
    from convodesk.workspace import consumers

    monkeypatch.setattr(consumers, "PERMISSION_TTL", 0)
    boss = f.employee("temp-admin", roles=["Administrator"])
    private = f.connection(f.line("Private line", members=[org.op1]), "api")
    cookie = session_cookie(boss)

    narrowed = lambda: boss.roles.set([Role.objects.get(name="Manager")])  # noqa: E731
    (second, shared), rest = _after_narrowing(cookie, private, narrowed, [private, org.conn])
    assert all(m.get("conversation") != second.pk for m in rest)
    assert shared.pk not in {m.get("conversation") for m in rest}  # not a member there either


def test_a_supervisor_moved_to_another_department_stops_seeing_the_old_one_within_the_refresh(
    tdb, org, monkeypatch
):
    from convodesk.workspace import consumers

    monkeypatch.setattr(consumers, "PERMISSION_TTL", 0)
    private = f.connection(f.line("Private line", members=[org.op1]), "api")  # op1: Sales
    cookie = session_cookie(org.supervisor)  # department level, in Sales

    moved = lambda: org.supervisor.departments.set([org.support])  # noqa: E731
    (second,), rest = _after_narrowing(cookie, private, moved, [private])
    assert second.pk not in {m.get("conversation") for m in rest}


def _after_narrowing(cookie, seen, narrow, later):
    """An operator socket sees a new conversation of `seen`; then `narrow()` runs and a client
    message arrives on each connection of `later`. Returns those conversations and what the
    socket received in the second after."""
    found = {}

    async def scenario():
        comm = operator(cookie)
        assert (await comm.connect())[0]
        await receive_until(comm, lambda m: m["type"] == "hello")
        first = await db(lambda: f.client_message(seen, "c-0", "first").conversation)()
        await receive_until(comm, lambda m: m.get("conversation") == first.pk)
        await db(narrow)()
        found["later"] = [
            await db(lambda c=c, n=n: f.client_message(c, f"c-{n}", "later").conversation)()
            for n, c in enumerate(later, 1)
        ]
        found["rest"] = await drain(comm, 1.0)
        await comm.disconnect()
        await outbox.stop_hub()

    run(scenario)
    return found["later"], found["rest"]
