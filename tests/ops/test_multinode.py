"""Issue 18: the production topology, run as processes on this machine.

Debian's nginx (deploy/convodesk.nginx, the site file README's *Production* installs) in front
of two uvicorn nodes (`serve --role web`), one task worker, two timers loops, PostgreSQL and
Redis. A website visitor's widget is attached through node A and an operator through node B;
they exchange messages live. Node A is killed with SIGKILL while messages flow: the widget
reconnects through nginx (to node B), resumes from its last event id and sends again what was
not acknowledged. Every acknowledged message is stored once, nothing either side should have
seen is missed, and the auto-close timers fire once across both loops.

nginx sends the widget's port to node A first and the operator's to node B first (B and A as
their backups), so each client starts on a known node; the shipped site file balances both
nodes for everyone, which is the same failover.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from . import pg, procs

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
IN_CI = os.environ.get("CI", "").lower() == "true"
MESSAGES = 24
KILL_AFTER = 8  # acknowledged widget messages before node A is killed
TIMED = 12

pytestmark = [
    pytest.mark.postgres_only,
]


def require_nginx():
    if not os.path.exists(NGINX):
        message = "nginx is not installed (apt-get install nginx-light; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def nginx_config(workdir: Path, node_a: int, node_b: int, port_a: int, port_b: int) -> Path:
    """deploy/convodesk.nginx with its upstream made into two (A first / B first) and its
    server block listening twice on 127.0.0.1."""
    site = (procs.PROJECT / "deploy" / "convodesk.nginx").read_text()
    site = re.sub(r"(?m)^\s*#.*$", "", site)
    upstream = re.search(r"upstream convodesk \{.*?\n\}", site, re.S).group(0)
    server = site[site.index("server {") :]
    server = server.replace("listen [::]:80;", "").replace("server_name support.example.com;", "")
    blocks = []
    for name, first, second, port in (
        ("a_first", node_a, node_b, port_a),
        ("b_first", node_b, node_a, port_b),
    ):
        blocks.append(
            upstream.replace("upstream convodesk", f"upstream {name}")
            .replace("server 127.0.0.1:8001", f"server 127.0.0.1:{first}")
            .replace(
                "server 127.0.0.1:8002 max_fails=1 fail_timeout=5s",
                f"server 127.0.0.1:{second} backup",
            )
        )
        blocks.append(
            server.replace("listen 80;", f"listen 127.0.0.1:{port};").replace(
                "http://convodesk", f"http://{name}"
            )
        )
    maps = re.search(r"map \$http_upgrade.*?\n\}", site, re.S).group(0)
    temp = workdir / "temp"
    temp.mkdir()
    config = workdir / "nginx.conf"
    config.write_text(
        f"""
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi; uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    {maps}
    {"".join(blocks)}
}}
"""
    )
    return config


class Widget:
    """The visitor's browser: a token in localStorage, the last event id, unacknowledged sends."""

    def __init__(self, url: str):
        self.url = url
        self.token = secrets.token_urlsafe(32)
        self.last: int | None = None
        self.acked: dict[str, int] = {}  # client message id -> stored message id
        self.unacked: dict[str, str] = {}  # client message id -> text
        self.replies: dict[int, int] = {}  # employee message id -> times received
        self.events: list[int] = []
        self.socket = None
        self.ready = False
        self.frames: list[dict] = []
        self.errors: list[dict] = []
        self.connects = 0
        self.conversation: int | None = None

    async def connect(self, deadline: float) -> None:
        """Open a socket, say hello with the last event id, then send again what is unacked;
        nothing is sent on a socket before its `ready` (the server would ask for hello first)."""
        from websockets.asyncio.client import connect

        self.ready = False
        while True:
            try:
                socket = await connect(self.url, origin="https://shop.example", open_timeout=5)
                hello = {"type": "hello", "token": self.token}
                if self.last is not None:
                    hello["last"] = self.last
                await socket.send(json.dumps(hello))
                while True:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    if frame["type"] == "ready":
                        self.last = frame["last"] if self.last is None else self.last
                        break
                self.socket, self.ready = socket, True
                self.connects += 1
                for message_id, text in list(self.unacked.items()):  # again, same ids
                    await self.send(message_id, text)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def send(self, message_id: str, text: str) -> None:
        self.unacked[message_id] = text
        if self.ready:  # otherwise it goes with the others once the new socket is ready
            await self.socket.send(json.dumps({"type": "message", "id": message_id, "text": text}))

    def take(self, frame: dict) -> None:
        self.frames.append(frame)
        if frame["type"] == "error":
            self.errors.append(frame)
        event = frame.get("event")
        if isinstance(event, int):
            self.last = max(self.last or 0, event)
            if frame["type"] == "message":  # a state frame repeats its batch's last id
                self.events.append(event)
        if frame["type"] == "message":
            self.conversation = frame["conversation"]
            if frame["author"] == "client" and frame["client_id"] in self.unacked:
                self.unacked.pop(frame["client_id"])
                self.acked[frame["client_id"]] = frame["id"]
            elif frame["author"] == "employee":
                self.replies[frame["id"]] = self.replies.get(frame["id"], 0) + 1


