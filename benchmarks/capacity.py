"""Per-node figures for BENCHMARKS.md's "Capacity on paper": one web node (`serve --role web`,
one uvicorn process) on PostgreSQL and a Redis server of its own, driven over HTTP with whole
conversations (a client message in through the REST connector, take, reply, close: 4 requests,
2 messages each). Reports messages/s and events/s for the node, PostgreSQL row writes and
commits per conversation (pg_stat_database) and Redis commands and bytes per event (INFO).

    python -m benchmarks.capacity [--conversations 200] [--concurrency 8]

Creates a database `cd_capacity_<hex>` and drops it after; the Redis server runs on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from tests.ops import pg, procs

SETUP = """
from tests import factories as f
from convodesk.api import tokens
op = f.employee('capop', superuser=True)
line = f.line('Capacity', members=[op])
conn = f.connection(line, 'api', name='Capacity')
secret = conn.rotate_secret(); conn.save()
_row, token = tokens.issue(op, op, name='capacity')
import json; print(json.dumps({'connection': conn.pk, 'secret': secret, 'token': token}))
"""


FAILURES: list[int] = []  # statuses of refused requests (a deadlock is a 500)


def pg_counters(url: str) -> dict:
    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT tup_inserted, tup_updated, tup_deleted, xact_commit FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
        events = db.execute("SELECT count(*) FROM conversations_conversationevent").fetchone()[0]
    return dict(
        zip(("inserted", "updated", "deleted", "commits", "events"), (*row, events), strict=True)
    )


def redis_counters(port: int) -> dict:
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "INFO", "stats"], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return {
        "commands": int(fields["total_commands_processed"]),
        "in_bytes": int(fields["total_net_input_bytes"]),
        "out_bytes": int(fields["total_net_output_bytes"]),
    }


async def drive(base: str, world: dict, count: int, concurrency: int, tag: str) -> float:
    client_headers = {"Authorization": f"Bearer {world['secret']}"}
    op_headers = {"Authorization": f"Bearer {world['token']}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def one(http: httpx.AsyncClient, i: int):
        r = await http.post(
            f"/api/v1/connectors/{world['connection']}/messages",
            headers=client_headers,
            json={
                "external_message_id": f"{tag}-{i}",
                "client": {"external_id": f"{tag}-client-{i}"},
                "text": "Hello",
            },
        )
        if r.status_code != 201:
            FAILURES.append(r.status_code)
            return
        cid = r.json()["conversation_id"]
        for path, body in (("take", None), ("messages", {"text": "Hi there"}), ("close", None)):
            r = await http.post(
                f"/api/v1/conversations/{cid}/{path}", headers=op_headers, json=body
            )
            if r.status_code not in (200, 201):
                FAILURES.append(r.status_code)
                return

    async def worker():
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            while not queue.empty():
                await one(http, queue.get_nowait())

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cd-capacity-"))
    redis_port = procs.free_port()
    redis = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    name = pg.create(prefix="cd_capacity")
    url = pg.url(name)
    env = procs.installation_env(
        work, DATABASE_URL=url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"
    )
    node = None
    try:
        procs.manage(env, "migrate", "--noinput", "-v0")
        world = json.loads(procs.manage(env, "shell", "-c", SETUP).stdout.strip().splitlines()[-1])
        port = procs.free_port()
        node = procs.start(
            env,
            "serve",
            "--role",
            "web",
            "--port",
            str(port),
            "--no-collectstatic",
            log=work / "web.log",
        )
        procs.wait_for(lambda: procs.port_open(port), 60, what="the node")
        base = f"http://127.0.0.1:{port}"
        asyncio.run(drive(base, world, 10, 1, "warm"))  # warm-up (imports, pool, caches)
        before_pg, before_redis = pg_counters(url), redis_counters(redis_port)
        seconds = asyncio.run(drive(base, world, args.conversations, args.concurrency, "run"))
        after_pg, after_redis = pg_counters(url), redis_counters(redis_port)
        n = args.conversations
        events = after_pg["events"] - before_pg["events"]
        rows = sum(after_pg[k] - before_pg[k] for k in ("inserted", "updated", "deleted"))
        result = {
            "concurrency": args.concurrency,
            "failed_requests": len(FAILURES),
            "conversations": n,
            "seconds": round(seconds, 1),
            "requests_per_s": round(4 * n / seconds, 1),
            "messages_per_s": round(2 * n / seconds, 1),
            "conversations_per_s": round(n / seconds, 2),
            "events_per_s": round(events / seconds, 1),
            "events_per_conversation": round(events / n, 1),
            "pg_rows_written_per_conversation": round(rows / n, 1),
            "pg_inserted_per_conversation": round(
                (after_pg["inserted"] - before_pg["inserted"]) / n, 1
            ),
            "pg_updated_per_conversation": round(
                (after_pg["updated"] - before_pg["updated"]) / n, 1
            ),
            "pg_commits_per_conversation": round(
                (after_pg["commits"] - before_pg["commits"]) / n, 1
            ),
            "redis_commands_per_event": round(
                (after_redis["commands"] - before_redis["commands"]) / events, 1
            ),
            "redis_bytes_in_per_event": round(
                (after_redis["in_bytes"] - before_redis["in_bytes"]) / events
            ),
            "redis_bytes_out_per_event": round(
                (after_redis["out_bytes"] - before_redis["out_bytes"]) / events
            ),
        }
        print(json.dumps(result, indent=2))
    finally:
        if node is not None:
            procs.stop(node)
            print((work / "web.log").read_text()[-3000:])
        redis.terminate()
        redis.wait()
        pg.drop(name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
