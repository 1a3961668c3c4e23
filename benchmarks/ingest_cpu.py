"""CPU per message of the connector API, in process: N new clients, then one follow-up each,
then each conversation taken (through the service) by the first employee it is offered to.

`python -m benchmarks.ingest_cpu [--count N] [--profile FILE]` with DATABASE_URL set (migrated
here; SQLite when unset: a database of its own under /tmp). Each message goes through
Django's test Client (`POST /api/v1/connectors/{id}/messages`: middleware, authentication,
validation, the service transaction, the response); the figure is `time.process_time()` per
message (CPU of this process: Python and, on SQLite, the database engine). `--profile FILE`
writes cProfile's statistics of the whole loop and prints the top entries (`--phase new` or
`--phase follow-up`: of that phase only).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid

if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='cd-ingest-cpu-')}/db.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("API_RATE_BURST", "1000000000")
os.environ.setdefault("TASKS_BACKEND", "django_tasks.backends.immediate.ImmediateBackend")

import django  # noqa: E402

django.setup()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--profile", help="write cProfile statistics here and print the top")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--phase",
        choices=("new", "follow-up"),
        help="profile only this phase (new conversations or follow-ups); both when not given",
    )
    args = parser.parse_args()

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    from benchmarks.ingest import bench_connection

    conn, secret = bench_connection()
    client = Client(headers={"authorization": f"Bearer {secret}"})
    url = f"/api/v1/connectors/{conn.pk}/messages"
    run = uuid.uuid4().hex[:8]

    conversations = {}

    def post(n: int, kind: str) -> None:
        body = {
            "external_message_id": f"{run}-{kind}-{n}",
            "text": f"CPU test message {n}",
            "client": {"external_id": f"{run}-client-{n}", "name": f"CPU {n}"},
        }
        response = client.post(url, body, content_type="application/json")
        assert response.status_code in (200, 201), (response.status_code, response.content)
        conversations[n] = response.json()["conversation_id"]

    post(-1, "warm")  # imports, caches, the first statement of each kind
    post(-1, "warm-again")
    profiler = cProfile.Profile() if args.profile else None
    figures = {}
    for kind in ("new", "follow-up"):
        cpu = []
        for n in range(args.count):
            t0 = time.process_time()
            profiling = profiler is not None and args.phase in (None, kind)
            if profiling:
                profiler.enable()
            post(n, kind)
            if profiling:
                profiler.disable()
            cpu.append(time.process_time() - t0)
        figures[kind] = cpu
        print(
            f"{connection.vendor} {kind}: {args.count} messages, CPU per message "
            f"median {statistics.median(cpu) * 1e6:.0f} µs, mean {statistics.mean(cpu) * 1e6:.0f} µs"
        )
    # Each conversation taken by the first of the employees it is offered to: the offers to the
    # others end (their participant rows stop granting). On PostgreSQL most of a take's work is
    # the server's, so the wall time per take is given beside this process's CPU.
    from convodesk.conversations import services
    from convodesk.conversations.models import ConversationParticipant

    users = {}
    cpu, wall, ended = [], [], 0
    for n in range(args.count):
        pk = conversations[n]
        offered = list(
            ConversationParticipant.objects.filter(conversation_id=pk, offered_now=True)
            .order_by("employee_id")
            .values_list("employee_id", flat=True)
        )
        ended += len(offered) - 1
        if offered[0] not in users:
            users[offered[0]] = get_user_model().objects.get(pk=offered[0])
        actor = services.Actor.of(users[offered[0]])
        t0, w0 = time.process_time(), time.perf_counter()
        services.take(pk, actor)
        cpu.append(time.process_time() - t0)
        wall.append(time.perf_counter() - w0)
    print(
        f"{connection.vendor} take: {args.count} conversations, {ended} offers ended, per take "
        f"CPU median {statistics.median(cpu) * 1e6:.0f} µs, wall median "
        f"{statistics.median(wall) * 1e6:.0f} µs, mean {statistics.mean(wall) * 1e6:.0f} µs"
    )
    if profiler:
        profiler.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
