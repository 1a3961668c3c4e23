"""Heartbeats of the background roles, read by `/readyz` and `/metrics`."""

from __future__ import annotations

import logging
import os
import socket
import time

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

log = logging.getLogger("convodesk.ops")

ROLES = ("worker", "jobs", "timers", "mail")


def worker_roles(queue_name: str) -> list[str]:
    """The roles a task worker of these queues (db_worker's `--queue-name`: comma-separated, or
    "*") beats: `worker` for the short tasks, `jobs` for the long ones (exports, bulk actions,
    imports). Two workers beating one role hid a dead jobs worker behind a live default one."""
    queues = {name.strip() for name in queue_name.split(",")}
    if "*" in queues:
        queues = set(settings.TASKS["default"].get("QUEUES") or ["default"])
    roles = ["worker"] if queues - {settings.TASK_QUEUE_JOBS} else []
    return roles + (["jobs"] if settings.TASK_QUEUE_JOBS in queues else [])


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def max_age() -> float:
    return float(settings.CONVODESK.get("HEARTBEAT_MAX_AGE_SECONDS", 60))


class Beat:
    """One process's heartbeat for a role; `tick()` writes at most every `every` seconds."""

    def __init__(self, role: str, every: float | None = None):
        self.role = role
        self.node = node_name()
        self.every = max_age() / 4 if every is None else every
        self.started = timezone.now()
        self.last = 0.0

    def tick(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last < self.every:
            return
        from .models import Heartbeat

        try:
            if not self.last:  # a process starting clears what killed ones left behind
                prune()
            Heartbeat.objects.update_or_create(
                role=self.role,
                node=self.node,
                defaults={"beat_at": timezone.now(), "started_at": self.started},
            )
            self.last = time.monotonic()
        except DatabaseError:  # the database is away: readiness will say so
            log.warning("%s: heartbeat not written", self.role, exc_info=True)

    def stop(self) -> None:
        """A clean stop removes the row: a stopped role is gone, not stale."""
        from .models import Heartbeat

        try:
            Heartbeat.objects.filter(role=self.role, node=self.node).delete()
        except DatabaseError:
            pass


def freshest() -> dict[str, float]:
    """Seconds since the latest heartbeat of each role that has one."""
    from django.db.models import Max

    from .models import Heartbeat

    now = timezone.now()
    rows = Heartbeat.objects.values("role").annotate(last=Max("beat_at"))
    return {r["role"]: max(0.0, (now - r["last"]).total_seconds()) for r in rows}


def prune(older_than: float = 24 * 3600) -> None:
    """Rows of processes that died without a clean stop (SIGKILL) go after a day."""
    from .models import Heartbeat

    Heartbeat.objects.filter(
        beat_at__lt=timezone.now() - timezone.timedelta(seconds=older_than)
    ).delete()
