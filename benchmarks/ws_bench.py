"""WebSocket fan-out benchmark: widget clients write, offered operators' sockets receive.

    python -m benchmarks.ws_bench --redis          # 2 uvicorn processes + Redis channel layer
    python -m benchmarks.ws_bench                  # 1 process, in-memory layer (embedded default)

Sets up a fresh SQLite database (or DATABASE_URL with --database-url) with 5 open channels of
10 operators each (to all at once, so every message is offered to 10 operators), connects the
operators' /ws/operator/ sockets and N widget clients, then sends client messages at a fixed rate
for a while. For every message it measures the time from the client's send to the arrival of its
event on each offered operator's socket, and afterwards checks that no (event, operator) pair is
missing or arrived twice. Prints a JSON summary (and --out writes it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINES = 5
PER_LINE = 10

SETUP = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from convodesk.accounts.models import User
from convodesk.lines.models import Connection, Line, LineMember
keys, sessions = [], []
for i in range(%(lines)d):
    line = Line.objects.create(name=f"Bench {i}", crm_binding="nothing")
    conn = Connection.objects.create(line=line, kind="livechat", name=f"Bench chat {i}",
                                     allowed_origins=["https://shop.example.com"],
                                     config={"per_ip": 10**9, "per_token": 10**6})
    keys.append(conn.public_key)
    for j in range(%(per_line)d):
        user = User.objects.create_user(f"bench{i}_{j}", password="pass12345")
        LineMember.objects.create(line=line, user=user, position=j)
        s = SessionStore()
        s[SESSION_KEY] = str(user.pk)
        s[BACKEND_SESSION_KEY] = "convodesk.accounts.backends.EmployeeBackend"
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.create()
        sessions.append([i, s.session_key])
print(json.dumps({"keys": keys, "sessions": sessions}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Run:
    def __init__(self, args, ports, data):
        self.args = args
        self.ports = ports
        self.keys = data["keys"]
        self.sessions = data["sessions"]
        self.sent_at: dict[str, float] = {}  # client message id -> send time
        self.event_of: dict[str, int] = {}  # client message id -> event id (from the client's echo)
        self.line_of_event: dict[int, int] = {}
        self.received: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.errors: list[str] = []
        self.frame_kinds: dict[str, int] = defaultdict(int)

    async def operator(
        self, index: int, line: int, session: str, ready: asyncio.Event, stop: asyncio.Event
    ):
        from websockets.asyncio.client import connect

        port = self.ports[index % len(self.ports)]
        headers = {"Cookie": f"sessionid={session}", "Origin": f"http://127.0.0.1:{port}"}
        async with connect(
            f"ws://127.0.0.1:{port}/ws/operator/",
            additional_headers=headers,
            max_queue=None,
            open_timeout=60,
        ) as ws:
            ready.set()
            closer = asyncio.create_task(self._close_on(stop, ws))
            async for raw in ws:  # no polling: the driver's own loop must not add latency
                now = time.perf_counter()
                frame = json.loads(raw)
                self.frame_kinds[str(frame.get("type"))] += 1
                if frame.get("type") == "event" and frame.get("kind") in (
                    "created",
                    "client_message",
                ):
                    self.received[frame["id"]][index].append(now)
            closer.cancel()

    @staticmethod
    async def _close_on(stop: asyncio.Event, ws) -> None:
        await stop.wait()
        await ws.close()

    async def client(
        self, index: int, queue: asyncio.Queue, ready: asyncio.Event, stop: asyncio.Event
    ):
        from websockets.asyncio.client import connect

        port = self.ports[index % len(self.ports)]
        line = index % len(self.keys)
        url = f"ws://127.0.0.1:{port}/ws/widget/{self.keys[line]}/"
        async with connect(
            url,
            additional_headers={"Origin": "https://shop.example.com"},
            max_queue=None,
            open_timeout=60,
        ) as ws:
            await ws.send(json.dumps({"type": "hello", "token": secrets.token_urlsafe(32)}))
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "ready":
                    break
            ready.set()

            async def reader():
                async for raw in ws:
                    frame = json.loads(raw)
                    if (
                        frame.get("type") == "message"
                        and frame.get("client_id")
                        and frame.get("event")
                    ):
                        self.event_of[frame["client_id"]] = frame["event"]
                        self.line_of_event[frame["event"]] = line
                    elif frame.get("type") == "error":
                        self.errors.append(frame.get("code", "?"))

            task = asyncio.create_task(reader())
            while True:
                message_id = await queue.get()
                if message_id is None:
                    break
                self.sent_at[message_id] = time.perf_counter()
                await ws.send(
                    json.dumps({"type": "message", "id": message_id, "text": f"bench {message_id}"})
                )
            await asyncio.sleep(0.2)
            task.cancel()

    async def main(self) -> dict:
        stop = asyncio.Event()
        op_ready = [asyncio.Event() for _ in self.sessions]
        operators = [
            asyncio.create_task(self.operator(i, line, session, op_ready[i], stop))
            for i, (line, session) in enumerate(self.sessions)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in op_ready)), 120)
        queues = [asyncio.Queue() for _ in range(self.args.clients)]
        cl_ready = [asyncio.Event() for _ in range(self.args.clients)]
        clients = []
        for i in range(self.args.clients):
            clients.append(asyncio.create_task(self.client(i, queues[i], cl_ready[i], stop)))
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in cl_ready)), 300)
        await asyncio.sleep(1)

        total = int(self.args.rate * self.args.seconds)
        started = time.perf_counter()
        order = list(range(self.args.clients))
        random.shuffle(order)
        for n in range(total):
            target = started + n / self.args.rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queues[order[n % len(order)]].put_nowait(f"b{n:07d}x")
        send_seconds = time.perf_counter() - started
        await asyncio.sleep(self.args.settle)
        for q in queues:
            q.put_nowait(None)
        stop.set()
        await asyncio.gather(*operators, *clients, return_exceptions=True)
        return self.summary(total, send_seconds)

    def summary(self, total: int, send_seconds: float) -> dict:
        ops_by_line = defaultdict(list)
        for index, (line, _s) in enumerate(self.sessions):
            ops_by_line[line].append(index)
        latencies, missing, duplicated = [], 0, 0
        for message_id, event_id in self.event_of.items():
            sent = self.sent_at.get(message_id)
            line = self.line_of_event[event_id]
            for op in ops_by_line[line]:
                arrivals = self.received.get(event_id, {}).get(op, [])
                if not arrivals:
                    missing += 1
                    continue
                duplicated += len(arrivals) - 1
                latencies.append((arrivals[0] - sent) * 1000)
        unconfirmed = total - len(self.event_of)
        return {
            "processes": len(self.ports),
            "layer": "redis" if self.args.redis else "in-memory",
            "widget_clients": self.args.clients,
            "operators": len(self.sessions),
            "offered_per_message": PER_LINE,
            "messages_sent": total,
            "target_rate": self.args.rate,
            "achieved_send_rate": round(total / send_seconds, 1),
            "messages_stored_and_echoed": len(self.event_of),
            "messages_unconfirmed": unconfirmed,
            "deliveries_measured": len(latencies),
            "deliveries_missing": missing,
            "deliveries_duplicated": duplicated,
            "p50_ms": round(percentile(latencies, 50) or 0, 1),
            "p95_ms": round(percentile(latencies, 95) or 0, 1),
            "p99_ms": round(percentile(latencies, 99) or 0, 1),
            "max_ms": round(max(latencies) if latencies else 0, 1),
            "client_errors": sorted(set(self.errors)),
            "operator_frames": dict(self.frame_kinds),
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis", action="store_true", help="2 uvicorn processes sharing Redis")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--processes", type=int, default=None)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="client messages per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=8.0, help="seconds to wait for stragglers")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    processes = args.processes or (2 if args.redis else 1)
    raise_fd_limit()

    tmp = tempfile.mkdtemp(prefix="convodesk-wsbench-")
    env = {
        **os.environ,
        "CONVODESK_VAR_DIR": tmp,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),  # one run's
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.sqlite3",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    env.pop("REDIS_URL", None)
    if args.redis:
        env["REDIS_URL"] = args.redis_url
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    out = subprocess.run(
        [*manage, "shell", "-c", SETUP % {"lines": LINES, "per_line": PER_LINE}],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    ports = [free_port() for _ in range(processes)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                *(
                    ["-m", "cProfile", "-o", os.environ["WS_BENCH_PROFILE"] + f".{p}"]
                    if os.environ.get("WS_BENCH_PROFILE")
                    else []
                ),
                "-m",
                "uvicorn",
                "convodesk.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(p),
                "--log-level",
                "warning",
                "--ws-max-queue",
                "1000",
                "--timeout-graceful-shutdown",
                "3",
            ],
            env=env,
            cwd=ROOT,
            preexec_fn=raise_fd_limit,
        )
        for p in ports
    ]
    try:
        for p in ports:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", p), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        result = asyncio.run(Run(args, ports, data).main())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
