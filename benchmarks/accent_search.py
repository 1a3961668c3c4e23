"""Client-name search with and without accents (issue 22), on the client table alone.

    DATABASE_URL=... python -m benchmarks.accent_search [--clients 1000000] [--runs 15]

Fills `conversations_client` with generated Spanish and English names (the generator's lists)
when it holds fewer clients than asked, then times, side by side, what the list's client filter
runs for a rare, a common and a very common fragment: the old probe (`name` ILIKE / LIKE the typed
text, which misses "luis perez" for "Luis Pérez") and the new one (`name_search` LIKE the folded
text, which finds it). Each is the capped probe client_name_q() makes (1,001 ids) and the count of
matching clients (what the join path filters by). Medians and p95 in ms; prints Markdown rows.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import django


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")
    django.setup()


FIRST = [
    "Ana",
    "Luis",
    "María",
    "José",
    "Lucía",
    "Pablo",
    "Íñigo",
    "Sofía",
    "Jürgen",
    "Emma",
    "Noah",
    "Carmen",
    "Álvaro",
    "Inés",
    "Tomás",
    "Olivia",
    "Raúl",
    "Julia",
    "Andrés",
    "Nora",
]
LAST = ["Pérez", "García", "Martínez", "López", "Sánchez", "Gómez", "Fernández", "Núñez",
        "Müller", "Smith", "Johnson", "Ruiz", "Díaz", "Hernández", "Jiménez", "Brown", "Ibáñez",
        "Rodríguez", "Castaño", "Walker"]  # fmt: skip


def fill(target: int) -> int:
    from convodesk.conversations.models import Client
    from convodesk.conversations.normalize import fold_name

    have = Client.objects.count()
    rng = random.Random(22)
    batch = []
    for _ in range(have, target):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        batch.append(Client(name=name, name_search=fold_name(name)))
        if len(batch) == 10000:
            Client.objects.bulk_create(batch)
            batch = []
    if batch:
        Client.objects.bulk_create(batch)
    return Client.objects.count()


def timed(fn, runs: int) -> tuple[float, float, object]:
    fn()  # warm-up
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    _setup()
    from django.db import connection

    from convodesk.conversations.filters import NAMED_CLIENTS_LISTED
    from convodesk.conversations.models import Client
    from convodesk.conversations.normalize import fold_name

    cap = NAMED_CLIENTS_LISTED + 1
    total = fill(args.clients)
    vendor = connection.vendor
    with connection.cursor() as cursor:  # fresh planner statistics after the fill
        cursor.execute("ANALYZE conversations_client" if vendor == "postgresql" else "ANALYZE")
    print(f"{vendor}, {total:,} clients, {args.runs} runs after a warm-up\n")
    print(
        "| typed | old probe (name) ms median / p95 | found | new probe (name_search) ms "
        "median / p95 | found | old count ms | new count ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for typed in ("luis perez", "garcía", "ana"):
        folded = fold_name(typed)
        old_qs = Client.objects.filter(name__icontains=typed).values_list("id", flat=True)
        new_qs = Client.objects.filter(name_search__contains=folded).values_list("id", flat=True)
        o_med, o_p95, _ = timed(lambda q=old_qs: list(q[:cap]), args.runs)
        n_med, n_p95, _ = timed(lambda q=new_qs: list(q[:cap]), args.runs)
        oc_med, _, o_count = timed(old_qs.count, max(3, args.runs // 3))
        nc_med, _, n_count = timed(new_qs.count, max(3, args.runs // 3))
        print(
            f"| `{typed}` | {o_med:.1f} / {o_p95:.1f} | {o_count:,} | {n_med:.1f} / {n_p95:.1f} "
            f"| {n_count:,} | {oc_med:.1f} | {nc_med:.1f} |"
        )


if __name__ == "__main__":
    main()
