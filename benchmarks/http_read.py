"""The list, API, statistics and export over HTTP against `manage.py serve`: what users get.

`python -m benchmarks.http_read --out FILE [--runs N] [--warmup N] [--rate R]` with DATABASE_URL
set to a generated data set. Starts the product as an installation runs it (`serve`: uvicorn, the
task worker, the timers loop, the mail pollers) on a free port and waits for /readyz. Then, while
a thread posts client messages through the REST connector at a steady rate, logged-in clients
(httpx, a session cookie; a Bearer token for the API) request the viewers and requests of
benchmarks/inproc.py (same names, so the two views compare), and one export of the last 30 days
runs as the list's button does (start the job, poll it, download). Any non-2xx answer, a server
that dies or does not get ready, and the writer's errors are reported, never waited out; serve and
every process it started are stopped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "convodesk.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402

from benchmarks import inproc  # noqa: E402
from benchmarks.common import dump, summary  # noqa: E402
from benchmarks.ingest import bench_connection  # noqa: E402
from convodesk.conversations.models import Conversation  # noqa: E402
from convodesk.devtools import generate  # noqa: E402
from tests.ops import procs  # noqa: E402

# The requests of benchmarks/inproc.py measured over HTTP too (by name).
LIST_NAMES = (
    "admin, unfiltered",
    "supervisor, department",
    "operator, own",
    "client name search (client=)",
    "page 1000 (jump)",
)
API_NAMES = LIST_NAMES[:4]
STATS_NAMES = (
    "statistics, last 30 days (rollup dimensions)",
    "statistics, last 30 days, department supervisor",
)
STATUS = re.compile(r'data-status="(\w+)"')
TIMEOUT = 120.0  # one request; a server that stops answering fails the run, it does not hang it


class ServerDied(RuntimeError):
    pass


class Serve:
    """`manage.py serve` on a free port, stopped with every process it started."""

    def __init__(self, log: Path, grace: float = 10):
        self.port = procs.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.grace = grace
        self.process = None
        self.family: set[int] = set()

    def start(self) -> None:
        self.log.write_bytes(b"")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = procs.start(
            env,
            "serve",
            "--port",
            str(self.port),
            "--grace",
            str(self.grace),
            "--no-collectstatic",
            log=self.log,
        )

    def check(self) -> None:
        if self.process.poll() is not None:
            raise ServerDied(f"serve exited with {self.process.returncode}:\n{self.tail()}")
        self.family |= procs.descendants(self.process.pid)

    def wait_ready(self, timeout: float = 180) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self.check()
            try:
                if httpx.get(self.base + "/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ServerDied(f"/readyz did not answer 200 within {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> list[int]:
        """Stop serve (SIGTERM, the supervisor stops its children); kill what is left. Returns
        the processes that were still alive afterwards (none, if all went well)."""
        if self.process is None:
            return []
        if self.process.poll() is None:
            self.family |= procs.descendants(self.process.pid)
        try:
            procs.stop(self.process, timeout=self.grace + 10)
        except subprocess.TimeoutExpired:
            pass
        left = [p for p in self.family if procs.alive(p)]
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left

    def tail(self, lines: int = 10) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def errors(self) -> list[str]:
        text = self.log.read_text(errors="replace").splitlines()
        return [x for x in text if "Error" in x or "Traceback" in x or "Exception" in x][-10:]


class Writer(threading.Thread):
    """Client messages through the REST connector at a steady rate (50 clients take turns)."""

    def __init__(self, base: str, rate: float, connection_id: int, secret: str):
        super().__init__(daemon=True)
        self.url = f"{base}/api/v1/connectors/{connection_id}/messages"
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.rate = rate
        self.run_id = get_random_string(8)
        self.halt = threading.Event()
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}
        self.seconds = 0.0

    def run(self) -> None:
        interval = 1.0 / self.rate
        started = time.monotonic()
        due = started
        with httpx.Client(headers=self.headers, timeout=30) as http:
            n = 0
            while not self.halt.is_set():
                body = {
                    "external_message_id": f"http-{self.run_id}-{n}",
                    "text": f"Background message {n}",
                    "client": {"external_id": f"http-bench-client-{n % 50}"},
                }
                t0 = time.perf_counter()
                try:
                    code = str(http.post(self.url, json=body).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                self.latencies.append(time.perf_counter() - t0)
                self.statuses[code] = self.statuses.get(code, 0) + 1
                n += 1
                due += interval
                self.halt.wait(max(0.0, due - time.monotonic()))
        self.seconds = time.monotonic() - started

    def result(self) -> dict:
        accepted = sum(v for k, v in self.statuses.items() if k in ("200", "201"))
        return {
            "wanted_rate": self.rate,
            "sent": len(self.latencies),
            "accepted": accepted,
            "errors": len(self.latencies) - accepted,
            "rate": round(accepted / self.seconds, 2) if self.seconds else 0,
            "seconds": round(self.seconds, 1),
            "statuses": self.statuses,
            "latency": summary(self.latencies),
        }


def session_cookie(user) -> str:
    """A logged-in session, as the login form leaves one (the generated users have no password)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "convodesk.accounts.backends.EmployeeBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def measure(server: Serve, clients: dict, requests: list[dict], path: str, warmup, runs) -> list:
    out = []
    for item in requests:
        url = path + "?" + urlencode(item["params"])
        http = clients[item["user"]]
        samples, statuses = [], {}
        for n in range(warmup + runs):
            server.check()
            t0 = time.perf_counter()
            response = http.get(url)
            took = time.perf_counter() - t0
            statuses[str(response.status_code)] = statuses.get(str(response.status_code), 0) + 1
            if n >= warmup:
                samples.append(took)
        out.append(
            {
                "name": item["name"],
                "user": item["user"],
                "url": url,
                "statuses": statuses,
                "failed": sum(v for k, v in statuses.items() if not k.startswith("2")),
                "page": summary(samples),
            }
        )
    return out


