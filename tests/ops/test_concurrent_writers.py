"""Writers from several threads wait their turn: none of them fails because another one is busy.

A reply from the workspace, a widget message and the worker's delivery may commit at the same
instant; each must be saved, never answered with "database is locked".
"""

import threading

import pytest
from django.db import connection, transaction

from tests import factories as f


@pytest.mark.django_db(transaction=True)
def test_a_message_is_saved_while_another_thread_holds_a_write_transaction():
    conn = f.connection(f.line())
    conversation = f.client_message(conn, client="ana", text="First").conversation
    holding, done = threading.Event(), threading.Event()
    failures = []

    def other_writer():
        try:
            with transaction.atomic():
                f.client_message(conn, client="luis", text="Another client's message")
                holding.set()
                done.wait(timeout=0.5)  # still inside its transaction when the second one starts
        except Exception as error:  # pragma: no cover - reported below
            failures.append(error)
            holding.set()
        finally:
            connection.close()

    writer = threading.Thread(target=other_writer)
    writer.start()
    assert holding.wait(timeout=30)
    try:
        f.client_message(conn, client="ana", text="Second, written beside the other writer")
    finally:
        done.set()
        writer.join(timeout=30)
    assert not failures
    assert conversation.messages.count() == 2
