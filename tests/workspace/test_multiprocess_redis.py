"""With REDIS_URL, an event raised in one uvicorn process reaches a socket connected to another."""

import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests import migrated

from .server import IN_CI, free_port

pytestmark = pytest.mark.nodb

ROOT = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)

SETUP = """
import json
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from convodesk.accounts.models import User
from convodesk.lines.models import Connection, Line, LineMember
user = User.objects.create_superuser("boss", "boss@example.com", "pass12345")
line = Line.objects.create(name="Web")
LineMember.objects.create(line=line, user=user)
conn = Connection.objects.create(
    line=line, kind="livechat", name="Site", allowed_origins=["https://shop.example.com"]
)
s = SessionStore()
s[SESSION_KEY] = str(user.pk)
s[BACKEND_SESSION_KEY] = "convodesk.accounts.backends.EmployeeBackend"
s[HASH_SESSION_KEY] = user.get_session_auth_hash()
s.create()
print(json.dumps({"key": conn.public_key, "session": s.session_key}))
"""


def redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def two_processes():
    if not redis_up():
        if IN_CI:
            pytest.fail("Redis on 127.0.0.1:6379 is needed in CI")
        pytest.skip("Redis on 127.0.0.1:6379 is not reachable")
    tmp = tempfile.mkdtemp(prefix="convodesk-mp-")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
        "CONVODESK_VAR_DIR": tmp,
        "REDIS_URL": f"redis://127.0.0.1:6379/{random.randint(5, 15)}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("CONVODESK_TEST_DB", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    migrated.copy_sqlite(f"{tmp}/db.sqlite3")
    out = subprocess.run(
        [*manage, "shell", "-c", SETUP],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "convodesk.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        for port in ports
    ]
    try:
        for port in ports:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"uvicorn on {port} did not start") from None
                    time.sleep(0.1)
        yield ports, data
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def test_an_event_raised_in_one_process_reaches_a_socket_of_another(two_processes):
    from websockets.asyncio.client import connect

    (port_a, port_b), data = two_processes

    async def scenario():
        operator_url = f"ws://127.0.0.1:{port_b}/ws/operator/"
        headers = {"Cookie": f"sessionid={data['session']}", "Origin": f"http://127.0.0.1:{port_b}"}
        async with connect(operator_url, additional_headers=headers) as operator:
            hello = json.loads(await asyncio.wait_for(operator.recv(), 5))
            assert hello["type"] == "hello"
            widget_url = f"ws://127.0.0.1:{port_a}/ws/widget/{data['key']}/"
            async with connect(
                widget_url, additional_headers={"Origin": "https://shop.example.com"}
            ) as client:
                await client.send(json.dumps({"type": "hello", "token": "t" * 40}))
                ready = json.loads(await asyncio.wait_for(client.recv(), 5))
                assert ready["type"] == "ready"
                await client.send(
                    json.dumps({"type": "message", "id": "multiproc1", "text": "via process A"})
                )
                started = time.monotonic()
                while True:
                    frame = json.loads(await asyncio.wait_for(operator.recv(), 5))
                    if frame.get("type") == "event" and frame.get("kind") == "created":
                        break
                assert time.monotonic() - started < 2.0

    asyncio.run(scenario())
