import shutil

import pytest

from . import procs


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory):
    """A migrated SQLite database, made once per test process and copied for each test."""
    base = tmp_path_factory.mktemp("ops-template")
    procs.manage(procs.installation_env(base), "migrate", "--noinput", "-v0")
    return base / "convodesk.sqlite3"


@pytest.fixture
def install(tmp_path, migrated_sqlite_template):
    """A fresh installation folder (its own SQLite database, key and static files)."""
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(migrated_sqlite_template, var / "convodesk.sqlite3")
    return var
