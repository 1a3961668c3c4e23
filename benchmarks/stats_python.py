"""The statistics page's own Python, apart from its SQL: the Tally sums and the tables.

    DATABASE_URL=sqlite:///…/var/bench/s.sqlite3 python -m benchmarks.stats_python [--repeat N]

Reads the administrator's "closed, last 30 days" report once from the data set (the generated
bench users, as `benchmarks.inproc`), then times, N times each, summing its rollup rows into
Tallies (`aggregates.Tally`) and building the page's tables (`views._table`), and prints the
medians. Neither step touches the database, so the figures do not move with the database's
caches.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

import django  # noqa: E402

django.setup()

from django.utils import translation  # noqa: E402

from benchmarks.inproc import pick_values  # noqa: E402
from convodesk.conversations.models import Conversation  # noqa: E402
from convodesk.devtools import generate  # noqa: E402
from convodesk.stats import aggregates, views  # noqa: E402
from convodesk.stats.sources import RollupSource  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    users = generate.bench_users()
    params = {"started_from": pick_values(users)["from30"], "status": "closed"}
    scope = aggregates.build_scope(users["admin"], params)
    everything = Conversation.objects.visible_to(scope.user, "stats", shape="set")
    with RollupSource(scope.rollup, scope.queryset, everything) as source:
        rows = source.rows(("line", "channel", "status", "type"))
        rows += source.rows(("responsible", "status", "type"))
    report = aggregates.compute(scope)

    def tally():
        totals = aggregates.Tally()
        for row in rows:
            totals.add(row)

    def tables():
        with translation.override("en"):
            for key in views.PAGE_TABLES:
                views._table(key, report)

    print(f"{len(rows)} rollup rows, {len(report['employees'])} employees")
    for name, step in (("tally", tally), ("tables", tables)):
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            step()
            times.append((time.perf_counter() - started) * 1000)
        print(f"{name}: median {statistics.median(times):.2f} ms, min {min(times):.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
