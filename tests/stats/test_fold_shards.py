"""The timers loop folds the rollup shards of closed periods into shard 0 (issue 17 item 3):
the figures stay exact, the rows per key shrink to one, and a late write to a folded period
adds up again. SQLite writes shard 0 only; the tests make its connection write other shards."""

import datetime as dt
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count, Sum

from convodesk.conversations import services
from convodesk.conversations.models import Tag
from convodesk.stats import rollups
from convodesk.stats.models import Rollup

from .. import factories as f
from .builders import BASE, random_history

LATER = BASE + dt.timedelta(days=60)  # every span of the histories has ended


def _measures(model, key):
    return [
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and f.attname not in (*key, "shard")
    ]


def totals():
    """Every table's non-empty keys with their figures summed over the shards."""
    state = {}
    for model, key in rollups.FOLDED:
        measures = _measures(model, key)
        rows = model.objects.values(*key).annotate(**{m: Sum(m) for m in measures}).order_by()
        state[model.__name__] = {
            tuple(r[k] for k in key): tuple(r[m] for m in measures)
            for r in rows
            if any(r[m] for m in measures)
        }
    return state


def row_counts():
    return {model.__name__: model.objects.count() for model, _key in rollups.FOLDED}


@pytest.fixture
def shards(monkeypatch):
    """Rollups sharded on SQLite too; the test's connection writes the shard it is given."""
    monkeypatch.setattr(rollups, "SHARDS", {connection.vendor: 8})
    yield
    if hasattr(connection, "convodesk_shard"):
        del connection.convodesk_shard  # the next tests' writes take their own again


def write_with_shard(shard):
    """This connection writes rollup shard `shard` from now on."""
    connection.convodesk_shard = shard


def fold_all(limit=rollups.FOLD_ROWS) -> int:
    removed = total = rollups.fold_shards(now=LATER, limit=limit)
    while removed:
        removed = rollups.fold_shards(now=LATER, limit=limit)
        total += removed
    return total


def test_folding_keeps_every_figure_leaves_one_row_per_key_and_a_late_write_adds_up(org, shards):
    vip = Tag.objects.create(name="VIP", colour="red")
    admin = f.act(org.admin)
    for seed, shard in ((1, 1), (2, 5), (3, 0), (4, 7), (5, 3)):
        write_with_shard(shard)
        random_history(org, seed=seed, conversations=12, days=3)
        # The per-tag rows too: every shard tags a conversation of the first hour.
        tagged = f.client_message(
            org.conn, f"tagged-{seed}", "Hi", when=BASE + dt.timedelta(minutes=seed)
        )
        services.change_tags(
            tagged.conversation.pk, admin, add=[vip.pk], now=BASE + dt.timedelta(minutes=30)
        )
    before, rows_before = totals(), row_counts()
    shards = dict(
        Rollup.objects.filter(tier=0).values_list("shard").annotate(n=Count("id")).order_by()
    )
    assert set(shards) == {0, 1, 3, 5, 7}, shards
    # The 16-day rows of a channel kind were written from every shard: up to 5 rows a key.
    assert Rollup.objects.values(*rollups.KEY).annotate(n=Count("id")).filter(n__gt=1).exists()

    # A period not ended (or ended less than FOLD_SETTLE ago) is left alone.
    assert rollups.fold_shards(now=BASE) == 0
    removed = fold_all(limit=50)  # in several short transactions
    assert removed > 0
    assert totals() == before
    after = row_counts()
    assert after["Rollup"] < rows_before["Rollup"]
    assert after["RollupBucket"] < rows_before["RollupBucket"]
    assert after["Participation"] < rows_before["Participation"]
    assert after["LabelRollup"] < rows_before["LabelRollup"]
    for model, key in rollups.FOLDED:
        assert not model.objects.filter(shard__gt=0).exists(), model
        assert not model.objects.values(*key).annotate(n=Count("id")).filter(n__gt=1).exists()
    assert rollups.fold_shards(now=LATER) == 0  # idempotent
    assert totals() == before

    # A late write to a folded period (a conversation of then, changed now) from shard 6.
    write_with_shard(6)
    conv = f.client_message(org.conn, "late", "Hello", when=BASE + dt.timedelta(hours=1))
    services.reply(
        conv.conversation.pk, f.act(org.op1), "Hi", now=BASE + dt.timedelta(hours=1, minutes=2)
    )
    services.close(conv.conversation.pk, f.act(org.op1), now=BASE + dt.timedelta(hours=2))
    assert Rollup.objects.filter(shard=6).exists()
    late = totals()
    assert late != before
    # The sums are exact: a rebuild from the conversations finds the same figures ...
    rollups.rebuild()
    assert totals() == late
    assert not Rollup.objects.filter(shard__gt=0).exists()  # (a rebuild writes shard 0)


@pytest.mark.postgres_only("row locks")
@pytest.mark.django_db(transaction=True)
def test_a_fold_skips_the_rows_a_writer_holds_and_the_writer_adds_up_after_it(org, shards):
    """A writer of an old period (shard 3) holds its transaction open while the timers fold:
    the fold does not wait for the rows it holds, folds what is free, and after the writer
    commits its figures count once and the next fold takes its rows."""
    for shard in (1, 2, 3):
        write_with_shard(shard)
        random_history(org, seed=shard, conversations=8, days=3)
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def writer():
        try:
            connection.convodesk_shard = 3  # this thread's own connection
            with transaction.atomic():
                f.client_message(org.conn, "late", "Hello", when=BASE + dt.timedelta(hours=1))
                written.set()
                release.wait(timeout=30)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            done.set()
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(timeout=30)
        began = time.monotonic()
        assert fold_all() > 0
        assert time.monotonic() - began < 5  # did not wait for the writer's rows
        # ... which it left as they are (the channel's 16-day row of shard 3, among others).
        assert Rollup.objects.filter(shard=3).exists()
        assert not Rollup.objects.filter(shard__in=(1, 2)).exists()
    finally:
        release.set()
        thread.join(timeout=60)
    assert done.is_set() and not errors, errors
    late = totals()
    fold_all()
    assert totals() == late
    assert not Rollup.objects.filter(shard__gt=0).exists()
    rollups.rebuild()
    assert totals() == late
