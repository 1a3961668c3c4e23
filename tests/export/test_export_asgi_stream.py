"""Under a real uvicorn process, a finished export's file downloads in constant memory.

Django serves a synchronous file iterator under ASGI by reading it whole into memory first; the
downloads answer with an asynchronous iterator instead. The server's resident memory is sampled
from /proc while it sends a 12 MB file: it may not grow by more than a few megabytes.

The job is a real export of a small installation whose file is then made as large as a
150,000-row workbook (random bytes, which no layer can compress): what is measured is the
download alone, and the export's writing is measured by test_export_memory.py.
"""

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from .installation import PROJECT, manage, sqlite_installation

ROWS = 200
SIZE = 12 * 1024 * 1024  # a 150,000-row workbook's size
MB = 1024 * 1024


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    """The process's RSS every 20 ms, with the peak since the last mark()."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss(self.pid))
            except (OSError, RuntimeError):
                return
            time.sleep(0.02)

    def mark(self) -> int:
        now = rss(self.pid)
        self.peak = now
        return now

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WRITE_JOB = """
from convodesk.accounts.models import User
from convodesk.conversations import export
user = User.objects.get(is_integration=True)
job = export.start_export(user, {}, export.user_columns(user))
job.refresh_from_db()
assert job.ready, (job.status, job.error)
print(job.pk, job.path)
"""


@pytest.mark.nodb
def test_a_12_mb_export_file_downloads_from_uvicorn_in_constant_memory(tmp_path):
    """The job is made by another process (a background export run inline), so the server's
    memory shows the download alone: Django's way, the whole file in a list (+12 MB); the async
    iterator's, a chunk or two."""
    env, token = sqlite_installation(tmp_path, ROWS, "asgi-stream")
    job_id, job_path = manage(env, "shell", "-c", WRITE_JOB).strip().splitlines()[-1].split(" ", 1)
    content = os.urandom(SIZE)
    with open(job_path, "wb") as file:
        file.write(content)

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "convodesk.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--lifespan",
            "off",
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    sampler = None
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/me", headers=headers, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("uvicorn did not start")
        # A small inline export first: the download path's one-time costs (imports, workbook).
        warm = httpx.get(f"{base}/conversations/export.xlsx?id=1", headers=headers, timeout=60)
        assert warm.status_code == 200 and warm.content.startswith(b"PK")

        sampler = Sampler(server.pid)
        before = sampler.mark()
        target = tmp_path / "export.xlsx"
        started = time.monotonic()
        with httpx.stream(
            "GET", f"{base}/exports/{job_id}/file", headers=headers, timeout=600
        ) as response:
            assert response.status_code == 200, response.read()[:500]
            with open(target, "wb") as out:
                for chunk in response.iter_bytes(256 * 1024):
                    out.write(chunk)
                    time.sleep(0.01)  # a client a little slower than loopback: ~1 s in all
        seconds = time.monotonic() - started
        peak = sampler.peak
    finally:
        if sampler is not None:
            sampler.stop()
        server.terminate()
        server.wait(timeout=30)

    size = target.stat().st_size
    assert size == SIZE == int(response.headers["Content-Length"])
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(content).digest()
    growth = (peak - before) / MB
    print(
        f"\nuvicorn download of a {size / MB:.0f} MB export file in {seconds:.1f} s; "
        f"server RSS {before / MB:.0f} MB before, +{growth:.1f} MB at most while sending"
    )
    # Held whole in memory, the 12 MB file would show: the limit is 5 MB.
    assert growth < 5, f"sending grew the server by {growth:.1f} MB"
