"""A background export finishes on a live SQLite installation while others write (issue 23).

Everything runs in processes of its own against one SQLite file, as `serve`, the worker and the
timers do: a writer commits a short transaction every few milliseconds (conversations touched,
an API token's last-used time) for the whole length of an export run as the worker runs it.
The export reads for seconds through one open statement; its progress is written meanwhile.
Before the fix its first progress write failed at once with "database is locked" (the export's
snapshot was stale), or held the write lock until the read ended and the writer timed out.
"""

import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from .installation import PROJECT, manage, sqlite_installation

ROWS = 30_000

WRITER = """
import os, random, time
from django.db import OperationalError, transaction
from django.utils import timezone
from convodesk.api.models import ApiToken
from convodesk.conversations.models import Conversation
ids = list(Conversation.objects.values_list("id", flat=True)[:1000])
open(os.environ["STARTED_FILE"], "w").close()
writes = errors = 0
deadline = time.monotonic() + 600
while not os.path.exists(os.environ["STOP_FILE"]) and time.monotonic() < deadline:
    try:
        with transaction.atomic():
            Conversation.objects.filter(pk=random.choice(ids)).update(updated_at=timezone.now())
        ApiToken.objects.update(last_used_at=timezone.now())
        writes += 1
    except OperationalError as exc:
        errors += 1
        print("writer error:", exc)
    time.sleep(0.003)
print("writes", writes, "errors", errors)
"""

EXPORT = """
import time
from convodesk.accounts.models import User
from convodesk.conversations import export
from convodesk.conversations.jobs import ExportJob
user = User.objects.get(is_integration=True)
started = time.monotonic()
job = export.start_export(user, {}, export.user_columns(user))
job = ExportJob.objects.get(pk=job.pk)
print("status", job.status, "rows", job.progress, "seconds", round(time.monotonic() - started, 1))
print("error", repr(job.error))
print("path", job.path)
"""


@pytest.mark.nodb
def test_a_background_export_finishes_beside_a_steady_writer_on_a_sqlite_file(tmp_path):
    env, _token = sqlite_installation(
        tmp_path,
        ROWS,
        "live-sqlite",
        STARTED_FILE=str(tmp_path / "writer-started"),
        STOP_FILE=str(tmp_path / "writer-stop"),
    )

    writer = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", WRITER],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(600):
            if Path(env["STARTED_FILE"]).exists() or writer.poll() is not None:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # the writer is committing
        out = manage(env, "shell", "-c", EXPORT)
    finally:
        Path(env["STOP_FILE"]).touch()
        writer_out, _ = writer.communicate(timeout=120)
    print(out, writer_out[-500:])

    assert "status done" in out, out
    assert f"rows {ROWS}" in out, out
    path = re.search(r"^path (.+)$", out, re.M).group(1)
    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")[:1000].decode()
    assert re.search(rf':[A-Z]+{ROWS + 1}"', sheet), sheet[:300]  # the header and every row
    writes, errors = map(int, re.search(r"writes (\d+) errors (\d+)", writer_out).groups())
    assert errors == 0, writer_out[-2000:]
    assert writes > 50, writer_out[-500:]  # it did write all along
