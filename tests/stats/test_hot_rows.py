"""Concurrent writers of one channel do not queue behind each other's rollup rows (issue 17).

Every transaction of a channel moves that channel's coarse rows (the 16-day row per channel
kind, the hour's row of its queue). PostgreSQL only: row locks across real connections.
"""

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum

from convodesk.stats import rollups
from convodesk.stats.models import Participation, Rollup, RollupBucket

from .. import factories as f

pytestmark = [
    pytest.mark.postgres_only("row locks"),
    pytest.mark.django_db(transaction=True),
]

KEY = ("tier", "period", "line_id", "channel", "responsible_key", "type", "status")


def _totals():
    """Every key's figures summed over its shards."""
    measures = {c: Sum(c) for c in rollups.COLUMNS}
    rows = {
        tuple(r[k] for k in KEY): tuple(r[c] for c in rollups.COLUMNS)
        for r in Rollup.objects.values(*KEY).annotate(**measures).order_by()
    }
    buckets = {
        tuple(r[k] for k in (*KEY, "metric", "bucket")): r["s"]
        for r in RollupBucket.objects.values(*KEY, "metric", "bucket")
        .annotate(s=Sum("n"))
        .order_by()
    }
    people = {
        tuple(r[k] for k in rollups.PARTICIPATION_KEY): tuple(
            r[c] for c in rollups.PARTICIPATION_COLUMNS
        )
        for r in Participation.objects.values(*rollups.PARTICIPATION_KEY)
        .annotate(**{c: Sum(c) for c in rollups.PARTICIPATION_COLUMNS})
        .order_by()
    }
    return (
        {k: v for k, v in rows.items() if any(v)},
        {k: v for k, v in buckets.items() if v},
        {k: v for k, v in people.items() if any(v)},
    )


def _second_writer_while_the_first_holds_its_transaction(conn, first_pk):
    """Thread A writes a client's follow-up and keeps its transaction open; thread B then starts
    another client's conversation on the same channel. Returns B's outcome and seconds."""
    written, release = threading.Event(), threading.Event()
    outcome = {}

    def first():
        try:
            with transaction.atomic():
                f.client_message(conn, "client-a", "Still there?", when=f.at(30))
                written.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    def second():
        try:
            written.wait(timeout=30)
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
            began = time.monotonic()
            try:
                f.client_message(conn, "client-b", "Hello", when=f.at(40))
                outcome["result"] = "written"
            except Exception as exc:  # noqa: BLE001 - the test reports what B got
                outcome["result"] = f"{type(exc).__name__}: {exc}"
            outcome["seconds"] = time.monotonic() - began
        finally:
            release.set()
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return outcome


def test_two_writers_of_one_channel_do_not_wait_for_each_other_and_totals_stay_exact(org):
    conn = f.connection(f.line("Busy", members=[org.op1, org.op2]), "api")
    first = f.client_message(conn, "client-a", "Hi", when=f.at(0)).conversation

    outcome = _second_writer_while_the_first_holds_its_transaction(conn, first.pk)

    assert outcome["result"] == "written", outcome
    assert outcome["seconds"] < 1.5, outcome
    # Both wrote the same keys, on different rows of them...
    assert Rollup.objects.filter(tier=1).values("shard").distinct().count() >= 2
    # ...and the sums over the shards are exactly what a rebuild from the conversations gives.
    kept = _totals()
    rollups.rebuild()
    assert _totals() == kept
    assert Rollup.objects.exclude(shard=0).count() == 0  # a rebuild folds the shards


def test_with_one_row_per_key_the_second_writer_waits_for_the_first(org, monkeypatch):
    """The situation the shards remove: one row per key, locked by A's upsert until commit."""
    monkeypatch.setitem(rollups.SHARDS, "postgresql", 1)
    conn = f.connection(f.line("Busy", members=[org.op1, org.op2]), "api")
    first = f.client_message(conn, "client-a", "Hi", when=f.at(0)).conversation

    outcome = _second_writer_while_the_first_holds_its_transaction(conn, first.pk)

    assert "lock timeout" in outcome["result"], outcome
