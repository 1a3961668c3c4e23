"""Issue 18, clean process life: `manage.py serve` and the long-running commands stop as a
service manager stops them (SIGTERM), leave no process and no zombie behind, and free the port.

Real processes on this machine, checked in Linux's process table (/proc). Each test runs its own
installation (a SQLite database in a folder of its own), so they run once, not per database pass.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import sys
import time

import pytest

from convodesk.ops.supervisor import Child, Supervisor

from . import procs

pytestmark = pytest.mark.nodb

GRACE = 10


def heartbeats(var) -> set[str]:
    with sqlite3.connect(var / "convodesk.sqlite3", timeout=20) as db:
        return {role for (role,) in db.execute("SELECT role FROM ops_heartbeat")}


def serve(var, *args, log=None):
    env = procs.installation_env(var)
    return procs.start(env, "serve", *args, "--grace", str(GRACE), log=log)


def test_sigterm_stops_every_process_of_serve_and_frees_the_port_within_the_grace_period(
    install, tmp_path
):
    port = procs.free_port()
    server = serve(install, "--port", str(port), log=tmp_path / "serve.log")
    try:
        procs.wait_for(lambda: procs.port_open(port), 60, what="the web server")
        procs.wait_for(
            lambda: {"worker", "jobs", "timers", "mail"} <= heartbeats(install),
            60,
            what="heartbeats",
        )
        family = procs.descendants(server.pid)
        commands = " | ".join(procs.cmdline(p) for p in family)
        for part in ("uvicorn", "db_worker", "timers", "email_fetch --loop", "telegram_poll"):
            assert part in commands, commands

        started = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=GRACE + 5) == 0
        took = time.monotonic() - started
        assert took < GRACE, f"serve took {took:.1f} s to stop"
        left = {p for p in family if procs.alive(p)}
        assert not left, [procs.cmdline(p) for p in left]
        assert not procs.port_open(port)
        with socket.socket() as s:  # the port can be bound again at once
            s.bind(("127.0.0.1", port))
        # Each background process said goodbye: no stale heartbeat is left for /readyz.
        assert heartbeats(install) == set()
        log = (tmp_path / "serve.log").read_text()
        assert "did not stop in time" not in log, log
    finally:
        procs.kill_tree(server.pid)


def test_the_finished_demo_loader_is_reaped_and_ctrl_c_stops_everything(install, tmp_path):
    env = procs.installation_env(install)
    procs.manage(env, "demo", "--organisation-only", "--conversations", "100")
    assert (install / "demo-conversations-pending").read_text() == "100"
    port = procs.free_port()
    server = serve(install, "--port", str(port), log=tmp_path / "serve.log")
    try:
        procs.wait_for(lambda: procs.port_open(port), 60, what="the web server")
        loader = procs.wait_for(
            lambda: [p for p in procs.descendants(server.pid) if " demo " in procs.cmdline(p)],
            30,
            what="the demo loader",
        )[0]
        procs.wait_for(lambda: not procs.alive(loader), 240, step=0.5, what="the demo load")
        time.sleep(1)  # a few of the supervisor's rounds
        family = procs.descendants(server.pid)
        assert loader not in family, "the finished loader is still in the process table"
        assert not procs.zombies(family | {loader})
        with sqlite3.connect(install / "convodesk.sqlite3") as db:
            assert (
                db.execute("SELECT count(*) FROM conversations_conversation").fetchone()[0] >= 100
            )
        assert not (install / "demo-conversations-pending").exists()

        server.send_signal(signal.SIGINT)  # Ctrl-C
        assert server.wait(timeout=GRACE + 5) == 0
        assert not {p for p in family if procs.alive(p)}
        assert not procs.port_open(port)
    finally:
        procs.kill_tree(server.pid)


@pytest.mark.parametrize(
    ("role", "expected", "absent"),
    [
        ("web", ["uvicorn"], ["db_worker", "timers", "email_fetch"]),
        # one worker per queue: the long jobs never hold back a delivery, nor wait behind them
        (
            "worker",
            ["db_worker --queue-name default", "db_worker --queue-name jobs"],
            ["uvicorn", "timers", "email_fetch"],
        ),
        ("timers", ["manage.py timers"], ["uvicorn", "db_worker", "email_fetch"]),
        ("mail", ["email_fetch --loop", "telegram_poll --wait"], ["uvicorn", "db_worker"]),
    ],
)
def test_serve_role_runs_only_that_role_and_stops_on_sigterm(install, role, expected, absent):
    port = procs.free_port()
    server = serve(install, "--role", role, "--port", str(port))
    try:
        # the worker role: each queue's worker beats its own role (a dead jobs worker shows)
        want = {"worker": {"worker", "jobs"}, "timers": {"timers"}, "mail": {"mail"}}.get(role)
        if want:
            procs.wait_for(lambda: want <= heartbeats(install), 60, what=f"the {role} heartbeats")
        else:
            procs.wait_for(lambda: procs.port_open(port), 60, what="the web server")
        family = procs.descendants(server.pid)
        commands = " | ".join(procs.cmdline(p) for p in family)
        for part in expected:
            assert part in commands, commands
        for part in absent:
            assert part not in commands, commands
        assert procs.port_open(port) == (role == "web")
        assert procs.stop(server, timeout=GRACE + 5) == 0
        assert not {p for p in family if procs.alive(p)}
    finally:
        procs.kill_tree(server.pid)


def test_serve_exits_non_zero_when_a_process_keeps_failing(install, tmp_path):
    """The web server cannot bind a port someone else holds: after its restarts, serve gives up
    with a non-zero exit instead of looping for ever (a service manager then says so)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = serve(
            install, "--role", "web", "--port", str(port), "--max-restarts", "2",
            log=tmp_path / "serve.log",
        )  # fmt: skip
        try:
            code = server.wait(timeout=60)
        finally:
            procs.kill_tree(server.pid)
    assert code != 0
    log = (tmp_path / "serve.log").read_text()
    assert "starting it again" in log
    assert "keeps failing" in log


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    stubborn = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)']); "
        "time.sleep(60)",
    ]
    said = []
    supervisor = Supervisor([Child("stubborn", stubborn)], grace=1.0, say=said.append)
    supervisor.check(supervisor.children[0], time.monotonic())
    process = supervisor.children[0].process
    time.sleep(1)  # it has started its own child
    family = procs.descendants(process.pid) | {process.pid}
    assert len(family) == 2
    started = time.monotonic()
    supervisor.stop_all()
    assert time.monotonic() - started < 3
    assert process.returncode == -signal.SIGKILL
    procs.wait_for(lambda: not any(procs.alive(p) for p in family), 5, what="the grandchild")
    assert any("did not stop in time" in s for s in said)


