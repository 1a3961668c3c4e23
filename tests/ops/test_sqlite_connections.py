"""Issue 23: on SQLite, as on PostgreSQL, a process reuses its database connections.

Under ASGI every request runs in a thread of its own; the connection a request closes goes back
to the process and the next request takes it (no new open, no PRAGMAs), unless the database file
was replaced meanwhile.
"""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest
from django.db import connection
from django.db.backends.signals import connection_created

from convodesk.devtools import generate
from convodesk.ops.sqlite3.base import IDLE
from tests.ops import procs
from tests.workspace.server import ThreadedUvicorn

pytestmark = pytest.mark.sqlite_only("its connections")


@pytest.fixture
def opened():
    """The raw DB-API connections Django opens in other threads than the test's, in order."""
    raw, test_thread = [], threading.current_thread()

    def record(sender, connection, **kwargs):
        # The thread object, not its ident: the system reuses an ended thread's ident.
        if threading.current_thread() is not test_thread:
            raw.append((threading.current_thread(), connection.connection))

    connection_created.connect(record)
    yield raw
    connection_created.disconnect(record)


def _until_kept(raw, timeout: float = 5.0) -> None:
    """Wait until the raw connection a request used is back among the kept ones: the server's
    thread hands it back after the response has reached the client, so a second request sent at
    once may rightly find it still in use (and open its own)."""
    name = connection.settings_dict["NAME"]
    deadline = time.monotonic() + timeout
    while raw not in IDLE.connections.get(name, (None, []))[1]:
        assert time.monotonic() < deadline, "the request's connection was not kept"
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_two_requests_over_http_use_one_sqlite_connection(opened):
    with ThreadedUvicorn() as server, httpx.Client(base_url=server.url) as http:
        for _ in range(2):
            assert http.get("/readyz").status_code in (200, 503)  # both read the database
            _until_kept(opened[-1][1])
    assert len(opened) == 2
    (first_thread, first), (second_thread, second) = opened
    assert first_thread is not second_thread  # Django serves each request in a thread of its own
    assert second is first


@pytest.mark.django_db(transaction=True)
def test_a_replaced_database_file_is_not_reached_through_a_kept_connection(tmp_path):
    from django.db.utils import ConnectionHandler

    name = str(tmp_path / "other.sqlite3")
    handler = ConnectionHandler({"default": {**connection.settings_dict, "NAME": name}})
    conn = handler["default"]
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE marker (old INTEGER)")
    kept = conn.connection
    conn.close()
    assert kept in IDLE.connections[name][1]  # kept for the next connect
    os.rename(name, name + ".moved")  # a restore puts another file in its place
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'marker'")
        assert cursor.fetchone() == (0,)
    assert conn.connection is not kept
    conn.close()


@pytest.mark.django_db
def test_each_connection_keeps_a_page_cache_of_the_configured_size():
    """SQLITE_CACHE_MB (32 by default) instead of SQLite's own 2 MB: the statistics page reads
    tens of thousands of rollup rows, and a kept connection then finds them in memory."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == -32 * 1024  # negative: KiB, not pages


@pytest.mark.django_db
def test_a_bulk_load_gives_the_kept_connection_its_page_cache_back():
    """The generator (demo history, benchmarks) takes a 400 MB cache for its load; the process
    keeps the connection afterwards, and the next request must not find it holding that."""
    generate.generate(200, seed=3, chunk=200, log=lambda *_: None)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == -32 * 1024


def test_a_mistyped_cache_size_stops_the_start_with_its_name(tmp_path):
    done = procs.manage(
        procs.installation_env(tmp_path, SQLITE_CACHE_MB="lots"), "check", check=False
    )
    assert done.returncode != 0
    assert "SQLITE_CACHE_MB: give a whole number of MB, not 'lots'" in done.stderr