class Operator:
    def __init__(self, base: str, token: str):
        self.base = base
        self.token = token
        self.events: list[int] = []
        self.client_events: set[int] = set()
        self.replies: set[int] = set()
        self.taken: set[int] = set()
        self.http = httpx.AsyncClient(base_url=base, timeout=20)
        self.socket = None

    async def log_in(self) -> str:
        page = await self.http.get("/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = await self.http.post(
            "/login/",
            data={"username": "nodeop", "password": "pass12345", "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{self.base}/login/"},
        )
        assert response.status_code == 302, response.text[:500]
        return self.http.cookies["sessionid"]

    async def connect(self, session: str) -> None:
        from websockets.asyncio.client import connect

        url = self.base.replace("http://", "ws://") + "/ws/operator/"
        self.socket = await connect(
            url, origin=self.base, additional_headers={"Cookie": f"sessionid={session}"}
        )
        frame = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
        assert frame["type"] == "hello", frame

    async def answer(self, conversation: int) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if conversation not in self.taken:
            response = await self.http.post(
                f"/api/v1/conversations/{conversation}/take", headers=headers
            )
            assert response.status_code in (200, 409), response.text
            self.taken.add(conversation)
        response = await self.http.post(
            f"/api/v1/conversations/{conversation}/messages",
            headers=headers,
            json={"text": f"Reply {len(self.replies) + 1}"},
        )
        assert response.status_code in (200, 201), response.text
        self.replies.add(response.json()["id"])


async def exchange(widget: Widget, operator: Operator, kill_node_a, timeout: float = 150):
    deadline = time.monotonic() + timeout
    await widget.connect(deadline)
    killed = asyncio.Event()
    done_sending = asyncio.Event()

    def finished() -> bool:
        return (
            done_sending.is_set()
            and not widget.unacked
            and len(widget.replies) >= MESSAGES
            and len(operator.replies) >= MESSAGES
        )

    async def widget_reads():
        while not finished():
            try:
                frame = json.loads(await asyncio.wait_for(widget.socket.recv(), 1))
            except TimeoutError:
                continue
            except Exception:  # node A is gone: reconnect through nginx, resume from `last`
                widget.ready = False
                await killed.wait()
                await widget.connect(deadline)
                continue
            widget.take(frame)

    async def widget_writes():
        for n in range(MESSAGES):
            message_id = f"msg-{n:04d}-{uuid.uuid4().hex[:6]}"
            try:
                await widget.send(message_id, f"Visitor line {n}")
            except Exception:  # the socket is down; it goes again after the reconnect
                widget.unacked[message_id] = f"Visitor line {n}"
            if len(widget.acked) >= KILL_AFTER and not killed.is_set():
                kill_node_a()
                killed.set()
            await asyncio.sleep(0.25)
        done_sending.set()

    async def operator_reads():
        while not finished():
            try:
                frame = json.loads(await asyncio.wait_for(operator.socket.recv(), 1))
            except TimeoutError:
                continue
            if frame.get("type") != "event":
                continue
            operator.events.append(frame["id"])
            if frame["kind"] in ("client_message", "created", "reopened"):
                operator.client_events.add(frame["id"])
                await operator.answer(frame["conversation"])

    await asyncio.wait_for(
        asyncio.gather(widget_reads(), widget_writes(), operator_reads()),
        timeout=deadline - time.monotonic(),
    )


