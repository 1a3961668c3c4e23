"""Issue 18: /readyz of a real node fails when PostgreSQL or Redis goes away and recovers when
it comes back. The node reaches both through a relay this test owns; stopping the relay is the
server going away for the node (the machine's shared PostgreSQL and Redis keep running)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from . import pg, procs

pytestmark = [
    pytest.mark.postgres_only,
]


def readiness(port: int) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=15)
    except httpx.HTTPError as exc:
        return 0, {"error": str(exc)}, time.monotonic() - started
    return response.status_code, response.json(), time.monotonic() - started


def wait_status(port: int, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        code, body, took = readiness(port)
        seen = (code, body)
        if code == status:
            assert took < 8, f"/readyz took {took:.1f} s to answer"
            return body
        time.sleep(0.5)
    raise AssertionError(f"/readyz never answered {status}; last {seen}")


def test_readyz_fails_when_postgresql_or_redis_goes_away_and_recovers(pg_database, tmp_path):
    pg_relay = pg.Relay(5432).start()
    redis_relay = pg.Relay(6379).start()
    prefix = f"cd-ops-{uuid.uuid4().hex[:8]}"
    node_env = procs.installation_env(
        tmp_path / "node",
        DATABASE_URL=pg.url(pg_database, port=pg_relay.port),
        REDIS_URL=f"redis://127.0.0.1:{redis_relay.port}/0",
        REDIS_PREFIX=prefix,
    )
    # The worker and the timers reach the servers directly: their heartbeats stay fresh.
    background_env = procs.installation_env(
        tmp_path / "background",
        DATABASE_URL=pg.url(pg_database),
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_PREFIX=prefix,
    )
    (tmp_path / "node").mkdir()
    (tmp_path / "background").mkdir()
    port = procs.free_port()
    started = [
        procs.start(background_env, "db_worker", "--queue-name", "*", log=tmp_path / "worker.log"),
        procs.start(background_env, "timers", log=tmp_path / "timers.log"),
        procs.start(
            node_env,
            "serve",
            "--role",
            "web",
            "--port",
            str(port),
            "--no-collectstatic",
            log=tmp_path / "web.log",
        ),  # fmt: skip
    ]
    try:
        body = wait_status(port, 200, 90)
        assert set(body["checks"]) == {
            "database",
            "migrations",
            "worker",
            "jobs",
            "timers",
            "redis",
        }

        pg_relay.stop()  # PostgreSQL goes away
        body = wait_status(port, 503, 30)
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["redis"]["ok"] is True
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200  # alive
        pg_relay.start()  # and comes back
        body = wait_status(port, 200, 60)
        assert body["checks"]["database"]["ok"] is True

        redis_relay.stop()  # Redis goes away
        body = wait_status(port, 503, 30)
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        redis_relay.start()
        wait_status(port, 200, 60)
    finally:
        for process in started:
            try:
                procs.stop(process, timeout=15)
            finally:
                procs.kill_tree(process.pid)
        pg_relay.stop()
        redis_relay.stop()
