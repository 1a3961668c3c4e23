"""Issue 18: the move off SQLite (`manage.py move_to_postgres`) and backups (`manage.py backup`).

The demo organisation with its conversations is moved into a PostgreSQL database this test
creates (and drops); the list, the statistics and the Excel export read through the API are the
same before and after, and so are the API token and a bot token stored encrypted. A backup taken
while another process writes is restored into a new installation and read there.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time

import pytest

from . import pg, procs

SETUP = (
    "from tests import factories as f; from convodesk.connectors import telegram; "
    "from convodesk.lines.models import Line; "
    "c = f.connection(Line.objects.order_by('pk').first(), 'telegram', name='Moved bot'); "
    "telegram.set_bot_token(c, '123456789:' + 'B' * 35); c.save(); print(c.pk)"
)


def snapshot(env, token: str) -> dict:
    result = procs.manage(
        env, "shell", "-c", f"from tests.ops.snapshot import main; main({token!r})"
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bot_token(env, pk: str) -> str:
    code = (
        "from convodesk.connectors import telegram; from convodesk.lines.models import Connection; "
        f"print(telegram.bot_token(Connection.objects.get(pk={pk})))"
    )
    return procs.manage(env, "shell", "-c", code).stdout.strip().splitlines()[-1]


@pytest.mark.nodb
def test_move_to_postgres_keeps_the_list_statistics_export_tokens_and_secrets(install, pg_database):
    """The target is `pg_database`: a database already migrated, as an administrator who ran
    `migrate` against it first leaves it. The command's own `migrate` finds nothing to do; the
    migrations themselves are the test template's, an empty database migrated through the same
    command (tests/migrated.py)."""
    sqlite_env = procs.installation_env(install)
    procs.manage(sqlite_env, "demo", "--conversations", "100", timeout=600)
    connection = procs.manage(sqlite_env, "shell", "-c", SETUP).stdout.strip().splitlines()[-1]
    token = procs.manage(sqlite_env, "api_token", "create", "admin").stdout.strip().splitlines()[-1]
    before = snapshot(sqlite_env, token)
    assert before["count"] >= 100 and len(before["list"]) == before["count"]
    assert len(before["export"]) == before["count"] + 1  # the header row

    url = pg.url(pg_database)
    moved = procs.manage(sqlite_env, "move_to_postgres", url, timeout=900)
    assert "tables agree" in moved.stdout, moved.stdout + moved.stderr
    pg_env = procs.installation_env(install, DATABASE_URL=url)
    after = snapshot(pg_env, token)
    assert after["count"] == before["count"]
    assert after["list"] == before["list"]
    assert after["stats"] == before["stats"]
    assert after["export"] == before["export"]
    assert bot_token(pg_env, connection) == "123456789:" + "B" * 35
    # New rows get new ids after the copied ones (the sequences moved on).
    new = procs.manage(
        pg_env,
        "shell",
        "-c",
        "from tests import factories as f; from convodesk.lines.models import Line; "
        "print(f.connection(Line.objects.first(), 'api').pk)",
    )
    assert int(new.stdout.strip().splitlines()[-1]) > int(connection)
    # A second move into the now-filled database is refused, nothing touched.
    again = procs.manage(sqlite_env, "move_to_postgres", url, check=False)
    assert again.returncode != 0
    assert "already holds an installation" in again.stderr
    assert snapshot(pg_env, token)["count"] == before["count"]


WRITER = """
import time
from tests import factories as f
from convodesk.lines.models import Connection
conn = Connection.objects.filter(kind='api').first()
i = 0
while True:
    f.client_message(conn, client=f'writer-{i % 7}', text=f'message {i}')
    i += 1
    print(i, flush=True)
    time.sleep(0.01)
"""


@pytest.mark.nodb
def test_a_backup_taken_while_another_process_writes_restores_and_reads(install, tmp_path):
    env = procs.installation_env(install)
    procs.manage(env, "demo", "--organisation-only", "--conversations", "100")
    procs.manage(
        env,
        "shell",
        "-c",
        "from tests import factories as f; from convodesk.lines.models import Line; f.connection(Line.objects.first(), 'api')",
    )
    count = "SELECT count(*) FROM conversations_message"
    writer = subprocess.Popen(
        [*procs.MANAGE, "shell", "-c", WRITER],
        env=env,
        cwd=procs.PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = ""
        while not first.isdigit():  # past the shell's own banner
            first = writer.stdout.readline().strip()
            assert first or writer.poll() is None, "the writer did not start"
        time.sleep(1)
        backup = tmp_path / "backups" / "copy.sqlite3"
        result = procs.manage(env, "backup", "--output", str(backup))
        assert "Backed up to" in result.stdout
        time.sleep(1)
    finally:
        procs.stop(writer)
    with sqlite3.connect(install / "convodesk.sqlite3") as live:
        written = live.execute(count).fetchone()[0]
    assert oct(backup.stat().st_mode)[-3:] == "600"
    with sqlite3.connect(backup) as db:  # one self-contained file, no -wal beside it
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    restored = tmp_path / "restored"
    restored.mkdir()
    backup.rename(restored / "convodesk.sqlite3")
    restored_env = procs.installation_env(restored)
    check = procs.manage(restored_env, "migrate", "--check")  # the schema is whole
    assert check.returncode == 0
    read = (
        procs.manage(
            restored_env,
            "shell",
            "-c",
            "from convodesk.conversations.models import Message; from convodesk.accounts.models import User; "
            "print(Message.objects.count(), User.objects.filter(username='maria').exists())",
        )
        .stdout.strip()
        .splitlines()[-1]
        .split()
    )
    assert read[1] == "True"
    assert 0 < int(read[0]) < written  # a moment in the middle of the writing, read whole
    with sqlite3.connect(restored / "convodesk.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.nodb
def test_backup_on_postgresql_prints_pg_dump_and_runs_it(pg_database, tmp_path):
    env = procs.installation_env(tmp_path, DATABASE_URL=pg.url(pg_database))
    printed = procs.manage(env, "backup").stdout
    assert "pg_dump --format=custom" in printed and pg_database in printed
    assert "pg_restore" in printed
    dump = tmp_path / "db.dump"
    procs.manage(env, "backup", "--run", "--output", str(dump))
    restored = pg.create(prefix="cd_ops_restore")
    try:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                restored,
                str(dump),
            ],
            check=True,
            capture_output=True,
        )
        check = procs.manage(
            procs.installation_env(tmp_path, DATABASE_URL=pg.url(restored)), "migrate", "--check"
        )
        assert check.returncode == 0
    finally:
        pg.drop(restored)
