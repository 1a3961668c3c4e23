"""`/healthz`, `/readyz` and `/metrics`: for load balancers, orchestrators and Prometheus."""

from __future__ import annotations

import hmac
import ipaddress
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import heartbeat, metrics

# The roles /readyz needs alive (the mail pollers are optional: not every installation has mail).
REQUIRED_ROLES = ("worker", "jobs", "timers")


@never_cache
@require_GET
def healthz(request):
    """The process answers: nothing else is checked (a liveness probe restarts on failure)."""
    return JsonResponse({"status": "ok"})


def _database() -> tuple[dict, dict | None]:
    """The database's answer, then the migrations still to apply (None: not reached)."""
    started = time.perf_counter()
    conn = connections[DEFAULT_DB_ALIAS]
    try:
        if conn.vendor == "postgresql":
            _postgres_answers(conn)
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        executor = MigrationExecutor(conn)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        conn.close_if_unusable_or_obsolete()
        return {"ok": False, "error": _short(exc)}, None
    database = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    return database, {"ok": not pending, "pending": [f"{m.app_label}.{m.name}" for m, _ in pending]}


def _postgres_answers(conn) -> None:
    """A connection of its own with a short time-out: a pool waiting for a server that went
    away would hold the probe for its whole time-out (20 s) before saying so."""
    import psycopg

    params = conn.get_connection_params()
    keep = ("dbname", "user", "password", "host", "port", "sslmode", "service")
    try:
        with psycopg.connect(
            **{k: v for k, v in params.items() if k in keep}, connect_timeout=3
        ) as probe:
            probe.execute("SELECT 1")
    except psycopg.Error as exc:
        raise DatabaseError(str(exc)) from exc


def _redis() -> dict | None:
    if not settings.REDIS_URL:
        return None
    import redis

    started = time.perf_counter()
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        return {"ok": False, "error": _short(exc)}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[
        :300
    ]


@never_cache
@require_GET
def readyz(request):
    """200 when this node can serve: the database answers with every migration applied, Redis
    answers (when configured), and the task workers (`worker`: short tasks; `jobs`: exports,
    bulk actions, imports) and the timers beat within HEARTBEAT_MAX_AGE_SECONDS somewhere in
    the installation; 503 otherwise, with the reasons."""
    checks: dict = {}
    checks["database"], migrations = _database()
    if migrations is not None:
        checks["migrations"] = migrations
        try:
            ages = heartbeat.freshest()
        except DatabaseError as exc:
            ages = {}
            checks["heartbeats"] = {"ok": False, "error": _short(exc)}
        limit = heartbeat.max_age()
        for role in REQUIRED_ROLES:
            age = ages.get(role)
            checks[role] = {
                "ok": age is not None and age <= limit,
                "age_seconds": None if age is None else round(age, 1),
            }
    redis_check = _redis()
    if redis_check is not None:
        checks["redis"] = redis_check
    ready = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


def metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    # Each network was checked when the settings loaded.
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.METRICS_ALLOWED_NETWORKS
    )


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text format; 404 unless the token or an allowed network (nothing to find)."""
    if not metrics_allowed(request):
        raise Http404()
    return HttpResponse(generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST)
