"""An installation of its own for the export tests that run real processes: a SQLite file under
`tmp_path`, migrated (a copy of tests/migrated.py's template), with `rows` generated conversations and an integration's API token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import migrated

PROJECT = Path(__file__).resolve().parents[2]


def manage(env, *args, timeout=900) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def sqlite_installation(tmp_path: Path, rows: int, name: str, **extra) -> tuple[dict, str]:
    """(the environment its processes run with, the integration's token)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CONVODESK_TEST_DB")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="convodesk.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CONVODESK_VAR_DIR=str(tmp_path / "var"),
        SECRET_KEY=f"{name}-test-" + "k" * 50,
        TASKS_BACKEND="django_tasks.backends.immediate.ImmediateBackend",
        **extra,
    )
    migrated.copy_sqlite(tmp_path / "db.sqlite3")
    # The statistics rollups are not read by an export: their rebuild was half the generation.
    generate = ["--conversations", str(rows), "--messages-for", "0", "--no-events"]
    manage(env, "generate", *generate, "--no-rollups")
    token = manage(
        env, "api_token", "create", "--integration", "exporter", "--role", "Chief executive"
    )
    return env, token.strip().splitlines()[-1]
