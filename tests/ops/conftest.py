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


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory):
    """A migrated PostgreSQL database of its own (made once per test process, dropped after);
    tests copy it with CREATE DATABASE ... TEMPLATE."""
    from . import pg

    if not pg.reachable():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    name = pg.create(prefix="cd_ops_tpl")
    try:
        procs.manage(
            procs.installation_env(
                tmp_path_factory.mktemp("ops-pg-template"), DATABASE_URL=pg.url(name)
            ),
            "migrate",
            "--noinput",
            "-v0",
        )
        yield name
    finally:
        pg.drop(name)


@pytest.fixture
def pg_database(pg_template):
    """A fresh, migrated PostgreSQL database for one test, dropped after."""
    from . import pg

    name = pg.create(template=pg_template)
    yield name
    pg.drop(name)
