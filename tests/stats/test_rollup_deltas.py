"""A conversation that changes without changing its keys (a client's next message, a reply, a
rating) moves only what changed: the same rows, buckets and tag rows as taking its whole
contribution out and putting the new one back, which is what any other move does."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from convodesk.stats import rollups
from convodesk.stats.models import METRICS

START = dt.datetime(2026, 12, 6, 10, 5, tzinfo=dt.UTC)


def contribution(rng: random.Random, **metrics):
    values = {m: rng.choice([None, rng.randrange(0, 90_000)]) for m in METRICS}
    values.update(metrics)
    return rollups._contribution(
        START,
        7,
        "telegram",
        3,
        "incoming",
        2,
        rng.random() < 0.5,
        rng.choice([None, 1, -1]),
        rng.choice([None, 4]),
        rng.randrange(0, 5),
        rng.randrange(0, 900),
        values,
        (("tag", 11), ("reason", 4)),
        (rng.randrange(0, 900), rng.randrange(0, 2), rng.randrange(0, 2)),
    )


def written(deltas: rollups.Deltas) -> dict:
    """What the deltas hold once the rows that cancel out are left out."""
    return {
        "rows": {k: {c: v for c, v in d.items() if v} for k, d in deltas.rows.items()},
        "buckets": {k: v for k, v in deltas.buckets.items() if v},
        "labels": {k: {c: v for c, v in d.items() if v} for k, d in deltas.labels.items()},
    }


@pytest.mark.nodb
@pytest.mark.parametrize("seed", range(40))
def test_a_change_under_the_same_keys_moves_what_taking_out_and_putting_back_would(seed):
    rng = random.Random(seed)
    old = contribution(rng)
    new = contribution(rng) if seed % 4 else contribution(rng, duration=rng.randrange(0, 90_000))
    new.values["returning"] = old.values["returning"]  # a conversation's returning flag stays

    changed, whole = rollups.Deltas(), rollups.Deltas()
    changed.move(old, new)
    whole.move(old, None)
    whole.move(None, new)

    assert written(changed) == written(whole)


@pytest.mark.nodb
def test_a_message_that_changes_no_figure_moves_nothing():
    rng = random.Random(1)
    old = contribution(rng)
    deltas = rollups.Deltas()
    deltas.move(old, rollups.Contribution(old.key, dict(old.values), dict(old.buckets), old.labels))
    assert deltas.statements() == []
    assert not deltas.rows and not deltas.buckets and not deltas.labels
