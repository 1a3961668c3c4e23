"""`manage.py backup`: a consistent copy of the database while the product keeps running.

SQLite: the sqlite3 online backup API copies the pages under SQLite's own locking, so writers
carry on and the copy is one consistent moment (a plain file copy of a WAL database is not).
The copy is checked (`PRAGMA integrity_check`) before its path is printed. PostgreSQL: pg_dump
is the tool; this command prints the line to run, or runs it with --run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = (
        "Back up the database of a running installation: SQLite with its online backup API into "
        "var/backups/ (or --output); PostgreSQL: print the pg_dump command (--run runs it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", help="File to write (default var/backups/<time>.*).")
        parser.add_argument(
            "--run", action="store_true", help="PostgreSQL: run pg_dump instead of printing it."
        )

    def handle(self, *args, output=None, run=False, **options):
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        folder = settings.VAR_DIR / "backups"
        if connection.vendor == "sqlite":
            target = Path(output) if output else folder / f"convodesk-{stamp}.sqlite3"
            self.sqlite(Path(settings.DATABASES["default"]["NAME"]), target)
        elif connection.vendor == "postgresql":
            target = Path(output) if output else folder / f"convodesk-{stamp}.dump"
            self.postgres(target, run)
        else:
            raise CommandError(f"No backup for the {connection.vendor} database here.")

    def sqlite(self, source: Path, target: Path) -> None:
        if target.exists():
            raise CommandError(f"{target} exists; choose another --output.")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        src = sqlite3.connect(source, timeout=30)
        dst = sqlite3.connect(partial)
        try:
            # Some pages at a time, so writers are held back only for moments.
            src.backup(dst, pages=1024, sleep=0.005)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
            src.close()
        if check != "ok":
            partial.unlink(missing_ok=True)
            raise CommandError(f"The copy failed its integrity check: {check}")
        partial.rename(target)
        target.chmod(0o600)
        self.stdout.write(self.style.SUCCESS(f"Backed up to {target}"))
        self.stdout.write(
            f"Size {target.stat().st_size:,} bytes. To restore: stop the installation, copy the "
            f"file to {source}, start it. Keep the key with it ({settings.SECRET_KEY_FILE} or "
            f"SECRET_KEY): the stored secrets (bot tokens, mailbox passwords) need it."
        )

    def postgres(self, target: Path, run: bool) -> None:
        db = settings.DATABASES["default"]
        command = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}"]
        for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
            if db.get(key):
                command.append(f"{flag}={db[key]}")
        command.append(db["NAME"])
        line = " ".join(command)
        if not run:
            self.stdout.write(
                "PostgreSQL is backed up with its own tool, safely while the product runs:\n"
                f"  {'PGPASSWORD=... ' if db.get('PASSWORD') else ''}{line}\n"
                "Restore into an empty database, then migrate and start the roles:\n"
                f"  pg_restore --no-owner --dbname=<new database> {target}\n"
                "Or run this command with --run to dump now."
            )
            return
        if shutil.which("pg_dump") is None:
            raise CommandError("pg_dump is not installed (apt-get install postgresql-client).")
        target.parent.mkdir(parents=True, exist_ok=True)
        env = None
        if db.get("PASSWORD"):
            env = {**os.environ, "PGPASSWORD": db["PASSWORD"]}
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode:
            raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
        self.stdout.write(self.style.SUCCESS(f"Backed up to {target}"))
