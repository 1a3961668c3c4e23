"""CPU of one service transaction's rollup deltas, apart from the database.

    python -m benchmarks.rollup_deltas [--repeat N]

A follow-up message moves its conversation's contribution under the same keys (only the
duration changes, and with it a histogram bucket): `Deltas.move` adds the change to every tier,
`Deltas.statements` turns it into the upserts of the batch. Both are timed without executing
anything (the statements are built, not run), so the figure does not move with the database;
it prints the minimum per call over N repeats (the least disturbed by the rest of the machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import timeit

if "DATABASE_URL" not in os.environ:  # only the connection's SQL dialect is used
    os.environ["DATABASE_URL"] = (
        f"sqlite:///{tempfile.gettempdir()}/convodesk-rollup-deltas.sqlite3"
    )
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

import django  # noqa: E402

django.setup()

from convodesk.stats import rollups  # noqa: E402
from convodesk.stats.models import METRICS  # noqa: E402

START = dt.datetime(2026, 12, 6, 10, 5, tzinfo=dt.UTC)


def contribution(duration: int) -> rollups.Contribution:
    metrics = dict.fromkeys(METRICS)
    metrics["duration"] = duration
    return rollups._contribution(
        START, 1, "api", 0, "incoming", 1, False, None, None, 0, 0, metrics, (), (0, 0, 0)
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    old, new = contribution(30), contribution(3000)

    def move():
        deltas = rollups.Deltas()
        deltas.move(old, new)
        return deltas

    def both():
        move().statements()

    for name, call in (("move", move), ("move + statements", both)):
        best = min(timeit.repeat(call, number=300, repeat=args.repeat)) / 300
        print(f"{name}: {best * 1e6:.0f} µs per follow-up")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
