"""Ingestion: 2 uvicorn workers of the product vs. the bare app, loaded from a separate process.

`python -m benchmarks.ingest --out FILE [--count N] [--seconds S]` with DATABASE_URL set (migrated).
Phases: bare app at peak (closed loop), product at peak (closed loop), product at half its peak
(open loop, for p99); then every accepted message is looked up: stored exactly once. Last, a
worker is killed (SIGKILL) mid-run while clients post and retry failed messages (same external
id) until accepted: every message sent must be stored exactly once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from itertools import pairwise
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

import django  # noqa: E402

django.setup()

from benchmarks.common import ROOT, dump  # noqa: E402

PY = sys.executable
UVICORN = str(Path(PY).with_name("uvicorn"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    """Start 2 uvicorn workers; their output (tracebacks of any 500) goes to `log`."""
    proc = subprocess.Popen(
        [
            UVICORN,
            app,
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                time.sleep(1.5)  # let both workers finish importing
                return proc
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise RuntimeError(f"{app} did not start on port {port}")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def workers(supervisor: int) -> set[int]:
    """The uvicorn supervisor's worker processes (multiprocessing children, not its resource
    tracker), read from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == supervisor and b"resource_tracker" not in cmdline:
            found.add(int(entry.name))
    return found


def connections(pid: int, port: int) -> int:
    """How many established client connections on `port` the process holds (from /proc)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            inodes.add(f"socket:[{fields[9]}]")
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held += os.readlink(fd) in inodes
        except OSError:
            continue
    return held


def load_cmd(url: str, token: str, out: Path, **kw) -> list[str]:
    cmd = [
        PY,
        "-m",
        "benchmarks.loadgen",
        "--url",
        url,
        f"--token={token}",  # one argument: a secret may begin with "-"
        "--run-id",
        kw.pop("run_id"),
        "--out",
        str(out),
    ]
    for key, value in kw.items():
        cmd += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return cmd


def load(url: str, token: str, out: Path, **kw) -> dict:
    subprocess.run(load_cmd(url, token, out, **kw), cwd=ROOT, check=True)
    return json.loads(out.read_text())


def load_and_kill(
    server: subprocess.Popen, port: int, url: str, token: str, out: Path, **kw
) -> dict:
    """Closed-loop load with retries; halfway through, SIGKILL the worker holding the most client
    connections (so the kill cuts requests in flight); watch for a respawn."""
    before = workers(server.pid)
    client = subprocess.Popen(load_cmd(url, token, out, retry=True, **kw), cwd=ROOT)
    try:
        time.sleep(kw["seconds"] / 2)
        held = {pid: connections(pid, port) for pid in before}
        victim = max(held, key=held.get)
        killed_at = time.time()
        os.kill(victim, signal.SIGKILL)
        respawned = None
        while client.poll() is None:
            fresh = workers(server.pid) - before
            if fresh and respawned is None:
                respawned = {"pid": min(fresh), "after_s": round(time.time() - killed_at, 2)}
            time.sleep(0.1)
    except BaseException:
        client.kill()
        raise
    if client.wait():
        raise subprocess.CalledProcessError(client.returncode, "benchmarks.loadgen")
    result = json.loads(out.read_text())
    killed_s = killed_at - result["started_at"]
    times = sorted(result.pop("accepted_at"))
    early = sum(1 for t in times if t < killed_s)
    result.update(
        rate_before_kill=round(early / killed_s, 1),
        rate_after_kill=round((len(times) - early) / (result["seconds"] - killed_s), 1),
        longest_pause_s=round(max(b - a for a, b in pairwise([0.0, *times])), 2),
        workers_before=len(before),
        workers_after=len(workers(server.pid)),
        killed_pid=victim,
        connections_per_worker=sorted(held.values(), reverse=True),
        killed_at_s=round(killed_s, 2),
        respawned=respawned,
    )
    return result


def bench_connection():
    """An api connection on a line of its own (not a "Gen line", so the generator's count of
    generated conversations ignores what ingestion adds), staffed by the generated employees."""
    from convodesk.devtools.generate import ensure_org
    from convodesk.lines.models import Connection, Line, LineMember

    org = ensure_org()
    line, created = Line.objects.get_or_create(name="Bench ingestion")
    if created:
        members = org.lines[0]["members"]
        LineMember.objects.bulk_create(
            LineMember(line=line, user_id=user_id, position=n) for n, user_id in enumerate(members)
        )
    conn, _ = Connection.objects.get_or_create(line=line, kind="api", name="Bench ingestion")
    secret = conn.rotate_secret()
    conn.save()
    return conn, secret


def verify(conn, accepted: list[str]) -> dict:
    from django.db.models import Count

    from convodesk.conversations.models import Message

    stored = {}
    for start in range(0, len(accepted), 500):
        part = accepted[start : start + 500]
        rows = (
            Message.objects.filter(connection=conn, external_id__in=part)
            .values("external_id")
            .annotate(n=Count("id"))
        )
        stored.update({r["external_id"]: r["n"] for r in rows})
    missing = [a for a in accepted if a not in stored]
    duplicated = [k for k, n in stored.items() if n > 1]
    return {
        "accepted": len(accepted),
        "stored": len(stored),
        "missing": len(missing),
        "duplicated": len(duplicated),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    from django.db import connection

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    work = Path(args.out).parent
    result = {"vendor": connection.vendor}
    conn, secret = bench_connection()
    connection.close()
    subprocess.run(
        [PY, "-c", "from benchmarks.bare_app.asgi import create_table; create_table()"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    run = uuid.uuid4().hex[:8]
    port = free_port()
    server = start_server(
        "benchmarks.bare_app.asgi:application", port, env, work / "server-bare.log"
    )
    try:
        bare = load(
            f"http://127.0.0.1:{port}/messages",
            "",
            work / "bare.json",
            run_id=f"bare-{run}",
            concurrency=args.concurrency,
            count=args.count,
            seconds=args.seconds,
        )
    finally:
        stop(server)
    port = free_port()
    server = start_server("convodesk.asgi:application", port, env, work / "server-ours.log")
    url = f"http://127.0.0.1:{port}/api/v1/connectors/{conn.pk}/messages"
    try:
        peak = load(
            url,
            secret,
            work / "peak.json",
            run_id=f"peak-{run}",
            concurrency=args.concurrency,
            count=args.count,
            seconds=args.seconds,
        )
        half_rate = max(1.0, peak["rate"] / 2)
        half = load(
            url,
            secret,
            work / "half.json",
            run_id=f"half-{run}",
            rate=round(half_rate, 1),
            count=int(half_rate * args.seconds) + 1,
            seconds=args.seconds,
        )
        kill = load_and_kill(
            server,
            port,
            url,
            secret,
            work / "kill.json",
            run_id=f"kill-{run}",
            concurrency=args.concurrency,
            count=1_000_000,  # bounded by time, so the kill falls mid-run
            seconds=args.seconds,
        )
    finally:
        stop(server)
    accepted = peak.pop("accepted") + half.pop("accepted")
    kill.pop("accepted")
    kill["check"] = verify(conn, kill.pop("sent_ids"))
    bare.pop("accepted")
    result.update(
        bare=bare,
        peak=peak,
        half=half,
        kill=kill,
        half_rate=round(half_rate, 1),
        check=verify(conn, accepted),
        ratio=round(peak["rate"] / bare["rate"], 3) if bare["rate"] else None,
    )
    errors = [
        line
        for line in (work / "server-ours.log").read_text(errors="replace").splitlines()
        if "Error" in line or "Exception" in line
    ]
    result["server_errors"] = errors[-10:]
    dump(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
