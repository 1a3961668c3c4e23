"""Random conversation histories written through the services, for the statistics tests."""

import datetime as dt
import random

from convodesk.conversations import services
from convodesk.conversations.lifecycle import IllegalTransition, Status
from convodesk.conversations.models import Conversation

from .. import factories as f

BASE = dt.datetime(2026, 10, 5, 0, 0, tzinfo=dt.UTC)


def random_history(org, seed: int, conversations: int = 40, days: int = 6):
    """Conversations on two lines and two channel kinds, each driven by a random walk of actions."""
    rng = random.Random(seed)
    line2 = f.line(f"Support line {seed}", members=[org.op2, org.op3])
    connections = [
        org.conn,
        f.connection(org.line, "livechat"),
        f.connection(line2, "email"),
        f.connection(line2, "api"),
    ]
    employees = [org.op1, org.op2, org.op3]
    for i in range(conversations):
        conn = rng.choice(connections)
        start = BASE + dt.timedelta(seconds=rng.randrange(days * 86400))
        client = f"client-{seed}-{rng.randrange(conversations // 4 + 1)}"
        if rng.random() < 0.15 and i:
            conv = _outgoing(rng, start, employees, connections)
            if conv is None:
                continue
        else:
            conv = f.client_message(conn, client, "Hello", when=start).conversation
        _walk(rng, conv.pk, start, employees, org, [org.line, line2])
    return connections


def _outgoing(rng, at, employees, connections):
    from convodesk.conversations.models import Client, ClientIdentity

    conn = rng.choice([c for c in connections if c.kind == "email"])
    external = f"out-{rng.randrange(10**9)}@example.com"
    client = Client.objects.create(name=external)
    identity = ClientIdentity.objects.create(client=client, connection=conn, external_id=external)
    try:
        return services.start_outgoing(f.act(rng.choice(employees)), identity, "Hi!", now=at)
    except (IllegalTransition, services.NotAllowed):
        return None


def _walk(rng, pk, t, employees, org, lines):
    for _step in range(rng.randrange(0, 7)):
        t += dt.timedelta(seconds=int(rng.expovariate(1 / 400)) + 1)
        who = f.act(rng.choice(employees))
        action = rng.choice(
            [
                "take",
                "reply",
                "reply",
                "client",
                "close",
                "spam",
                "rate",
                "srate",
                "skip",
                "transfer",
                "transfer_line",
                "duplicate",
            ]
        )
        conv = Conversation.objects.get(pk=pk)
        try:
            if action == "take":
                services.take(pk, who, now=t)
            elif action == "reply":
                services.reply(pk, who, "Answer", now=t)
            elif action == "client":
                f.client_message(conv.connection, conv.identity.external_id, "More", when=t)
            elif action == "close":
                services.close(pk, who, now=t)
            elif action == "spam":
                if rng.random() < 0.5:
                    services.mark_spam(pk, who, now=t)
            elif action == "rate":
                services.client_rate(pk, rng.random() < 0.6, now=t)
            elif action == "srate":
                services.supervisor_rate(pk, f.act(org.admin), rng.randint(1, 5), now=t)
            elif action == "skip":
                services.skip(pk, who, now=t)
            elif action == "transfer":
                services.transfer(pk, f.act(org.admin), to_employee=rng.choice(employees), now=t)
            elif action == "transfer_line":
                services.transfer(pk, f.act(org.admin), to_line=rng.choice(lines), now=t)
            elif action == "duplicate" and rng.random() < 0.2:
                services.mark_duplicate(pk, f.act(org.admin), of_conversation_id=pk, now=t)
        except (IllegalTransition, services.NotAllowed, services.NotFound):
            pass
        if Conversation.objects.get(pk=pk).status >= Status.CLOSED and rng.random() < 0.7:
            return
    if rng.random() < 0.3:
        services.run_due_timers(now=t + dt.timedelta(hours=5))
