"""A migrated database, made once per set of migrations and copied wherever a test needs one.

Running the project's migrations is the costliest step of making a database: Django renders the
model state again after each operation. The suite needs a migrated database many times a run:
each worker's test database in both passes, the fuzz run's, and every installation that a test
runs as processes of its own (serve, exports, moves, backups, two nodes). Each of those now
copies one database migrated by `manage.py migrate` itself, so the copy is exactly what an
installation holds after migrating, data migrations and post-migrate rows included:

- SQLite: a file under `var/test-cache/`, named by a fingerprint of every installed app's
  migration files and Django's version. Another set of migrations gets another file.
- PostgreSQL: a database `convodesk_migrated_<fingerprint>` on the run's server
  (tests/ops/pg.py), copied with `CREATE DATABASE … TEMPLATE`. Templates of other fingerprints
  are dropped when a new one is made.

The first process to need one makes it while the others wait (a file lock; an advisory lock on
PostgreSQL). The tests of the migrations themselves (tests/ops: moving to PostgreSQL, backups
and restores, `migrate --check`) still migrate for real.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path

import django

PROJECT = Path(__file__).resolve().parents[1]
CACHE = PROJECT / "var" / "test-cache"
PG_PREFIX = "convodesk_migrated_"


def fingerprint() -> str:
    """Every installed app's migration files (names and contents) and Django's version."""
    from django.apps import apps

    digest = hashlib.sha256(django.get_version().encode())
    for config in sorted(apps.get_app_configs(), key=lambda config: config.label):
        folder = Path(config.path) / "migrations"
        for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
            digest.update(f"{config.label}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _migrate(database_url: str, var_dir: str) -> None:
    """`manage.py migrate` as an installation runs it (tests/ops/procs.py's environment)."""
    from tests.ops import procs

    done = procs.manage(
        procs.installation_env(Path(var_dir), DATABASE_URL=database_url),
        "migrate",
        "--noinput",
        "-v0",
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"migrating the template failed:\n{done.stdout}{done.stderr}")


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sqlite_template() -> Path:
    """The migrated SQLite file (one file, no journal beside it); never written to: copy it."""
    target = CACHE / f"migrated-{fingerprint()}.sqlite3"
    if target.exists():
        return target
    with _file_lock(CACHE / "sqlite.lock"):
        if not target.exists():
            with tempfile.TemporaryDirectory(prefix="convodesk-template-") as var_dir:
                building = Path(var_dir) / "db.sqlite3"
                _migrate(f"sqlite:///{building}", var_dir)
                with sqlite3.connect(building) as db:  # WAL folded in: the file is whole
                    db.execute("PRAGMA journal_mode=DELETE")
                db.close()
                shutil.copyfile(building, target.with_suffix(".tmp"))
                os.replace(target.with_suffix(".tmp"), target)
            for stale in CACHE.glob("migrated-*.sqlite3"):
                if stale != target:
                    stale.unlink(missing_ok=True)
    return target


def copy_sqlite(target: Path | str) -> None:
    """A migrated database at `target` (any journal files of an older one there removed)."""
    target = Path(target)
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(sqlite_template(), target)


@contextmanager
def _postgres_locked():
    """A connection to the run's PostgreSQL server holding the templates' advisory lock."""
    import psycopg

    from tests.ops.pg import server_url

    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('convodesk test template'))")
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext('convodesk test template'))")


def _postgres_template(conn) -> str:
    from tests.ops.pg import server_url

    name = PG_PREFIX + fingerprint()
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        return name
    building = f"{name}_building"
    conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{building}"')
    with tempfile.TemporaryDirectory(prefix="convodesk-template-") as var_dir:
        _migrate(server_url(building), var_dir)
    conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    stale = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
        [PG_PREFIX + "%", name],
    ).fetchall()
    for (old,) in stale:
        conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    return name


def copy_postgres(target: str) -> None:
    """A migrated database named `target` on the run's PostgreSQL server (an older one of that
    name dropped first)."""
    with _postgres_locked() as conn:
        template = _postgres_template(conn)
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
