import uuid

import pytest

from tests import migrated


@pytest.fixture
def install(tmp_path):
    """A fresh installation folder (its own SQLite database, key and static files)."""
    var = tmp_path / "var"
    var.mkdir()
    migrated.copy_sqlite(var / "convodesk.sqlite3")
    return var


@pytest.fixture
def pg_database():
    """A fresh, migrated PostgreSQL database for one test, dropped after."""
    from . import pg

    if not pg.reachable():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    name = f"cd_ops_{uuid.uuid4().hex[:10]}"
    migrated.copy_postgres(name)
    yield name
    pg.drop(name)