def export_month(server: Serve, base: str, session: str, params: dict) -> dict:
    """The list's background export of the last 30 days: start, poll as the page does, download."""
    token = get_random_string(32)  # a CSRF secret of our own, in the cookie and the header
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={token}"
    with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=TIMEOUT) as http:
        return _export(server, http, token, params)


def _export(server: Serve, http: httpx.Client, token: str, params: dict) -> dict:
    from convodesk.conversations.jobs import ExportJob

    query = "?" + urlencode(params)
    t0 = time.perf_counter()
    started = http.post(reverse("conversations:export") + query, headers={"X-CSRFToken": token})
    if started.status_code != 302:
        return {"status": started.status_code, "failed": 1, "step": "start"}
    job_url = started.headers["location"]
    status, polls = "pending", 0
    while status not in ("done", "failed"):
        server.check()
        time.sleep(0.2)
        page = http.get(job_url, headers={"HX-Request": "true"})
        polls += 1
        if page.status_code != 200:
            return {"status": page.status_code, "failed": 1, "step": "poll"}
        found = STATUS.search(page.text)
        status = found.group(1) if found else "unknown"
        if time.perf_counter() - t0 > 3600:
            return {"status": status, "failed": 1, "step": "poll (1 hour)"}
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    job = ExportJob.objects.get(pk=job_id)
    if status != "done":
        return {"status": status, "failed": 1, "step": "job", "error": job.error}
    download = http.get(reverse("conversations:export_download", args=[job_id]))
    seconds = time.perf_counter() - t0
    return {
        "params": params,
        "status": download.status_code,
        "failed": 0 if download.status_code == 200 else 1,
        "seconds": round(seconds, 2),
        "rows": job.total,
        # The worker's share: waiting to be picked up (its poll), then writing the file.
        "queued_seconds": round((job.started_at - job.created_at).total_seconds(), 2),
        "job_seconds": round((job.finished_at - job.started_at).total_seconds(), 2),
        "bytes": len(download.content),
        "polls": polls,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rate", type=float, default=5.0, help="Background client messages/s.")
    args = parser.parse_args()
    out = Path(args.out)
    result = {
        "vendor": connection.vendor,
        "conversations": Conversation.objects.count(),
        "runs": args.runs,
        "warmup": args.warmup,
    }
    users = generate.bench_users()
    values = inproc.pick_values(users)
    mix = {m["name"]: m for m in inproc.request_mix(users, values)}
    stats = [r for r in inproc.stats_requests(values) if r["name"] in STATS_NAMES]
    tokens = inproc.api_tokens(users)
    cookies = {role: session_cookie(user) for role, user in users.items()}
    api_mix = [
        dict(mix[n], params={k: v for k, v in mix[n]["params"].items() if k != "view"})
        for n in API_NAMES
    ]
    connector, secret = bench_connection()
    connection.close()  # serve writes to this database from now on

    server = Serve(out.with_name("http-serve.log"))
    writer = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the finally below stops serve
    try:
        server.start()
        result["ready_seconds"] = round(server.wait_ready(), 1)
        writer = Writer(server.base, args.rate, connector.pk, secret)
        writer.start()

        def clients(header: str, value) -> dict:
            """One keep-alive client per viewer, carrying that viewer's credential."""
            return {
                role: httpx.Client(
                    base_url=server.base, headers={header: value(role)}, timeout=TIMEOUT
                )
                for role in users
            }

        web = clients("Cookie", lambda role: f"{settings.SESSION_COOKIE_NAME}={cookies[role]}")
        api = clients("Authorization", lambda role: f"Bearer {tokens[role]}")
        w, r = args.warmup, args.runs
        result["list"] = measure(server, web, [mix[n] for n in LIST_NAMES], inproc.LIST, w, r)
        result["api"] = measure(server, api, api_mix, inproc.API, w, r)
        result["stats"] = measure(server, web, stats, inproc.STATS, 1, max(5, r // 2))
        today = timezone.localdate()
        month = {
            "started_from": (today - dt.timedelta(days=30)).isoformat(),
            "started_to": today.isoformat(),
        }
        result["export"] = export_month(server, server.base, cookies["admin"], month)
    except (ServerDied, httpx.HTTPError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.halt.set()
            writer.join(timeout=60)
            result["background"] = writer.result()
        result["leftover_processes"] = server.stop()
        result["server_errors"] = server.errors()
    failures = [
        f"{kind}: {row['name']}: {row['statuses']}"
        for kind in ("list", "api", "stats")
        for row in result.get(kind, [])
        if row["failed"]
    ]
    if result.get("export", {}).get("failed"):
        failures.append(f"export: {result['export']}")
    if result.get("background", {}).get("errors"):
        failures.append(f"background writer: {result['background']['statuses']}")
    result["failures"] = failures
    dump(out, result)
    if result.get("error"):
        print(result["error"], file=sys.stderr)
    for line in failures:
        print("FAILED", line, file=sys.stderr)
    return 1 if result.get("error") or result["leftover_processes"] or failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)
