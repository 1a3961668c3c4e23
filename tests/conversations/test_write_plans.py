"""The write path's look-ups read what they need whatever the tables' statistics say.

A new installation's tables have not been analysed yet (and a busy one's statistics lag): a
client's message must still find their open conversation by the identity's unique key, not by
reading every open conversation of the connection and then their identities. Before the fix that
cost 68 ms at 600 conversations of one connector, and it grew with every conversation.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from convodesk.conversations.services import receive

from .. import factories as f

pytestmark = [
    pytest.mark.postgres_only,
]


def _nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


CONFIGURATION = {"lines_line", "lines_connection"}
LOOKUPS = {
    "open conversation": lambda conn, client: receive._OPEN.build(conn.pk, client),
    "identity, and whether the client wrote to this line before": (
        lambda conn, client: receive._KNOWN_IDENTITY.build(conn.pk, conn.line_id, client)
    ),
}


def _as_never_analysed(cursor) -> None:
    """The tables as a new installation has them: no planner statistics. An earlier test on the
    same database may have analysed its generated data (convodesk/devtools/generate.py), and
    ANALYZE writes a table's size estimates in place, so they outlive that test's rollback and
    the flushes. Undone with this test's transaction."""
    tables = "SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace"
    cursor.execute(f"DELETE FROM pg_statistic WHERE starelid IN ({tables})")
    cursor.execute(
        "UPDATE pg_class SET reltuples = -1, relpages = 0, relallvisible = 0"
        " WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i', 'p')"
    )


@pytest.mark.parametrize("lookup", LOOKUPS)
def test_a_clients_message_reads_their_rows_only_on_tables_not_yet_analysed(org, lookup):
    conn = f.connection(f.line("Busy connector", members=[org.op1]), "api")
    for n in range(40):
        f.client_message(conn, f"client-{n}", "Hello", external_message_id=f"m-{n}")

    queryset = LOOKUPS[lookup](conn, "client-17")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        _as_never_analysed(cursor)
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()[0]

    # The tables that grow with the traffic are read one row each; the lines and connections
    # joined for their settings are an installation's few configuration rows, which a planner
    # may as well read whole. A bitmap index scan counts index entries, the dead versions of a
    # row this transaction updated among them: the bitmap heap scan above it counts the rows.
    scans = [
        n
        for n in _nodes(plan["Plan"])
        if n["Node Type"].endswith("Scan")
        and n["Node Type"] != "Bitmap Index Scan"
        and n.get("Relation Name") not in CONFIGURATION
    ]
    assert scans
    for scan in scans:
        read = scan["Actual Rows"] * scan["Actual Loops"] + scan.get("Rows Removed by Filter", 0)
        assert read <= 1, (scan["Node Type"], scan.get("Index Name"), read, json.dumps(plan))
    # And it is the client's row.
    (found,) = queryset
    identity = found if lookup.startswith("identity") else found.identity
    assert identity.external_id == "client-17"
