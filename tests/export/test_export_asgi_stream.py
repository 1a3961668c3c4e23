"""Under a real uvicorn process, a 150,000-row export downloads in constant memory.

Django serves a synchronous file iterator under ASGI by reading it whole into memory first; the
downloads answer with an asynchronous iterator instead. The server's resident memory is sampled
from /proc while it sends the ~11 MB workbook: it may not grow by more than a few megabytes.
"""

import re
import socket
import subprocess
import sys
import threading
import time
import zipfile

import httpx
import pytest

from .installation import PROJECT, manage, sqlite_installation

ROWS = 150_000
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
print(job.pk)
"""


@pytest.mark.nodb
def test_a_150000_row_export_downloads_from_uvicorn_in_constant_memory(tmp_path):
    """The workbook is written by another process (a background export run inline), so the
    server's memory shows the download alone: Django's way, the whole file in a list (+20 MB);
    the async iterator's, a chunk or two."""
    env, token = sqlite_installation(tmp_path, ROWS, "asgi-stream")
    job_id = manage(env, "shell", "-c", WRITE_JOB).strip().splitlines()[-1]

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
    assert size == int(response.headers["Content-Length"])
    with zipfile.ZipFile(target) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")[:1000].decode()
    # The dimension: a header and 150,000 rows (as many columns as the list's defaults).
    assert re.search(rf':[A-Z]+{ROWS + 1}"', sheet), sheet[:300]
    growth = (peak - before) / MB
    print(
        f"\nuvicorn download of a {ROWS:,}-row export: {size / MB:.1f} MB in {seconds:.1f} s; "
        f"server RSS {before / MB:.0f} MB before, +{growth:.1f} MB at most while sending"
    )
    assert size > 8 * MB  # held whole in memory, the file would show (the limit is 5 MB)
    assert growth < 5, f"sending grew the server by {growth:.1f} MB"