@pytest.mark.parametrize(
    ("command", "role"),
    [
        (["timers"], "timers"),
        (["db_worker"], "worker"),
        (["db_worker", "--queue-name", "jobs"], "jobs"),
        (["email_fetch", "--loop", "--interval", "60"], "mail"),
        (["telegram_poll", "--wait"], "mail"),
    ],
)
def test_each_long_running_command_stops_cleanly_on_sigterm(install, command, role):
    process = procs.start(procs.installation_env(install), *command)
    try:
        procs.wait_for(lambda: role in heartbeats(install), 60, what=f"the {role} heartbeat")
        time.sleep(0.5)  # in its wait between rounds
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert role not in heartbeats(install)
    finally:
        procs.kill_tree(process.pid)


def test_telegram_poll_drops_a_waiting_long_poll_on_sigterm(install, tmp_path):
    """A long poll holds the request for up to 25 s; nothing was taken yet, so a stop does not
    wait for it (the stored offset has not moved, and the next start asks again)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked = threading.Event()

    class SlowBotApi(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            asked.set()
            time.sleep(20)  # the long poll: no update comes
            body = b'{"ok": true, "result": []}'
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        do_GET = do_POST  # noqa: N815

        def log_message(self, *args):
            pass

    api = ThreadingHTTPServer(("127.0.0.1", 0), SlowBotApi)
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = procs.installation_env(
        install, TELEGRAM_API_BASE=f"http://127.0.0.1:{api.server_address[1]}"
    )
    procs.manage(
        env,
        "shell",
        "-c",
        "from tests import factories as f; from convodesk.connectors import telegram; "
        "line = f.line('Bots'); c = f.connection(line, 'telegram', name='Polling bot'); "
        "c.config = {**c.config, 'mode': 'polling'}; telegram.set_bot_token(c, '123456789:' + 'A' * 35); c.save()",
    )
    process = procs.start(env, "telegram_poll", log=tmp_path / "poll.log")
    try:
        assert asked.wait(60), (tmp_path / "poll.log").read_text()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, (tmp_path / "poll.log").read_text()
        assert time.monotonic() - started < 3
    finally:
        procs.kill_tree(process.pid)
        api.shutdown()


def test_long_jobs_have_a_queue_and_a_worker_of_their_own():
    """An export of a million rows must not hold back a reply's delivery, and an export must
    not wait behind a backlog of deliveries (over HTTP it waited 65 s at 5 client messages/s)."""
    from convodesk.connectors.tasks import deliver_message
    from convodesk.conversations.management.commands.serve import role_children
    from convodesk.conversations.tasks import run_bulk, run_export
    from convodesk.crm.tasks import run_crm_import

    assert {run_export.queue_name, run_bulk.queue_name, run_crm_import.queue_name} == {"jobs"}
    assert deliver_message.queue_name == "default"
    children = role_children("worker", "python", ["manage.py"], "127.0.0.1", 8000, 1, 10)
    assert [c.command[-2:] for c in children] == [
        ["--queue-name", "default"],
        ["--queue-name", "jobs"],
    ]