def test_two_nodes_behind_nginx_survive_a_killed_node_and_timers_fire_once(pg_database, tmp_path):
    require_nginx()
    url = pg.url(pg_database)
    prefix = f"cd-multinode-{uuid.uuid4().hex[:8]}"
    env = procs.installation_env(
        tmp_path / "var",
        DATABASE_URL=url,
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_PREFIX=prefix,
        TIMER_INTERVAL_SECONDS="0.5",
        FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    (tmp_path / "var").mkdir()
    setup = procs.manage(
        env,
        "shell",
        "-c",
        f"from tests.ops.multinode_setup import main; main(due_in_seconds=25, timer_conversations={TIMED})",
    )
    world = json.loads(setup.stdout.strip().splitlines()[-1])

    node_a, node_b, port_a, port_b = (procs.free_port() for _ in range(4))
    logs = tmp_path / "logs"
    logs.mkdir()
    started: dict[str, subprocess.Popen] = {}

    def start(name, *args):
        started[name] = procs.start(env, "serve", *args, log=logs / f"{name}.log")

    start("node_a", "--role", "web", "--port", str(node_a), "--no-collectstatic")
    start("node_b", "--role", "web", "--port", str(node_b), "--no-collectstatic")
    start("worker", "--role", "worker")
    start("timers_1", "--role", "timers")
    start("timers_2", "--role", "timers")
    ngx = tmp_path / "nginx"
    ngx.mkdir()
    config = nginx_config(ngx, node_a, node_b, port_a, port_b)
    nginx = subprocess.Popen([NGINX, "-p", str(ngx), "-c", str(config)], stderr=subprocess.PIPE)
    try:
        for port in (node_a, node_b, port_a, port_b):
            procs.wait_for(lambda p=port: procs.port_open(p), 90, what=f"port {port}")
        procs.wait_for(
            lambda: httpx.get(f"http://127.0.0.1:{port_b}/readyz", timeout=10).status_code == 200,
            60,
            step=1,
            what="/readyz through nginx",
        )

        widget = Widget(f"ws://127.0.0.1:{port_a}/ws/widget/{world['widget_key']}/")
        operator = Operator(f"http://127.0.0.1:{port_b}", world["token"])
        node_a_processes = []

        def kill_node_a():
            node_a_processes.extend(
                procs.descendants(started["node_a"].pid) | {started["node_a"].pid}
            )
            for pid in node_a_processes:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        async def run():
            session = await operator.log_in()
            await operator.connect(session)
            try:
                await exchange(widget, operator, kill_node_a)
            except TimeoutError:
                raise AssertionError(
                    f"the exchange did not finish: widget acked {len(widget.acked)}, unacked "
                    f"{sorted(widget.unacked)}, replies seen {len(widget.replies)}, connects "
                    f"{widget.connects}, last {widget.last}, errors {widget.errors[:3]}; operator "
                    f"replies {len(operator.replies)}, events {operator.events[-5:]}; frames "
                    f"{widget.frames[-6:]}"
                ) from None
            finally:
                await operator.http.aclose()

        asyncio.run(run())

        # Node A died mid-traffic; the widget came back through nginx on node B.
        assert node_a_processes and not any(procs.alive(p) for p in node_a_processes)
        assert widget.connects >= 2
        assert not procs.port_open(node_a)
        # Every widget message was acknowledged, and each is stored once.
        assert not widget.unacked and len(widget.acked) == MESSAGES
        assert not widget.errors
        with psycopg.connect(url) as db:
            rows = db.execute(
                "SELECT external_id, count(*) FROM conversations_message "
                "WHERE conversation_id = %s AND author_kind = 'client' GROUP BY external_id",
                [widget.conversation],
            ).fetchall()
            stored = {external.rsplit(":", 1)[1]: n for external, n in rows}
            assert stored == dict.fromkeys(widget.acked, 1)
            employee = {
                pk
                for (pk,) in db.execute(
                    "SELECT id FROM conversations_message WHERE conversation_id = %s "
                    "AND author_kind = 'employee'",
                    [widget.conversation],
                )
            }
            client_events = {
                pk
                for (pk,) in db.execute(
                    "SELECT id FROM conversations_conversationevent WHERE conversation_id = %s "
                    "AND kind IN ('client_message', 'created', 'reopened')",
                    [widget.conversation],
                )
            }
        # Every reply the API acknowledged reached the widget, once; nothing else was invented.
        assert operator.replies == employee == set(widget.replies)
        assert set(widget.replies.values()) == {1}
        assert len(widget.events) == len(set(widget.events)), "an event was delivered twice"
        # The operator saw every client message's event, in order, once.
        assert operator.client_events == client_events
        assert operator.events == sorted(set(operator.events))

        # The timers fell due while both loops ran: each fired once.
        def all_closed():
            with psycopg.connect(url) as db:
                return (
                    db.execute(
                        "SELECT count(*) FROM conversations_conversation WHERE id = ANY(%s) "
                        "AND auto_close_at IS NULL",
                        [world["timed"]],
                    ).fetchone()[0]
                    == TIMED
                )

        procs.wait_for(all_closed, 60, step=1, what="the auto-closes")
        with psycopg.connect(url) as db:
            fired = dict(
                db.execute(
                    "SELECT conversation_id, count(*) FROM conversations_conversationevent "
                    "WHERE conversation_id = ANY(%s) AND kind = 'auto_closed' GROUP BY 1",
                    [world["timed"]],
                ).fetchall()
            )
        assert fired == dict.fromkeys(world["timed"], 1)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        for process in started.values():
            try:
                procs.stop(process, timeout=20)
            except Exception:
                pass
            procs.kill_tree(process.pid)
