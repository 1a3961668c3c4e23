"""Django's SQLite backend with its connections kept for the next request of the process.

Under ASGI Django serves every request in a thread of its own (a new single-thread executor per
request), so a connection kept per thread (CONN_MAX_AGE) would never be met again. Instead, as the
pool does on PostgreSQL, a connection that closes cleanly (no transaction open, no error) goes back
to a list of this process, and the next connect, in any thread, takes it: no new file open and no
PRAGMAs to run. Django opens SQLite connections with check_same_thread=False; one thread uses a
connection at a time. A database file replaced under the process (a test database created again,
a restored copy) has a new inode: the connections to the old one are dropped, not reused. A forked
child never uses (nor closes) the connections of its parent.
"""

from __future__ import annotations

import atexit
import os
import threading

from django.db.backends.sqlite3 import base, creation

IDLE_MAX = 16  # kept per database file; more closes for real


class Idle:
    """The idle connections of this process, per database file (name and inode)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections: dict[str, tuple[int | None, list]] = {}
        self.abandoned: list = []  # a forked child's copies of its parent's: never closed

    def take(self, name: str, inode: int | None):
        with self.lock:
            kept_inode, kept = self.connections.get(name, (None, []))
            if kept_inode != inode:
                stale, kept = kept, []
                self.connections[name] = (inode, kept)
            else:
                stale = []
            conn = kept.pop() if kept else None
        for old in stale:
            old.close()
        return conn

    def give(self, name: str, inode: int | None, conn) -> bool:
        with self.lock:
            kept_inode, kept = self.connections.setdefault(name, (inode, []))
            if kept_inode == inode and len(kept) < IDLE_MAX:
                kept.append(conn)
                return True
        return False

    def close(self, names=None) -> None:
        """Close the kept connections (to these files): before a file is removed, and at exit (the
        last connection to a file that is still there checkpoints it and removes its -wal)."""
        with self.lock:
            names = list(self.connections) if names is None else names
            kept = [conn for name in names for conn in self.connections.pop(name, (0, []))[1]]
        for conn in kept:
            conn.close()

    def forget_after_fork(self) -> None:
        self.lock = threading.Lock()
        for _inode, kept in self.connections.values():
            self.abandoned.extend(kept)
        self.connections = {}


IDLE = Idle()
os.register_at_fork(after_in_child=IDLE.forget_after_fork)
atexit.register(IDLE.close)


def inode(name: str) -> int | None:
    try:
        return os.stat(name).st_ino
    except OSError:
        return None


class DatabaseCreation(creation.DatabaseCreation):
    """A test database file is removed (before it is made again, and at the end): its kept
    connections are closed first, as Django closes its own."""

    def _create_test_db(self, verbosity, autoclobber, keepdb=False):
        IDLE.close([self._get_test_db_name()])
        return super()._create_test_db(verbosity, autoclobber, keepdb)

    def _destroy_test_db(self, test_database_name, verbosity):
        IDLE.close([test_database_name])
        super()._destroy_test_db(test_database_name, verbosity)


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation
    pooled_inode: int | None = None

    def get_new_connection(self, conn_params):
        self.pooled_inode = None
        if self.is_in_memory_db():
            return super().get_new_connection(conn_params)
        name = conn_params["database"]
        current = inode(name)
        conn = IDLE.take(name, current) if current is not None else None
        if conn is not None:
            # As Django opens them, whatever happened to the connection since.
            conn.execute("PRAGMA foreign_keys = ON")
        else:
            conn = super().get_new_connection(conn_params)
            current = inode(name)
        self.pooled_inode = current
        return conn

    def _close(self):
        conn = self.connection
        clean = not (self.in_atomic_block or self.errors_occurred or conn.in_transaction)
        name = self.settings_dict["NAME"]
        if clean and self.pooled_inode is not None and IDLE.give(name, self.pooled_inode, conn):
            return
        super()._close()
