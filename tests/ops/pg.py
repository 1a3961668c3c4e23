"""Databases of their own on the machine's PostgreSQL server (created with a unique name and
dropped after), and a TCP relay that stands in for a server going away and coming back without
touching the shared PostgreSQL or Redis that other people use."""

from __future__ import annotations

import socket
import threading
import uuid

import psycopg
from django.conf import settings


def server_url(dbname: str = "postgres") -> str:
    """The PostgreSQL server of this run (the PostgreSQL pass's), else the machine's default."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        user = db.get("USER") or "postgres"
        auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
        return (
            f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{dbname}"
        )
    return f"postgres://postgres@127.0.0.1:5432/{dbname}"


def reachable() -> bool:
    try:
        with psycopg.connect(server_url(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def create(template: str | None = None, prefix: str = "cd_ops") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop(name: str) -> None:
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url(name: str, port: int | None = None) -> str:
    base = server_url(name)
    if port is None:
        return base
    head, tail = base.rsplit("@", 1)
    return f"{head}@127.0.0.1:{port}/{tail.split('/', 1)[1]}"


class Relay:
    """127.0.0.1:<port> relayed to a real server. `stop()` closes the port and cuts every
    relayed connection (the server is gone for whoever uses the port); `start()` opens the
    same port again (the server is back)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.listener: socket.socket | None = None
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()

    def start(self) -> Relay:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()
