"""Builders for export and bulk tests: conversations through the services, or many rows at once."""

import datetime as dt

from convodesk.conversations import services
from convodesk.conversations.lifecycle import Status
from convodesk.conversations.models import Client, ClientIdentity, Conversation

from .. import factories as f


def handled(conn, client, by=None, start=0, take=None, reply=None, close=None, text="Hello"):
    """A conversation from `client` at at(start); `by` takes, replies and closes after the given seconds."""
    conversation = f.client_message(conn, client, text, when=f.at(start)).conversation
    if take is not None:
        services.take(conversation.pk, f.act(by), now=f.at(start + take))
    if reply is not None:
        services.reply(conversation.pk, f.act(by), "On it", now=f.at(start + reply))
    if close is not None:
        services.close(conversation.pk, f.act(by), now=f.at(start + close))
    conversation.refresh_from_db()
    return conversation


def many_closed(count, line, conn, batch=5000, start=f.T0):
    """`count` closed conversations written with bulk_create (closed rows may share an identity)."""
    client = Client(name="Bulk Client", phone="+34 600 000 000", email="bulk@example.com")
    client.set_contact(phone=client.phone, email=client.email, country="ES")
    client.save()
    identity = ClientIdentity.objects.create(
        client=client, connection=conn, external_id=f"bulk-{count}-{int(start.timestamp())}"
    )
    made = 0
    while made < count:
        rows = []
        for i in range(made, min(count, made + batch)):
            began = start + dt.timedelta(minutes=i)
            rows.append(
                Conversation(
                    line=line,
                    connection=conn,
                    channel=conn.kind,
                    client=client,
                    identity=identity,
                    status=Status.CLOSED,
                    started_at=began,
                    updated_at=began + dt.timedelta(minutes=30),
                    taken_at=began + dt.timedelta(seconds=40),
                    first_reply_at=began + dt.timedelta(seconds=90),
                    last_message_at=began + dt.timedelta(minutes=20),
                    agent_closed_at=began + dt.timedelta(minutes=30),
                    closed_at=began + dt.timedelta(minutes=30),
                    closed_by="employee",
                    message_count=i % 17 + 2,
                    agent_response_time=40,
                    first_answer_wait=90,
                    duration=1200 + i % 600,
                    time_to_agent_close=1800,
                    excerpt=f"Question number {i} about an order",
                    client_rating=(1, -1, None)[i % 3],
                )
            )
        Conversation.objects.bulk_create(rows, batch_size=1000)
        made += len(rows)
    return identity
