"""`convodesk.prepared`: a read compiled once returns what the queryset returns, for any values."""

import pytest
from django.db import connection
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext

from convodesk.conversations.models import ClientIdentity, Conversation
from convodesk.conversations.services import receive
from convodesk.lines.models import Connection
from convodesk.prepared import _UNUSABLE, Prepared

from .. import factories as f


def test_a_prepared_read_binds_new_values_into_the_sql_compiled_once(org):
    line = f.line("Prepared", members=[org.op1])
    conn = f.connection(line, "api")
    for n in range(3):
        f.client_message(conn, f"client-{n}", "Hi", when=f.at(n))
    build = lambda connection_id, line_id, external_id: (  # noqa: E731
        receive._known_identity(connection_id, line_id, external_id)
    )
    prepared = Prepared(build)
    for n in range(3):
        rows = prepared(conn.pk, line.pk, f"client-{n}")
        expected = list(build(conn.pk, line.pk, f"client-{n}"))
        assert len(rows) == 1 and rows[0].pk == expected[0].pk
        assert rows[0].external_id == f"client-{n}" and rows[0].client.pk == expected[0].client_id
        assert rows[0].returning is True and rows[0]._state.adding is False
        assert rows[0].client.name == expected[0].client.name
    assert prepared(conn.pk, line.pk, "nobody") == []
    assert prepared(conn.pk + 1000, line.pk, "client-0") == []
    # Compiled once: later calls run one statement each and build no queryset.
    calls = []
    prepared.build = lambda *a: calls.append(a) or build(*a)
    with CaptureQueriesContext(connection) as queries:
        assert prepared.first(conn.pk, line.pk, "client-1").external_id == "client-1"
    assert len(queries) == 1 and calls == []


def test_select_related_annotations_and_converters_come_back_as_the_queryset_gives_them(org):
    line = f.line("Prepared", members=[org.op1])
    conn = f.connection(line, "api")
    received = f.client_message(conn, "c", "Hi", when=f.at(0))
    lock = Prepared(
        lambda pk: Conversation.objects.select_related("line", "connection").filter(pk=pk)
    )
    got = lock.first(received.conversation.pk)
    want = Conversation.objects.select_related("line", "connection").get(
        pk=received.conversation.pk
    )
    assert got.started_at == want.started_at and got.started_at.tzinfo is not None
    assert got.line.name == "Prepared" and got.connection.pk == conn.pk
    assert {k: v for k, v in vars(got).items() if k != "_state"} == {
        k: v for k, v in vars(want).items() if k != "_state"
    }
    assert lock.first(received.conversation.pk + 1000) is None


def test_values_a_marker_cannot_stand_for_are_read_without_the_cache(org):
    line = f.line("Prepared", members=[org.op1])
    conn = f.connection(line, "api", name="Prepared connection")
    # A transformed value (icontains wraps it in %…%) and a model instance: built every time.
    by_name = Prepared(lambda name: Connection.objects.filter(name__icontains=name))
    assert [c.pk for c in by_name("pared conn")] == [conn.pk]
    assert [c.pk for c in by_name("nothing like it")] == []
    by_line = Prepared(lambda line_: Connection.objects.filter(line=line_))
    assert [c.pk for c in by_line(line)] == [conn.pk]
    assert list(by_name.compiled.values()) == list(by_line.compiled.values()) == [_UNUSABLE]
    assert ClientIdentity.objects.count() == 0


@pytest.mark.postgres_only("server-side prepared statements")
def test_postgresql_prepares_a_read_once_per_connection_and_plans_it_no_more(org, settings):
    """Planning the joined look-ups took three to five times as long as running them."""
    line = f.line("Prepared", members=[org.op1])
    conn = f.connection(line, "api")
    received = f.client_message(conn, "c", "Hi", when=f.at(0))
    lock = Prepared(lambda pk: Conversation.objects.select_related("line").filter(pk=pk))

    def prepared_here():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                ['%"conversations_conversation"."id" = $1%'],
            )
            return cursor.fetchone()[0]

    before = prepared_here()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert lock.first(received.conversation.pk).line.name == "Prepared"
        assert lock.first(received.conversation.pk + 1000) is None
    # Still seen by Django's query log, with their values.
    assert len(queries) == 4 and all(str(received.conversation.pk) in q["sql"] for q in queries[:3])
    assert prepared_here() == before + 1

    settings.CONVODESK = {**settings.CONVODESK, "PG_PREPARED": False}
    other = Prepared(lambda pk: Conversation.objects.select_related("connection").filter(pk=pk))
    assert other.first(received.conversation.pk).connection.pk == conn.pk
    assert prepared_here() == before + 1


def test_a_literal_percent_in_a_prepared_read_survives_the_numbered_placeholders(org):
    """On PostgreSQL the statement is sent with `$1` placeholders written once: Django's `%%`
    (a literal percent) becomes `%`, each `%s` the next number."""
    line = f.line("Prepared", members=[org.op1])
    conn = f.connection(line, "api")
    received = f.client_message(conn, "c", "Hi", when=f.at(0))
    read = Prepared(
        lambda pk, name: (
            Conversation.objects.annotate(share=RawSQL("'50%%'", ()))
            .select_related("line")
            .filter(pk=pk, line__name=name)
        )
    )
    for _ in range(2):
        found = read.first(received.conversation.pk, "Prepared")
        assert found.share == "50%" and found.line.name == "Prepared"
    assert read.first(received.conversation.pk, "Another line") is None
